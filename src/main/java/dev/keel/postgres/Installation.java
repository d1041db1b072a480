package dev.keel.postgres;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

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

    private static final Pattern TRUSTED = Pattern.compile("(?m)^\\s*trusted\\s*=\\s*(true|on|yes)\\b");

    /**
     * The extensions a database owner may create itself ({@code trusted = true} in their control
     * files), by name; from the installation's own {@code share} directory, or Debian's for a system one.
     */
    public List<String> trustedExtensions() {
        for (Path dir : List.of(home.resolve("share/postgresql/extension"), home.resolve("share/extension"),
                Path.of("/usr/share/postgresql/" + major + "/extension"))) {
            if (!Files.isDirectory(dir)) {
                continue;
            }
            try (Stream<Path> files = Files.list(dir)) {
                return files.filter(f -> f.getFileName().toString().endsWith(".control")).filter(Installation::trusted)
                        .map(f -> f.getFileName().toString().replaceFirst("\\.control$", "")).sorted().toList();
            } catch (IOException e) {
                throw new UncheckedIOException("could not list " + dir, e);
            }
        }
        return List.of();
    }

    private static boolean trusted(Path control) {
        try {
            return TRUSTED.matcher(Files.readString(control)).find();
        } catch (IOException e) {
            return false;
        }
    }
}
