package dev.keel.credentials;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A connection URL that lists every server that can be a database's primary, for clients that
 * follow a failover on their own: libpq tries the hosts in turn and keeps the one that accepts
 * writes ({@code target_session_attrs=read-write}), pgjdbc likewise with
 * {@code targetServerType=primary}. The old primary is fenced at a failover, so only the new one
 * can answer as writable.
 */
public record FailoverUrl(String user, String password, List<Server> servers, String database) {
    /** One server of the list. */
    public record Server(String host, int port) {
        String part() {
            return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
        }
    }

    public FailoverUrl {
        servers = List.copyOf(servers);
        if (servers.isEmpty()) {
            throw new IllegalArgumentException("a failover URL lists at least one server");
        }
    }

    /** The libpq form, as {@code DATABASE_URL} takes it. */
    public String libpq() {
        return "postgres://" + encode(user) + ":" + encode(password) + "@" + hosts() + "/" + encode(database)
                + "?sslmode=require&target_session_attrs=read-write";
    }

    /** The JDBC form (pgjdbc), credentials in its parameters as JDBC URLs carry them. */
    public String jdbc() {
        return "jdbc:postgresql://" + hosts() + "/" + encode(database) + "?user=" + encode(user) + "&password=" + encode(password)
                + "&sslmode=require&targetServerType=primary";
    }

    private String hosts() {
        return servers.stream().map(Server::part).collect(Collectors.joining(","));
    }

    private static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }
}
