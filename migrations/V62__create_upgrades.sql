-- Major-version upgrades through logical replication (pg:upgrade:prepare, run, dryrun): one row
-- per request, its outcome, and how long the database took no writes while it switched.
-- copy_id is a dry run's throw-away copy of the database.
create table upgrades (
    id              uuid           primary key,
    database_id     uuid           not null references databases (id) on delete cascade,
    operation_id    uuid,
    from_major      integer        not null,
    to_major        integer        not null,
    state           varchar(16)    not null,
    dry_run         boolean        not null default false,
    copy_id         uuid,
    write_pause_ms  bigint,
    message         varchar(2000),
    created_at      timestamptz    not null default now(),
    finished_at     timestamptz
);

create index upgrades_database on upgrades (database_id);

-- At most one upgrade of a database is prepared or running at a time.
/* [jooq ignore start] */
create unique index upgrades_one_open on upgrades (database_id) where state in ('prepared', 'running');
/* [jooq ignore stop] */
