-- A pooled instance is made ahead of demand (initdb, configuration, TLS, started) and belongs to
-- no database until a provision claims it; see WarmPool.
alter table instances alter column database_id drop not null;
