package dev.keel.dataclips;

import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A clip's SQL as Keel reads it before anything reaches a server: one statement that starts
 * with SELECT, WITH, VALUES or TABLE, whose {@code {{name}}} parameters (outside literals,
 * quoted identifiers and comments) become bind parameters. Postgres' lexical rules are followed
 * for '...' (with ''), E'...' (with backslashes), "...", $tag$...$tag$, -- and nested block comments.
 * This is the early, friendly check; the guarantee is the server's: the text reaches it as one
 * Parse message, which Postgres refuses to hold two statements ({@link ClipStatement}), and the
 * role and transaction cannot write.
 */
final class ClipText {
    private static final Pattern PARAMETER = Pattern.compile("\\{\\{\\s*([A-Za-z_][A-Za-z0-9_]*)\\s*}}");
    private static final Pattern DOLLAR_TAG = Pattern.compile("\\$([A-Za-z_][A-Za-z0-9_]*)?\\$");
    private static final Set<String> FIRST_WORDS = Set.of("select", "with", "values", "table");

    /**
     * The SQL as handed to pgjdbc ({@code ?} per use of a parameter, {@code ??} for a literal ?),
     * the parameter of each {@code ?} in order, and how the server's text is shorter than the clip's.
     */
    record Prepared(String jdbcSql, List<String> parameters, List<Shift> shifts) {
        /** Maps a 1-based position in the server's text ($n per parameter) back to the clip's SQL. */
        int originalPosition(int serverPosition) {
            int delta = 0;
            for (Shift shift : shifts) {
                if (shift.serverIndex() < serverPosition - 1) {
                    delta += shift.delta();
                }
            }
            return serverPosition + delta;
        }

        Set<String> names() {
            return new LinkedHashSet<>(parameters);
        }
    }

    /** At {@code serverIndex} (0-based) of the server's text, the clip's text was {@code delta} characters longer. */
    record Shift(int serverIndex, int delta) {
    }

    private ClipText() {
    }

    /**
     * Checks {@code sql} and prepares it; 422 with what to change when it is not one read-only
     * query, as Keel reads it or as the driver that will send it reads it (see {@link ClipStatement}).
     */
    static Prepared prepare(String sql) {
        Prepared prepared = read(sql);
        ClipStatement.checkEarly(prepared.jdbcSql(), prepared.parameters().size());
        return prepared;
    }

