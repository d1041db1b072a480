package dev.keel.instances;

import dev.keel.DaemonThreads;
import dev.keel.StartupException;
import dev.keel.jobs.Loops;
import io.micronaut.context.annotation.Value;
import io.micronaut.context.event.ApplicationEventListener;
import io.micronaut.runtime.server.event.ServerStartupEvent;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Keeps each server log on this node under {@code keel.instances.log-max-mb}. A server's log is
 * written by Postgres for as long as it runs, and anyone who can connect can make it write
 * ({@code raise log} in a loop, or the {@code pg:settings} that log every statement), on the disk
 * every database, the WAL spool and the catalog share. Checked every second; a log past the cap
 * is emptied, and says so in its first line. Postgres writes it in append mode ({@code pg_ctl -l}),
 * so its next line lands at the new end, and the log's readers start again from the top of a log
 * that shrank.
 */
@Singleton
final class ServerLogCap implements ApplicationEventListener<ServerStartupEvent> {
    private static final Logger LOG = LoggerFactory.getLogger(ServerLogCap.class);
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS", Locale.ROOT);

    private final LocalInstanceRuntime runtime;
    private final long maxBytes;
    private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("keel-log-cap"));

    ServerLogCap(LocalInstanceRuntime runtime, @Value("${keel.instances.log-max-mb:100}") long maxMb) {
        if (maxMb < 1) {
            throw new StartupException("KEEL_INSTANCES_LOG_MAX_MB (" + maxMb + ") must be at least 1: a server's log past it is emptied");
        }
        this.runtime = runtime;
        this.maxBytes = maxMb * 1024 * 1024;
    }

    @Override
    public void onApplicationEvent(ServerStartupEvent event) {
        scheduler.scheduleWithFixedDelay(() -> Loops.round("Capping the server logs", this::capAll), 1, 1, TimeUnit.SECONDS);
    }

    @PreDestroy
    void stop() {
        scheduler.shutdownNow();
    }

    private void capAll() {
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(runtime.instancesDir())) {
            for (Path dir : dirs) {
                cap(dir.resolve(LocalInstanceRuntime.LOG_FILE));
            }
        } catch (IOException e) {
            LOG.warn("Could not list the instances' directories to cap their logs: {}", e.getMessage());
        }
    }

    /** Empties {@code log} if it is past the cap; a link is never followed (the server's account owns the directory). */
    void cap(Path log) {
        try {
            if (!Files.isRegularFile(log, LinkOption.NOFOLLOW_LINKS)) {
                return;
            }
            long was = Files.size(log);
            if (was <= maxBytes) {
                return;
            }
            try (FileChannel channel = FileChannel.open(log, StandardOpenOption.WRITE, StandardOpenOption.APPEND, LinkOption.NOFOLLOW_LINKS)) {
                channel.truncate(0);
                String line = ZonedDateTime.now(ZoneOffset.UTC).format(TIME) + " UTC [0] LOG:  Keel emptied this log: it had reached "
                        + was / (1024 * 1024) + " MB, past the cap of " + maxBytes / (1024 * 1024) + " MB (KEEL_INSTANCES_LOG_MAX_MB)\n";
                channel.write(ByteBuffer.wrap(line.getBytes(StandardCharsets.UTF_8)));
            }
            LOG.warn("Server log {} had reached {} MB, past the cap of {} MB: emptied", log, was / (1024 * 1024), maxBytes / (1024 * 1024));
        } catch (IOException e) {
            LOG.warn("Could not cap server log {}: {}", log, e.getMessage());
        }
    }
}
