package dev.keel.testing;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The genuine Heroku CLI ({@code heroku@11.10.0} from npm, installed once into a cache directory
 * outside the repository), pointed at a test Keel. Without Node the tests that use it are
 * skipped, saying so, unless {@code keel.test.require-cli} is set (as {@code .ci/run} does),
 * when that is a failure.
 */
public final class HerokuCli {
    public static final String VERSION = "11.10.0";

    private final Path bin;
    private final Path home;
    private final Map<String, String> env;

    private HerokuCli(Path bin, Path home, Map<String, String> env) {
        this.bin = bin;
        this.home = home;
        this.env = env;
    }

    /** What a command printed (stdout and stderr apart) and its exit code. */
    public record Run(int exit, String out, String err) {
        public String all() {
            return out + err;
        }

        @Override
        public String toString() {
            return "exit " + exit + "\n--- stdout\n" + out + "\n--- stderr\n" + err;
        }
    }

    /** The CLI, installed if needed, talking to {@code keel} with {@code apiKey}; skips (or fails) the test without Node. */
    public static HerokuCli against(TestKeel keel, String apiKey) throws IOException, InterruptedException {
        String missing = missingTools();
        if (missing != null) {
            if (Boolean.getBoolean("keel.test.require-cli")) {
                throw new IllegalStateException("keel.test.require-cli is set but " + missing);
            }
            Assumptions.abort("Heroku CLI tests skipped: " + missing + " (install Node.js, npm and psql to run them)");
        }
        Path prefix = Path.of(System.getProperty("user.home"), ".cache", "keel-test", "heroku-cli-" + VERSION);
        Path bin = prefix.resolve("node_modules/.bin/heroku");
        if (!Files.isExecutable(bin)) {
            Files.createDirectories(prefix);
            Run install = run(List.of("npm", "install", "--no-audit", "--no-fund", "--prefix", prefix.toString(), "heroku@" + VERSION),
                    prefix, Map.of(), 600);
            if (install.exit() != 0 || !Files.isExecutable(bin)) {
                throw new IllegalStateException("npm could not install heroku@" + VERSION + ": " + install);
            }
        }
        // A scratch home: the CLI writes its git credential helper into the global git config and a terms notice into its cache.
        Path home = Files.createTempDirectory(TestKeel.workDir(), "heroku-home");
        Files.createDirectories(home.resolve(".cache/heroku"));
        Files.writeString(home.resolve(".cache/heroku/terms-of-service"), "");
        Map<String, String> env = Map.of("HOME", home.toString(), "GIT_CONFIG_GLOBAL", home.resolve(".gitconfig").toString(),
                "HEROKU_HOST", "http://127.0.0.1:" + java.net.URI.create(keel.api().baseUrl()).getPort(),
                "HEROKU_DATA_HOST", "localhost", "HEROKU_API_KEY", apiKey, "DISABLE_TELEMETRY", "true",
                "HEROKU_SKIP_NEW_VERSION_CHECK", "true", "HEROKU_DISABLE_AUTOUPDATE", "true", "HEROKU_NOTIFICATIONS", "0",
                // pg:backups:download fetches Keel's https download link, whose certificate is from the installation CA.
                "NODE_EXTRA_CA_CERTS", keel.caFile().toString());
        return new HerokuCli(bin, home, env);
    }

    /** Runs {@code heroku <args>} and waits for it (at most 3 minutes). */
    public Run run(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(bin.toString());
        command.addAll(List.of(args));
        return run(command, home, env, 180);
    }

    /** Everything {@code heroku <args>} printed, for a wait's condition; a failure is only a condition not met. */
    public String quietly(String... args) {
        try {
            return run(args).all();
        } catch (IOException e) {
            return "";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "";
        }
    }

    private static Run run(List<String> command, Path dir, Map<String, String> env, int seconds) throws IOException, InterruptedException {
        Path out = Files.createTempFile(TestKeel.workDir(), "cli", ".out");
        Path err = Files.createTempFile(TestKeel.workDir(), "cli", ".err");
        ProcessBuilder builder = new ProcessBuilder(command).directory(dir.toFile()).redirectOutput(out.toFile()).redirectError(err.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        builder.environment().putAll(env);
        Process process = builder.start();
        if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new IllegalStateException(String.join(" ", command) + " did not finish within " + seconds + " s");
        }
        return new Run(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
    }

    private static String missingTools() {
        for (String tool : List.of("node", "npm", "psql")) {
            try {
                Process p = new ProcessBuilder(tool, "--version").redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                if (p.waitFor() != 0) {
                    return tool + " does not run";
                }
            } catch (IOException e) {
                return tool + " is not installed";
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return "interrupted";
            }
        }
        return null;
    }
}
