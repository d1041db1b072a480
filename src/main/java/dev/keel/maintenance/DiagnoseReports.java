package dev.keel.maintenance;

import io.micronaut.core.type.Argument;
import io.micronaut.json.JsonMapper;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.DIAGNOSE_REPORTS;

/** {@code pg:diagnose} reports in the catalog, kept a month (as Heroku keeps them); older ones are removed as new ones come. */
@Singleton
final class DiagnoseReports {
    static final Duration KEPT = Duration.ofDays(30);

    private final DSLContext dsl;
    private final JsonMapper json;

    DiagnoseReports(DSLContext dsl, JsonMapper json) {
        this.dsl = dsl;
        this.json = json;
    }

    /** A report: which app and config var it was asked through, when, and its checks. */
    record Stored(UUID id, UUID teamId, String app, String configVar, OffsetDateTime createdAt, List<DiagnoseCheck> checks) {
    }

    Stored insert(UUID teamId, UUID databaseId, String app, String configVar, List<DiagnoseCheck> checks) {
        String text;
        try {
            text = json.writeValueAsString(checks);
        } catch (IOException e) {
            throw new UncheckedIOException("could not write a diagnosis report", e);
        }
        UUID id = UUID.randomUUID();
        dsl.transaction(tx -> {
            tx.dsl().deleteFrom(DIAGNOSE_REPORTS).where(DIAGNOSE_REPORTS.CREATED_AT.lt(OffsetDateTime.now().minus(KEPT))).execute();
            tx.dsl().insertInto(DIAGNOSE_REPORTS).set(DIAGNOSE_REPORTS.ID, id).set(DIAGNOSE_REPORTS.TEAM_ID, teamId)
                    .set(DIAGNOSE_REPORTS.DATABASE_ID, databaseId).set(DIAGNOSE_REPORTS.APP, app)
                    .set(DIAGNOSE_REPORTS.CONFIG_VAR, configVar).set(DIAGNOSE_REPORTS.CHECKS, text).execute();
        });
        return find(teamId, id).orElseThrow();
    }

    /** The team's report {@code id}, if it is younger than a month. */
    Optional<Stored> find(UUID teamId, UUID id) {
        return dsl.selectFrom(DIAGNOSE_REPORTS).where(DIAGNOSE_REPORTS.ID.eq(id)).and(DIAGNOSE_REPORTS.TEAM_ID.eq(teamId))
                .and(DIAGNOSE_REPORTS.CREATED_AT.ge(OffsetDateTime.now().minus(KEPT)))
                .fetchOptional(r -> new Stored(r.getId(), r.getTeamId(), r.getApp(), r.getConfigVar(), r.getCreatedAt(), read(r.getChecks())));
    }

    private List<DiagnoseCheck> read(String text) {
        try {
            return json.readValue(text, Argument.listOf(DiagnoseCheck.class));
        } catch (IOException e) {
            throw new UncheckedIOException("could not read a diagnosis report", e);
        }
    }
}
