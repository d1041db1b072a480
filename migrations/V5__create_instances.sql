-- An instance is one Postgres server process of a database. The row is written before anything
-- exists on disk, so that a crash at any point leaves a record of what to clean up; the unique
-- (host, port) pair is the port reservation.
create table instances (
    id                  uuid          primary key,
    database_id         uuid          not null references databases (id),
    role                varchar(16)   not null,
    state               varchar(16)   not null,
    major_version       integer       not null,
    host                varchar(255)  not null,
    port                integer       not null,
    superuser_password  bytea         not null,
    created_at          timestamptz   not null default now(),
    updated_at          timestamptz   not null default now(),
    unique (host, port)
);

create index instances_database on instances (database_id);
