-- A stable code for the step an operation is at, beside the sentence shown to people. An
-- interrupted operation resumes on its code, so rewording a sentence in a newer version never
-- breaks an operation an older version left running. Null for operations that name no steps.
alter table operations add column step_code varchar(64);
