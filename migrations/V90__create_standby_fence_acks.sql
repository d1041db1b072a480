-- The word of a primary's node that its self-fence (and its fence guard) covers a standby on
-- another node: from then on, cut off from the catalog and from that standby, it kills the primary
-- within T_fence, so the standby's node may fail the primary over from elsewhere. A node that fell
-- silent before it saw the standby gave no such word, and its primary may still take writes: it is
-- not failed over from elsewhere (pg_auto_failover's rule: no promotion before the primary took the
-- standby in). One row per standby, naming the primary it was given for.
create table standby_fence_acks (
    standby_id      uuid        primary key references instances (id) on delete cascade,
    primary_id      uuid        not null,
    node            text        not null,
    acknowledged_at timestamptz not null default now()
);
