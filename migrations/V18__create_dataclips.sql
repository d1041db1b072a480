-- A dataclip: a saved read-only query of a team's database, shared by an unguessable slug
-- (null while not shared). timeout_seconds and parameters (JSON object of default values of
-- its {{name}} parameters) belong to the clip, its SQL to its versions.
create table dataclips (
    id                  uuid           primary key,
    team_id             uuid           not null references teams (id),
    database_id         uuid           not null references databases (id) on delete cascade,
    title               varchar(200)   not null,
    parameters          text           not null default '{}',
    timeout_seconds     integer        not null,
    slug                varchar(64)    unique,
    shared_at           timestamptz,
    last_accessed_at    timestamptz,
    access_count        bigint         not null default 0,
    created_at          timestamptz    not null default now(),
    updated_at          timestamptz    not null default now()
);

create index dataclips_team on dataclips (team_id);

-- Every SQL text a clip has had; the highest number is the current one.
create table dataclip_versions (
    id            uuid          primary key,
    dataclip_id   uuid          not null references dataclips (id) on delete cascade,
    number        integer       not null,
    sql           text          not null,
    created_at    timestamptz   not null default now(),
    unique (dataclip_id, number)
);

-- One run of a version with one set of parameter values (canonical JSON). state: running,
-- succeeded, failed. ran_on: primary or follower, and which database served it.
create table dataclip_results (
    id                uuid           primary key,
    dataclip_id       uuid           not null references dataclips (id) on delete cascade,
    version_id        uuid           not null references dataclip_versions (id) on delete cascade,
    parameters        text           not null,
    state             varchar(16)    not null,
    started_at        timestamptz    not null default now(),
    finished_at       timestamptz,
    ran_on            varchar(16),
    ran_on_database   uuid,
    fields            text,
    types             text,
    row_count         bigint,
    truncated         boolean        not null default false,
    error_message     text,
    error_position    integer,
    error_sqlstate    varchar(5)
);

create index dataclip_results_newest on dataclip_results (dataclip_id, started_at);

-- A result's rows in order, a few thousand per chunk, compressed; never all in memory at once.
create table dataclip_result_chunks (
    result_id   uuid      not null references dataclip_results (id) on delete cascade,
    seq         integer   not null,
    row_count   integer   not null,
    data        bytea     not null,
    primary key (result_id, seq)
);

-- The read-only role dataclips of a database run as, created on the database's (or its
-- leader's) primary; its password is sealed like every secret.
create table dataclip_roles (
    database_id   uuid          primary key references databases (id) on delete cascade,
    username      varchar(63)   not null,
    password      bytea         not null,
    created_at    timestamptz   not null default now()
);
