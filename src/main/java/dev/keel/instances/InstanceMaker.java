package dev.keel.instances;

import dev.keel.Network;
import dev.keel.RandomStrings;
import dev.keel.postgres.Durations;
import dev.keel.postgres.HbaRule;
import dev.keel.postgres.ServerSession;
import dev.keel.tls.CertificateAuthority;
import dev.keel.tls.ServerCertificate;
import io.micronaut.context.annotation.Value;
import io.micronaut.core.annotation.Nullable;
import jakarta.inject.Singleton;

import java.sql.SQLException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * Makes a new instance on this host: reserves its row and port, issues its server certificate
 * (for the public host and the address Keel reaches it at), creates its storage with a fresh
 * superuser password, and starts it. The row is written first, so a crash at any step leaves a
 * record of what to remove; a failure removes what it made before it throws.
 */
@Singleton
public final class InstanceMaker {
    public static final String RESERVING = "reserving a port";
    public static final String INITIALIZING = "initializing";
    public static final String STARTING = "starting";

    private final InstanceRepository instances;
    private final InstanceRuntime runtime;
    private final CertificateAuthority authority;
    private final Network network;
    private final Duration archiveTimeout;

    InstanceMaker(InstanceRepository instances, InstanceRuntime runtime, CertificateAuthority authority, Network network,
                  @Value("${keel.archive.timeout}") String archiveTimeout) {
        this.archiveTimeout = Durations.parse("KEEL_ARCHIVE_TIMEOUT", archiveTimeout);
        this.instances = instances;
        this.runtime = runtime;
        this.authority = authority;
        this.network = network;
    }

    /**
     * Makes and starts an instance of {@code major} for {@code databaseId} (null: for the pool),
     * with {@code extraSettings} over Keel's base settings and {@code hba} as its pg_hba rules.
     * {@code onStep} hears each step's name ({@link #RESERVING}, {@link #INITIALIZING},
     * {@link #STARTING}) as it begins.
     */
    public Instance make(@Nullable UUID databaseId, int major, Map<String, String> extraSettings, List<HbaRule> hba,
                         Consumer<String> onStep) {
        return make(databaseId, InstanceRole.PRIMARY, major, extraSettings, hba, onStep);
    }

    /** As {@link #make(UUID, int, Map, List, Consumer)}, in {@code role} (an upgrade's new server). */
    public Instance make(@Nullable UUID databaseId, InstanceRole role, int major, Map<String, String> extraSettings, List<HbaRule> hba,
                         Consumer<String> onStep) {
        onStep.accept(RESERVING);
        String superuserPassword = RandomStrings.alphanumeric(32);
        Instance instance = instances.reserve(databaseId, role, major, network.localHost(), superuserPassword);

        try {
            onStep.accept(INITIALIZING);
            ServerCertificate certificate = authority.issueServerCertificate(List.of(network.publicHost(), instance.host(), "localhost"));
            runtime.create(new InstanceSpec(instance, superuserPassword, certificate, settings(instance, extraSettings), hba));

            onStep.accept(STARTING);
            runtime.start(instance);
            return instance;
        } catch (RuntimeException e) {
            discard(instance);
            throw e;
        }
    }

    /**
     * Reserves an instance of {@code major} and {@code role} for {@code databaseId} whose data will
     * come from a restore rather than initdb, and returns what the runtime needs to create it. The
     * data holds the source's superuser, so the row starts with the source's
     * {@code superuserPassword}; {@link #rotateSuperuserPassword} gives it its own once it runs as
     * a primary of its own.
     */
    public InstanceSpec reserveForRestore(UUID databaseId, InstanceRole role, int major, String superuserPassword,
                                          Map<String, String> extraSettings, List<HbaRule> hba) {
        Instance instance = instances.reserve(databaseId, role, major, network.localHost(), superuserPassword);
        try {
            ServerCertificate certificate = authority.issueServerCertificate(List.of(network.publicHost(), instance.host(), "localhost"));
            return new InstanceSpec(instance, superuserPassword, certificate, settings(instance, extraSettings), hba);
        } catch (RuntimeException e) {
            discard(instance);
            throw e;
        }
    }

    /** Gives a writable instance's superuser a new password, on the server and then in the catalog. */
    public void rotateSuperuserPassword(Instance instance, InstanceConnections connections) throws SQLException {
        String password = RandomStrings.alphanumeric(32);
        try (ServerSession session = connections.open(instance, "postgres")) {
            session.setPassword(InstanceConfig.SUPERUSER, password);
        }
        instances.replaceSuperuserPassword(instance, password);
    }

    /** Stops and removes an instance and its row: a half-made one, or one that is no use. */
    public void discard(Instance instance) {
        runtime.destroy(instance.id());
        instances.delete(instance.id());
    }

    /** Keel's base settings for {@code instance} (with {@code archive_timeout}), with {@code extraSettings} over them. */
    public Map<String, String> settings(Instance instance, Map<String, String> extraSettings) {
        Map<String, String> extra = new LinkedHashMap<>();
        extra.put("archive_timeout", archiveTimeout.toSeconds() + "s");
        extra.putAll(extraSettings);
        return InstanceConfig.settings(network.bind(), instance.port(), extra);
    }
}
