package dev.keel.apps;

import dev.keel.Ids;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.jooq.Record;
import org.jooq.SelectOnConditionStep;

import java.util.List;
import java.util.Optional;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.APPS;
import static dev.keel.catalog.schema.Tables.ATTACHMENTS;
import static dev.keel.catalog.schema.Tables.DATABASE_COLORS;

/** Apps, their attachments, and databases' colours, in the catalog. */
@Singleton
final class AppRepository {
    private final DSLContext dsl;

    AppRepository(DSLContext dsl) {
        this.dsl = dsl;
    }

    App insert(UUID teamId, String name) {
        return dsl.insertInto(APPS).set(APPS.ID, UUID.randomUUID()).set(APPS.TEAM_ID, teamId).set(APPS.NAME, name)
                .returning().fetchSingle(r -> new App(r.getId(), r.getTeamId(), r.getName(), r.getCreatedAt()));
    }

    List<App> list(UUID teamId) {
        return dsl.selectFrom(APPS).where(APPS.TEAM_ID.eq(teamId)).orderBy(APPS.NAME)
                .fetch(r -> new App(r.getId(), r.getTeamId(), r.getName(), r.getCreatedAt()));
    }

    /** The team's app named {@code nameOrId}, or whose id it is (the Heroku CLI names an app by its id in some calls). */
    Optional<App> find(UUID teamId, String nameOrId) {
        Optional<UUID> id = Ids.parse(nameOrId);
        return dsl.selectFrom(APPS).where(APPS.TEAM_ID.eq(teamId))
                .and(id.isPresent() ? APPS.ID.eq(id.get()).or(APPS.NAME.eq(nameOrId)) : APPS.NAME.eq(nameOrId))
                .fetchOptional(r -> new App(r.getId(), r.getTeamId(), r.getName(), r.getCreatedAt()));
    }

    App rename(UUID appId, String name) {
        return dsl.update(APPS).set(APPS.NAME, name).where(APPS.ID.eq(appId)).returning()
                .fetchSingle(r -> new App(r.getId(), r.getTeamId(), r.getName(), r.getCreatedAt()));
    }

    /** Deletes the app and (by cascade) its attachments. */
    void delete(UUID appId) {
        dsl.deleteFrom(APPS).where(APPS.ID.eq(appId)).execute();
    }

    Attachment attach(DSLContext tx, UUID appId, UUID databaseId, String name, String credential) {
        return attach(tx, appId, databaseId, name, credential, false, false);
    }

    Attachment attach(DSLContext tx, UUID appId, UUID databaseId, String name, String credential, boolean pooled, boolean failover) {
        UUID id = UUID.randomUUID();
        release(tx, appId);
        tx.insertInto(ATTACHMENTS).set(ATTACHMENTS.ID, id).set(ATTACHMENTS.APP_ID, appId).set(ATTACHMENTS.DATABASE_ID, databaseId)
                .set(ATTACHMENTS.NAME, name).set(ATTACHMENTS.CREDENTIAL, credential).set(ATTACHMENTS.POOLED, pooled)
                .set(ATTACHMENTS.FAILOVER, failover).execute();
        return attachments(tx).where(ATTACHMENTS.ID.eq(id)).fetchSingle(AppRepository::toAttachment);
    }

    List<Attachment> ofApp(DSLContext tx, UUID appId) {
        return attachments(tx).where(ATTACHMENTS.APP_ID.eq(appId)).orderBy(ATTACHMENTS.NAME).fetch(AppRepository::toAttachment);
    }

    List<Attachment> ofDatabase(UUID databaseId) {
        return attachments(dsl).where(ATTACHMENTS.DATABASE_ID.eq(databaseId)).orderBy(APPS.NAME, ATTACHMENTS.NAME)
                .fetch(AppRepository::toAttachment);
    }

    /** How many pooled attachments the database has, in every app. */
    int pooledCount(UUID databaseId) {
        return dsl.fetchCount(ATTACHMENTS, ATTACHMENTS.DATABASE_ID.eq(databaseId).and(ATTACHMENTS.POOLED.isTrue()));
    }

    /** The databases the app reaches through a pooler. */
    List<UUID> pooledDatabases(UUID appId) {
        return dsl.selectDistinct(ATTACHMENTS.DATABASE_ID).from(ATTACHMENTS).where(ATTACHMENTS.APP_ID.eq(appId))
                .and(ATTACHMENTS.POOLED.isTrue()).fetch(ATTACHMENTS.DATABASE_ID);
    }

    boolean detach(UUID appId, String name) {
        return dsl.transactionResult(tx -> {
            boolean removed = tx.dsl().deleteFrom(ATTACHMENTS).where(ATTACHMENTS.APP_ID.eq(appId)).and(ATTACHMENTS.NAME.eq(name)).execute() > 0;
            if (removed) {
                release(tx.dsl(), appId);
            }
            return removed;
        });
    }

    /** A new release of the app: its config vars changed. */
    void release(DSLContext tx, UUID appId) {
        tx.update(APPS).set(APPS.RELEASE_VERSION, APPS.RELEASE_VERSION.plus(1)).where(APPS.ID.eq(appId)).execute();
    }

    int releaseVersion(UUID appId) {
        return dsl.select(APPS.RELEASE_VERSION).from(APPS).where(APPS.ID.eq(appId)).fetchSingle(APPS.RELEASE_VERSION);
    }

    Optional<String> color(DSLContext tx, UUID databaseId) {
        return tx.select(DATABASE_COLORS.COLOR).from(DATABASE_COLORS).where(DATABASE_COLORS.DATABASE_ID.eq(databaseId))
                .fetchOptional(DATABASE_COLORS.COLOR);
    }

    List<String> colorsTaken(DSLContext tx, UUID teamId) {
        return tx.select(DATABASE_COLORS.COLOR).from(DATABASE_COLORS).where(DATABASE_COLORS.TEAM_ID.eq(teamId)).fetch(DATABASE_COLORS.COLOR);
    }

    void setColor(DSLContext tx, UUID databaseId, UUID teamId, String color) {
        tx.insertInto(DATABASE_COLORS).set(DATABASE_COLORS.DATABASE_ID, databaseId).set(DATABASE_COLORS.TEAM_ID, teamId)
                .set(DATABASE_COLORS.COLOR, color).execute();
    }

    private static SelectOnConditionStep<Record> attachments(DSLContext sql) {
        return sql.select(ATTACHMENTS.fields()).select(APPS.NAME).from(ATTACHMENTS).join(APPS).on(APPS.ID.eq(ATTACHMENTS.APP_ID));
    }

    private static Attachment toAttachment(Record r) {
        return new Attachment(r.get(ATTACHMENTS.ID), r.get(ATTACHMENTS.APP_ID), r.get(APPS.NAME), r.get(ATTACHMENTS.DATABASE_ID),
                r.get(ATTACHMENTS.NAME), r.get(ATTACHMENTS.CREDENTIAL), r.get(ATTACHMENTS.CREATED_AT), r.get(ATTACHMENTS.POOLED),
                r.get(ATTACHMENTS.FAILOVER));
    }
}
