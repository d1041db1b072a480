-- A team's runs not finished, counted across the nodes at each new run (ClipRuns), are found by
-- their clip, not by scanning the day's finished results.
create index dataclip_results_running on dataclip_results (dataclip_id) where state = 'running';
