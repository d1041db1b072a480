package dev.keel;

import dev.keel.pooling.Poolers;
import dev.keel.postgres.Postmaster;
import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import io.swagger.v3.oas.annotations.OpenAPIDefinition;
import io.swagger.v3.oas.annotations.enums.SecuritySchemeType;
import io.swagger.v3.oas.annotations.info.Info;
import io.swagger.v3.oas.annotations.security.SecurityRequirement;
import io.swagger.v3.oas.annotations.security.SecurityScheme;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * {@code java -jar keel.jar} starts the control plane; {@code java -jar keel.jar stop} stops every
 * Postgres server under the data directory (instances, then the embedded catalog), which
 * otherwise keep running while Keel is down, and an embedded S3 server a killed Keel left.
 */
@OpenAPIDefinition(info = @Info(title = "Keel", version = "1", description = "Self-hosted managed Postgres. Errors are"
        + " application/problem+json (RFC 9457) whose type is a stable /problems/<slug>; the slugs are listed under x-problem-types."),
        security = @SecurityRequirement(name = "apiKey"))
@SecurityScheme(name = "apiKey", type = SecuritySchemeType.HTTP, scheme = "bearer")
public final class Keel {
    private Keel() {
    }

    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("stop")) {
            stopServers(dataDir());
            return;
        }
        Fatal.installUncaughtHandler();
        try {
            ApplicationContext context = ApplicationContext.builder(Keel.class).args(args).banner(false).deduceEnvironment(false).start();
            ShutdownDeadline.install(context);
            context.getBean(EmbeddedServer.class).start();
        } catch (Throwable e) {
            StartupException cause = startupCause(e);
            if (cause != null) {
                System.err.println("keel: cannot start: " + cause.getMessage());
            } else {
                System.err.println("keel: cannot start:");
                e.printStackTrace();
            }
            System.exit(1);
        }
    }

    private static void stopEmbeddedS3(Path dataDir) {
        Path pidFile = dataDir.resolve("s3").resolve("s3proxy.pid");
        try {
            if (!Files.isRegularFile(pidFile)) {
                return;
            }
            long pid = Long.parseLong(Files.readString(pidFile).strip());
            ProcessHandle.of(pid)
                    .filter(p -> p.info().commandLine().map(c -> c.contains("s3proxy")).orElse(false))
                    .ifPresent(p -> {
                        System.out.println("stopping the embedded S3 server (pid " + pid + ")");
                        p.destroy();
                        p.onExit().join();
                    });
            Files.deleteIfExists(pidFile);
        } catch (IOException | NumberFormatException e) {
            System.err.println("keel: could not stop the embedded S3 server of " + dataDir + ": " + e.getMessage());
        }
    }

    /** The reason Keel prints when it cannot start: the first {@link StartupException} in the chain, if any. */
    public static StartupException startupCause(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof StartupException s) {
                return s;
            }
        }
        return null;
    }

    private static Path dataDir() {
        String configured = System.getProperty("keel.data-dir", System.getenv().getOrDefault("KEEL_DATA_DIR", "./var"));
        return Path.of(configured).toAbsolutePath().normalize();
    }

    /** Stops a leftover embedded S3 server, each pooler, each instance's server, then the catalog's, by signal (fast shutdown first). */
    public static void stopServers(Path dataDir) {
        stopEmbeddedS3(dataDir);
        Poolers.stopAll(dataDir);
        Path servers = KeelHome.serverDirOf(dataDir);
        try (Stream<Path> instances = Files.isDirectory(servers.resolve("instances")) ? Files.list(servers.resolve("instances")) : Stream.empty()) {
            List<Path> dataDirs = new ArrayList<>(instances.map(dir -> dir.resolve("data")).toList());
            dataDirs.add(servers.resolve("catalog").resolve("data"));
            for (Path dir : dataDirs) {
                if (Postmaster.isRunning(dir)) {
                    System.out.println("stopping the server of " + dir);
                    Postmaster.stop(dir, Duration.ofSeconds(30));
                }
            }
        } catch (IOException e) {
            System.err.println("keel: could not list " + dataDir + ": " + e.getMessage());
            System.exit(1);
        }
    }
}
