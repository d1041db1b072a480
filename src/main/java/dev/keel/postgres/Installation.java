package dev.keel.postgres;

import java.nio.file.Path;

/**
 * The server binaries of one Postgres major version: {@code home} holds {@code bin/initdb},
 * {@code bin/pg_ctl} and {@code bin/postgres}.
 *
 * @param version the full version ("17.11.0"), or "system" for an operator's installation
 */
public record Installation(int major, String version, Path home) {
    public Path bin(String program) {
        return home.resolve("bin").resolve(program);
    }

    public String initdb() {
        return bin("initdb").toString();
    }

    public String pgCtl() {
        return bin("pg_ctl").toString();
    }
}
