-- When an operator forgot a lost node (POST /v1/nodes/{name}/forget): its databases' primaries
-- were made anew elsewhere from their archives. The node reads as forgotten until it heartbeats
-- again. Nullable and unread by older versions, so a node of the previous version keeps working.
alter table nodes add column forgotten_at timestamptz;
