-- What streamed_wal.caught_up_at vouches for: the end_lsn of the row it was written with. A node
-- of an earlier version upserts the row without knowing either column (during a rolling upgrade),
-- and so leaves a newer node's caught_up_at beside a segment, an end and perhaps an instance that
-- are not the ones it was claimed for; a receiver that starts anew takes caught_up_at only while
-- this equals end_lsn. Null with caught_up_at null, and on rows written before this version (whose
-- caught_up_at is then not taken: earlier than true is safe, later is not).
alter table streamed_wal
    add column caught_up_end_lsn   bigint;
