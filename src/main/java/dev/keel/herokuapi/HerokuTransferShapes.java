package dev.keel.herokuapi;

import dev.keel.apps.Attachment;
import dev.keel.databases.Database;
import dev.keel.dumps.Transfer;
import dev.keel.dumps.TransferKind;
import dev.keel.dumps.TransferState;
import dev.keel.dumps.Transfers;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;
import jakarta.inject.Singleton;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * Keel's logical backups and restores in the shape of Heroku's transfers: a backup goes from
 * {@code pg_dump} to {@code gof3r} (the CLI names it b001, or a001 when scheduled), a restore from
 * {@code gof3r} to {@code pg_restore} (r001). A backup's {@code to_url} is the reference
 * {@code pg:backups:restore} sends back; its download link comes from {@code public-url}.
 */
@Singleton
final class HerokuTransferShapes {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss Z").withZone(ZoneOffset.UTC);

    private final Transfers transfers;

    HerokuTransferShapes(Transfers transfers) {
        this.transfers = transfers;
    }

    @Serdeable
    record Log(String createdAt, String message) {
    }

    @Serdeable
    record HerokuTransfer(UUID uuid, long num, String fromName, String fromType, String toName, String toType, @Nullable String toUrl,
                          Map<String, Object> options, @Nullable Long sourceBytes, long processedBytes, @Nullable Boolean succeeded,
                          int warnings, @Nullable Map<String, String> schedule, @Nullable String canceledAt, String createdAt,
                          String startedAt, @Nullable String finishedAt, String updatedAt, List<Log> logs) {
    }

    @Serdeable
    record PublicUrl(String url, String expiresAt) {
    }

    HerokuTransfer transfer(Transfer t, String databaseName) {
        boolean backup = t.kind() == TransferKind.BACKUP;
        String created = TIME.format(t.createdAt());
        String finished = t.finishedAt() == null ? null : TIME.format(t.finishedAt());
        List<Log> logs = transfers.logs(t).stream().map(l -> new Log(TIME.format(l.at()), l.message())).toList();
        if (t.error() != null && t.state() == TransferState.FAILED && logs.stream().noneMatch(l -> l.message().contains(t.error()))) {
            logs = Stream.concat(logs.stream(), Stream.of(new Log(finished, t.error()))).toList();
        }
        return new HerokuTransfer(t.id(), t.num(), backup ? databaseName : String.valueOf(t.sourceName()), backup ? "pg_dump" : "gof3r",
                backup ? "BACKUP" : databaseName, backup ? "gof3r" : "pg_restore", backup ? Transfers.reference(t) : null, Map.of(),
                t.sourceBytes(), t.processedBytes(), t.finished() ? t.state() == TransferState.COMPLETED : null, t.warnings(),
                t.scheduleName() == null ? null : Map.of("name", t.scheduleName()),
                t.state() == TransferState.CANCELED ? finished : null, created, created, finished, finished == null ? created : finished,
                logs);
    }

    PublicUrl publicUrl(Transfers.Link link) {
        return new PublicUrl(link.url().toString(), TIME.format(link.expiresAt()));
    }

    /** What the app calls the database: DATABASE when it is that, else another of its attachment names. */
    static String attachmentName(List<Attachment> ofApp, Database database) {
        return ofApp.stream().filter(a -> a.databaseId().equals(database.id())).map(Attachment::name)
                .min(Comparator.comparing(n -> !n.equals("DATABASE"))).orElse(database.name());
    }

    static String time(Instant instant) {
        return TIME.format(instant);
    }
}
