package dev.keel.dataclips;

import java.util.Map;
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
    /**
     * pgjdbc's names for an int2, int4 or int8 column whose default is a sequence's next value, which no type of Postgres
     * bears (looked up, their OID is 0): the column's own type. pgjdbc 42.7 keeps a described column's OID behind a
     * protected method of its metadata class (only a result set's {@code getColumnOID} is public, and a clip's types are
     * needed before it runs), so the name it gives is mapped back here.
     */
    private static final Map<String, ColumnType> SERIALS = Map.of("smallserial", new ColumnType(21, "int2"),
            "serial", new ColumnType(23, "int4"), "bigserial", new ColumnType(20, "int8"));

    /**
     * The type of a column that pgjdbc names {@code name}, of OID {@code oid}: as given, but for its serial names, which
     * become the integer types they stand for (as stored by a Keel before this one, too).
     */
    static ColumnType of(int oid, String name) {
        ColumnType serial = SERIALS.get(name);
        return serial != null ? serial : new ColumnType(oid, name);
    }

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
        return !NOT_TEXT.contains(oid);
    }

    boolean bool() {
        return name.equals("bool");
    }
}
