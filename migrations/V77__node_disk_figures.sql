-- What each node's heartbeat last read of the file system under its server directory, in MB: the
-- space Keel may still use there (usable) and the space taken (by anything). Placement passes over
-- a node whose free space is under KEEL_DISK_MIN_FREE or that holds its disk budget already. Null
-- until a node of this version beats (an older node during a rolling upgrade): then unknown, and
-- that node's own check refuses what does not fit when it makes the server.
alter table nodes add column disk_free_mb bigint;
alter table nodes add column disk_used_mb bigint;
