package dev.keel.operations;

/**
 * The work behind one {@link OperationKind}. The {@link OperationRunner} calls {@link #run} on a
 * background thread, one operation per database at a time; returning marks the operation
 * succeeded, throwing marks it failed with the exception's message (for a
 * {@link dev.keel.problems.KeelException}) or a pointer to Keel's log.
 */
public interface OperationHandler {
    OperationKind kind();

    /** Does the work. Reports progress through {@link OperationRepository#progress}. */
    void run(Operation operation) throws Exception;

    /**
     * Called once at start for an operation a stopped Keel left running: removes what must be
     * removed and says whether to run it again. Runs before any new work is accepted.
     */
    Decision recover(Operation operation);

    /**
     * Whether an operation of this kind holds its database's lease ({@link DatabaseLeases}) while
     * it runs: yes for work that changes the database's instances. Work that only reads a server
     * for long (a backup, a dump, a standby built from the archive) does not, so that a failover
     * never waits for it.
     */
    default boolean holdsDatabase() {
        return true;
    }
}
