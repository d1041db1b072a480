package dev.keel.operations;

import java.util.UUID;

/**
 * What the reconciler does with an operation a stopped Keel left running, and why, as a sentence
 * that is logged and asserted in tests ("retrying provisioning from the start (attempt 2 of 3):
 * Keel stopped during step 'starting'").
 */
public record Decision(Kind kind, UUID operationId, String reason) {
    public enum Kind {
        /** Run the operation again from where its steps allow; it is idempotent. */
        RESUME,
        /** The half-made work was removed; run it again from the start as a new attempt. */
        RETRY,
        /** The half-made work was removed; the operation is failed with {@code reason}. */
        GIVE_UP,
        /** The work had finished before Keel stopped; only its record said otherwise. */
        DONE
    }

    public static Decision resume(Operation operation, String reason) {
        return new Decision(Kind.RESUME, operation.id(), reason);
    }

    public static Decision retry(Operation operation, String reason) {
        return new Decision(Kind.RETRY, operation.id(), reason);
    }

    public static Decision giveUp(Operation operation, String reason) {
        return new Decision(Kind.GIVE_UP, operation.id(), reason);
    }

    public static Decision done(Operation operation, String reason) {
        return new Decision(Kind.DONE, operation.id(), reason);
    }

    @Override
    public String toString() {
        return kind + " " + operationId + ": " + reason;
    }
}
