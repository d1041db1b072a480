-- Rolling upgrades: nodes of two adjacent versions share one catalog while one node at a time is
-- replaced. Migrations from V71 on only add (tables, indexes, nullable or defaulted columns), so an
-- older node keeps working on a catalog a newer one migrated. A migration that cannot keep to
-- that raises oldest_compatible to its own version: a node that knows fewer migrations refuses to
-- start, and one running stops cleanly with a message (catalog.CatalogSchema).
create table catalog_compatibility (
    only_row           boolean  primary key default true check (only_row),
    oldest_compatible  integer  not null
);

insert into catalog_compatibility (oldest_compatible) values (71);
