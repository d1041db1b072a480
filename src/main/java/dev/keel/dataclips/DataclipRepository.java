package dev.keel.dataclips;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.keel.auth.Quotas;
import dev.keel.problems.KeelException;
import io.micronaut.core.annotation.Nullable;
import jakarta.inject.Singleton;
import org.jooq.Condition;
import org.jooq.DSLContext;
import org.jooq.Record;
import org.jooq.impl.DSL;

import java.time.OffsetDateTime;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.BiConsumer;

import static dev.keel.catalog.schema.Tables.DATACLIPS;
import static dev.keel.catalog.schema.Tables.DATACLIP_VERSIONS;
import static dev.keel.catalog.schema.Tables.TEAMS;

/** Dataclip rows with their versions and share state. */
@Singleton
final class DataclipRepository {
    private static final TypeReference<Map<String, String>> STRING_MAP = new TypeReference<>() {
    };

    private final DSLContext dsl;

    DataclipRepository(DSLContext dsl) {
        this.dsl = dsl;
    }

    /** A new clip of the team's, refused with a 403 when the team holds {@code quota} clips already. */
    Dataclip insert(UUID teamId, UUID databaseId, String title, String sql, Map<String, String> parameters, int timeoutSeconds,
                    int quota) {
        UUID id = UUID.randomUUID();
        dsl.transaction(tx -> {
            tx.dsl().select(TEAMS.ID).from(TEAMS).where(TEAMS.ID.eq(teamId)).forUpdate().fetch();
            Quotas.require(tx.dsl().fetchCount(DATACLIPS, DATACLIPS.TEAM_ID.eq(teamId)), quota, "dataclips", "KEEL_QUOTAS_DATACLIPS");
            tx.dsl().insertInto(DATACLIPS)
                    .set(DATACLIPS.ID, id)
                    .set(DATACLIPS.TEAM_ID, teamId)
                    .set(DATACLIPS.DATABASE_ID, databaseId)
                    .set(DATACLIPS.TITLE, title)
                    .set(DATACLIPS.PARAMETERS, Json.write(parameters))
                    .set(DATACLIPS.TIMEOUT_SECONDS, timeoutSeconds)
                    .execute();
            addVersion(tx.dsl(), id, 1, sql);
        });
        return find(id).orElseThrow();
    }

    /**
     * Changes what is given (null: unchanged); new SQL becomes the next version. Under the clip's row lock, before anything
     * is written, {@code check} is given the SQL and the parameter values the clip will hold, and refuses them by throwing
     * (nothing changes): so a change of the SQL and a change of the values made at once are each checked against what the
     * other left, and the clip never holds SQL that uses a parameter without a value. A clip deleted meanwhile (before or
     * right after the change) is a 404, as one deleted before the caller read it.
     */
    Dataclip update(UUID id, @Nullable String title, @Nullable String sql, @Nullable Map<String, String> parameters,
                    @Nullable Integer timeoutSeconds, BiConsumer<String, Map<String, String>> check) {
        dsl.transaction(tx -> {
            // Deleted since the caller read it: as gone as if it had been before.
            Record row = tx.dsl().selectFrom(DATACLIPS).where(DATACLIPS.ID.eq(id)).forUpdate().fetchOptional()
                    .orElseThrow(() -> gone(id));
            Record current = currentVersion(tx.dsl(), id);
            check.accept(sql != null ? sql : current.get(DATACLIP_VERSIONS.SQL),
                    parameters != null ? parameters : Json.read(row.get(DATACLIPS.PARAMETERS), STRING_MAP));
            var update = tx.dsl().update(DATACLIPS).set(DATACLIPS.UPDATED_AT, DSL.currentOffsetDateTime());
            if (title != null) {
                update = update.set(DATACLIPS.TITLE, title);
            }
            if (parameters != null) {
                update = update.set(DATACLIPS.PARAMETERS, Json.write(parameters));
            }
            if (timeoutSeconds != null) {
                update = update.set(DATACLIPS.TIMEOUT_SECONDS, timeoutSeconds);
            }
            update.where(DATACLIPS.ID.eq(row.get(DATACLIPS.ID))).execute();
            if (sql != null && !sql.equals(current.get(DATACLIP_VERSIONS.SQL))) {
                addVersion(tx.dsl(), id, current.get(DATACLIP_VERSIONS.NUMBER) + 1, sql);
            }
        });
        return find(id).orElseThrow(() -> gone(id)); // deleted right after this change
    }

    private static KeelException gone(UUID id) {
        return KeelException.notFound("dataclip", id.toString());
    }

    Optional<Dataclip> find(UUID id) {
        return withCurrentVersion(DATACLIPS.ID.eq(id));
    }

    Optional<Dataclip> find(UUID teamId, UUID id) {
        return find(id).filter(clip -> clip.teamId().equals(teamId));
    }

    Optional<Dataclip> findBySlug(String slug) {
        return withCurrentVersion(DATACLIPS.SLUG.eq(slug));
    }

