-- Which part of Keel found the archive failing: 'wal-stream' (a WAL receiver could not store what it
-- streamed) or 'spool-upload' (the spool's uploads failed). Each clears only a failure of its own
-- cause once it stores again, and says its failure again at each failed try, so that one path's
-- recovery never leaves the other's failure hidden for long. Empty for a failure an older Keel
-- recorded, which either clears. A nullable column: a node of the previous version, which does not
-- know it, goes on working beside one that does (a rolling upgrade).
alter table archive_status add column cause varchar(32);
