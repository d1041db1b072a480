package dev.keel.testing;

import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Programs from the system a test needs (pg_dump, pg_restore, psql, pgbouncer): without them the
 * test is skipped, saying which are missing, unless {@code keel.test.require-cli} is set (as
 * {@code .ci/run} does, after installing them), when that is a failure.
 */
public final class SystemTools {
    private static final List<String> DIRS = List.of("/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/usr/lib/postgresql/15/bin");

    private SystemTools() {
    }

    public static void require(String... programs) {
        List<String> missing = new ArrayList<>();
        for (String program : programs) {
            List<String> dirs = new ArrayList<>(List.of(System.getenv().getOrDefault("PATH", "").split(":")));
            dirs.addAll(DIRS);
            if (dirs.stream().filter(d -> !d.isBlank()).noneMatch(d -> Files.isExecutable(Path.of(d, program)))) {
                missing.add(program);
            }
        }
        if (missing.isEmpty()) {
            return;
        }
        if (Boolean.getBoolean("keel.test.require-cli")) {
            throw new IllegalStateException("keel.test.require-cli is set but " + missing + " are not installed");
        }
        Assumptions.abort("skipped: " + missing + " are not installed (apt-get install postgresql-client pgbouncer, as .ci/run does)");
    }
}
