package dev.keel.replication;

/**
 * What the {@link HaMonitor} decided about a database at one check, and why, in a sentence that
 * is logged, shown on the operation it starts and in the HA status ("failing over because the
 * primary missed 3 checks and the standby is 0 bytes behind").
 */
record HaDecision(Kind kind, String sentence) {
    /** Longest sentence kept: it goes into an operation's step, with room for "failed over: " before it. */
    private static final int LONGEST = 900;

    HaDecision {
        sentence = sentence.length() <= LONGEST ? sentence : sentence.substring(0, LONGEST - 3) + "...";
    }

    enum Kind {
        /** The primary answered. */
        HEALTHY,
        /** The primary missed a check, not yet enough of them. */
        WATCHING,
        /** The postmaster is gone but its data directory is sound: start it again where it is. */
        RESTART_IN_PLACE,
        /** A failover that Keel stopped during left the new primary in recovery: promote it. */
        FINISH_PROMOTION,
        /** The primary is gone or hangs and the standby is close enough behind. */
        FAIL_OVER,
        /** The primary is gone or hangs, yet failing over would lose too much or has nothing to go to. */
        REFUSE,
        /**
         * The primary answered, but its standby can never catch up (the primary removed WAL it had not
         * received: its slot is lost), or is gone with its host (its node is lost and it has not
         * streamed since): build another.
         */
        REPLACE_STANDBY
    }

    @Override
    public String toString() {
        return kind + ": " + sentence;
    }
}
