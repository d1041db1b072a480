package dev.keel.lifecycle;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.keel.Network;
import dev.keel.auth.Caller;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.Plans;
import dev.keel.databases.ServerSettings;
import dev.keel.databases.SettingsRepository;
import dev.keel.databases.TunableSetting;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConfig;
import dev.keel.instances.InstanceMaker;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.Reconfiguration;
import dev.keel.operations.DatabaseLeases;
import dev.keel.operations.Decision;
import dev.keel.operations.HostedWork;
import dev.keel.operations.Operation;
import dev.keel.operations.OperationHandler;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import dev.keel.replication.Followers;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;
import jakarta.inject.Singleton;

import java.math.BigDecimal;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * {@code heroku pg:settings}: the {@link TunableSetting}s of a database, shown with Postgres'
 * defaults where none was chosen, and changed by storing them in the catalog and applying them
 * with a reload to the database's server (a follower's too, keeping its stream). Not on essential
 * plans, as on Heroku; not while another change to the database's servers runs, and applied under
 * the database's lease ({@link DatabaseLeases}), as every change to its servers is. Asked of a node
 * that does not host the server, the request waits for the hosting node to apply them (a
 * {@code reconfigure} operation, {@link HostedWork}).
 */
@Singleton
public final class DatabaseSettings implements OperationHandler {
    static final String APPLYING = "applying the settings";
    private static final EnumSet<OperationKind> BUSY = EnumSet.of(OperationKind.PROVISION, OperationKind.RESTORE, OperationKind.UNFOLLOW,
            OperationKind.PLAN_CHANGE, OperationKind.FAILOVER, OperationKind.STANDBY, OperationKind.RESTART,
            OperationKind.REBUILD, OperationKind.RECONFIGURE);

    private final DatabaseLookup databases;
    private final SettingsRepository settings;
    private final ServerSettings serverSettings;
    private final Plans plans;
    private final OperationRepository operations;
    private final InstanceRepository instances;
    private final InstanceMaker maker;
    private final Reconfiguration reconfiguration;
    private final Followers followers;
    private final Network network;
    private final HostedWork hostedWork;
    private final DatabaseLeases leases;

    DatabaseSettings(DatabaseLookup databases, SettingsRepository settings, ServerSettings serverSettings, Plans plans,
                     OperationRepository operations, InstanceRepository instances, InstanceMaker maker, Reconfiguration reconfiguration,
                     Followers followers, Network network, HostedWork hostedWork, DatabaseLeases leases) {
        this.hostedWork = hostedWork;
        this.leases = leases;
        this.databases = databases;
        this.settings = settings;
        this.serverSettings = serverSettings;
        this.plans = plans;
        this.operations = operations;
        this.instances = instances;
        this.maker = maker;
        this.reconfiguration = reconfiguration;
        this.followers = followers;
        this.network = network;
    }

    /** One setting as Heroku's Data API shows it: its value and default typed (boolean, number, text), and an enum's values. */
    @Serdeable
    public record Setting(Object value, String desc, @JsonProperty("default") Object defaultValue, @Nullable Map<String, String> values) {
    }

    public Map<String, Setting> show(Caller caller, String idOrName) {
        Database database = databases.require(caller, idOrName);
        requireTunable(database);
        return view(settings.of(database.id()));
    }

