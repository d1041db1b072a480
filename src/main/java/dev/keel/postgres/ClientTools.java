package dev.keel.postgres;

import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.context.annotation.Value;
import jakarta.inject.Singleton;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Postgres client programs ({@code pg_dump}, {@code pg_restore}, {@code psql}), which the zonky
 * server binaries do not carry. They come from {@code keel.postgres.client-dir}
 * ({@code KEEL_POSTGRES_CLIENT_DIR}) when set, else the newest found on {@code PATH} or in
 * Debian's {@code /usr/lib/postgresql/<major>/bin}. A dump needs a {@code pg_dump} whose major is at
 * least the server's (an older one refuses to dump a newer server), so that is what is asked for.
 */
@Singleton
public final class ClientTools {
    private static final Pattern VERSION = Pattern.compile("\\(PostgreSQL\\) (\\d+)(?:\\.(\\d+))?");
    private static final Path DEBIAN = Path.of("/usr/lib/postgresql");
    private static final Duration VERSION_TIMEOUT = Duration.ofSeconds(10);

    private final String configured;
    private final Map<Path, Optional<Tool>> versions = new ConcurrentHashMap<>();

    ClientTools(@Value("${keel.postgres.client-dir:}") String configured) {
        this.configured = configured.strip();
    }

    /** One client program: where it is and the major it belongs to. */
    public record Tool(String program, Path path, int major, String version) {
    }

    /**
     * The newest {@code program} whose major is at least {@code serverMajor}; a 422 naming the
     * version needed (and the newest found) otherwise.
     */
    public Tool require(String program, int serverMajor) {
        Optional<Tool> newest = newest(program);
        if (newest.isEmpty()) {
            throw new KeelException(ProblemType.CLIENT_TOOLS_NEEDED, program + " is not installed on this Keel node: install the"
                    + " PostgreSQL " + serverMajor + " client tools (postgresql-client-" + serverMajor + ") or set"
                    + " KEEL_POSTGRES_CLIENT_DIR to their bin directory.").with("needed_major", serverMajor);
        }
        Tool tool = newest.get();
        if (tool.major() < serverMajor) {
            throw new KeelException(ProblemType.CLIENT_TOOLS_NEEDED, "This database runs Postgres " + serverMajor + ", which needs "
                    + program + " " + serverMajor + " or newer; the newest on this Keel node is " + program + " " + tool.version()
                    + " (" + tool.path() + "). Install postgresql-client-" + serverMajor + " (or newer) from the PostgreSQL apt"
                    + " repository and set KEEL_POSTGRES_CLIENT_DIR to its bin directory.")
                    .with("needed_major", serverMajor).with("installed_major", tool.major());
        }
        return tool;
    }

    /** The newest {@code program} found, if any. */
    public Optional<Tool> newest(String program) {
        return candidates(program).stream().map(this::version).flatMap(Optional::stream)
                .max(Comparator.comparingInt(Tool::major));
    }

    private List<Path> candidates(String program) {
        Set<Path> found = new LinkedHashSet<>();
        if (!configured.isEmpty()) {
            found.add(Path.of(configured).resolve(program));
        } else {
            String path = System.getenv().getOrDefault("PATH", "");
            for (String dir : path.split(":")) {
                if (!dir.isBlank()) {
                    found.add(Path.of(dir).resolve(program));
                }
            }
            if (Files.isDirectory(DEBIAN)) {
                try (Stream<Path> majors = Files.list(DEBIAN)) {
                    majors.map(dir -> dir.resolve("bin").resolve(program)).sorted().forEach(found::add);
                } catch (IOException e) {
                    // no Debian layout to look in
                }
            }
        }
        List<Path> executable = new ArrayList<>();
        for (Path candidate : found) {
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                executable.add(candidate.toAbsolutePath().normalize());
            }
        }
        return executable;
    }

    private Optional<Tool> version(Path path) {
        return versions.computeIfAbsent(path, p -> {
            try {
                Matcher m = VERSION.matcher(Commands.run(List.of(p.toString(), "--version"), VERSION_TIMEOUT));
                if (!m.find()) {
                    return Optional.empty();
                }
                String version = m.group(1) + (m.group(2) == null ? "" : "." + m.group(2));
                return Optional.of(new Tool(p.getFileName().toString(), p, Integer.parseInt(m.group(1)), version));
            } catch (RuntimeException e) {
                return Optional.empty();
            }
        });
    }
}
