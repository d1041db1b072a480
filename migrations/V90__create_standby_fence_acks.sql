-- The word of a primary's node that its self-fence and its fence guard cover a standby on another
-- node: given once the guard's watch lists the primary, withdrawn as the node's Keel starts (until
-- its monitor covers its primaries again). While it stands, the node, cut off from the catalog and
-- from that standby, kills the primary within T_fence, so the standby's node may fail the primary
-- over from elsewhere. Without it the primary may not be fenced and may still take writes: it is
-- not failed over from elsewhere (pg_auto_failover's rule: no promotion before the primary took the
-- standby in), until the node is back or an operator forgot it. One row per standby, naming the
-- primary it was given for.
create table standby_fence_acks (
    standby_id      uuid        primary key references instances (id) on delete cascade,
    primary_id      uuid        not null,
    node            text        not null,
    acknowledged_at timestamptz not null default now()
);
