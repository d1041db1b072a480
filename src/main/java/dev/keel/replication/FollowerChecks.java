package dev.keel.replication;

import dev.keel.archive.ArchiveReport;
import dev.keel.archive.Backup;
import dev.keel.databases.Database;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.ReplicationSlots;
import dev.keel.nodes.Placement;
import dev.keel.nodes.ThisNode;
import dev.keel.postgres.Lsn;
import dev.keel.postgres.ReplicationSession;
import dev.keel.postgres.ServerSession;
import dev.keel.postgres.TimelineHistory;
import dev.keel.postgres.TimelineId;
import jakarta.inject.Singleton;

import java.sql.SQLException;
import java.util.List;
import java.util.Optional;

/**
 * Whether a follower can go on following, asked of its leader's primary and of the follower's
 * own server. It cannot when its slot on the leader's primary was invalidated
 * ({@code wal_status = 'lost'}: the leader wrote more than {@code max_slot_wal_keep_size} while the
 * follower was away or behind, and removed WAL the follower had not received), or when it
 * diverged: after a failover its leader's primary writes a new timeline that forked from the old
 * one at a point the follower had already replayed past, with WAL of the old primary the new one
 * never had.
 *
 * <p>The divergence test is Postgres' own rule for following a new timeline: a standby switches
 * only if its replay on the old timeline ended at or before the switch point written in the new
 * timeline's history file; otherwise it logs "new timeline forked off current database system
 * timeline before current recovery point" and waits for ever. So the check reads the leader
 * primary's timeline and history ({@code pg_wal/<timeline>.history}), the follower's replayed
 * position ({@code pg_last_wal_replay_lsn()}), and then the timeline it replays (IDENTIFY_SYSTEM
 * over a replication connection, which on a standby answers its replay timeline). Read in that
 * order, a follower that switches timelines between the two reads is never taken for diverged: a
 * position replayed on an older timeline lies at or before that timeline's end. Two short queries
 * on each server and no log parsing; a received but unreplayed record, which may still be cut
 * short, counts only once it is replayed.
 */
@Singleton
final class FollowerChecks {
    /** How long each login and answer may take: a hung server must not hold the watch's round. */
    private static final int PROBE_SECONDS = 5;

    private final InstanceConnections connections;
    private final ArchiveReport report;
    private final Placement placement;
    private final ThisNode node;

    FollowerChecks(InstanceConnections connections, ArchiveReport report, Placement placement, ThisNode node) {
        this.connections = connections;
        this.report = report;
        this.placement = placement;
        this.node = node;
    }

    /** What a check found, in a sentence that is logged, shown in the follower's status and on its rebuild. */
    record Verdict(Kind kind, String sentence) {
        enum Kind {
            /** Its slot is kept and its timeline is its leader's, or one it can still switch from. */
            FOLLOWS,
            /** A server did not answer, or the leader primary's history is missing: nothing decided. */
            UNKNOWN,
            /** Its slot on the leader's primary was invalidated. */
            SLOT_LOST,
            /** It replayed past the point where its leader's timeline forked. */
            DIVERGED,
            /** It has no server: a rebuild ended (failed) after removing the old one. */
            NO_SERVER,
            /** Its server runs another Postgres major than its leader's primary: the leader was upgraded. */
            OTHER_MAJOR,
            /** Its server's node is lost (silent past {@code keel.node.lost-after}) and the server does not answer. */
            NODE_LOST
        }

        static final Verdict NO_SERVER_LEFT = new Verdict(Kind.NO_SERVER, "it has no server: an earlier rebuild removed it and"
                + " failed before it made a new one");

        /** A follower whose server is on node {@code node}, lost, and neither answers nor streams. */
        static Verdict nodeLost(String node) {
            return new Verdict(Kind.NODE_LOST, "its node " + node + " is lost (silent past KEEL_NODE_LOST_AFTER), and its server"
                    + " neither answers nor streams from its leader: it is made anew on another node, and node " + node + " removes the"
                    + " old one when it returns");
        }

        boolean rebuilds() {
            return kind == Kind.SLOT_LOST || kind == Kind.DIVERGED || kind == Kind.NO_SERVER || kind == Kind.OTHER_MAJOR
                    || kind == Kind.NODE_LOST;
        }

        @Override
        public String toString() {
            return kind + ": " + sentence;
        }
    }

    /** Where a follower's replay is: the end of the last record it replayed, on which timeline. */
    record Position(TimelineId timeline, Lsn replayed) {
    }

    /** Checks {@code follower}'s server against its leader's primary. */
    Verdict check(Database follower, Database leader, Instance leaderPrimary, Instance followerServer) {
        if (followerServer.major() != leaderPrimary.major()) {
            // A physical copy streams only from its own major, and the upgraded leader is a new cluster: its timelines and
            // positions say nothing of the old one's.
            return new Verdict(Verdict.Kind.OTHER_MAJOR, "its server runs Postgres " + followerServer.major() + " and its leader "
                    + leader.name() + " Postgres " + leaderPrimary.major() + " since its upgrade: a follower is made anew on its"
                    + " leader's major");
        }
        Optional<ServerSession.Slot> slot;
        Optional<TimelineHistory> history;
        try (ServerSession session = connections.probe(leaderPrimary, PROBE_SECONDS)) {
            slot = session.slot(ReplicationSlots.forFollower(follower.id()));
            history = session.timelineHistory();
        } catch (SQLException e) {
            return new Verdict(Verdict.Kind.UNKNOWN, "its leader " + leader.name() + " does not answer: " + e.getMessage());
        }
        Optional<Position> position;
        try {
            position = position(followerServer);
        } catch (SQLException e) {
            position = Optional.empty();
        }
        return judge(leader.name(), slot, history, position);
    }

