package dev.keel.dataclips;

import dev.keel.Ids;
import dev.keel.auth.Caller;
import dev.keel.auth.Quotas;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.DatabaseState;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.context.annotation.Value;
import jakarta.inject.Singleton;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/** Use cases on a team's dataclips: save (and run), change, run again, list versions, delete. */
@Singleton
final class Dataclips {
    private static final int MAX_TITLE = 200;

    private final DataclipRepository clips;
    private final ResultRepository results;
    private final DatabaseLookup databases;
    private final ClipRuns runs;
    private final int maxTimeoutSeconds;
    private final int defaultTimeoutSeconds;
    private final Quotas quotas;

    Dataclips(DataclipRepository clips, ResultRepository results, DatabaseLookup databases, ClipRuns runs, Quotas quotas,
              @Value("${keel.dataclips.max-timeout}") Duration maxTimeout, @Value("${keel.dataclips.timeout}") Duration timeout) {
        this.quotas = quotas;
        this.clips = clips;
        this.results = results;
        this.databases = databases;
        this.runs = runs;
        this.maxTimeoutSeconds = (int) maxTimeout.toSeconds();
        this.defaultTimeoutSeconds = (int) Math.min(timeout.toSeconds(), maxTimeout.toSeconds());
    }

    /** A clip with the result of its first run (or the run under way, when it takes longer than the wait). */
    record Ran(Dataclip clip, ClipResult result) {
    }

    Ran create(Caller caller, DataclipRequest request) {
        String title = title(request.title());
        if (request.database() == null || request.database().isBlank()) {
            throw invalid("Send \"database\": the id or name of the database the dataclip reads.");
        }
        Database database = databases.requireAvailable(caller, request.database());
        ClipText.Prepared prepared = ClipText.prepare(request.sql());
        Map<String, String> defaults = request.parameters() == null ? Map.of() : request.parameters();
        values(prepared, defaults, Map.of());
        runs.checkTeamMayRun(caller.teamId());
        Dataclip clip = clips.insert(caller.teamId(), database.id(), title, request.sql(), new TreeMap<>(defaults),
                timeout(request.timeoutSeconds(), defaultTimeoutSeconds), quotas.getDataclips());
        return run(clip, database, prepared, Map.of());
    }

    Ran update(Caller caller, String id, DataclipRequest request) {
        Dataclip clip = require(caller, id);
        if (request.database() != null) {
            throw invalid("A dataclip's database cannot change; create a new dataclip for database " + request.database() + ".");
        }
        String title = request.title() == null ? null : title(request.title());
        Map<String, String> defaults = request.parameters() == null ? null : new TreeMap<>(request.parameters());
        if (request.sql() != null || defaults != null) {
            // Refused as SQL, or for a parameter without a value against the clip as read, before the team's runs are
            // counted: a change that cannot be made is a 422 whatever the team's runs, not a 429.
            values(ClipText.prepare(request.sql() != null ? request.sql() : clip.version().sql()),
                    defaults != null ? defaults : clip.parameters(), Map.of());
        }
        Integer timeout = request.timeoutSeconds() == null ? null : timeout(request.timeoutSeconds(), clip.timeoutSeconds());
        if (request.sql() != null || request.parameters() != null || timeout != null) {
            runs.checkTeamMayRun(caller.teamId());
        }
        // Whether the SQL then has a value for each parameter is checked against the clip as it is under its row lock, not
        // as read above: another change (of the values, or of the SQL) may have been made since.
        Dataclip updated = clips.update(clip.id(), title, request.sql(), defaults, timeout,
                (sql, parameters) -> values(ClipText.prepare(sql), parameters, Map.of()));
        boolean rerun = updated.version().number() != clip.version().number() || request.parameters() != null || timeout != null;
        if (!rerun) {
            return new Ran(updated, newest(updated).orElse(null));
        }
        // The SQL the clip holds now, which another change may have set since this one.
        ClipText.Prepared prepared = ClipText.prepare(updated.version().sql());
        Map<String, String> values = values(prepared, updated.parameters(), Map.of());
        return new Ran(updated, runs.runOrJoin(updated, database(updated), prepared, values));
    }

