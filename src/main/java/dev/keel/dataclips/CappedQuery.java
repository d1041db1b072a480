package dev.keel.dataclips;

import java.util.List;
import java.util.Set;

/**
 * A clip's SQL inside Keel's projection, which cuts every cell of an unbounded type on the server,
 * so that no longer cell ever reaches Keel:
 * <pre>
 *   select cut(keel_clip.c1), keel_clip.c2, ..., (c1 was cut) from (
 *   &lt;the clip's SQL&gt;
 *   ) as keel_clip(c1, c2, ...)
 * </pre>
 * Cells of fixed-size types (integers, timestamps, uuid, ...) pass as they are; every other cell
 * is the type's output text (what the clip alone would return), cut to at most the cell limit in
 * bytes at a character boundary. A last boolean column says whether the row lost anything. Every
 * function and operator of the projection is pg_catalog's, named so: the clip runs with the
 * tenant's search_path, on which a tenant's own operator could come first.
 *
 * <p>The clip's text is wrapped only after the server has parsed it alone, as one statement that
 * returns rows (a Describe, before): the server's own tokens of it then balance, and since they
 * are the same tokens inside the wrapper (newlines on both sides end any comment and split no
 * token), the wrapper's parentheses match each other and the clip is exactly the subquery. A text
 * built to close them early fails that first parse. So the cut is the server's, and only a query
 * (SELECT, VALUES, TABLE, WITH without data-modifying parts) runs at all.
 */
final class CappedQuery {
    /** Fixed-size built-in types, whose text is never longer than {@link Caps#SMALL_CELL_BYTES}. */
    private static final Set<Integer> SMALL = Set.of(16, 18, 19, 20, 21, 23, 26, 27, 28, 29, 650, 700, 701, 774, 790, 829, 869, 1082,
            1083, 1114, 1184, 1186, 1266, 2950, 3220, 5069);
    /** Types whose cast to text is their output text (others go through format('%s'), e.g. bpchar's cast trims it). */
    private static final Set<Integer> CAST_TO_TEXT = Set.of(17, 25, 114, 142, 1043, 3802);
    private static final String ALIAS = "keel_clip";

    /**
     * The SQL to run; where the clip's text starts in it; which columns are cut, at how many
     * bytes; whether a last column says that the row lost something; rows per fetch.
     */
    record Plan(String sql, int clipStart, boolean[] cut, int cellLimit, boolean flagged, int fetchRows) {
        /** A position (1-based) in the SQL run, as a position in the clip's text; 0 when it points into Keel's projection before it. */
        int clipPosition(int position) {
            return Math.max(0, position - clipStart);
        }
    }

    private CappedQuery() {
    }

    /** The plan for {@code clipSql} (as sent: {@code ?} for binds), whose columns are of {@code types}. */
    static Plan of(String clipSql, List<ColumnType> types, Caps caps) {
        int columns = types.size();
        if (columns == 0) { // no cells to cut; "select" with an empty target list cannot be renamed
            return new Plan(clipSql, 0, new boolean[0], caps.cellBytes(), false, Caps.MAX_FETCH);
        }
        boolean[] cut = new boolean[columns];
        int capped = 0;
        for (int i = 0; i < columns; i++) {
            cut[i] = !SMALL.contains(types.get(i).oid());
            capped += cut[i] ? 1 : 0;
        }
        int limit = caps.cellLimit(capped);
        StringBuilder sql = new StringBuilder(clipSql.length() + 200 + columns * 160).append("select ");
        StringBuilder lost = new StringBuilder();
        for (int i = 0; i < columns; i++) {
            String column = ALIAS + ".c" + (i + 1);
            if (i > 0) {
                sql.append(", ");
            }
            if (!cut[i]) {
                sql.append(column);
                continue;
            }
            boolean cast = CAST_TO_TEXT.contains(types.get(i).oid());
            String text = cast ? column + "::pg_catalog.text" : "pg_catalog.format('%s', " + column + ")";
            String cutText = "case when pg_catalog.octet_length(" + text + ") operator(pg_catalog.<=) " + limit + " then " + text
                    + " when pg_catalog.octet_length(pg_catalog.left(" + text + ", " + limit + ")) operator(pg_catalog.<=) " + limit
                    + " then pg_catalog.left(" + text + ", " + limit + ") else pg_catalog.left(" + text + ", " + limit / 4 + ") end";
            // format() makes '' of NULL; NULL must stay NULL (num_nulls: a row of NULLs is not NULL).
            sql.append(cast ? cutText : "case when pg_catalog.num_nulls(" + column + ") operator(pg_catalog.=) 0 then " + cutText + " end");
            lost.append(lost.isEmpty() ? "" : " or ").append("coalesce(pg_catalog.octet_length(").append(text).append(") operator(pg_catalog.>) ")
                    .append(limit).append(", false)");
        }
        if (capped > 0) {
            sql.append(", ").append(lost);
        }
        sql.append(" from (\n");
        int clipStart = sql.length();
        sql.append(clipSql).append("\n) as ").append(ALIAS).append('(');
        for (int i = 0; i < columns; i++) {
            sql.append(i > 0 ? ", c" : "c").append(i + 1);
        }
        sql.append(')');
        long rowBytes = (long) capped * limit + (long) (columns - capped) * Caps.SMALL_CELL_BYTES + 4L * (columns + 1) + 16;
        return new Plan(sql.toString(), clipStart, cut, limit, capped > 0, Caps.fetchRows(rowBytes));
    }
}
