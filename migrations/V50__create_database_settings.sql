-- Server settings a database's owner chose (heroku pg:settings): log_statement, auto_explain...,
-- as Postgres writes them ('on', '2000', 'ddl'). Applied with the plan's settings whenever Keel
-- writes the configuration of one of the database's servers, so they survive failover, plan
-- changes and restarts; a fork, rollback or follower starts with its source's.
create table database_settings (
    database_id  uuid          not null references databases (id) on delete cascade,
    name         varchar(63)   not null,
    value        varchar(200)  not null,
    updated_at   timestamptz   not null default now(),
    primary key (database_id, name)
);
