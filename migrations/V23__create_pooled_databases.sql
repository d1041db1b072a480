-- A warm instance's database, made ahead of demand with its owner role, so that a provision that
-- claims the instance only records them: the database's name, and the owner's login (password sealed).
create table pooled_databases (
    instance_id  uuid          primary key references instances (id) on delete cascade,
    pg_database  varchar(63)   not null,
    owner        varchar(63)   not null,
    password     bytea         not null
);
