-- Login sessions: only a hash of the token is stored, so a copy of the
-- database does not let anyone in.
CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    remote      TEXT
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions(user_id);

-- Which desktops a line pops on: one agent, or every ready agent of a team.
CREATE TABLE line_bindings (
    line        TEXT PRIMARY KEY,
    agent_id    INTEGER REFERENCES users(id) ON DELETE CASCADE,
    team        TEXT,
    updated_at  INTEGER NOT NULL,
    CHECK ((agent_id IS NULL) <> (team IS NULL))
) WITHOUT ROWID;

-- Every agent state change with its time: statistics are computed from it.
CREATE TABLE agent_states (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    state       TEXT NOT NULL CHECK (state IN ('ready', 'not_ready', 'on_call', 'after_call_work', 'offline')),
    reason      TEXT,
    at          INTEGER NOT NULL
);
CREATE INDEX agent_states_user ON agent_states(user_id, at);

-- A work order is often saved while its call is still on, before the call's
-- CDR exists: it names the call by its uid, which the pop carries.
ALTER TABLE work_orders ADD COLUMN call_uid TEXT;
CREATE INDEX work_orders_call ON work_orders(call_uid);
CREATE INDEX calls_agent ON calls(agent_user_id, started_at);
