package dev.keel.problems;

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
    NAME_TAKEN("name-taken", 409, "Name already taken"),
    CONFLICT("conflict", 409, "Conflict"),
    PAYLOAD_TOO_LARGE("payload-too-large", 413, "Request body too large"),
    UNSUPPORTED_MEDIA_TYPE("unsupported-media-type", 415, "Unsupported media type"),
    INVALID_REQUEST("invalid-request", 422, "Invalid request"),
    UNKNOWN_PLAN("unknown-plan", 422, "Unknown plan"),
    UNSUPPORTED_VERSION("unsupported-version", 422, "Unsupported Postgres version"),
    INVALID_NAME("invalid-name", 422, "Invalid name"),
    INTERNAL("internal", 500, "Internal error"),
    UNAVAILABLE("unavailable", 503, "Service unavailable"),
    INVALID_SQL("invalid-sql", 422, "Invalid dataclip SQL"),
    INVALID_PARAMETER("invalid-parameter", 422, "Invalid dataclip parameter"),
    TOO_MANY_RUNS("too-many-runs", 429, "Dataclip run too often"),
    CLIENT_TOOLS_NEEDED("client-tools-needed", 422, "Newer Postgres client tools needed"),
    UPGRADE_BLOCKED("upgrade-blocked", 422, "Logical replication cannot carry this database");

    private final String slug;
    private final int status;
    private final String title;

    ProblemType(String slug, int status, String title) {
        this.slug = slug;
        this.status = status;
        this.title = title;
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

    static java.util.Optional<ProblemType> forSlug(String slug) {
        for (ProblemType type : values()) {
            if (type.slug.equals(slug)) {
                return java.util.Optional.of(type);
            }
        }
        return java.util.Optional.empty();
    }
}
