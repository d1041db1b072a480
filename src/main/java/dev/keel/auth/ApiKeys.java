package dev.keel.auth;

import dev.keel.RandomStrings;
import dev.keel.problems.KeelException;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.jooq.exception.DataAccessException;
import org.jooq.Record;
import org.jooq.impl.DSL;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

import static dev.keel.catalog.schema.Tables.API_KEYS;

/**
 * API keys: {@code keel_} and 40 random characters (~238 bits). Only the SHA-256 of a key is
 * stored (a slow hash buys nothing for keys this long); the plaintext exists once, in the answer
 * that creates it.
 */
@Singleton
public final class ApiKeys {
    /** How long an answer of {@link #stillActive} is reused before the catalog is asked again. */
    public static final Duration ACTIVE_KNOWN_FOR = Duration.ofSeconds(2);
    static final String PREFIX = "keel_";
    private static final Logger LOG = LoggerFactory.getLogger(ApiKeys.class);
    private static final int RANDOM_LENGTH = 40;
    /** Past this many remembered answers, the stale ones are forgotten. */
    private static final int KNOWN_MAX = 10_000;

    private final DSLContext dsl;
    /** The last answer of {@link #stillActive} per key, and a revocation made on this node. */
    private final Map<UUID, Known> known = new ConcurrentHashMap<>();

    private record Known(boolean active, long atNanos) {
        boolean fresh(long now) {
            return now - atNanos < ACTIVE_KNOWN_FOR.toNanos();
        }
    }

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

    /**
     * Whether key {@code keyId} still exists, for what a key keeps open and asks about often (a
     * log follow stream, every poll): the catalog's answer is reused for {@link #ACTIVE_KNOWN_FOR},
     * and a revocation made through this node is known here at once. When the catalog cannot
     * answer, the last answer holds (active when there is none) for as long again, so that a
     * catalog blip does not end every open stream, nor does every caller wait out the catalog's
     * timeout (a hung catalog: each ask waits for it).
     */
    public boolean stillActive(UUID keyId) {
        long now = System.nanoTime();
        Known last = known.get(keyId);
        if (last != null && last.fresh(now)) {
            return last.active();
        }
        boolean active;
        try {
            active = active(keyId);
        } catch (DataAccessException unreachable) {
            boolean held = last == null || last.active();
            LOG.warn("Could not ask the catalog whether API key {} is revoked; it counts as {} for {} s: {}", keyId,
                    held ? "active" : "revoked", ACTIVE_KNOWN_FOR.toSeconds(), unreachable.toString());
            return remember(keyId, new Known(held, System.nanoTime()));
        }
        if (known.size() > KNOWN_MAX) {
            known.values().removeIf(k -> !k.fresh(now));
        }
        return remember(keyId, new Known(active, now));
    }

    /** Keeps {@code answer}, unless a revocation through this node was kept since the ask began; returns what is kept. */
    private boolean remember(UUID keyId, Known answer) {
        return known.merge(keyId, answer, (kept, asked) -> !kept.active() && kept.atNanos() >= asked.atNanos() ? kept : asked).active();
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
        known.put(id, new Known(false, System.nanoTime())); // what this node keeps open with the key ends at once
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
