package dev.keel.postgres;

/** One line of pg_hba.conf. */
public record HbaRule(String type, String database, String user, String address, String method) {
    public static HbaRule hostssl(String database, String user, String method) {
        return new HbaRule("hostssl", database, user, "all", method);
    }

    public static HbaRule host(String database, String user, String address, String method) {
        return new HbaRule("host", database, user, address, method);
    }

    String render() {
        return String.format("%-8s %-16s %-16s %-18s %s", type, database, user, address, method);
    }
}
