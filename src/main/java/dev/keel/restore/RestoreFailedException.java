package dev.keel.restore;

import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;

/** A restore could not finish; the message, shown as the new database's reason, says why. */
final class RestoreFailedException extends KeelException {
    RestoreFailedException(String message) {
        super(ProblemType.RESTORE_FAILED, message);
    }
}
