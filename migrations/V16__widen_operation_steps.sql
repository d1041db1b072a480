-- An operation's step also carries the sentence of the HA monitor's decision that started it
-- ("failing over because the primary missed 3 checks and the standby is 0 bytes behind (...)").
alter table operations alter column step type varchar(1000);
