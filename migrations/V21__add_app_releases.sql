-- Each change of an app's config vars (an attachment made or removed) is a release, as on
-- Heroku; the Heroku CLI reads the newest release's version after attaching.
alter table apps add column release_version integer not null default 1;

-- Heroku numbers backups (b001, b002...); the Heroku CLI asks for a backup by its number.
alter table backups add column num bigserial;
