-- The node that runs each operation (node) and the node that recorded it (recorded_by). An
-- operation runs on the node that hosts its database's servers, which may not be the node whose
-- API was asked: that node picks up what others recorded for it. A node's reconciler settles
-- only its own operations at start, so a node that starts never takes over, or marks failed,
-- what another live node is running. Both are null for rows made before this migration (one
-- node then, or an older node during a rolling upgrade): the next node to start claims those.
alter table operations add column node varchar(255);
alter table operations add column recorded_by varchar(255);

-- When the runner first began an operation's work: one that a node had not begun when it stopped
-- (queued there, or recorded for it by another node meanwhile) has nothing half made, and is run
-- as it is at the next start instead of being recovered as interrupted.
alter table operations add column started_at timestamptz;

create index operations_running_node on operations (node) where state = 'running';

-- The host name clients reach a node's servers by (its KEEL_PUBLIC_HOST), which connection URLs
-- name whichever node answers: written by the node at its start. Null for a node that has not
-- started since this migration.
alter table nodes add column public_host varchar(255);