    /** The verdict on what was read; a pure function, so that its rules are tested on their own. */
    static Verdict judge(String leader, Optional<ServerSession.Slot> slot, Optional<TimelineHistory> history,
                         Optional<Position> position) {
        if (slot.isPresent() && "lost".equals(slot.get().walStatus())) {
            return new Verdict(Verdict.Kind.SLOT_LOST, "its slot on the primary of its leader " + leader + " was invalidated"
                    + " (wal_status lost): the leader wrote more than max_slot_wal_keep_size while the follower was away or behind,"
                    + " and removed WAL the follower had not received");
        }
        if (history.isEmpty()) {
            return new Verdict(Verdict.Kind.UNKNOWN, "the history file of its leader " + leader + "'s timeline is missing");
        }
        if (position.isEmpty()) {
            return new Verdict(Verdict.Kind.UNKNOWN, "its server does not answer, or has replayed nothing");
        }
        TimelineHistory leaderHistory = history.get();
        Position at = position.get();
        if (leaderHistory.includes(at.timeline(), at.replayed())) {
            return new Verdict(Verdict.Kind.FOLLOWS, "it replays timeline " + at.timeline() + " at " + at.replayed()
                    + ", within the history of its leader's timeline " + leaderHistory.current());
        }
        if (at.timeline().compareTo(leaderHistory.current()) > 0) {
            // The leader's history was read before it moved to a newer timeline, which the follower already follows.
            return new Verdict(Verdict.Kind.UNKNOWN, "it is on timeline " + at.timeline() + ", newer than its leader " + leader
                    + "'s timeline " + leaderHistory.current() + " as last read");
        }
        Optional<Lsn> end = leaderHistory.end(at.timeline());
        if (end.isEmpty()) {
            return new Verdict(Verdict.Kind.DIVERGED, "it is on timeline " + at.timeline() + ", which is not in the history of its"
                    + " leader " + leader + "'s timeline " + leaderHistory.current());
        }
        return new Verdict(Verdict.Kind.DIVERGED, "it diverged from its leader " + leader + ": it replayed timeline " + at.timeline()
                + " to " + at.replayed() + ", past " + end.get() + " where the leader's timeline " + leaderHistory.current()
                + " forked from it, so it holds WAL the leader's primary never had");
    }

    /**
     * {@link Verdict.Kind#NODE_LOST} when {@code follower}'s {@code server} is on another node,
     * silent past {@code keel.node.lost-after}, cannot be reached (no connection within
     * {@link #PROBE_SECONDS}), and does not stream from its leader's primary {@code leaderPrimary}
     * (its slot there is inactive): a node that never comes back must not leave its followers down
     * for good. One whose node's Keel only stopped still answers, and one this node alone cannot
     * reach still streams: both stay. Empty while anything cannot be told.
     */
    Optional<Verdict> lostWithItsNode(Database follower, Instance leaderPrimary, Instance server) {
        String host = server.node();
        if (host == null || host.equals(node.name()) || !placement.lost(host)) {
            return Optional.empty();
        }
        try (ServerSession session = connections.probe(server, PROBE_SECONDS)) {
            return Optional.empty();
        } catch (SQLException e) {
            if (e.getSQLState() == null || !e.getSQLState().startsWith("08")) {
                return Optional.empty(); // it answered, if only to refuse (too many clients, starting up)
            }
        }
        try (ServerSession session = connections.probe(leaderPrimary, PROBE_SECONDS)) {
            if (session.slot(ReplicationSlots.forFollower(follower.id())).filter(ServerSession.Slot::active).isPresent()) {
                return Optional.empty();
            }
        } catch (SQLException e) {
            return Optional.empty();
        }
        return Optional.of(Verdict.nodeLost(host));
    }

    /** The leader primary's timeline history; empty when the history file is missing (an exception when it does not answer). */
    Optional<TimelineHistory> history(Instance leaderPrimary) throws SQLException {
        try (ServerSession session = connections.open(leaderPrimary, "postgres")) {
            return session.timelineHistory();
        }
    }

    /**
     * The newest restorable base backup of {@code leader} on its current timeline, the one the
     * rebuilt follower streams: a backup of an old timeline may have stopped past the fork and
     * would restore the divergence. After a failover there is none until the new timeline's first
     * backup completes (the failover starts it), and the rebuild waits for it, as a standby's does.
     */
    Optional<Backup> startingPoint(Database leader, TimelineHistory history) {
        List<ArchiveReport.Restorable> restorable = report.restorable(leader.id()).backups();
        for (int i = restorable.size() - 1; i >= 0; i--) {
            Backup backup = restorable.get(i).backup();
            if (history.current().equals(backup.timeline())) {
                return Optional.of(backup);
            }
        }
        return Optional.empty();
    }

    /** The follower's replayed position and then its replay timeline, in that order (see the class comment). */
    private Optional<Position> position(Instance followerServer) throws SQLException {
        Optional<Lsn> replayed;
        try (ServerSession session = connections.probe(followerServer, PROBE_SECONDS)) {
            replayed = session.lastReplayed();
        }
        if (replayed.isEmpty()) {
            return Optional.empty();
        }
        try (ReplicationSession replication = connections.openReplication(followerServer, PROBE_SECONDS, "keel_follower_check")) {
            return Optional.of(new Position(replication.identify().timeline(), replayed.get()));
        }
    }
}
