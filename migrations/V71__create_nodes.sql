-- The node registry: one row per Keel node on this catalog, written when the node starts and
-- heartbeat every keel.node.heartbeat-interval (times are the catalog's clock, now(), so that
-- nodes whose clocks differ agree on who is lost). A node is shown lost once its heartbeat is
-- older than keel.node.lost-after, draining while drained is set. api_url is null until the
-- node's API listens. embedded_catalog: this catalog lives in that node's data directory, so no
-- other node may join it. The capacity is what the node may place into: its instance port range
-- and its memory and disk budgets.
create table nodes (
    name              varchar(255)   primary key,
    api_url           varchar(255),
    version           varchar(64)   not null,
    embedded_catalog  boolean       not null default false,
    started_at        timestamptz   not null default now(),
    heartbeat_at      timestamptz   not null default now(),
    drained           boolean       not null default false,
    drained_at        timestamptz,
    port_first        integer       not null,
    port_last         integer       not null,
    memory_budget_mb  bigint        not null,
    disk_budget_mb    bigint        not null
);

-- The node that hosts each instance. Null for rows made before this migration (and by a node of
-- an older version during a rolling upgrade): the node that starts claims them.
alter table instances add column node varchar(255) references nodes (name);

create index instances_node on instances (node);