    Ran refresh(Caller caller, String id, Map<String, String> given) {
        Dataclip clip = require(caller, id);
        return run(clip, database(clip), ClipText.prepare(clip.version().sql()), given);
    }

    Dataclip require(Caller caller, String id) {
        return Ids.parse(id).flatMap(uuid -> clips.find(caller.teamId(), uuid)).orElseThrow(() -> KeelException.notFound("dataclip", id));
    }

    List<Dataclip> list(Caller caller) {
        return clips.list(caller.teamId());
    }

    /** The newest finished result of the clip's current version with its default parameter values. */
    Optional<ClipResult> newest(Dataclip clip) {
        Map<String, String> values = values(ClipText.prepare(clip.version().sql()), clip.parameters(), Map.of());
        String parameters = Json.write(values);
        return results.newest(clip.version().id(), parameters);
    }

    /** Every version, newest first, each with its results. */
    List<Map.Entry<Dataclip.Version, List<ClipResult>>> versions(Caller caller, String id) {
        Dataclip clip = require(caller, id);
        List<Map.Entry<Dataclip.Version, List<ClipResult>>> all = new ArrayList<>();
        for (Dataclip.Version version : clips.versions(clip.id())) {
            all.add(Map.entry(version, results.ofVersion(version.id())));
        }
        return all;
    }

    void delete(Caller caller, String id) {
        clips.delete(require(caller, id).id());
    }

    Database database(Dataclip clip) {
        Database database = databases.find(clip.databaseId()).orElseThrow(() -> KeelException.notFound("database", clip.databaseId().toString()));
        if (database.state() != DatabaseState.AVAILABLE) {
            throw new KeelException(ProblemType.NOT_AVAILABLE, "Database " + database.name() + " is " + database.state().value()
                    + "; the dataclip runs once it is available.");
        }
        return database;
    }

    /**
     * The value of each parameter the SQL uses: from {@code given} (a query string), else the
     * clip's default; 422 naming the first without either.
     */
    static Map<String, String> values(ClipText.Prepared prepared, Map<String, String> defaults, Map<String, String> given) {
        Map<String, String> values = new LinkedHashMap<>();
        for (String name : prepared.names()) {
            String value = given.containsKey(name) ? given.get(name) : defaults.get(name);
            if (value == null) {
                throw new KeelException(ProblemType.INVALID_PARAMETER, "The dataclip's SQL uses {{" + name + "}} but no value was given:"
                        + " add ?" + name + "=<value> to the URL, or give the dataclip a default in \"parameters\".")
                        .with("parameter", name);
            }
            values.put(name, value);
        }
        return values;
    }

    private Ran run(Dataclip clip, Database database, ClipText.Prepared prepared, Map<String, String> given) {
        Map<String, String> values = values(prepared, clip.parameters(), given);
        return new Ran(clip, runs.runAndWait(clip, database, prepared, values));
    }

    private int timeout(Integer seconds, int fallback) {
        if (seconds == null) {
            return fallback;
        }
        if (seconds < 1 || seconds > maxTimeoutSeconds) {
            throw invalid("\"timeout_seconds\" must be between 1 and " + maxTimeoutSeconds + " (keel.dataclips.max-timeout); it was "
                    + seconds + ".");
        }
        return seconds;
    }

    private static String title(String title) {
        if (title == null || title.isBlank()) {
            throw invalid("Send \"title\": a name for the dataclip, shown on its shared page.");
        }
        if (title.length() > MAX_TITLE) {
            throw invalid("The title is " + title.length() + " characters long; keep it to " + MAX_TITLE + ".");
        }
        return title.strip();
    }

    private static KeelException invalid(String detail) {
        return new KeelException(ProblemType.INVALID_REQUEST, detail);
    }
}
