package dev.keel.dumps;

import dev.keel.Ids;
import dev.keel.auth.Caller;
import dev.keel.databases.Database;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceRepository;
import dev.keel.postgres.ClientProcess;
import dev.keel.postgres.ClientTools;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.core.annotation.Nullable;
import jakarta.inject.Singleton;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a restore reads: a completed backup of the caller's team, named as the Heroku CLI passes it
 * ({@code keel:backup:<id>}, the {@code to_url} of its transfer) or by its number ({@code b001}),
 * or an https URL of a dump file, fetched as {@link DumpUrls} allows.
 */
@Singleton
final class DumpSources {
    static final String BACKUP_REFERENCE = "keel:backup:";
    private static final Pattern NUMBER = Pattern.compile("[ab](\\d{1,18})");
    private static final Duration EXTENSIONS_TIMEOUT = Duration.ofMinutes(2);

    private final TransferRepository transfers;
    private final DumpObjects objects;
    private final DumpUrls urls;
    private final ClientTools tools;
    private final DumpClients clients;
    private final InstanceRepository instances;

    DumpSources(TransferRepository transfers, DumpObjects objects, DumpUrls urls, ClientTools tools, DumpClients clients,
                InstanceRepository instances) {
        this.instances = instances;
        this.transfers = transfers;
        this.objects = objects;
        this.urls = urls;
        this.tools = tools;
        this.clients = clients;
    }

    /**
     * A backup of the team, a URL, or a database of the team dumped as it is read (pg:copy);
     * {@code display} names it in logs and lists; {@code sha256} is known for a backup.
     */
    record Source(@Nullable Transfer backup, @Nullable URI url, @Nullable Database database, String display, @Nullable String sha256) {
    }

    /**
     * A source opened for reading; {@code size} when known; {@code producer} the pg_dump that
     * writes it, for a database source (the restore judges its exit and ends it with the restore).
     */
    record Opened(InputStream stream, @Nullable Long size, @Nullable ClientProcess producer) implements AutoCloseable {
        Opened(InputStream stream, @Nullable Long size) {
            this(stream, size, null);
        }

        @Override
        public void close() throws IOException {
            try {
                stream.close();
            } finally {
                if (producer != null) {
                    producer.close();
                }
            }
        }
    }

    Source resolve(Caller caller, @Nullable String reference) {
        String text = reference == null ? "" : reference.strip();
        if (text.startsWith("https://") || text.startsWith("http://")) {
            URI url = urls.check(text);
            return new Source(null, url, null, url.getScheme() + "://" + url.getAuthority() + url.getRawPath(), null);
        }
        Optional<Transfer> backup = Optional.empty();
        Matcher number = NUMBER.matcher(text);
        if (text.startsWith(BACKUP_REFERENCE)) {
            backup = Ids.parse(text.substring(BACKUP_REFERENCE.length())).flatMap(transfers::find);
        } else if (number.matches()) {
            backup = transfers.findByNum(Long.parseLong(number.group(1)));
        } else {
            throw new KeelException(ProblemType.INVALID_REQUEST, "Say what to restore: a backup (b001, or app::b001 from another app,"
                    + " with the Heroku CLI) or an https:// URL of a pg_dump -Fc file.");
        }
        Transfer found = backup.filter(b -> b.teamId().equals(caller.teamId()) && b.kind() == TransferKind.BACKUP)
                .orElseThrow(() -> KeelException.notFound("backup", text));
        if (found.state() != TransferState.COMPLETED) {
            throw new KeelException(ProblemType.CONFLICT, "Backup " + found.name() + " is " + found.state().value()
                    + "; only a completed backup can be restored.");
        }
        return new Source(found, null, null, found.name(), found.sha256());
    }

    /** {@code database} as it is now, dumped by pg_dump as the restore reads it (pg:copy). */
    Source of(Database database) {
        tools.require("pg_dump", database.major());
        return new Source(null, null, database, database.name(), null);
    }

    Opened open(Source source) throws IOException {
        if (source.database() != null) {
            return dump(source.database());
        }
        if (source.backup() != null) {
            DumpObjects.Stored stored = objects.open(source.backup());
            return new Opened(stored.stream(), stored.size());
        }
        DumpUrls.Fetched fetched = urls.fetch(source.url());
        return new Opened(fetched.stream(), fetched.size());
    }

    /** pg_dump of {@code database} as Keel's superuser (pinned as Keel's own sessions, as a backup's): its output as it writes it. */
    private Opened dump(Database database) {
        Instance server = instances.primary(database.id()).orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE,
                database.name() + " has no server to copy from."));
        ClientTools.Tool pgDump = tools.require("pg_dump", database.major());
        ClientProcess process = clients.start(DumpClients.pgDump(pgDump), clients.superuser(server, database.pgDatabase()),
                ClientProcess.Stream.OUTPUT);
        return new Opened(process.output(), null, process);
    }

    /** Creates the extensions ({@code hstore}, {@code myschema.hstore}) as the target's owner, through psql. */
    void createExtensions(ClientProcess.Target owner, List<String> extensions) throws IOException, InterruptedException {
        ClientTools.Tool psql = tools.newest("psql").orElseThrow(() -> new KeelException(ProblemType.CLIENT_TOOLS_NEEDED,
                "psql is not installed on this Keel node, and --extensions needs it: install postgresql-client."));
        StringBuilder sql = new StringBuilder();
        for (String extension : extensions) {
            int dot = extension.indexOf('.');
            String schema = dot < 0 ? "public" : extension.substring(0, dot);
            String name = dot < 0 ? extension : extension.substring(dot + 1);
            sql.append("create extension if not exists \"").append(name).append("\" with schema \"").append(schema).append("\";\n");
        }
        try (ClientProcess process = clients.start(List.of(psql.path().toString(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--no-password"),
                owner, ClientProcess.Stream.INPUT)) {
            try (OutputStream in = process.input()) {
                in.write(sql.toString().getBytes(StandardCharsets.UTF_8));
            }
            if (process.waitFor(EXTENSIONS_TIMEOUT) != 0) {
                throw new KeelException(ProblemType.INVALID_REQUEST, "The extensions could not be created: " + process.errors());
            }
        }
    }

    static String reference(UUID backup) {
        return BACKUP_REFERENCE + backup;
    }
}
