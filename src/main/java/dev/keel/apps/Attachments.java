package dev.keel.apps;

import dev.keel.auth.Caller;
import dev.keel.catalog.AdvisoryLock;
import dev.keel.credentials.Credential;
import dev.keel.credentials.CredentialUses;
import dev.keel.credentials.Credentials;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.DatabaseState;
import dev.keel.databases.Plans;
import dev.keel.pooling.Poolers;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.core.annotation.Nullable;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;

import java.sql.SQLException;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * Attaching databases to apps, as Heroku does: {@code as} defaults to {@code DATABASE} (or,
 * when the app has that already, to the database's colour name; or, when the database is
 * attached to the app through that credential already, that attachment). A database attached a second
 * time, or under another name, also gets its colour attachment ({@code HEROKU_POSTGRESQL_AMBER})
 * in that app, so that one name means one database everywhere; only when attached through the
 * default credential, whose URL the colour name carries.
 */
@Singleton
public final class Attachments implements CredentialUses {
    static final String DEFAULT_NAME = "DATABASE";
    /** The name of a pooled attachment made without one (config var {@code DATABASE_CONNECTION_POOL_URL}), as on Heroku. */
    static final String POOL_NAME = "DATABASE_CONNECTION_POOL";
    private static final Pattern NAME = Pattern.compile("[A-Z][A-Z0-9_]{0,58}");

    private final Apps apps;
    private final AppRepository repository;
    private final DatabaseLookup databases;
    private final Credentials credentials;
    private final Colors colors;
    private final Poolers poolers;
    private final Plans plans;
    private final DSLContext dsl;

    Attachments(Apps apps, AppRepository repository, DatabaseLookup databases, Credentials credentials, Colors colors, Poolers poolers,
                Plans plans, DSLContext dsl) {
        this.plans = plans;
        this.poolers = poolers;
        this.apps = apps;
        this.repository = repository;
        this.databases = databases;
        this.credentials = credentials;
        this.colors = colors;
        this.dsl = dsl;
    }

    /** An attachment made, or the same one found ({@code created} false: attaching again changes nothing). */
    public record Attached(Attachment attachment, boolean created) {
    }

    /**
     * Refuses, before anything is made for it, an attachment that {@link #attach} would refuse for
     * its name: a name that is no attachment name, or one the app has already.
     */
    public void requireAttachable(Caller caller, String appName, @Nullable String as) {
        checkName(as);
        if (as != null) {
            App app = apps.require(caller, appName);
            named(repository.ofApp(dsl, app.id()), as).ifPresent(taken -> {
                throw new KeelException(ProblemType.NAME_TAKEN, "App " + app.name() + " already has an attachment named " + as + " ("
                        + taken.configVar() + "); detach it first, or attach under another name.");
            });
        }
    }

    private static void checkName(@Nullable String as) {
        if (as != null && !NAME.matcher(as).matches()) {
            throw new KeelException(ProblemType.INVALID_NAME, "An attachment name (\"as\") is 1 to 59 characters: uppercase letters,"
                    + " digits and underscores, starting with a letter, such as DATABASE or ANALYTICS; its config var is <as>_URL.");
        }
    }

    public Attached attach(Caller caller, String appName, @Nullable String databaseName, @Nullable String as, @Nullable String credential) {
        return attach(caller, appName, databaseName, as, credential, false);
    }

