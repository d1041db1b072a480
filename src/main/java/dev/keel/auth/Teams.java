package dev.keel.auth;

import dev.keel.KeelHome;
import dev.keel.PrivateFiles;
import dev.keel.catalog.AdvisoryLock;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.context.annotation.Value;
import io.micronaut.serde.annotation.Serdeable;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.jooq.exception.IntegrityConstraintViolationException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Pattern;

import static dev.keel.catalog.schema.Tables.API_KEYS;
import static dev.keel.catalog.schema.Tables.TEAMS;

/** Teams; on an installation's first start, the first team and its admin key. */
@Singleton
public final class Teams {
    private static final Logger LOG = LoggerFactory.getLogger(Teams.class);
    private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9-]{1,62}");

    private final DSLContext dsl;
    private final ApiKeys apiKeys;
    private final Path adminKeyFile;
    private final String platformName;

    Teams(DSLContext dsl, ApiKeys apiKeys, KeelHome home, @Value("${keel.addon.team}") String platformName) {
        this.dsl = dsl;
        this.platformName = platformName;
        this.apiKeys = apiKeys;
        this.adminKeyFile = home.resolve("admin-api-key");
    }

    @Serdeable
    public record Team(UUID id, String name, OffsetDateTime createdAt) {
    }

    /** The file the first admin key was written to (0600). */
    public Path adminKeyFile() {
        return adminKeyFile;
    }

    /**
     * When the catalog has no team yet: creates team {@code default} and an admin key, and writes
     * the key's plaintext once to {@code <data dir>/admin-api-key}. Nothing otherwise.
     */
    public void bootstrap() {
        boolean created = dsl.transactionResult(tx -> {
            DSLContext sql = tx.dsl();
            AdvisoryLock.FIRST_TEAM.acquire(sql);
            if (sql.fetchExists(API_KEYS.where(API_KEYS.ADMIN.isTrue()))) {
                return false;
            }
            UUID teamId = sql.select(TEAMS.ID).from(TEAMS).where(TEAMS.NAME.eq("default")).fetchOptional(TEAMS.ID)
                    .orElseGet(() -> insert(sql, "default").id());
            // Written before the commit: a crash in between leaves a file without a key, which the next
            // start replaces, rather than a key nobody can read.
            PrivateFiles.write(adminKeyFile, apiKeys.create(sql, teamId, "admin", true).plaintext() + "\n");
            return true;
        });
        if (created) {
            LOG.info("Created team 'default' and its admin API key, written to {}", adminKeyFile);
        }
    }

    /** A new team with its first (non-admin) key. */
    public record Created(Team team, ApiKeys.Created key) {
    }

    Created create(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new KeelException(ProblemType.INVALID_NAME, "A team name is 2 to 63 characters: lowercase letters, digits and"
                    + " dashes, starting with a letter.");
        }
        if (name.equals(platformName) || dsl.fetchExists(TEAMS, TEAMS.NAME.eq(name).and(TEAMS.PLATFORM.isTrue()))) {
            throw new KeelException(ProblemType.INVALID_NAME, "The team name " + name + " is reserved for the team that owns add-on"
                    + " databases (KEEL_ADDON_TEAM); choose another name.");
        }
        try {
            return dsl.transactionResult(tx -> {
                Team team = insert(tx.dsl(), name);
                return new Created(team, apiKeys.create(tx.dsl(), team.id(), "default", false));
            });
        } catch (IntegrityConstraintViolationException e) {
            throw new KeelException(ProblemType.NAME_TAKEN, "A team named " + name + " already exists; choose another name.");
        }
    }

    /**
     * The platform team, which owns the databases made through the Add-on Partner API: the team
     * marked so in the catalog, created (without keys) as {@code name} on first use. A team is never
     * taken for it by its name: when a customer team already holds {@code name}, this is refused.
     */
    public Team platform(String name) {
        return dsl.transactionResult(tx -> {
            AdvisoryLock.FIRST_TEAM.acquire(tx.dsl());
            Optional<Team> marked = tx.dsl().selectFrom(TEAMS).where(TEAMS.PLATFORM.isTrue())
                    .fetchOptional(r -> new Team(r.getId(), r.getName(), r.getCreatedAt()));
            if (marked.isPresent()) {
                return marked.get();
            }
            if (tx.dsl().fetchExists(TEAMS, TEAMS.NAME.eq(name))) {
                LOG.error("The add-on team's name {} belongs to a customer team; set KEEL_ADDON_TEAM to a name no team has", name);
                throw new KeelException(ProblemType.UNAVAILABLE, "Keel cannot provision add-ons until its operator sets KEEL_ADDON_TEAM to"
                        + " a name no team has (" + name + " is a customer team's).");
            }
            return tx.dsl().insertInto(TEAMS).set(TEAMS.ID, UUID.randomUUID()).set(TEAMS.NAME, name).set(TEAMS.PLATFORM, true).returning()
                    .fetchSingle(r -> new Team(r.getId(), r.getName(), r.getCreatedAt()));
        });
    }

    /** The caller's own team. */
    public Team of(Caller caller) {
        return dsl.selectFrom(TEAMS).where(TEAMS.ID.eq(caller.teamId())).fetchSingle(r -> new Team(r.getId(), r.getName(), r.getCreatedAt()));
    }

    List<Team> list(Caller caller) {
        var query = dsl.selectFrom(TEAMS);
        var filtered = caller.admin() ? query : query.where(TEAMS.ID.eq(caller.teamId()));
        return filtered.orderBy(TEAMS.CREATED_AT).fetch(r -> new Team(r.getId(), r.getName(), r.getCreatedAt()));
    }

    private static Team insert(DSLContext sql, String name) {
        UUID id = UUID.randomUUID();
        return sql.insertInto(TEAMS).set(TEAMS.ID, id).set(TEAMS.NAME, name).returning()
                .fetchSingle(r -> new Team(r.getId(), r.getName(), r.getCreatedAt()));
    }
}
