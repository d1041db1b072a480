-- Nodes that cannot reach a database's primary to receive its WAL (a link cut between two hosts
-- that both still reach the catalog): the receiver goes to the next node in line, or to the
-- primary's own, until the node that gave up reaches that primary again and removes its row.
-- A row names the primary it could not reach; one for an earlier primary counts for nothing.
create table wal_receiver_unreachable (
    database_id     uuid           not null references databases (id) on delete cascade,
    node            varchar(255)   not null,
    instance_id     uuid           not null,
    since           timestamptz    not null default now(),
    primary key (database_id, node)
);
