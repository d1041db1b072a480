package dev.keel.dataclips;

import java.util.Set;

/** A result column's Postgres type: its OID (what Heroku's JSON calls {@code types}) and name, and how a chart may use it. */
record ColumnType(int oid, String name) {
    private static final Set<String> NUMBERS = Set.of("int2", "int4", "int8", "float4", "float8", "numeric", "oid", "money");
    private static final Set<String> INTEGERS = Set.of("int2", "int4", "int8", "oid");
    private static final Set<String> TIMES = Set.of("date", "timestamp", "timestamptz");
    private static final Set<String> CATEGORIES = Set.of("text", "varchar", "bpchar", "name", "char", "bool", "uuid");
    /**
     * Built-in types whose output text is a value of fixed form rather than words someone typed: numbers, times, intervals,
     * bool, uuid, network addresses, bits, bytea, JSON (whose text begins with a bracket, quote, digit, sign or letter of
     * a literal), LSNs and transaction ids. By OID, which does not change between Postgres versions.
     */
    private static final Set<Integer> NOT_TEXT = Set.of(16, 17, 20, 21, 23, 26, 28, 29, 114, 650, 700, 701, 774, 790, 829, 869, 1082,
            1083, 1114, 1184, 1186, 1266, 1560, 1562, 1700, 2950, 3220, 3802, 5069);
    /** pgjdbc's names for an integer column whose default is a sequence's next value (no OID of their own). */
    private static final Set<String> SERIALS = Set.of("smallserial", "serial", "bigserial");

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

    /**
     * Whether a cell's text is free text (text, varchar, xml, an enum, any type Keel does not know): one that begins with
     * {@code = + - @}, a tab or a carriage return is a formula to a spreadsheet, so the CSV neutralises it. Cells of the
     * other types stay exact: {@code -5} and {@code -infinity} are values.
     */
    boolean freeText() {
        return !NOT_TEXT.contains(oid) && !SERIALS.contains(name);
    }

    boolean bool() {
        return name.equals("bool");
    }
}
