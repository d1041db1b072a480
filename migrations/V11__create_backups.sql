-- Base backups: base.tar.zst and manifest.json under <database id>/backups/<id>/ in the store.
-- A backup is completed only once every WAL segment up to its stop LSN is archived.
-- LSNs are stored as their 64-bit value.
create table backups (
    id            uuid           primary key,
    database_id   uuid           not null references databases (id),
    operation_id  uuid           not null,
    kind          varchar(16)    not null,
    state         varchar(16)    not null,
    started_at    timestamptz    not null default now(),
    finished_at   timestamptz,
    start_lsn     bigint,
    stop_lsn      bigint,
    timeline      integer,
    size_bytes    bigint,
    stored_bytes  bigint,
    error         varchar(2000)
);

create index backups_database on backups (database_id);

-- At most one backup of a database runs at a time.
/* [jooq ignore start] */
create unique index backups_one_running on backups (database_id) where state = 'running';
/* [jooq ignore stop] */

-- The UTC hour of each database's daily base backup.
alter table databases add column backup_hour integer not null default 2;
