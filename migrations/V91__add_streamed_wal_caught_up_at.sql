-- The last time the WAL receiver that stored a database's partial segment knew everything its
-- server had as stored, as of that part: a receiver that starts anew (Keel restarted, the
-- receiver moved to another node) takes it as its own until it knows a later one, so that a
-- catch-up it then streams ends the rollback window there. stored_at would be late by that
-- receiver's lag when it stored the part behind (a catch-up, a slow store). Null when it knew no
-- such time; a node of an earlier version leaves it as it was, earlier than true, never later.
alter table streamed_wal
    add column caught_up_at   timestamptz;
