-- Connection pooling: one PgBouncer per database that has a pooled attachment, on its own port of
-- the host it runs on. auth_password is the sealed password of the role PgBouncer runs its
-- auth_query as on the database's server; admin_password that of its admin console user.
create table poolers (
    database_id     uuid           primary key references databases (id),
    host            varchar(255)   not null,
    port            integer        not null,
    auth_password   bytea          not null,
    admin_password  bytea          not null,
    created_at      timestamptz    not null default now()
);

create unique index poolers_port on poolers (host, port);

-- An attachment through the database's pooler: its config var names the pooler's port
-- (DATABASE_CONNECTION_POOL_URL), with the same credential.
alter table attachments add column pooled boolean not null default false;
