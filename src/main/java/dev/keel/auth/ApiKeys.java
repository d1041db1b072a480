package dev.keel.auth;

import dev.keel.RandomStrings;
import dev.keel.problems.KeelException;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.jooq.Record;
import org.jooq.impl.DSL;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.API_KEYS;

/**
 * API keys: {@code keel_} and 40 random characters (~238 bits). Only the SHA-256 of a key is
 * stored (a slow hash buys nothing for keys this long); the plaintext exists once, in the answer
 * that creates it.
 */
@Singleton
public final class ApiKeys {
    static final String PREFIX = "keel_";
    private static final int RANDOM_LENGTH = 40;

    private final DSLContext dsl;

    ApiKeys(DSLContext dsl) {
        this.dsl = dsl;
    }

    /** A new key and its plaintext. */
    public record Created(ApiKey key, String plaintext) {
    }

    public Created create(DSLContext tx, UUID teamId, String name, boolean admin) {
        String plaintext = PREFIX + RandomStrings.alphanumeric(RANDOM_LENGTH);
        UUID id = UUID.randomUUID();
        tx.insertInto(API_KEYS)
                .set(API_KEYS.ID, id)
                .set(API_KEYS.TEAM_ID, teamId)
                .set(API_KEYS.NAME, name)
                .set(API_KEYS.KEY_HASH, hash(plaintext))
                .set(API_KEYS.KEY_HINT, plaintext.substring(plaintext.length() - 4))
                .set(API_KEYS.ADMIN, admin)
                .execute();
        return new Created(find(tx, teamId, id).orElseThrow(), plaintext);
    }

    Optional<Caller> authenticate(String plaintext) {
        if (!plaintext.startsWith(PREFIX)) {
            return Optional.empty();
        }
        Optional<Caller> caller = dsl.select(API_KEYS.ID, API_KEYS.TEAM_ID, API_KEYS.ADMIN)
                .from(API_KEYS)
                .where(API_KEYS.KEY_HASH.eq(hash(plaintext)))
                .fetchOptional(r -> new Caller(r.value2(), r.value1(), r.value3()));
        // At most one write a minute per key, so authentication stays a read.
        caller.ifPresent(c -> dsl.update(API_KEYS)
                .set(API_KEYS.LAST_USED_AT, DSL.currentOffsetDateTime())
                .where(API_KEYS.ID.eq(c.keyId()))
                .and(API_KEYS.LAST_USED_AT.isNull().or(DSL.condition("{0} < now() - interval '1 minute'", API_KEYS.LAST_USED_AT)))
                .execute());
        return caller;
    }

    /** Whether key {@code keyId} still exists (it is gone once revoked); what a capability a key made (a log session) asks before it serves. */
    public boolean active(UUID keyId) {
        return dsl.fetchExists(API_KEYS, API_KEYS.ID.eq(keyId));
    }

    List<ApiKey> list(UUID teamId) {
        return dsl.selectFrom(API_KEYS).where(API_KEYS.TEAM_ID.eq(teamId)).orderBy(API_KEYS.CREATED_AT).fetch(ApiKeys::toApiKey);
    }

    Optional<ApiKey> find(DSLContext tx, UUID teamId, UUID id) {
        return tx.selectFrom(API_KEYS).where(API_KEYS.TEAM_ID.eq(teamId)).and(API_KEYS.ID.eq(id)).fetchOptional(ApiKeys::toApiKey);
    }

    void revoke(UUID teamId, UUID id) {
        int deleted = dsl.deleteFrom(API_KEYS).where(API_KEYS.TEAM_ID.eq(teamId)).and(API_KEYS.ID.eq(id)).execute();
        if (deleted == 0) {
            throw KeelException.notFound("API key", id.toString());
        }
    }

    static String hash(String plaintext) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(plaintext.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static ApiKey toApiKey(Record r) {
        return new ApiKey(r.get(API_KEYS.ID), r.get(API_KEYS.TEAM_ID), r.get(API_KEYS.NAME), r.get(API_KEYS.KEY_HINT),
                r.get(API_KEYS.ADMIN), r.get(API_KEYS.CREATED_AT), r.get(API_KEYS.LAST_USED_AT));
    }
}
