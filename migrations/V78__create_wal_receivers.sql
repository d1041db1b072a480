-- Each database's WAL receiver as the node running it last reported it (when it changes, and every
-- few seconds all the same):
-- which node streams the primary's WAL into the object store (another than the primary's when
-- there is one), whether it is connected, how far it has received and stored, and since when WAL
-- past what is stored exists. Every node's /archive reads it for a receiver running elsewhere; a
-- row not reported for 10 s counts as no receiver. The node removes its row when it stops
-- the stream. LSNs as bigint, as in streamed_wal.
create table wal_receivers (
    database_id     uuid           primary key references databases (id) on delete cascade,
    instance_id     uuid           not null,
    node            varchar(255)   not null,
    connected       boolean        not null,
    received_lsn    bigint,
    stored_lsn      bigint,
    stored_at       timestamptz,
    unstored_since  timestamptz,
    problem         text,
    reported_at     timestamptz    not null default now()
);
