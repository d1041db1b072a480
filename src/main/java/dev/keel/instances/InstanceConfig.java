package dev.keel.instances;

import dev.keel.postgres.HbaRule;
import dev.keel.postgres.ServerFiles;
import dev.keel.postgres.ServerSession;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The configuration every instance gets: TCP with TLS only (no Unix socket, so nothing bypasses
 * pg_hba), SCRAM passwords, pg_stat_statements, and Keel's superuser allowed from Keel's own
 * address only, over TLS, while users reach only their own database.
 */
public final class InstanceConfig {
    /** Keel's management role on every instance. */
    public static final String SUPERUSER = ServerSession.SUPERUSER;
    /** How much WAL a server keeps for a replication slot whose follower is behind or away. */
    public static final String MAX_SLOT_WAL_KEEP_SIZE = "4GB";

    private InstanceConfig() {
    }

    /** Server settings: Keel's base, then {@code extra} (the plan's limits) over it. */
    public static Map<String, String> settings(String listenAddress, int port, Map<String, String> extra) {
        Map<String, String> settings = new LinkedHashMap<>();
        settings.put("listen_addresses", listenAddress);
        settings.put("port", Integer.toString(port));
        settings.put("unix_socket_directories", "");
        settings.put("ssl", "on");
        settings.put("ssl_cert_file", ServerFiles.SERVER_CERT);
        settings.put("ssl_key_file", ServerFiles.SERVER_KEY);
        settings.put("ssl_min_protocol_version", "TLSv1.2");
        settings.put("password_encryption", "scram-sha-256");
        settings.put("shared_preload_libraries", "pg_stat_statements");
        settings.put("log_line_prefix", "%m [%p] %q%u@%d ");
        settings.put("log_timezone", "UTC"); // ServerLog reads the times as UTC
        // Every instance archives from its first segment on; the runtime supplies archive_command. Logical,
        // so that a major-version upgrade can stream the database's rows without restarting its server.
        settings.put("wal_level", "logical");
        settings.put("archive_mode", "on");
        // A follower's slot keeps WAL on its leader while it is away, but never more than this.
        settings.put("max_slot_wal_keep_size", MAX_SLOT_WAL_KEEP_SIZE);
        settings.putAll(extra);
        return settings;
    }

    /**
     * pg_hba rules, first match wins: Keel's superuser to any database from {@code keelAddress}
     * only, and refused from anywhere else (a rule, not only the absence of one, so that no later
     * rule can ever admit it); replication (only roles with that attribute: Keel's followers and
     * standbys) from that host only; the replication roles refused every ordinary database; an
     * upgrade's stream role (it reads every row) to {@code database} from Keel's hosts only, where
     * the new server that subscribes runs; and every other role only to {@code database}, from
     * anywhere, over TLS.
     */
    public static List<HbaRule> hba(String database, List<String> keelSources) {
        List<HbaRule> rules = new ArrayList<>(hbaKeelOnly(keelSources));
        for (String source : keelSources) {
            rules.add(new HbaRule("hostssl", "replication", "all", source, "scram-sha-256"));
        }
        rules.add(new HbaRule("host", "replication", "all", "all", "reject"));
        rules.add(new HbaRule("host", "all", "+" + ServerSession.REPLICATION_GROUP, "all", "reject"));
        for (String source : keelSources) {
            rules.add(new HbaRule("hostssl", database, "+" + ServerSession.UPGRADE_STREAM_GROUP, source, "scram-sha-256"));
        }
        rules.add(new HbaRule("host", "all", "+" + ServerSession.UPGRADE_STREAM_GROUP, "all", "reject"));
        rules.add(HbaRule.hostssl(database, "all", "scram-sha-256"));
        return rules;
    }

    /**
     * pg_hba rules of an instance that serves no database yet: Keel's superuser only, from Keel's
     * sources only ({@code Network.keelSources}: this node's address, and the nodes' network).
     */
    public static List<HbaRule> hbaKeelOnly(List<String> keelSources) {
        List<HbaRule> rules = new ArrayList<>();
        for (String source : keelSources) {
            rules.add(new HbaRule("hostssl", "all", SUPERUSER, source, "scram-sha-256"));
        }
        rules.add(new HbaRule("host", "all", SUPERUSER, "all", "reject"));
        return rules;
    }
}
