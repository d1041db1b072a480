-- The UTC hour of a database's daily base backup, when its owner chose one (archive owns it;
-- the column on databases was the wrong home). Without a row, the hour follows from the id.
alter table databases drop column backup_hour;

create table backup_schedules (
    database_id  uuid         primary key references databases (id),
    hour         integer      not null check (hour between 0 and 23),
    updated_at   timestamptz  not null default now()
);
