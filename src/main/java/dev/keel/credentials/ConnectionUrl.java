package dev.keel.credentials;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;

/**
 * A libpq connection URI as Heroku hands out in {@code DATABASE_URL}. It asks for TLS
 * ({@code sslmode=require}); clients that hold Keel's CA append
 * {@code &sslmode=verify-full&sslrootcert=ca.pem} (libpq takes the last value of a key).
 */
public record ConnectionUrl(String user, String password, String host, int port, String database) {
    @Override
    public String toString() {
        String hostPart = host.contains(":") ? "[" + host + "]" : host;
        return "postgres://" + encode(user) + ":" + encode(password) + "@" + hostPart + ":" + port + "/" + encode(database)
                + "?sslmode=require";
    }

    private static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }
}
