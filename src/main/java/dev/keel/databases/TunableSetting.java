package dev.keel.databases;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The server settings a database's owner may change ({@code heroku pg:settings}), under Heroku's
 * names, with Postgres' defaults (what a Keel server runs until one is set). Each is applied
 * with a reload; none needs a restart. {@code auto_explain} loads the module for new sessions
 * ({@code session_preload_libraries}); the others are Postgres settings of the same name.
 */
public enum TunableSetting {
    LOG_CONNECTIONS("log_connections", Kind.BOOLEAN, "off",
            "Controls whether a log message is produced when a login attempt is made.", Map.of()),
    LOG_LOCK_WAITS("log_lock_waits", Kind.BOOLEAN, "off",
            "Controls whether a log message is produced when a session waits longer than deadlock_timeout (1 s) to acquire a lock.",
            Map.of()),
    LOG_MIN_DURATION_STATEMENT("log_min_duration_statement", Kind.MILLISECONDS, "-1",
            "The duration of each completed statement is logged if it ran for at least this many milliseconds"
                    + " (0 logs every statement, -1 none).", Map.of()),
    LOG_MIN_ERROR_STATEMENT("log_min_error_statement", Kind.ENUM, "error",
            "SQL statements that cause an error at this severity or above are logged.", severities()),
    LOG_STATEMENT("log_statement", Kind.ENUM, "none", "Controls which SQL statements are logged.", ordered(
            "none", "No statements are logged.",
            "ddl", "All data definition statements, such as CREATE, ALTER and DROP, are logged.",
            "mod", "All data definition statements and data-modifying statements such as INSERT, UPDATE, DELETE, TRUNCATE and COPY"
                    + " are logged.",
            "all", "All statements are logged.")),
    TRACK_FUNCTIONS("track_functions", Kind.ENUM, "none", "Controls tracking of function call counts and time used.", ordered(
            "none", "No functions are tracked.",
            "pl", "Only procedural language functions are tracked.",
            "all", "All functions, including SQL and C language functions, are tracked.")),
    AUTO_EXPLAIN("auto_explain", Kind.BOOLEAN, "off",
            "Logs the execution plans of slow statements (see the auto_explain settings) in sessions started after it is on.",
            Map.of()),
    AUTO_EXPLAIN_LOG_ANALYZE("auto_explain.log_analyze", Kind.BOOLEAN, "off",
            "Logs EXPLAIN ANALYZE output (actual times) instead of EXPLAIN; every statement is then timed.", Map.of()),
    AUTO_EXPLAIN_LOG_BUFFERS("auto_explain.log_buffers", Kind.BOOLEAN, "off",
            "Includes buffer usage in logged plans (with log_analyze).", Map.of()),
    AUTO_EXPLAIN_LOG_FORMAT("auto_explain.log_format", Kind.ENUM, "text", "The EXPLAIN output format of logged plans.", ordered(
            "text", "Plans are logged as text.", "xml", "Plans are logged as XML.", "json", "Plans are logged as JSON.",
            "yaml", "Plans are logged as YAML.")),
    AUTO_EXPLAIN_LOG_MIN_DURATION("auto_explain.log_min_duration", Kind.MILLISECONDS, "-1",
            "Plans of statements that ran for at least this many milliseconds are logged (0 logs every plan, -1 none).", Map.of()),
    AUTO_EXPLAIN_LOG_NESTED_STATEMENTS("auto_explain.log_nested_statements", Kind.BOOLEAN, "off",
            "Includes statements run inside functions in the logged plans.", Map.of()),
    AUTO_EXPLAIN_LOG_TRIGGERS("auto_explain.log_triggers", Kind.BOOLEAN, "off",
            "Includes trigger statistics in logged plans (with log_analyze).", Map.of()),
    AUTO_EXPLAIN_LOG_VERBOSE("auto_explain.log_verbose", Kind.BOOLEAN, "off",
            "Includes EXPLAIN VERBOSE details in logged plans.", Map.of()),
    DATA_CONNECTOR_DETAILS_LOGS("data_connector_details_logs", Kind.BOOLEAN, "off",
            "Heroku's data connectors stream changes to Kafka; Keel has none, so this stays off.", Map.of());

    /** How a value is written: {@code on}/{@code off}, whole milliseconds from -1, or one of {@link #choices}. */
    public enum Kind {
        BOOLEAN, MILLISECONDS, ENUM
    }

    private final String key;
    private final Kind kind;
    private final String defaultValue;
    private final String description;
    private final Map<String, String> choices;

    TunableSetting(String key, Kind kind, String defaultValue, String description, Map<String, String> values) {
        this.key = key;
        this.kind = kind;
        this.defaultValue = defaultValue;
        this.description = description;
        this.choices = values;
    }

    public String key() {
        return key;
    }

    public Kind kind() {
        return kind;
    }

    /** Postgres' own default, in Postgres' form. */
    public String defaultValue() {
        return defaultValue;
    }

    public String description() {
        return description;
    }

    /** The allowed values of an enum setting, each with what it does, in order. */
    public Map<String, String> choices() {
        return choices;
    }

    public static Optional<TunableSetting> of(String key) {
        return Arrays.stream(values()).filter(s -> s.key.equals(key)).findFirst();
    }

    /**
     * The server settings a stored value means: {@code auto_explain} on loads the module for new
     * sessions; the Heroku-only setting means nothing to Postgres.
     */
    Map<String, String> serverSettings(String value) {
        switch (this) {
            case AUTO_EXPLAIN:
                return value.equals("on") ? Map.of("session_preload_libraries", "auto_explain") : Map.of();
            case DATA_CONNECTOR_DETAILS_LOGS:
                return Map.of();
            default:
                return Map.of(key, value);
        }
    }

    private static Map<String, String> ordered(String... pairs) {
        Map<String, String> map = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            map.put(pairs[i], pairs[i + 1]);
        }
        return map;
    }

    private static Map<String, String> severities() {
        return ordered("debug5", "Statements causing messages at DEBUG5 and above are logged.",
                "debug4", "Statements causing messages at DEBUG4 and above are logged.",
                "debug3", "Statements causing messages at DEBUG3 and above are logged.",
                "debug2", "Statements causing messages at DEBUG2 and above are logged.",
                "debug1", "Statements causing messages at DEBUG1 and above are logged.",
                "info", "Statements causing messages at INFO and above are logged.",
                "notice", "Statements causing notices and above are logged.",
                "warning", "Statements causing warnings and above are logged.",
                "error", "Statements causing errors and above are logged.",
                "log", "Statements causing LOG messages and above are logged.",
                "fatal", "Statements causing FATAL errors and above are logged.",
                "panic", "Only statements causing a PANIC are logged.");
    }
}
