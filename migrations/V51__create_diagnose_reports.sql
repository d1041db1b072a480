-- Reports of heroku pg:diagnose, kept a month so that `pg:diagnose <id>` shows an old one. The
-- report names the app and config var it was asked through; its checks are JSON as the CLI reads
-- them ([{"name","status","results"}]).
create table diagnose_reports (
    id           uuid          primary key,
    team_id      uuid          not null references teams (id) on delete cascade,
    database_id  uuid          references databases (id) on delete set null,
    app          varchar(63)   not null,
    config_var   varchar(70)   not null,
    checks       text          not null,
    created_at   timestamptz   not null default now()
);

create index diagnose_reports_created on diagnose_reports (created_at);
