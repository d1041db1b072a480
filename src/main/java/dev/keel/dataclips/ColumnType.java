package dev.keel.dataclips;

import java.sql.Types;
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
     * pgjdbc's names for an int2, int4 or int8 column whose default is a sequence's next value (the column's own type), and
     * the JDBC type such a column reports. pgjdbc 42.7 keeps a described column's OID behind a protected method of its
     * metadata class (only a result set's {@code getColumnOID} is public, and a clip's types are needed before it runs), so
     * the name it gives is mapped back here. The name alone does not say which: the database's owner may name a type of
     * its own {@code serial} (an enum, a composite, a range), and pgjdbc, once it has looked the name {@code serial} up
     * for a serial column and found that type, calls the owner's type {@code serial} too, on that connection. The JDBC
     * type tells them apart: pgjdbc finds it by the column's OID, and only int2, int4 and int8 are SMALLINT, INTEGER
     * and BIGINT (an owner's enum is VARCHAR, a composite STRUCT, a range OTHER; a domain is sent as its base type).
     */
    private static final Map<String, Serial> SERIALS = Map.of("smallserial", new Serial(Types.SMALLINT, new ColumnType(21, "int2")),
            "serial", new Serial(Types.INTEGER, new ColumnType(23, "int4")), "bigserial", new Serial(Types.BIGINT, new ColumnType(20, "int8")));

    private record Serial(int jdbcType, ColumnType type) {
    }

    /**
     * The type of a described column that pgjdbc names {@code name}, of OID {@code oid} (looked up by that name), and of
     * JDBC type {@code jdbcType} (pgjdbc's, by the column's OID): as given, but for a serial name on a column of its
     * integer JDBC type, which becomes that integer type.
     */
    static ColumnType described(int oid, String name, int jdbcType) {
        Serial serial = SERIALS.get(name);
        return serial != null && serial.jdbcType() == jdbcType ? serial.type() : new ColumnType(oid, name);
    }

    /**
     * A type as stored with a result. A Keel before this one stored a serial column under pgjdbc's serial name, with the
     * OID of that name looked up: 0 where the database has no type of that name, so such a one is the integer type. A
     * serial name with another OID is the owner's type of that name (or, indistinguishably, a serial column of a database
     * whose owner made one), and stays as it is: a type Keel does not know, text.
     */
    static ColumnType stored(int oid, String name) {
        Serial serial = SERIALS.get(name);
        return serial != null && oid == 0 ? serial.type() : new ColumnType(oid, name);
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
     * {@code = + - @}, a tab or a carriage return is a formula to a spreadsheet, so the CSV neutralises it. A cell of
     * the other types that is a plain number stays exact: {@code -5} is a value (see {@link RowChunks#csv}).
     */
    boolean freeText() {
        return !NOT_TEXT.contains(oid);
    }

    boolean bool() {
        return name.equals("bool");
    }
}
