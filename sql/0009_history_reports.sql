-- Call history (话单) search and statistics (坐席统计).
--
-- Who a call was offered to, as the pop hub routed it: the agent of an
-- agent-bound line, or the team of a team-bound one (an agent-bound line
-- counts for the agent's team). Reports credit unanswered calls by these.
ALTER TABLE calls ADD COLUMN offered_to INTEGER REFERENCES users(id) ON DELETE SET NULL;
ALTER TABLE calls ADD COLUMN team TEXT;
-- When the agent who took the call left after-call work (话后处理): average
-- handle time is talk (answered_at..ended_at) plus this wrap-up.
ALTER TABLE calls ADD COLUMN wrapup_ended_at INTEGER;

-- Reports read every call of a period from this index alone (it covers
-- every column they need), and history pages walk it newest first.
DROP INDEX calls_started;
CREATE INDEX calls_started ON calls(started_at, direction, outcome, line, agent_user_id,
    offered_to, team, answered_at, ended_at, wrapup_ended_at);
CREATE INDEX calls_line ON calls(line, started_at);
CREATE INDEX calls_team ON calls(team, started_at) WHERE team IS NOT NULL;
CREATE INDEX calls_offered ON calls(offered_to, started_at) WHERE offered_to IS NOT NULL;

CREATE INDEX work_orders_agent ON work_orders(agent_user_id, created_at);
-- Reports read a period's state changes in time order from this index
-- alone.
CREATE INDEX agent_states_at ON agent_states(at, user_id, state);

-- Permissions beyond a role's own: exporting the call history is one, so
-- that seeing calls and taking them out of the building are separate.
CREATE TABLE user_permissions (
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    permission  TEXT NOT NULL CHECK (permission IN ('calls.export')),
    granted_by  TEXT NOT NULL,
    granted_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, permission)
) WITHOUT ROWID;
