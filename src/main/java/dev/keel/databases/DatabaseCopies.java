package dev.keel.databases;

import dev.keel.auth.Caller;
import dev.keel.instances.Instance;
import dev.keel.postgres.HbaRule;

import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * Making a database from another one (fork, rollback), which the restore capability provides:
 * provisioning asks it to check a request and fix the origin, then to build the new database's
 * primary from the source's archive.
 */
public interface DatabaseCopies {
    String RESTORING = "restoring the base backup";
    String REPLAYING = "replaying WAL";
    String PROMOTING = "promoting";
    String STREAMING = "streaming from the leader";

    /**
     * Checks a fork or rollback request against its source and what is archived; a problem (4xx)
     * says what is wrong. {@code sourceCheck} is the caller's own check of the source, run before
     * anything touches it.
     */
    DatabaseOrigin resolve(Caller caller, CreateDatabaseRequest request, Plan plan, Consumer<Database> sourceCheck);

    /**
     * Restores {@code database}'s primary from its origin and promotes it: a running instance
     * (state {@code creating}) with {@code settings} and {@code hba}, whose data is the source's
     * as of the origin's target. Reports each step on {@code progress}, and stops when
     * {@code wanted} turns false (the database is being deleted).
     */
    Instance restore(Database database, DatabaseOrigin origin, Map<String, String> settings, List<HbaRule> hba, Progress progress,
                     BooleanSupplier wanted) throws Exception;

    /** Where a restore reports how far it is. */
    interface Progress {
        void report(String step, long done, long total, String unit);
    }
}
