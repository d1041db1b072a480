package dev.keel.credentials;

import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.jooq.Record;

import java.time.OffsetDateTime;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.CREDENTIALS;

/** Credential rows; passwords are sealed on the way in and opened only on request. */
@Singleton
public final class CredentialRepository {
    private final DSLContext dsl;
    private final Secrets secrets;

    CredentialRepository(DSLContext dsl, Secrets secrets) {
        this.dsl = dsl;
        this.secrets = secrets;
    }

    public Credential insert(UUID databaseId, String name, String username, String password) {
        UUID id = UUID.randomUUID();
        return dsl.insertInto(CREDENTIALS)
                .set(CREDENTIALS.ID, id)
                .set(CREDENTIALS.DATABASE_ID, databaseId)
                .set(CREDENTIALS.NAME, name)
                .set(CREDENTIALS.USERNAME, username)
                .set(CREDENTIALS.PASSWORD, secrets.seal(password, context(id)))
                .set(CREDENTIALS.STATE, Credential.ACTIVE)
                .returning()
                .fetchSingle(CredentialRepository::toCredential);
    }

    public Optional<Credential> find(UUID databaseId, String name) {
        return dsl.selectFrom(CREDENTIALS).where(CREDENTIALS.DATABASE_ID.eq(databaseId)).and(CREDENTIALS.NAME.eq(name))
                .fetchOptional(CredentialRepository::toCredential);
    }

    public String password(Credential credential) {
        byte[] sealed = dsl.select(CREDENTIALS.PASSWORD).from(CREDENTIALS).where(CREDENTIALS.ID.eq(credential.id()))
                .fetchSingle(CREDENTIALS.PASSWORD);
        return secrets.open(sealed, context(credential.id()));
    }

    /** A database's credentials, {@code default} first, then by name. */
    public List<Credential> list(UUID databaseId) {
        return dsl.selectFrom(CREDENTIALS).where(CREDENTIALS.DATABASE_ID.eq(databaseId))
                .orderBy(CREDENTIALS.NAME.ne(Credential.DEFAULT), CREDENTIALS.NAME)
                .fetch(CredentialRepository::toCredential);
    }

    public void updatePassword(Credential credential, String password) {
        dsl.update(CREDENTIALS)
                .set(CREDENTIALS.PASSWORD, secrets.seal(password, context(credential.id())))
                .set(CREDENTIALS.UPDATED_AT, OffsetDateTime.now())
                .where(CREDENTIALS.ID.eq(credential.id()))
                .execute();
    }

    public void delete(Credential credential) {
        dsl.deleteFrom(CREDENTIALS).where(CREDENTIALS.ID.eq(credential.id())).execute();
    }

    public void deleteAll(UUID databaseId) {
        dsl.deleteFrom(CREDENTIALS).where(CREDENTIALS.DATABASE_ID.eq(databaseId)).execute();
    }

    private static Credential toCredential(Record r) {
        return new Credential(r.get(CREDENTIALS.ID), r.get(CREDENTIALS.DATABASE_ID), r.get(CREDENTIALS.NAME),
                r.get(CREDENTIALS.USERNAME), r.get(CREDENTIALS.STATE), r.get(CREDENTIALS.CREATED_AT));
    }

    private static String context(UUID id) {
        return "credential:" + id;
    }
}
