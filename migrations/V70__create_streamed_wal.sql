-- What each database's WAL receiver has put in the object store of the segment it is filling:
-- the partial segment (stored again at least once a second while it grows) and where it ends.
-- One row per database; the completed segment goes to archived_wal like an archived one, and the
-- row moves on to the next segment. stored_at is when the partial was last stored: the end of the
-- rollback window. system_identifier is the server's (IDENTIFY_SYSTEM), against which segments
-- are checked.
create table streamed_wal (
    database_id        uuid           primary key references databases (id),
    instance_id        uuid           not null,
    system_identifier  bigint         not null,
    name               varchar(64)    not null,
    timeline           integer        not null,
    segment_number     bigint         not null,
    end_lsn            bigint         not null,
    size_bytes         bigint         not null,
    stored_bytes       bigint         not null,
    sha256             varchar(64)    not null,
    stored_at          timestamptz    not null
);

-- The system identifier of the server that wrote each timeline of a database's archive, from its
-- first segment (or its receiver's IDENTIFY_SYSTEM): a segment of another cluster is refused.
create table wal_systems (
    database_id        uuid           not null references databases (id),
    timeline           integer        not null,
    system_identifier  bigint         not null,
    primary key (database_id, timeline)
);
