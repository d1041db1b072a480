package dev.keel.dataclips;

import java.util.Set;

/** A result column's Postgres type: its OID (what Heroku's JSON calls {@code types}) and name, and how a chart may use it. */
record ColumnType(int oid, String name) {
    private static final Set<String> NUMBERS = Set.of("int2", "int4", "int8", "float4", "float8", "numeric", "oid", "money");
    private static final Set<String> INTEGERS = Set.of("int2", "int4", "int8", "oid");
    private static final Set<String> TIMES = Set.of("date", "timestamp", "timestamptz");
    private static final Set<String> CATEGORIES = Set.of("text", "varchar", "bpchar", "name", "char", "bool", "uuid");

    boolean numeric() {
        return NUMBERS.contains(name) && !name.equals("money");
    }

    /** Whether the text form of a value is a JSON number as it stands. */
    boolean jsonNumber() {
        return INTEGERS.contains(name) || name.equals("numeric") || name.equals("float4") || name.equals("float8");
    }

    boolean time() {
        return TIMES.contains(name);
    }

    boolean category() {
        return CATEGORIES.contains(name);
    }

    boolean bool() {
        return name.equals("bool");
    }
}
