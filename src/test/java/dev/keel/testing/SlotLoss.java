package dev.keel.testing;

import dev.keel.instances.Instance;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;

/** Makes an upstream invalidate a slot whose streamer is away, as a long absence does. */
public final class SlotLoss {
    private SlotLoss() {
    }

    /**
     * Writes past what {@code upstream} keeps for slot {@code slot} and checkpoints until it marks
     * the slot {@code lost}: one segment kept here (Keel's 4GB would take minutes to write). The
     * session's commits wait for no standby, and the setting is reset afterwards.
     */
    public static void invalidate(TestKeel keel, Instance upstream, String slot) throws SQLException {
        try (Connection connection = Superuser.connect(keel, upstream, "postgres"); Statement sql = connection.createStatement()) {
            sql.execute("set synchronous_commit = local");
            sql.execute("alter system set max_slot_wal_keep_size = '16MB'");
            sql.execute("select pg_reload_conf()");
            sql.execute("create table slot_loss_filler (n int)");
            Wait.until("slot " + slot + " to be invalidated", Timeouts.SLOT_INVALIDATED, () -> {
                try {
                    sql.execute("insert into slot_loss_filler values (1)");
                    sql.execute("select pg_switch_wal()");
                    sql.execute("checkpoint");
                    return "lost".equals(Pg.scalar(connection, "select wal_status from pg_replication_slots where slot_name = '" + slot + "'"));
                } catch (SQLException e) {
                    throw new IllegalStateException(e);
                }
            });
            sql.execute("drop table slot_loss_filler");
            sql.execute("alter system reset max_slot_wal_keep_size");
            sql.execute("select pg_reload_conf()");
        }
    }
}
