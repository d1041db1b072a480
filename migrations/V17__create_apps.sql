-- An app consumes databases through attachments: each attachment gives the app the config var
-- <name>_URL, the URL of one credential of one database. Apps belong to a team, like databases.
create table apps (
    id          uuid          primary key,
    team_id     uuid          not null references teams (id),
    name        varchar(63)   not null,
    created_at  timestamptz   not null default now(),
    unique (team_id, name)
);

create table attachments (
    id           uuid          primary key,
    app_id       uuid          not null references apps (id) on delete cascade,
    database_id  uuid          not null references databases (id) on delete cascade,
    name         varchar(63)   not null,
    credential   varchar(63)   not null,
    created_at   timestamptz   not null default now(),
    unique (app_id, name)
);

create index attachments_database on attachments (database_id);

-- A database's Heroku-style colour (HEROKU_POSTGRESQL_AMBER), chosen at its first attachment,
-- unique within its team so that one name always means one database.
create table database_colors (
    database_id  uuid          primary key references databases (id) on delete cascade,
    team_id      uuid          not null references teams (id),
    color        varchar(40)   not null,
    unique (team_id, color)
);

-- Add-on Partner API v3: Heroku's add-on uuid and the database Keel made for it. The row outlives
-- the database so that a repeated delivery of a provision or deprovision stays answered.
create table addon_resources (
    id            uuid           primary key,
    database_id   uuid           not null,
    plan          varchar(63)    not null,
    callback_url  varchar(2000),
    state         varchar(16)    not null,
    created_at    timestamptz    not null default now(),
    updated_at    timestamptz    not null default now()
);

create unique index addon_resources_database on addon_resources (database_id);