    /** Keel's own reading of {@code sql}, without the driver's: 422 when it is not one read-only query. */
    static Prepared read(String sql) {
        if (sql == null || sql.isBlank()) {
            throw invalid("The dataclip has no SQL: send \"sql\" with one SELECT statement.");
        }
        StringBuilder out = new StringBuilder(sql.length());
        List<String> parameters = new ArrayList<>();
        List<Shift> shifts = new ArrayList<>();
        int serverLength = 0; // length of the text as the server will see it ($n for each parameter)
        String firstWord = null;
        int i = 0;
        int n = sql.length();
        while (i < n) {
            char c = sql.charAt(i);
            int end;
            if (c == '\'') {
                end = quoted(sql, i, '\'', isEscapeString(sql, i));
            } else if (c == '"') {
                end = quoted(sql, i, '"', false);
            } else if (c == '-' && i + 1 < n && sql.charAt(i + 1) == '-') {
                int nl = sql.indexOf('\n', i);
                end = nl < 0 ? n : nl + 1;
            } else if (c == '/' && i + 1 < n && sql.charAt(i + 1) == '*') {
                end = blockComment(sql, i);
            } else if (c == '$' && dollarTagAt(sql, i) != null) {
                String tag = dollarTagAt(sql, i);
                int close = sql.indexOf(tag, i + tag.length());
                if (close < 0) {
                    throw invalid("The dollar-quoted string opened with " + tag + " at position " + (i + 1) + " is not closed.");
                }
                end = close + tag.length();
            } else if (c == '{' && sql.startsWith("{{", i)) {
                Matcher m = PARAMETER.matcher(sql).region(i, n);
                if (!m.lookingAt()) {
                    throw invalid("At position " + (i + 1) + ": a parameter is written {{name}}, with a name of letters, digits and _.");
                }
                String name = m.group(1).toLowerCase(Locale.ROOT);
                // Every use is its own ?, bound to the same value; pgjdbc sends the k-th as $k.
                parameters.add(name);
                out.append('?');
                String server = "$" + parameters.size();
                shifts.add(new Shift(serverLength, m.end() - i - server.length()));
                serverLength += server.length();
                i = m.end();
                continue;
            } else if (c == ';') {
                if (!sql.substring(i + 1).isBlank() && !onlyComments(sql.substring(i + 1))) {
                    throw invalid("A dataclip is one statement: remove what follows the ';' at position " + (i + 1) + ".");
                }
                break;
            } else if (c == '?') {
                out.append("??");
                serverLength++;
                i++;
                continue;
            } else if (Character.isLetter(c) || c == '_') {
                end = i;
                while (end < n && (Character.isLetterOrDigit(sql.charAt(end)) || sql.charAt(end) == '_' || sql.charAt(end) == '$')) {
                    end++;
                }
                if (firstWord == null) {
                    firstWord = sql.substring(i, end).toLowerCase(Locale.ROOT);
                }
            } else {
                if (firstWord == null && c == '(') {
                    firstWord = "(";
                }
                end = i + 1;
            }
            out.append(sql, i, end);
            serverLength += end - i;
            i = end;
        }
        if (firstWord == null) {
            throw invalid("The dataclip's SQL has no statement, only comments: write one SELECT statement.");
        }
        if (!firstWord.equals("(") && !FIRST_WORDS.contains(firstWord)) {
            throw invalid("A dataclip only reads: its SQL must be one query starting with SELECT, WITH, VALUES or TABLE, not "
                    + firstWord.toUpperCase(Locale.ROOT) + ".");
        }
        return new Prepared(out.toString(), List.copyOf(parameters), List.copyOf(shifts));
    }

    private static boolean isEscapeString(String sql, int quote) {
        if (quote == 0 || Character.toLowerCase(sql.charAt(quote - 1)) != 'e') {
            return false;
        }
        return quote < 2 || !(Character.isLetterOrDigit(sql.charAt(quote - 2)) || sql.charAt(quote - 2) == '_');
    }

    private static int quoted(String sql, int start, char quote, boolean backslashEscapes) {
        int i = start + 1;
        while (i < sql.length()) {
            char c = sql.charAt(i);
            if (backslashEscapes && c == '\\') {
                i += 2;
                continue;
            }
            if (c == quote) {
                if (i + 1 < sql.length() && sql.charAt(i + 1) == quote) {
                    i += 2;
                    continue;
                }
                return i + 1;
            }
            i++;
        }
        throw invalid("The " + (quote == '"' ? "quoted identifier" : "string") + " opened at position " + (start + 1) + " is not closed.");
    }

    private static int blockComment(String sql, int start) {
        int depth = 0;
        int i = start;
        while (i < sql.length() - 1) {
            if (sql.startsWith("/*", i)) {
                depth++;
                i += 2;
            } else if (sql.startsWith("*/", i)) {
                depth--;
                i += 2;
                if (depth == 0) {
                    return i;
                }
            } else {
                i++;
            }
        }
        throw invalid("The comment opened at position " + (start + 1) + " is not closed.");
    }

    private static String dollarTagAt(String sql, int i) {
        if (i > 0 && (Character.isLetterOrDigit(sql.charAt(i - 1)) || sql.charAt(i - 1) == '_')) {
            return null; // part of an identifier such as a$b
        }
        Matcher m = DOLLAR_TAG.matcher(sql).region(i, sql.length());
        return m.lookingAt() ? m.group() : null;
    }

    private static boolean onlyComments(String rest) {
        String stripped = rest.replaceAll("(?s)/\\*.*?\\*/", "").replaceAll("--[^\n]*", "");
        return stripped.isBlank();
    }

    private static KeelException invalid(String detail) {
        return new KeelException(ProblemType.INVALID_SQL, detail);
    }
}
