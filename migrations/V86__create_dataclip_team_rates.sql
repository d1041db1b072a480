-- Each team's dataclip run rate across the nodes (KEEL_DATACLIPS_TEAM_RUNS_PER_MINUTE): a token
-- bucket of that many runs, refilled evenly over a minute, kept as one time (the generic cell rate
-- algorithm's theoretical arrival time): a run is refused while the catalog's clock is more than
-- a minute, less one run's share, before next_at; each run moves next_at on by that share. Read
-- and written under the team's run lock. A node of an older version neither reads nor writes it.
create table dataclip_team_rates (
    team_id  uuid         primary key references teams (id) on delete cascade,
    next_at  timestamptz  not null
);
