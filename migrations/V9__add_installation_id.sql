-- The installation's identity, also written into every data directory it uses: a data directory
-- holding instances is only ever paired with the catalog that knows them (see InstallationIdentity).
alter table installation add column installation_id uuid;
