package dev.keel.instances;

import dev.keel.postgres.HbaRule;
import dev.keel.postgres.ServerFiles;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class InstanceConfigTest {
    @Test
    void settingsAreTlsOnlyOverTcpWithThePlanOnTop() {
        Map<String, String> settings = InstanceConfig.settings("127.0.0.1", 55001, Map.of("max_connections", "120"));
        assertThat(settings)
                .containsEntry("listen_addresses", "127.0.0.1")
                .containsEntry("port", "55001")
                .containsEntry("unix_socket_directories", "")
                .containsEntry("ssl", "on")
                .containsEntry("ssl_cert_file", "server.crt")
                .containsEntry("ssl_key_file", "server.key")
                .containsEntry("password_encryption", "scram-sha-256")
                .containsEntry("shared_preload_libraries", "pg_stat_statements")
                .containsEntry("max_connections", "120");
    }

    @Test
    void planSettingsOverrideTheBase() {
        assertThat(InstanceConfig.settings("127.0.0.1", 1, Map.of("ssl_min_protocol_version", "TLSv1.3")))
                .containsEntry("ssl_min_protocol_version", "TLSv1.3");
    }

    @Test
    void hbaLetsKeelInFromItsOwnAddressAndUsersOnlyIntoTheirDatabaseOverTls() {
        // Keel's role and replication are refused from anywhere else, replication roles are refused every database, and an
        // upgrade's stream roles (they read every row) come to the database from Keel's address only.
        assertThat(InstanceConfig.hba("d123", List.of("127.0.0.1/32"))).containsExactly(
                new HbaRule("hostssl", "all", "keel", "127.0.0.1/32", "scram-sha-256"),
                new HbaRule("host", "all", "keel", "all", "reject"),
                new HbaRule("hostssl", "replication", "all", "127.0.0.1/32", "scram-sha-256"),
                new HbaRule("host", "replication", "all", "all", "reject"),
                new HbaRule("host", "all", "+keel_replication", "all", "reject"),
                new HbaRule("hostssl", "d123", "+keel_upgrade_stream", "127.0.0.1/32", "scram-sha-256"),
                new HbaRule("host", "all", "+keel_upgrade_stream", "all", "reject"),
                new HbaRule("hostssl", "d123", "all", "all", "scram-sha-256"));
        assertThat(InstanceConfig.hbaKeelOnly(List.of("::1/128"))).containsExactly(new HbaRule("hostssl", "all", "keel", "::1/128", "scram-sha-256"),
                new HbaRule("host", "all", "keel", "all", "reject"));
    }

    @Test
    void withSeveralNodesKeelComesInFromTheNodesNetworkToo() {
        assertThat(InstanceConfig.hba("d123", List.of("10.0.0.7/32", "10.0.0.0/24"))).containsExactly(
                new HbaRule("hostssl", "all", "keel", "10.0.0.7/32", "scram-sha-256"),
                new HbaRule("hostssl", "all", "keel", "10.0.0.0/24", "scram-sha-256"),
                new HbaRule("host", "all", "keel", "all", "reject"),
                new HbaRule("hostssl", "replication", "all", "10.0.0.7/32", "scram-sha-256"),
                new HbaRule("hostssl", "replication", "all", "10.0.0.0/24", "scram-sha-256"),
                new HbaRule("host", "replication", "all", "all", "reject"),
                new HbaRule("host", "all", "+keel_replication", "all", "reject"),
                new HbaRule("hostssl", "d123", "+keel_upgrade_stream", "10.0.0.7/32", "scram-sha-256"),
                new HbaRule("hostssl", "d123", "+keel_upgrade_stream", "10.0.0.0/24", "scram-sha-256"),
                new HbaRule("host", "all", "+keel_upgrade_stream", "all", "reject"),
                new HbaRule("hostssl", "d123", "all", "all", "scram-sha-256"));
    }

    @Test
    void renderedSettingsQuoteEveryValueAndDoubleQuotes() {
        assertThat(ServerFiles.renderSettings(new java.util.LinkedHashMap<>(Map.of("log_line_prefix", "it's %m "))))
                .isEqualTo("# Managed by Keel; rewritten whole on changes. Do not edit.\nlog_line_prefix = 'it''s %m '\n");
    }

    @Test
    void renderedHbaHasOneAlignedLinePerRule() {
        assertThat(ServerFiles.renderHba(List.of(HbaRule.hostssl("d1", "all", "scram-sha-256"))))
                .isEqualTo("# Managed by Keel; rewritten whole on changes. Do not edit.\n"
                        + "hostssl  d1               all              all                scram-sha-256\n");
    }
}
