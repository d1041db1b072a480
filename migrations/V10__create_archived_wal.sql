-- Every file of a database's WAL archive in the object store: segments, timeline history,
-- .partial and backup history files. /archive, retention, continuity checks and restores read
-- these rows instead of listing the bucket. sha256 is of the uncompressed file.
create table archived_wal (
    database_id     uuid           not null references databases (id),
    name            varchar(64)    not null,
    kind            varchar(16)    not null,
    timeline        integer        not null,
    segment_number  bigint,
    size_bytes      bigint         not null,
    stored_bytes    bigint         not null,
    sha256          varchar(64)    not null,
    completed_at    timestamptz    not null,
    archived_at     timestamptz    not null default now(),
    primary key (database_id, name)
);

-- How archiving of a database is going: ok, failing (the store cannot be reached), or conflict
-- (the store already holds different bytes under a segment's name: two servers on one archive).
-- checked_at / missing are the last continuity check's findings.
create table archive_status (
    database_id  uuid           primary key references databases (id),
    state        varchar(16)    not null,
    message      varchar(2000),
    since        timestamptz    not null default now(),
    checked_at   timestamptz,
    missing      varchar(2000)
);
