-- A database is one managed Postgres (Heroku's add-on). State machine: see DatabaseState.
create table databases (
    id             uuid           primary key,
    team_id        uuid           not null references teams (id),
    name           varchar(63)    not null unique,
    plan           varchar(63)    not null,
    major_version  integer        not null,
    pg_database    varchar(63)    not null,
    state          varchar(16)    not null,
    state_reason   varchar(2000),
    created_at     timestamptz    not null default now(),
    updated_at     timestamptz    not null default now()
);

create index databases_team on databases (team_id);
