-- The HA monitor's decisions other than "healthy" (a restart in place, a failover, a refusal, a
-- standby replaced or moved...), newest kept per database, so that every node's
-- GET /v1/databases/{id}/ha tells the same history whichever node took them: the node watching a
-- database changes with its primary's node, and a failover moves it.
create table ha_decisions (
    id             bigserial      primary key,
    database_id    uuid           not null references databases (id) on delete cascade,
    kind           varchar(64)    not null,
    sentence       text           not null,
    decided_at     timestamptz    not null default now(),
    operation_id   uuid,
    node           varchar(255)   not null
);
create index ha_decisions_by_database on ha_decisions (database_id, id desc);
