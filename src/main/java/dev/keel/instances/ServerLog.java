package dev.keel.instances;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;
import jakarta.inject.Singleton;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads a server's log as entries, for {@code GET /v1/databases/{id}/logs} (and the Heroku CLI's
 * {@code heroku logs}): the newest ones, read backwards from the end of the file a chunk at a
 * time, and those written after a position, for following. Lines have Keel's
 * {@code log_line_prefix} ({@code %m [%p] %q%u@%d}); DETAIL, HINT, CONTEXT, STATEMENT and
 * unprefixed lines belong to the entry before them. Passwords in statements of Keel's own
 * sessions are blanked, since such a statement is logged when it fails.
 */
@Singleton
public final class ServerLog {
    private static final int CHUNK = 64 * 1024;
    /** How far back a tail looks for matching entries: a filter that matches nothing does not read a huge log. */
    private static final long SCAN_LIMIT = 16L * 1024 * 1024;
    private static final Pattern PREFIX = Pattern.compile(
            "^(\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}(?:\\.\\d+)?) (?:UTC|GMT) \\[(\\d+)\\] (?:(\\S*)@(\\S*) )?([A-Z0-9]+):  ?(.*)$");
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss[.SSS]", Locale.ROOT);
    /** A password as SQL writes it ({@code password 'x'}), and as a connection string does ({@code password=x}, quoted or not). */
    // Possessive and unrolled, so that no text, however long, makes the matcher recurse deeply.
    private static final Pattern PASSWORD = Pattern.compile(
            "(?i)(password\\s+)'[^']*+(?:''[^']*+)*+'|(password\\s*=\\s*)(?:'[^'\\\\]*+(?:\\\\.[^'\\\\]*+)*+'|[^\\s']+)");
    private static final List<String> ATTACHED = List.of("DETAIL", "HINT", "CONTEXT", "STATEMENT", "QUERY", "LOCATION");

    /** Severities in Postgres' own order for the log (log_min_messages): LOG sits between ERROR and FATAL. */
    public enum Level {
        DEBUG, INFO, NOTICE, WARNING, ERROR, LOG, FATAL, PANIC;

        static Level of(String severity) {
            return severity.startsWith("DEBUG") ? DEBUG : valueOf(severity);
        }

        /** The level named by {@code name} (any case), if it is one. */
        public static Optional<Level> parse(String name) {
            for (Level level : values()) {
                if (level.name().equalsIgnoreCase(name)) {
                    return Optional.of(level);
                }
            }
            return Optional.empty();
        }
    }

    /** One log entry: when, which process, which session ({@code user}, {@code database}), how severe, and its text. */
    @Serdeable
    public record Entry(@Nullable Instant time, @Nullable Integer pid, @Nullable String user, @Nullable String database, String level,
                        String message) {
    }

    /** Which entries to give: written at or after {@code since}, of {@code atLeast} severity or more (null: any). */
    public record Filter(@Nullable Instant since, @Nullable Level atLeast) {
        boolean accepts(Entry entry) {
            return (since == null || entry.time() == null || !entry.time().isBefore(since))
                    && (atLeast == null || Level.of(entry.level()).compareTo(atLeast) >= 0);
        }
    }

    /** Entries in the order written, and the log position after the last whole line read (where to follow from). */
    public record Page(List<Entry> entries, long position) {
    }

    private final InstanceRuntime runtime;

    ServerLog(InstanceRuntime runtime) {
        this.runtime = runtime;
    }

    /** {@code instance}'s log on this node. */
    public LogSource local(Instance instance) {
        return (offset, length) -> runtime.readLog(instance, offset, length);
    }

    /** The newest {@code lines} entries of {@code log} that pass {@code filter}, oldest first. */
    public Page tail(LogSource log, int lines, Filter filter) {
        long end = log.read(0, 0).size();
        long start = end;
        List<Entry> found = new ArrayList<>();
        byte[] carry = new byte[0];
        while (start > 0 && found.size() < lines && end - start < SCAN_LIMIT) {
            long from = Math.max(0, start - CHUNK);
            byte[] chunk = log.read(from, (int) (start - from)).bytes();
            byte[] text = concat(chunk, carry);
            // Keep the first (maybe partial) line for the next chunk, unless this is the start of the file.
            int cut = from == 0 ? 0 : firstEntryStart(text);
            carry = Arrays.copyOf(text, cut);
            List<Entry> entries = parse(new String(text, cut, text.length - cut, StandardCharsets.UTF_8));
            List<Entry> matching = new ArrayList<>(entries.stream().filter(filter::accepts).toList());
            Collections.reverse(matching);
            found.addAll(matching);
            start = from;
        }
        List<Entry> newest = new ArrayList<>(found.subList(0, Math.min(lines, found.size())));
        Collections.reverse(newest);
        return new Page(newest, end);
    }