    /** One query: the clip and its newest version (a share link is read on every download). */
    private Optional<Dataclip> withCurrentVersion(Condition condition) {
        return dsl.select().from(DATACLIPS).join(DATACLIP_VERSIONS).on(DATACLIP_VERSIONS.DATACLIP_ID.eq(DATACLIPS.ID))
                .where(condition).orderBy(DATACLIP_VERSIONS.NUMBER.desc()).limit(1)
                .fetchOptional().map(r -> toDataclip(r, toVersion(r)));
    }

    /**
     * The team's clips, each with its newest version, in one statement: so each clip and its version are read from one
     * snapshot. Read apart (the clips, then each one's version), a clip whose values and SQL were changed in between
     * paired values of one state with SQL of another, SQL using a parameter without a value, and the list failed on it.
     */
    List<Dataclip> list(UUID teamId) {
        var newer = DATACLIP_VERSIONS.as("newer");
        return dsl.select().from(DATACLIPS).join(DATACLIP_VERSIONS).on(DATACLIP_VERSIONS.DATACLIP_ID.eq(DATACLIPS.ID))
                .where(DATACLIPS.TEAM_ID.eq(teamId))
                .andNotExists(DSL.selectOne().from(newer)
                        .where(newer.DATACLIP_ID.eq(DATACLIPS.ID)).and(newer.NUMBER.gt(DATACLIP_VERSIONS.NUMBER)))
                .orderBy(DATACLIPS.CREATED_AT).fetch()
                .map(r -> toDataclip(r, toVersion(r)));
    }

    List<Dataclip.Version> versions(UUID id) {
        return dsl.selectFrom(DATACLIP_VERSIONS).where(DATACLIP_VERSIONS.DATACLIP_ID.eq(id)).orderBy(DATACLIP_VERSIONS.NUMBER.desc())
                .fetch().map(DataclipRepository::toVersion);
    }

    void delete(UUID id) {
        dsl.deleteFrom(DATACLIPS).where(DATACLIPS.ID.eq(id)).execute();
    }

    void share(UUID id, String slug) {
        dsl.update(DATACLIPS).set(DATACLIPS.SLUG, slug).set(DATACLIPS.SHARED_AT, DSL.currentOffsetDateTime())
                .set(DATACLIPS.LAST_ACCESSED_AT, (OffsetDateTime) null).set(DATACLIPS.ACCESS_COUNT, 0L)
                .where(DATACLIPS.ID.eq(id)).execute();
    }

    void unshare(UUID id) {
        dsl.update(DATACLIPS).set(DATACLIPS.SLUG, (String) null).set(DATACLIPS.SHARED_AT, (OffsetDateTime) null)
                .where(DATACLIPS.ID.eq(id)).execute();
    }

    void recordAccess(UUID id, long count, OffsetDateTime last) {
        dsl.update(DATACLIPS).set(DATACLIPS.LAST_ACCESSED_AT, last)
                .set(DATACLIPS.ACCESS_COUNT, DATACLIPS.ACCESS_COUNT.plus(count)).where(DATACLIPS.ID.eq(id)).execute();
    }

    private static void addVersion(DSLContext sql, UUID clipId, int number, String text) {
        sql.insertInto(DATACLIP_VERSIONS)
                .set(DATACLIP_VERSIONS.ID, UUID.randomUUID())
                .set(DATACLIP_VERSIONS.DATACLIP_ID, clipId)
                .set(DATACLIP_VERSIONS.NUMBER, number)
                .set(DATACLIP_VERSIONS.SQL, text)
                .execute();
    }

    private static Record currentVersion(DSLContext sql, UUID clipId) {
        return sql.selectFrom(DATACLIP_VERSIONS).where(DATACLIP_VERSIONS.DATACLIP_ID.eq(clipId))
                .orderBy(DATACLIP_VERSIONS.NUMBER.desc()).limit(1).fetchSingle();
    }

    private static Dataclip toDataclip(Record r, Dataclip.Version version) {
        return new Dataclip(r.get(DATACLIPS.ID), r.get(DATACLIPS.TEAM_ID), r.get(DATACLIPS.DATABASE_ID), r.get(DATACLIPS.TITLE),
                Json.read(r.get(DATACLIPS.PARAMETERS), STRING_MAP), r.get(DATACLIPS.TIMEOUT_SECONDS), r.get(DATACLIPS.SLUG),
                r.get(DATACLIPS.SHARED_AT), r.get(DATACLIPS.LAST_ACCESSED_AT), r.get(DATACLIPS.ACCESS_COUNT),
                r.get(DATACLIPS.CREATED_AT), r.get(DATACLIPS.UPDATED_AT), version);
    }

    private static Dataclip.Version toVersion(Record r) {
        return new Dataclip.Version(r.get(DATACLIP_VERSIONS.ID), r.get(DATACLIP_VERSIONS.NUMBER), r.get(DATACLIP_VERSIONS.SQL),
                r.get(DATACLIP_VERSIONS.CREATED_AT));
    }
}
