-- An attachment may ask for the failover form of its URL ("url": "failover"): every server that
-- can be the database's primary, with target_session_attrs=read-write, so the app follows a
-- failover without a new config. Additive: an older node reads attachments as before (primary form).
alter table attachments add column failover boolean not null default false;
