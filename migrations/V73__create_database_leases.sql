-- One actor per database: whoever changes a database's instances (an operation, the HA monitor's
-- restart, failover or promotion) holds its row here, renewed while it acts. A holder names the
-- node and the actor ("node-a/operation <id>"); a lease past expires_at may be taken by another,
-- which is how a node that died gives its databases back. No foreign key: the row of a deleted
-- database's last operation goes with it when that operation ends.
create table database_leases (
    database_id  uuid          primary key,
    holder       varchar(400)  not null,
    acquired_at  timestamptz   not null default now(),
    expires_at   timestamptz   not null
);
