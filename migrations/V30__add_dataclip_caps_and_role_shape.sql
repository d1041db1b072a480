-- Why a result holds less than its query returned (row_limit, result_bytes, time_limit,
-- cell_bytes), and the sentence that says so; before these caps the row limit was the only one.
alter table dataclip_results add column truncated_reason varchar(16);
alter table dataclip_results add column truncated_detail text;
update dataclip_results set truncated_reason = 'row_limit',
       truncated_detail = 'The result was cut at the row limit (KEEL_DATACLIPS_ROW_LIMIT).'
 where truncated;

-- What Keel last made of a dataclip role on its server (privileges, settings); a role whose
-- shape differs from what this Keel makes (null: made before shapes were recorded, as a member of
-- pg_read_all_data) is reshaped on the server before its next run.
alter table dataclip_roles add column shape text;
