-- Reports count blacklisted callers and the call-back queue:
-- * the report's covering index of calls also carries `blocked`, so
--   counting blacklisted callers reads no table rows;
-- * a call-back item remembers its first attempt (`called_at` is the
--   latest), from which the time to call back is measured; items are read
--   by the day they were created.
DROP INDEX calls_started;
CREATE INDEX calls_started ON calls(started_at, direction, outcome, line, agent_user_id,
    offered_to, team, answered_at, ended_at, wrapup_ended_at, blocked);
ALTER TABLE followups ADD COLUMN first_called_at INTEGER;
UPDATE followups SET first_called_at = called_at WHERE called_at IS NOT NULL;
CREATE INDEX followups_created ON followups(kind, created_at);
