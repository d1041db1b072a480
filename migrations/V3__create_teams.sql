-- Tenancy: every API key and every database belongs to one team.
create table teams (
    id          uuid          primary key,
    name        varchar(63)   not null unique,
    created_at  timestamptz   not null default now()
);

-- Only the SHA-256 of a key is stored; the plaintext is shown once, at creation.
create table api_keys (
    id            uuid          primary key,
    team_id       uuid          not null references teams (id),
    name          varchar(100)  not null,
    key_hash      varchar(64)   not null unique,
    key_hint      varchar(8)    not null,
    admin         boolean       not null default false,
    created_at    timestamptz   not null default now(),
    last_used_at  timestamptz
);

create index api_keys_team on api_keys (team_id);
