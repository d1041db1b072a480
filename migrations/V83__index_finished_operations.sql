-- The prune of finished operations (KEEL_OPERATIONS_KEEP) finds the old ones by when they finished,
-- not by scanning the table at each batch.
create index operations_finished on operations (finished_at) where state <> 'running';
