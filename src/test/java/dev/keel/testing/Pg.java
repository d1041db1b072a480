package dev.keel.testing;

import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Properties;

/** Connects to a database by its {@code postgres://} URL, as a client holding Keel's CA would. */
public final class Pg {
    private Pg() {
    }

    /** Over TLS with {@code sslmode=verify-full} against {@code caFile}. */
    public static Connection connect(String url, Path caFile) throws SQLException {
        return DriverManager.getConnection(jdbcUrl(url), verified(url, caFile));
    }

    /** As {@link #connect(String, Path)}, giving up on a connect after {@code connectSeconds} and on an answer after {@code socketSeconds}. */
    public static Connection connect(String url, Path caFile, int connectSeconds, int socketSeconds) throws SQLException {
        Properties props = verified(url, caFile);
        props.setProperty("connectTimeout", Integer.toString(connectSeconds));
        props.setProperty("socketTimeout", Integer.toString(socketSeconds));
        return DriverManager.getConnection(jdbcUrl(url), props);
    }

    /**
     * Through a pooler in transaction mode, over TLS verified against {@code caFile}: no
     * server-side prepared statements, since consecutive transactions may run on different servers.
     */
    public static Connection connectPooled(String url, Path caFile) throws SQLException {
        Properties props = verified(url, caFile);
        props.setProperty("prepareThreshold", "0");
        return DriverManager.getConnection(jdbcUrl(url), props);
    }

    /** With the given sslmode and no CA, to show what the server refuses. */
    public static Connection connect(String url, String sslmode) throws SQLException {
        Properties props = credentials(url);
        props.setProperty("sslmode", sslmode);
        return DriverManager.getConnection(jdbcUrl(url), props);
    }

    public static String jdbcUrl(String url) {
        URI uri = URI.create(url);
        return "jdbc:postgresql://" + uri.getHost() + ":" + uri.getPort() + uri.getRawPath();
    }

    /** The URL's credentials, over TLS verified against {@code caFile}. */
    private static Properties verified(String url, Path caFile) {
        Properties props = credentials(url);
        props.setProperty("sslmode", "verify-full");
        props.setProperty("sslrootcert", caFile.toString());
        return props;
    }

    private static Properties credentials(String url) {
        URI uri = URI.create(url);
        String[] userInfo = uri.getRawUserInfo().split(":", 2);
        Properties props = new Properties();
        props.setProperty("user", URLDecoder.decode(userInfo[0], StandardCharsets.UTF_8));
        props.setProperty("password", URLDecoder.decode(userInfo[1], StandardCharsets.UTF_8));
        props.setProperty("connectTimeout", "10");
        return props;
    }

    /** The database a URL names. */
    public static String database(String url) {
        return URI.create(url).getPath().substring(1);
    }

    /** The user a URL names. */
    public static String user(String url) {
        return URLDecoder.decode(URI.create(url).getRawUserInfo().split(":", 2)[0], StandardCharsets.UTF_8);
    }

    public static int port(String url) {
        return URI.create(url).getPort();
    }

    public static String scalar(Connection connection, String sql) throws SQLException {
        try (var statement = connection.createStatement(); var rs = statement.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
