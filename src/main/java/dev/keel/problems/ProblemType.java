package dev.keel.problems;

import java.util.Optional;

/**
 * Every problem type Keel answers with: a stable slug (the {@code type} URI is
 * {@code /problems/<slug>}), an HTTP status and a title. Clients may rely on the slug; the
 * {@code detail} sentence is for people and may change.
 */
public enum ProblemType {
    BAD_REQUEST("bad-request", 400, "Bad request"),
    UNAUTHORIZED("unauthorized", 401, "Missing or invalid API key"),
    FORBIDDEN("forbidden", 403, "Forbidden"),
    NOT_FOUND("not-found", 404, "Not found"),
    METHOD_NOT_ALLOWED("method-not-allowed", 405, "Method not allowed"),
    NOT_ACCEPTABLE("not-acceptable", 406, "Not acceptable"),
    /** The generic 409, for a conflict Micronaut raises on its own; Keel's own conflicts have the types below. */
    CONFLICT("conflict", 409, "Conflict"),
    ALREADY_QUEUED("already-queued", 409, "Already queued or running", Retry.HELPS),
    QUOTA_EXCEEDED("quota-exceeded", 403, "Team quota reached"),
    NAME_TAKEN("name-taken", 409, "Name already taken"),
    NOT_AVAILABLE("not-available", 409, "Database not available", Retry.HELPS),
    BEING_DELETED("being-deleted", 409, "Database being deleted"),
    HAS_FOLLOWERS("has-followers", 409, "Database has followers"),
    HAS_CREDENTIALS("has-credentials", 409, "Database has named credentials"),
    CREDENTIAL_ATTACHED("credential-attached", 409, "Credential attached to apps"),
    BACKUP_RUNNING("backup-running", 409, "Backup already running", Retry.HELPS),
    NO_BACKUP("no-backup", 409, "No restorable base backup yet", Retry.HELPS),
    NO_STANDBY("no-standby", 409, "No standby ready", Retry.HELPS),
    DEPROVISIONED("deprovisioned", 409, "Add-on resource deprovisioned"),
    RESTORE_FAILED("restore-failed", 409, "Restore failed"),
    PAYLOAD_TOO_LARGE("payload-too-large", 413, "Request body too large"),
    UNSUPPORTED_MEDIA_TYPE("unsupported-media-type", 415, "Unsupported media type"),
    INVALID_REQUEST("invalid-request", 422, "Invalid request"),
    UNKNOWN_PLAN("unknown-plan", 422, "Unknown plan"),
    UNSUPPORTED_VERSION("unsupported-version", 422, "Unsupported Postgres version"),
    INVALID_NAME("invalid-name", 422, "Invalid name"),
    PLAN_LIMIT("over-plan-limit", 422, "Over the plan's limit"),
    INVALID_SQL("invalid-sql", 422, "Invalid dataclip SQL"),
    INVALID_PARAMETER("invalid-parameter", 422, "Invalid dataclip parameter"),
    TOO_MANY_RUNS("too-many-runs", 429, "Dataclip run too often", Retry.HELPS),
    TOO_MANY_FOLLOWS("too-many-follows", 429, "Too many log follow streams open", Retry.HELPS),
    RUN_IN_PROGRESS("run-in-progress", 409, "Dataclip already running", Retry.HELPS),
    INTERNAL("internal", 500, "Internal error", Retry.HELPS, Disclosure.WITHHELD),
    UNAVAILABLE("unavailable", 503, "Service unavailable", Retry.HELPS),
    INSUFFICIENT_STORAGE("insufficient-storage", 507, "Insufficient storage", Retry.HELPS),
    FAILOVER_REFUSED("failover-refused", 503, "Failover refused", Retry.HELPS),
    NO_CAPACITY("no-capacity", 503, "No capacity left on this node"),
    NODE_NOT_LOST("node-not-lost", 409, "Node not lost", Retry.HELPS),
    CLIENT_TOOLS_NEEDED("client-tools-needed", 422, "Newer Postgres client tools needed"),
    UPGRADE_BLOCKED("upgrade-blocked", 422, "Logical replication cannot carry this database");

    /** Whether trying the same thing again later can succeed (a server still starting: yes; a plan that forbids it: no). */
    public enum Retry { HELPS, FUTILE }

    /**
     * Whether a problem's detail may be shown to whoever asked. Keel's own sentences are written for
     * users; an internal error's message may name files, hosts or SQL, so only its type is shown.
     */
    public enum Disclosure { SHOWN, WITHHELD }

    private final String slug;
    private final int status;
    private final String title;
    private final Retry retry;
    private final Disclosure disclosure;

    ProblemType(String slug, int status, String title) {
        this(slug, status, title, Retry.FUTILE, Disclosure.SHOWN);
    }

    ProblemType(String slug, int status, String title, Retry retry) {
        this(slug, status, title, retry, Disclosure.SHOWN);
    }

    ProblemType(String slug, int status, String title, Retry retry, Disclosure disclosure) {
        this.slug = slug;
        this.status = status;
        this.title = title;
        this.retry = retry;
        this.disclosure = disclosure;
    }

    public boolean retryable() {
        return retry == Retry.HELPS;
    }

    /** Whether the detail of a problem of this type may be shown to the caller (see {@link Disclosure}). */
    public boolean safeToShow() {
        return disclosure == Disclosure.SHOWN;
    }

    public String slug() {
        return slug;
    }

    public int status() {
        return status;
    }

    public String title() {
        return title;
    }

    public String uri() {
        return "/problems/" + slug;
    }

    /** The generic type for a status Micronaut produced on its own (no route, wrong method...). */
    static ProblemType forStatus(int status) {
        for (ProblemType type : values()) {
            if (type.status == status) {
                return type;
            }
        }
        return status >= 500 ? INTERNAL : BAD_REQUEST;
    }

    public static Optional<ProblemType> forSlug(String slug) {
        for (ProblemType type : values()) {
            if (type.slug.equals(slug)) {
                return Optional.of(type);
            }
        }
        return Optional.empty();
    }
}
