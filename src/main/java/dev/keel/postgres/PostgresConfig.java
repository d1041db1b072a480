package dev.keel.postgres;

import io.micronaut.context.annotation.ConfigurationProperties;

import java.util.LinkedHashMap;
import java.util.Map;

/** {@code keel.postgres.*}: which Postgres majors Keel serves and where their binaries come from. */
@ConfigurationProperties("keel.postgres")
public final class PostgresConfig {
    private int defaultMajor = 17;
    private Map<String, String> versions = new LinkedHashMap<>();
    private Map<String, String> system = new LinkedHashMap<>();
    private String installDir = "";
    private String osUser = "";

    public int getDefaultMajor() {
        return defaultMajor;
    }

    public void setDefaultMajor(int defaultMajor) {
        this.defaultMajor = defaultMajor;
    }

    public Map<String, String> getVersions() {
        return versions;
    }

    public void setVersions(Map<String, String> versions) {
        this.versions = versions;
    }

    public Map<String, String> getSystem() {
        return system;
    }

    public void setSystem(Map<String, String> system) {
        this.system = system;
    }

    public String getInstallDir() {
        return installDir;
    }

    public void setInstallDir(String installDir) {
        this.installDir = installDir;
    }

    public String getOsUser() {
        return osUser;
    }

    public void setOsUser(String osUser) {
        this.osUser = osUser;
    }
}
