package dev.keel.pooling;

import java.nio.file.Path;

/**
 * A database's {@code pgbouncer.ini}: transaction pooling in front of its primary, TLS to clients
 * with a certificate from the installation CA and to the server verified against it
 * ({@code verify-full}), clients authenticated by SCRAM through {@code auth_query} (so credentials
 * created or rotated later work at once), and a pool of {@link #poolSize} server connections.
 *
 * @param database   the database's name inside its server
 * @param serverHost where its primary listens (Keel's address for it)
 * @param serverPort its primary's port
 * @param listen     the address the pooler listens on (Keel's bind address)
 * @param port       the pooler's port
 * @param poolSize   server connections the pooler opens at most
 * @param dir        the pooler's directory (configuration, TLS files, pid file, log)
 */
record PgBouncerConfig(String database, String serverHost, int serverPort, String listen, int port, int poolSize, Path dir) {
    static final String ADMIN = "keel_admin";
    /** Client connections one pooler takes: far beyond any plan's server connections, as pooling is for. */
    static final int MAX_CLIENTS = 5000;

    /** Three quarters of the plan's {@code max_connections}, leaving the rest for direct and maintenance sessions. */
    static int poolSize(int maxConnections) {
        return Math.max(1, maxConnections * 3 / 4);
    }

    String ini() {
        String d = dir.toString();
        return "; Managed by Keel; rewritten whole on changes. Do not edit.\n"
                + "[databases]\n"
                + database + " = host=" + serverHost + " port=" + serverPort + " dbname=" + database + " auth_user=" + PoolerSql.ROLE + "\n"
                + "\n[pgbouncer]\n"
                + "listen_addr = " + listen + "\n"
                + "listen_port = " + port + "\n"
                + "unix_socket_dir =\n"
                + "pidfile = " + d + "/pgbouncer.pid\n"
                + "logfile = " + d + "/pgbouncer.log\n"
                + "auth_type = scram-sha-256\n"
                + "auth_file = " + d + "/userlist.txt\n"
                + "auth_user = " + PoolerSql.ROLE + "\n"
                + "auth_query = " + PoolerSql.AUTH_QUERY + "\n"
                + "pool_mode = transaction\n"
                + "default_pool_size = " + poolSize + "\n"
                + "max_db_connections = " + poolSize + "\n"
                + "min_pool_size = 0\n"
                + "reserve_pool_size = 0\n"
                + "max_client_conn = " + MAX_CLIENTS + "\n"
                + "server_tls_sslmode = verify-full\n"
                + "server_tls_ca_file = " + d + "/ca.crt\n"
                + "client_tls_sslmode = require\n"
                + "client_tls_cert_file = " + d + "/server.crt\n"
                + "client_tls_key_file = " + d + "/server.key\n"
                + "client_tls_ca_file = " + d + "/ca.crt\n"
                + "admin_users = " + ADMIN + "\n"
                + "stats_users = " + ADMIN + "\n"
                + "ignore_startup_parameters = extra_float_digits\n"
                + "server_login_retry = 1\n";
    }

    /** The auth file: the auth_query role's password (PgBouncer logs in with it) and the admin console user's. */
    static String userlist(String authPassword, String adminPassword) {
        return "\"" + PoolerSql.ROLE + "\" \"" + authPassword + "\"\n\"" + ADMIN + "\" \"" + adminPassword + "\"\n";
    }
}
