-- Where a database made from another one came from: a fork (as of the moment it was asked for,
-- or of the source's newest base backup when fast) or a rollback (to a time). The source may be
-- deleted later; its name stays here for "Forked from". Restores start from backup_id; a fork
-- that is not fast replays the source's WAL through through_segment, the segment that held the
-- source's last write when the fork was asked for.
create table database_origins (
    database_id         uuid          primary key references databases (id) on delete cascade,
    kind                varchar(16)   not null,
    source_id           uuid          not null,
    source_name         varchar(63)   not null,
    backup_id           uuid          not null,
    backup_finished_at  timestamptz   not null,
    target_time         timestamptz,
    through_segment     varchar(24),
    fast                boolean       not null default false
);
