package dev.keel.testing;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a database holds, row for row, as a map that two copies must share: each user table's row
 * count and the md5 of its rows as text in a stable order, each large object's md5, and each
 * sequence's last value. Read as the database's owner.
 */
public final class RowFingerprint {
    private RowFingerprint() {
    }

    public static Map<String, String> of(Connection owner) throws SQLException {
        Map<String, String> print = new TreeMap<>();
        List<String> tables = new ArrayList<>();
        try (Statement sql = owner.createStatement()) {
            try (ResultSet rows = sql.executeQuery("select format('%I.%I', schemaname, relname) from pg_catalog.pg_stat_user_tables")) {
                while (rows.next()) {
                    tables.add(rows.getString(1));
                }
            }
            for (String table : tables) {
                try (ResultSet row = sql.executeQuery("select count(*) || ' rows, md5 ' || md5(coalesce(string_agg(t::text, E'\\n'"
                        + " order by t::text), '')) from " + table + " t")) {
                    row.next();
                    print.put("table " + table, row.getString(1));
                }
            }
            try (ResultSet row = sql.executeQuery("select count(*) || ' objects, md5 ' || md5(coalesce(string_agg(l.oid::text || ':'"
                    + " || md5(pg_catalog.lo_get(l.oid)), ',' order by l.oid), '')) from pg_catalog.pg_largeobject_metadata l")) {
                row.next();
                print.put("large objects", row.getString(1));
            }
            try (ResultSet rows = sql.executeQuery("select format('%I.%I', schemaname, sequencename), last_value from pg_catalog.pg_sequences")) {
                while (rows.next()) {
                    print.put("sequence " + rows.getString(1), String.valueOf(rows.getObject(2)));
                }
            }
        }
        return print;
    }

    /** Fills an empty database (as its owner) with rows of many types, large objects, a sequence, an identity and a view. */
    public static void fill(Connection owner, int rows) throws SQLException {
        try (Statement sql = owner.createStatement()) {
            sql.execute("create type mood as enum ('sad', 'ok', 'happy')");
            sql.execute("create table kinds (id serial primary key, i int, b bigint, n numeric(20,5), f float8, t text, bt bytea,"
                    + " ts timestamptz, d date, j jsonb, js json, a int[], u uuid, m mood, iv interval, ip inet, pt point, r int4range,"
                    + " ok boolean, doc oid)");
            sql.execute("insert into kinds (i, b, n, f, t, bt, ts, d, j, js, a, u, m, iv, ip, pt, r, ok)"
                    + " select g, g::bigint * 1000000007, g / 7.0, g / 3.0, 'row ' || g || E' \\u00fcn\\u00efc\\u00f8de ''quoted'' \\\\n', decode(md5(g::text), 'hex'),"
                    + " timestamptz '2024-01-01 00:00+00' + g * interval '1 hour', date '2024-01-01' + g,"
                    + " jsonb_build_object('g', g, 'tags', jsonb_build_array('a', g)), json_build_object('x', g), array[g, g + 1, null],"
                    + " md5(g::text)::uuid, (array['sad', 'ok', 'happy'])[1 + g % 3]::mood, g * interval '1 minute',"
                    + " ('10.0.' || (g % 255) || '.1')::inet, point(g, -g), int4range(g, g + 10), g % 2 = 0"
                    + " from generate_series(1, " + rows + ") g");
            sql.execute("insert into kinds (id) values (1000000)");
            sql.execute("update kinds set doc = lo_from_bytea(0, convert_to(repeat('large object ' || id, 5000), 'UTF8')) where id <= 3");
            sql.execute("create table events (id bigint generated always as identity primary key, at timestamptz default now(), payload text)");
            sql.execute("insert into events (payload) select 'e' || g from generate_series(1, 500) g");
            sql.execute("create view happy as select id from kinds where m = 'happy'");
        }
    }
}
