-- One row per Keel installation, read by every Keel node sharing this catalog: a value sealed
-- with KEEL_SECRET_KEY, which proves at start that the key is the one the catalog's secrets
-- were sealed with.
create table installation (
    id            integer      primary key check (id = 1),
    secret_check  bytea        not null,
    created_at    timestamptz  not null default now()
);
