package dev.keel.problems;

/**
 * Why background work failed, as stored beside a database's {@code state_reason} or an
 * operation's {@code error}: the problem type's stable {@code code} (its slug, which clients and
 * runbooks may match on), whether trying again can help, and the sentence for people. Only a
 * problem whose type is {@linkplain ProblemType#safeToShow() safe to show} gives its own sentence;
 * anything else is stored as {@code internal} with the caller's fallback sentence, and its
 * message stays in Keel's log.
 */
public record Failure(String code, boolean retryable, String reason) {

    public static Failure of(ProblemType type, String reason) {
        return new Failure(type.slug(), type.retryable(), reason);
    }

    /** The failure {@code e} stands for; {@code fallback} is the sentence when its own may not be shown. */
    public static Failure of(Throwable e, String fallback) {
        if (e instanceof KeelException keel && keel.type().safeToShow()) {
            return of(keel.type(), keel.getMessage());
        }
        return of(ProblemType.INTERNAL, fallback);
    }

    /** The reason cut to {@code limit} characters, as a catalog column holds it. */
    public String reason(int limit) {
        return reason.length() <= limit ? reason : reason.substring(0, limit);
    }
}
