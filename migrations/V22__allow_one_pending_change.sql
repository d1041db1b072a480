-- A database has at most one plan change and one unfollow queued or running: a second request is
-- refused (409 naming the first) rather than queued behind it, where a team could stack hundreds.
update operations set state = 'failed', error = 'superseded by a later request of the same kind', finished_at = now()
 where id in (select id from (select id, row_number() over (partition by database_id, kind order by created_at desc) as n
                                from operations where state = 'running' and kind in ('plan_change', 'unfollow')) ranked
               where n > 1);

create unique index operations_one_pending_change on operations (database_id, kind)
    where state = 'running' and kind in ('plan_change', 'unfollow');