    /**
     * {@link #attach(Caller, String, String, String, String)}, with {@code failover} asking for the
     * URL that lists every server that can be the primary ({@code "url": "failover"}): only for a
     * database whose plan keeps an HA standby, and not for a follower (its URL names its own server).
     * The same database, credential and form again is the same attachment.
     */
    public Attached attach(Caller caller, String appName, @Nullable String databaseName, @Nullable String as, @Nullable String credential,
                           boolean failover) {
        App app = apps.require(caller, appName);
        if (databaseName == null || databaseName.isBlank()) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "Say which database to attach: \"database\" is its name or id.");
        }
        Database database = databases.require(caller, databaseName);
        if (database.state() == DatabaseState.DELETING || database.state() == DatabaseState.FAILED) {
            throw new KeelException(ProblemType.NOT_AVAILABLE, "Database " + database.name() + " is " + database.state().value()
                    + "; only a database being created or available can be attached.");
        }
        checkName(as);
        if (failover) {
            requireFailover(database);
        }
        String through = credential == null || credential.isBlank() ? Credential.DEFAULT : credential;
        requireCredential(database, through);
        return dsl.transactionResult(tx -> {
            AdvisoryLock.ATTACHMENTS.acquire(tx.dsl());
            List<Attachment> existing = repository.ofApp(tx.dsl(), app.id());
            Optional<Attachment> already = existing.stream()
                    .filter(a -> sameUse(a, database, through, failover)).findFirst();
            if (as == null && already.isPresent()) {
                return new Attached(already.get(), false); // attached again without a name: the attachment it has
            }
            String name = as != null ? as : named(existing, DEFAULT_NAME).isEmpty() ? DEFAULT_NAME : colors.of(tx.dsl(), database);
            Optional<Attachment> same = named(existing, name);
            if (same.isPresent()) {
                if (sameUse(same.get(), database, through, failover)) {
                    return new Attached(same.get(), false);
                }
                throw new KeelException(ProblemType.NAME_TAKEN, "App " + app.name() + " already has an attachment named " + name
                        + " (" + same.get().configVar() + "); detach it first, or attach under another name with \"as\".");
            }
            // Only through the default credential: an app given a lesser credential must not find the owner's URL too.
            boolean again = through.equals(Credential.DEFAULT)
                    && (!name.equals(DEFAULT_NAME) || !repository.ofDatabase(database.id()).isEmpty());
            Attachment made = repository.attach(tx.dsl(), app.id(), database.id(), name, through, false, failover);
            if (again) {
                String color = colors.of(tx.dsl(), database);
                if (!color.equals(name) && named(existing, color).isEmpty()) {
                    repository.attach(tx.dsl(), app.id(), database.id(), color, through);
                }
            }
            return new Attached(made, true);
        });
    }

    /**
     * Attaches the database to the app through its pooler ({@code pg:connection-pooling:attach}),
     * starting the pooler when it has none: {@code as} defaults to {@code DATABASE_CONNECTION_POOL}.
     * The same pooled attachment again changes nothing.
     */
    public Attached attachPooled(Caller caller, String appName, Database database, @Nullable String as, @Nullable String credential)
            throws SQLException, InterruptedException {
        App app = apps.require(caller, appName);
        String name = as == null || as.isBlank() ? POOL_NAME : as.strip();
        if (!NAME.matcher(name).matches()) {
            throw new KeelException(ProblemType.INVALID_NAME, "An attachment name (\"as\") is 1 to 59 characters: uppercase letters,"
                    + " digits and underscores, starting with a letter, such as DATABASE_CONNECTION_POOL; its config var is <as>_URL.");
        }
        String through = credential == null || credential.isBlank() ? Credential.DEFAULT : credential;
        requireCredential(database, through);
        Optional<Attachment> same = named(repository.ofApp(dsl, app.id()), name);
        if (same.isPresent() && !(same.get().pooled() && same.get().databaseId().equals(database.id())
                && same.get().credential().equals(through))) {
            throw new KeelException(ProblemType.NAME_TAKEN, "App " + app.name() + " already has an attachment named " + name
                    + " (" + same.get().configVar() + "); detach it first, or attach under another name with --as.");
        }
        poolers.ensure(database);
        if (same.isPresent()) {
            return new Attached(same.get(), false);
        }
        return dsl.transactionResult(tx -> {
            AdvisoryLock.ATTACHMENTS.acquire(tx.dsl());
            Optional<Attachment> meanwhile = named(repository.ofApp(tx.dsl(), app.id()), name);
            if (meanwhile.isPresent()) {
                return new Attached(meanwhile.get(), false);
            }
            return new Attached(repository.attach(tx.dsl(), app.id(), database.id(), name, through, true, false), true);
        });
    }

    public List<Attachment> list(Caller caller, String appName) {
        return repository.ofApp(dsl, apps.require(caller, appName).id());
    }

    public void detach(Caller caller, String appName, String name) {
        App app = apps.require(caller, appName);
        Optional<Attachment> attachment = named(repository.ofApp(dsl, app.id()), name);
        if (!repository.detach(app.id(), name)) {
            throw KeelException.notFound("attachment", name);
        }
        attachment.filter(Attachment::pooled).ifPresent(a -> poolers.release(a.databaseId(), repository.pooledCount(a.databaseId())));
    }

    /** The database's colour attachment name ({@code HEROKU_POSTGRESQL_AMBER}), chosen now if it has none. */
    public String colorOf(Database database) {
        return dsl.transactionResult(tx -> {
            AdvisoryLock.ATTACHMENTS.acquire(tx.dsl());
            return colors.of(tx.dsl(), database);
        });
    }

    /** The newest release of the app: each attach or detach makes one. */
    public int releaseVersion(Caller caller, String appName) {
        return repository.releaseVersion(apps.require(caller, appName).id());
    }

    /** Every attachment of the caller's team, app by app. */
    public List<Attachment> all(Caller caller) {
        return apps.list(caller).stream().flatMap(app -> repository.ofApp(dsl, app.id()).stream()).toList();
    }

    /** Every attachment of a database, in every app. */
    public List<Attachment> ofDatabase(UUID databaseId) {
        return repository.ofDatabase(databaseId);
    }

    @Override
    public List<String> apps(UUID databaseId, String credential) {
        return repository.ofDatabase(databaseId).stream().filter(a -> a.credential().equals(credential)).map(Attachment::appName)
                .distinct().sorted().toList();
    }

    private void requireCredential(Database database, String name) {
        if (Credential.DEFAULT.equals(name)) {
            return; // every database has it, once created
        }
        List<String> names = credentials.list(database.credentialsOwner()).stream().map(Credential::name).toList();
        if (!names.contains(name)) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "Database " + database.name() + " has no credential " + name
                    + "; it has " + String.join(", ", names) + " (create one with POST /v1/databases/" + database.name()
                    + "/credentials).").with("valid_values", names);
        }
    }

    private static boolean sameUse(Attachment a, Database database, String credential, boolean failover) {
        return !a.pooled() && a.databaseId().equals(database.id()) && a.credential().equals(credential) && a.failover() == failover;
    }

    /** {@code "url"} of an attachment request: {@code primary} (the default) or {@code failover}; true for the latter. */
    public static boolean failoverForm(@Nullable String url) {
        if (url == null || url.isBlank() || url.equals("primary")) {
            return false;
        }
        if (url.equals("failover")) {
            return true;
        }
        throw new KeelException(ProblemType.INVALID_REQUEST, "\"url\" is primary (the current primary's URL, updated at a failover, the"
                + " default) or failover (every server that can be the primary, for drivers that take several hosts).")
                .with("valid_values", List.of("primary", "failover"));
    }

    private void requireFailover(Database database) {
        if (database.following()) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "Database " + database.name() + " is a follower: it cannot become a"
                    + " primary, so it has no failover URL; attach it with \"url\": \"primary\", or attach its leader.");
        }
        if (!plans.require(database.plan()).ha()) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "Database " + database.name() + " is on plan " + database.plan()
                    + ", which keeps no HA standby, so only one server can be its primary; change to a premium plan for a failover URL,"
                    + " or attach it with \"url\": \"primary\".");
        }
    }

    private static Optional<Attachment> named(List<Attachment> attachments, String name) {
        return attachments.stream().filter(a -> a.name().equals(name)).findFirst();
    }
}
