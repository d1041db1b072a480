-- Failures of background work carry a stable code (a problem type's slug) and whether a retry
-- can help, beside the sentence for people.
alter table databases add column state_code varchar(64);
alter table databases add column state_retryable boolean;
alter table operations add column error_code varchar(64);
alter table operations add column error_retryable boolean;
