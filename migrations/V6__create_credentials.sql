-- A credential is a Postgres role with a password; "default" owns the database.
-- The password is sealed with KEEL_SECRET_KEY (AES-GCM), never stored in plaintext.
create table credentials (
    id           uuid          primary key,
    database_id  uuid          not null references databases (id),
    name         varchar(63)   not null,
    username     varchar(63)   not null,
    password     bytea         not null,
    state        varchar(16)   not null,
    created_at   timestamptz   not null default now(),
    updated_at   timestamptz   not null default now(),
    unique (database_id, name)
);
