-- The node a dataclip run runs on: a node that starts fails the runs it was running when it
-- stopped, not those other nodes run. Empty for runs an older Keel started.
alter table dataclip_results add column node varchar(255);
