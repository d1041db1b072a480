-- Which catalog migrations a build knows, for take-overs during a rolling upgrade: a node takes
-- over a silent node's stranded work only when it knows every migration the work's writer knew
-- (so it reads every column the writer may have set), and the taker is chosen among such nodes.
-- operations.writer_migration: the newest migration the recording build carries; nodes.migration:
-- the newest this node's build carries, written at each start. Nullable: builds before this one
-- write neither, and count as knowing V86.
alter table operations add column writer_migration integer;
alter table nodes add column migration integer;
