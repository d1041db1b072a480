-- The length, in bytes, a result's cells were cut to when any were (null: none were): a number
-- cell whose text reaches it may be a cut number, of another magnitude, and the JSON download
-- writes it as a string, not as a JSON number. Null for results stored before this column.
alter table dataclip_results add column cell_limit integer;