    /** Entries written after {@code position} (from {@link Page#position()}) that pass {@code filter}; whole lines only. */
    public Page after(LogSource log, long position, Filter filter) {
        InstanceRuntime.LogBytes read = log.read(position, CHUNK * 16);
        long from = read.size() < position ? 0 : position; // the log was replaced: start again from its beginning
        if (from != position) {
            read = log.read(0, CHUNK * 16);
        }
        byte[] bytes = read.bytes();
        int lastNewline = bytes.length - 1;
        while (lastNewline >= 0 && bytes[lastNewline] != '\n') {
            lastNewline--;
        }
        if (lastNewline < 0) {
            return new Page(List.of(), from);
        }
        String text = new String(bytes, 0, lastNewline + 1, StandardCharsets.UTF_8);
        return new Page(parse(text).stream().filter(filter::accepts).toList(), from + lastNewline + 1);
    }

    /** The offset of the first line in {@code text} that starts an entry (after a newline), or its length if none does. */
    private static int firstEntryStart(byte[] text) {
        int lineStart = 0;
        for (int i = 0; i <= text.length; i++) {
            if (i == text.length || text[i] == '\n') {
                if (lineStart > 0) {
                    String line = new String(text, lineStart, i - lineStart, StandardCharsets.UTF_8);
                    Matcher m = PREFIX.matcher(line);
                    if (m.matches() && !ATTACHED.contains(m.group(5))) {
                        return lineStart;
                    }
                }
                lineStart = i + 1;
            }
        }
        return text.length;
    }

    static List<Entry> parse(String text) {
        List<Entry> entries = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (line.isEmpty()) {
                continue;
            }
            Matcher m = PREFIX.matcher(line);
            boolean attached = !m.matches() || ATTACHED.contains(m.group(5));
            if (attached && !entries.isEmpty()) {
                Entry last = entries.remove(entries.size() - 1);
                String more = m.matches() ? m.group(5) + ":  " + m.group(6) : line;
                entries.add(redacted(new Entry(last.time(), last.pid(), last.user(), last.database(), last.level(),
                        last.message() + "\n" + more)));
            } else if (!m.matches()) {
                entries.add(redacted(new Entry(null, null, null, null, Level.LOG.name(), line)));
            } else {
                String severity = m.group(5);
                String level = isLevel(severity) ? severity : Level.LOG.name();
                entries.add(redacted(new Entry(LocalDateTime.parse(m.group(1), TIME).toInstant(ZoneOffset.UTC), Integer.valueOf(m.group(2)),
                        blankToNull(m.group(3)), blankToNull(m.group(4)), level, m.group(6))));
            }
        }
        return entries;
    }

    private static boolean isLevel(String severity) {
        return severity.startsWith("DEBUG") || Level.parse(severity).isPresent();
    }

    /**
     * {@code entry} with the passwords in it blanked, unless it is a session's of another role than Keel's: a line whose role is
     * unknown (the postmaster's, or a part of a line, as a follower may read after its log was emptied) counts as Keel's.
     */
    private static Entry redacted(Entry entry) {
        if (entry.user() != null && !InstanceConfig.SUPERUSER.equals(entry.user())) {
            return entry;
        }
        return new Entry(entry.time(), entry.pid(), entry.user(), entry.database(), entry.level(),
                blankPasswords(entry.message()));
    }

    private static String blankPasswords(String text) {
        return PASSWORD.matcher(text).replaceAll(m -> Matcher.quoteReplacement((m.group(1) != null ? m.group(1) : m.group(2)) + "'<redacted>'"));
    }

    /**
     * One raw line of a server log with the passwords in a statement of Keel's own sessions
     * blanked, as entries are ({@code heroku logs} shows raw lines): only a line of another role's
     * session is left as it is.
     */
    public static String redacted(String line) {
        Matcher m = PREFIX.matcher(line);
        return m.matches() && m.group(3) != null && !m.group(3).isEmpty() && !InstanceConfig.SUPERUSER.equals(m.group(3)) ? line
                : blankPasswords(line);
    }

    private static String blankToNull(@Nullable String s) {
        return s == null || s.isEmpty() || s.equals("[unknown]") ? null : s;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] all = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }
}
