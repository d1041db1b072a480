-- A follower is a database whose primary streams from another database's primary, its leader.
-- leader_id is set while it follows (from the request on) and cleared when it is unfollowed.
alter table databases add column leader_id uuid references databases (id);

create index databases_leader on databases (leader_id) where leader_id is not null;

-- A physical replication slot and the replication role of the same name, held on an upstream
-- server for one downstream server (a follower's primary on its leader's primary); the role's
-- password is sealed like every secret. Dropped on the upstream before the row goes.
create table replication_slots (
    name         varchar(63)   primary key,
    database_id  uuid          not null references databases (id) on delete cascade,
    password     bytea         not null,
    created_at   timestamptz   not null default now()
);
