-- Long work (provision, deprovision, and later backup, restore, failover) with its progress.
-- database_id has no foreign key: an operation's record outlives the database it deleted.
create table operations (
    id              uuid           primary key,
    team_id         uuid           not null references teams (id),
    database_id     uuid,
    kind            varchar(32)    not null,
    state           varchar(16)    not null,
    step            varchar(100),
    progress_done   bigint         not null default 0,
    progress_total  bigint         not null default 0,
    progress_unit   varchar(16)    not null default 'steps',
    attempt         integer        not null default 1,
    error           varchar(2000),
    created_at      timestamptz    not null default now(),
    updated_at      timestamptz    not null default now(),
    finished_at     timestamptz
);

create index operations_database on operations (database_id);
create index operations_unfinished on operations (state);
