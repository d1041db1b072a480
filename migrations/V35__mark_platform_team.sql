-- The team that owns the databases made through the Add-on Partner API is marked as such: it is
-- found by this mark, never by its name alone, so a customer team of that name cannot become it.
alter table teams add column platform boolean not null default false;

/* [jooq ignore start] */
create unique index teams_one_platform on teams (platform) where platform;

-- Before the mark, the add-on team was the one owning the add-on resources' databases.
update teams set platform = true
 where id = (select d.team_id from addon_resources r join databases d on d.id = r.database_id order by r.created_at limit 1);
/* [jooq ignore stop] */
