package dev.keel.testing;

import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Programs from Debian's packages that some tests drive (prometheus, docker-compose, crun...).
 * Without one such a test is skipped, saying so, unless {@code keel.test.require-cli} is set (as
 * {@code .ci/run} does, after installing them), when that is a failure.
 */
public final class Tools {
    private Tools() {
    }

    /** The path of {@code program} on PATH; skips or fails the test without it. */
    public static Path require(String program, String debianPackage) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            Path candidate = Path.of(dir, program);
            if (Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        String missing = program + " is not installed (apt-get install " + debianPackage + ")";
        if (Boolean.getBoolean("keel.test.require-cli")) {
            throw new IllegalStateException("keel.test.require-cli is set but " + missing);
        }
        Assumptions.abort("skipped: " + missing);
        throw new AssertionError("unreachable");
    }
}
