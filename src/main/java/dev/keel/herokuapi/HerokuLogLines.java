package dev.keel.herokuapi;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Postgres server log lines (Keel's {@code log_line_prefix}: {@code %m [%p] %q%u@%d }) as Heroku
 * shows its Postgres logs: {@code 2026-12-02T10:00:00.123+00:00 app[postgres.4711]: [DATABASE] LOG: ...}.
 * A line without the prefix (a statement's next line) takes the time and process of the line
 * before it. One per attached database and stream: it remembers that line.
 */
final class HerokuLogLines {
    private static final Pattern PREFIX = Pattern.compile("(\\d{4}-\\d{2}-\\d{2}) (\\d{2}:\\d{2}:\\d{2}(?:\\.\\d+)?) (\\S+) \\[(\\d+)\\] ?(.*)");

    private final String attachment;
    private String time = "";
    private String pid = "0";

    HerokuLogLines(String attachment) {
        this.attachment = attachment;
    }

    String format(String line) {
        Matcher m = PREFIX.matcher(line);
        String message = line;
        if (m.matches()) {
            String zone = m.group(3);
            time = m.group(1) + "T" + m.group(2) + (zone.equals("UTC") || zone.equals("GMT") ? "+00:00" : " " + zone);
            pid = m.group(4);
            message = m.group(5);
        }
        return (time.isEmpty() ? "" : time + " ") + "app[postgres." + pid + "]: [" + attachment + "] " + message;
    }
}
