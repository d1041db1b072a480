-- Logical backups (pg_dump -Fc files in the object store, <database id>/dumps/<id>.dump) and
-- restores of them into a database, as Heroku's transfers: numbered per installation, shown as
-- b001 (a manual backup), a001 (a scheduled one) and r001 (a restore). database_id is the
-- database dumped (a backup) or restored into (a restore).
create table transfers (
    id                uuid           primary key,
    num               bigserial      not null,
    team_id           uuid           not null references teams (id),
    kind              varchar(16)    not null,
    database_id       uuid           not null references databases (id),
    operation_id      uuid           not null,
    state             varchar(16)    not null,
    schedule_name     varchar(100),
    source_backup_id  uuid,
    source_url        varchar(2000),
    source_name       varchar(200),
    source_bytes      bigint,
    processed_bytes   bigint         not null default 0,
    sha256            varchar(64),
    warnings          integer        not null default 0,
    error             varchar(2000),
    created_at        timestamptz    not null default now(),
    finished_at       timestamptz
);

create unique index transfers_num on transfers (num);
create index transfers_database on transfers (database_id);

-- At most one backup of a database, and one restore into it, run at a time.
/* [jooq ignore start] */
create unique index transfers_one_running on transfers (database_id, kind) where state = 'running';
/* [jooq ignore stop] */

-- What a transfer did, as lines the Heroku CLI prints (pg:backups:info, --verbose).
create table transfer_logs (
    id           bigserial      primary key,
    transfer_id  uuid           not null references transfers (id) on delete cascade,
    message      varchar(2000)  not null,
    created_at   timestamptz    not null default now()
);

create index transfer_logs_transfer on transfer_logs (transfer_id);

-- A database's daily logical backup: at hour (0-23) in timezone (an IANA zone such as
-- America/New_York), named after the config var it was scheduled through (DATABASE_URL).
create table transfer_schedules (
    id           uuid           primary key,
    database_id  uuid           not null references databases (id),
    name         varchar(100)   not null,
    hour         integer        not null check (hour between 0 and 23),
    timezone     varchar(64)    not null,
    created_at   timestamptz    not null default now()
);

create unique index transfer_schedules_database on transfer_schedules (database_id);