    /** Stores and applies {@code requested} (Heroku's names to JSON values); all or nothing when one is invalid. */
    public Map<String, Setting> change(Caller caller, String idOrName, Map<String, Object> requested) throws Exception {
        Database database = databases.requireAvailable(caller, idOrName);
        requireTunable(database);
        if (requested.isEmpty()) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "Say which setting to change, such as {\"log_statement\": \"ddl\"}; the"
                    + " settings are " + String.join(", ", keys()) + ".");
        }
        Map<String, String> values = new LinkedHashMap<>();
        requested.forEach((key, value) -> {
            TunableSetting setting = TunableSetting.of(key).orElseThrow(() -> new KeelException(ProblemType.INVALID_REQUEST,
                    "There is no setting " + key + "; the settings are " + String.join(", ", keys()) + ".").with("valid_values", keys()));
            values.put(key, postgresValue(setting, value));
        });
        requireIdle(database);
        String host;
        // Applied here under the database's lease: a plan change, failover or restart writing its server's configuration at the
        // same moment would race this change, and could leave the server without the new values. What the lease waited for
        // may have changed the database (its plan, an unfollow): it is read, and checked, again under the lease.
        try (DatabaseLeases.Lease lease = leases.acquireForRequest(database.id(), database.name(), "settings change")) {
            Database now = databases.requireAvailable(caller, idOrName);
            requireTunable(now);
            requireIdle(now);
            host = instances.primary(now.id()).flatMap(hostedWork::otherHost).orElse(null);
            if (host == null) {
                settings.put(now.id(), values);
                apply(now);
                return view(settings.of(now.id()));
            }
        }
        // Another node hosts the server: its reconfigure operation applies them under the lease, which must be free for it.
        hostedWork.requireTaker(host, "Applying settings");
        settings.put(database.id(), values);
        hostedWork.carryOut(host, database.teamId(), database.id(), OperationKind.RECONFIGURE, APPLYING, "The settings change");
        return view(settings.of(database.id()));
    }

    @Override
    public OperationKind kind() {
        return OperationKind.RECONFIGURE;
    }

    /** On the node hosting the database's server: applies the settings another node's request stored. */
    @Override
    public void run(Operation operation) throws Exception {
        Database database = databases.find(operation.databaseId()).orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE,
                "The database was deleted meanwhile; nothing was applied."));
        // Its server moved since this was handed here (a follower rebuilt elsewhere): applying it is that node's now, and
        // waiting here for that node would hold the database's lease it needs.
        Optional<String> moved = instances.primary(database.id()).flatMap(hostedWork::otherHost);
        if (moved.isPresent()) {
            throw new KeelException(ProblemType.NOT_AVAILABLE, database.name() + "'s server moved to node " + moved.get()
                    + " meanwhile; its settings are stored, and apply there when they are changed again.");
        }
        apply(database);
        operations.progress(operation.id(), "applied the settings", 1, 1);
    }

    /** Applied again from what the catalog holds: applying twice gives the same server. */
    @Override
    public Decision recover(Operation operation) {
        return Decision.resume(operation, "applying the database's settings, which Keel stopped during");
    }

    private void apply(Database database) throws Exception {
        if (database.following()) {
            followers.reconfigure(database);
            return;
        }
        Instance primary = instances.primary(database.id()).orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE,
                database.name() + " has no server; its settings are saved and apply once it has one."));
        reconfiguration.apply(primary, maker.settings(primary, serverSettings.of(database)),
                InstanceConfig.hba(database.pgDatabase(), network.keelSources()));
    }

    private void requireIdle(Database database) {
        operations.running(database.id(), BUSY).ifPresent(op -> {
            throw new KeelException(ProblemType.ALREADY_QUEUED, "Still applying a previous change to " + database.name() + " ("
                    + op.kind().value() + ": " + op.step() + "); try again once it finishes.");
        });
    }

    private void requireTunable(Database database) {
        if (!plans.require(database.plan()).namedCredentials()) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "You can't perform this operation on Essential-tier databases: "
                    + database.name() + " is on " + database.plan() + "; change its plan to standard or premium first.");
        }
    }

    private static String postgresValue(TunableSetting setting, @Nullable Object value) {
        switch (setting.kind()) {
            case BOOLEAN:
                Boolean on = value instanceof Boolean b ? b : value instanceof String s && s.matches("(?i)on|off|true|false")
                        ? Boolean.valueOf(s.equalsIgnoreCase("on") || s.equalsIgnoreCase("true")) : null;
                if (on == null) {
                    throw invalid(setting, "true or false");
                }
                if (on && setting == TunableSetting.DATA_CONNECTOR_DETAILS_LOGS) {
                    throw new KeelException(ProblemType.INVALID_REQUEST, "Keel has no data connectors (Heroku's change data capture to"
                            + " Kafka), so there are no details to log; data_connector_details_logs stays off.");
                }
                return on ? "on" : "off";
            case MILLISECONDS:
                // A number too large for a double (1e309) arrives as Infinity, which no BigDecimal holds.
                BigDecimal number = value instanceof Number n ? finite(n)
                        : value instanceof String s && s.matches("-?\\d{1,10}") ? new BigDecimal(s) : null;
                if (number == null || number.stripTrailingZeros().scale() > 0 || number.compareTo(BigDecimal.valueOf(-1)) < 0
                        || number.compareTo(BigDecimal.valueOf(Integer.MAX_VALUE)) > 0) {
                    throw invalid(setting, "a whole number of milliseconds: -1 (off), 0 (every statement) or more");
                }
                return number.toBigInteger().toString();
            default:
                if (!(value instanceof String s) || !setting.choices().containsKey(s)) {
                    throw invalid(setting, "one of " + String.join(", ", setting.choices().keySet()));
                }
                return s;
        }
    }

    private static @Nullable BigDecimal finite(Number number) {
        return number instanceof Double d && !Double.isFinite(d) || number instanceof Float f && !Float.isFinite(f) ? null
                : new BigDecimal(number.toString());
    }

    private static KeelException invalid(TunableSetting setting, String what) {
        return new KeelException(ProblemType.INVALID_REQUEST, setting.key() + " is " + what + ".");
    }

    private static Map<String, Setting> view(Map<String, String> chosen) {
        Map<String, Setting> view = new LinkedHashMap<>();
        for (TunableSetting setting : TunableSetting.values()) {
            String value = chosen.getOrDefault(setting.key(), setting.defaultValue());
            view.put(setting.key(), new Setting(typed(setting, value), setting.description(), typed(setting, setting.defaultValue()),
                    setting.kind() == TunableSetting.Kind.ENUM ? setting.choices() : null));
        }
        return view;
    }

    private static Object typed(TunableSetting setting, String value) {
        switch (setting.kind()) {
            case BOOLEAN:
                return value.equals("on");
            case MILLISECONDS:
                return Integer.valueOf(value);
            default:
                return value;
        }
    }

    private static List<String> keys() {
        return Arrays.stream(TunableSetting.values()).map(TunableSetting::key).toList();
    }
}
