-- A WAL receiver's catch-up, as its node reports it: what the server had flushed when the
-- receiver connected, while that is not all stored (it streams a backlog from its slot, after a
-- restart, a move or a cut connection), and the last time it knew everything the server had as
-- stored. /archive shows such a receiver as behind and ends the rollback window no later than
-- that time. LSN as bigint, as in the table's other columns.
alter table wal_receivers
    add column catch_up_lsn   bigint,
    add column caught_up_at   timestamptz;
