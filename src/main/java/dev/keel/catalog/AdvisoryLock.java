package dev.keel.catalog;

import org.jooq.DSLContext;
import org.jooq.impl.DSL;

import java.util.UUID;

/**
 * Transaction-scoped advisory locks on the catalog: they serialise work that must not run twice
 * at once, also across Keel nodes sharing the catalog. Every key is declared here, so none collide.
 */
public enum AdvisoryLock {
    /** Creating the installation's certificate authority. */
    CERTIFICATE_AUTHORITY(1),
    /** Creating the first team and admin key. */
    FIRST_TEAM(2),
    /** Choosing ports for new instances. */
    INSTANCE_PORTS(3),
    /**
     * Held for as long as a node runs: alone by a node on its embedded catalog (no other node may
     * join it), shared by the nodes on an external catalog.
     */
    NODE(4),
    /** Attaching databases to apps: names and colours are chosen from what is taken. */
    ATTACHMENTS(5),
    /** Choosing the node of a new database and recording it there, so that no two requests take one node's last room. */
    PLACEMENT(6);

    private static final long NAMESPACE = 0x4b45454cL << 32; // "KEEL"
    /** The first key of node names' locks, in Postgres' two-key space, apart from the one-key locks above. */
    private static final int NODE_NAMES = 0x4b454c4e; // "KELN"
    /** The first key of teams' dataclip-run locks, in the two-key space. */
    private static final int TEAM_RUNS = 0x4b454452; // "KEDR"
    private final long key;

    AdvisoryLock(int id) {
        this.key = NAMESPACE | id;
    }

    /** Takes the lock until {@code tx}'s transaction ends. */
    public void acquire(DSLContext tx) {
        tx.select(DSL.field("pg_advisory_xact_lock({0})", Object.class, DSL.val(key))).fetch();
    }

    /** Shares the lock for {@code session}'s lifetime unless somebody holds it alone; says whether it did. */
    public boolean tryShareForSession(DSLContext session) {
        return Boolean.TRUE.equals(session.fetchValue(DSL.field("pg_try_advisory_lock_shared({0})", Boolean.class, DSL.val(key))));
    }

    /** Takes the lock for {@code session}'s lifetime if nobody holds it; says whether it did. */
    public boolean tryHoldForSession(DSLContext session) {
        return Boolean.TRUE.equals(session.fetchValue(DSL.field("pg_try_advisory_lock({0})", Boolean.class, DSL.val(key))));
    }

    /**
     * Takes team {@code team}'s dataclip-run lock until {@code tx}'s transaction ends, so that the
     * nodes admit and record the team's runs one at a time. Teams whose ids hash alike share one.
     */
    public static void acquireTeamRuns(DSLContext tx, UUID team) {
        tx.select(DSL.field("pg_advisory_xact_lock({0}, hashtext({1}))", Object.class, DSL.val(TEAM_RUNS), DSL.val(team.toString()))).fetch();
    }

    /**
     * Takes the lock of node {@code name} for {@code session}'s lifetime if nobody holds it; says whether it did. A live
     * node holds its name's lock as long as it runs, so a start under the same name can tell a live twin (refused) from a
     * predecessor that died (its session, and so its lock, ended with it).
     */
    public static boolean tryHoldNodeNameForSession(DSLContext session, String name) {
        return Boolean.TRUE.equals(session.fetchValue(DSL.field("pg_try_advisory_lock({0}, hashtext({1}))", Boolean.class,
                DSL.val(NODE_NAMES), DSL.val(name))));
    }
}
