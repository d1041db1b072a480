-- The newest catalog migration a node's build carries, written at each start: which of two nodes
-- runs the newer Keel, for a node taking over work a silent one never began (it takes only work
-- recorded by a node no newer than itself, whose kinds and steps it knows). Nullable: nodes of
-- versions before it leave it null, and count as older.
alter table nodes add column migration integer;
