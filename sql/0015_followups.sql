-- The missed-call queue (最近未处理来电) and scheduled call-backs (回访):
-- one item per number that needs calling back, whatever number of missed
-- calls it stands for. open → claimed (one agent; a conditional UPDATE
-- decides between two) → called (the last call-back's outcome) → closed
-- (with a reason: called back and answered, the caller called again and
-- was answered, or an agent's reason).
CREATE TABLE followups (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('missed', 'scheduled')),
    -- What identifies the caller (national number), and what to dial.
    number_national  TEXT NOT NULL,
    number           TEXT NOT NULL,
    customer_id      INTEGER REFERENCES customers(id) ON DELETE SET NULL,
    -- The line it came in on: who sees the item is who sees the line.
    line             TEXT,
    -- Missed calls it stands for, the first and the latest.
    calls            INTEGER NOT NULL DEFAULT 1,
    first_call_uid   TEXT,
    last_call_uid    TEXT,
    created_at       INTEGER NOT NULL,
    last_at          INTEGER NOT NULL,
    due_at           INTEGER NOT NULL,
    state            TEXT NOT NULL DEFAULT 'open'
                     CHECK (state IN ('open', 'claimed', 'called', 'closed')),
    -- A scheduled call-back is for one agent from the start.
    assigned_to      INTEGER REFERENCES users(id) ON DELETE SET NULL,
    workorder_id     INTEGER REFERENCES work_orders(id) ON DELETE CASCADE,
    claimed_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    claimed_at       INTEGER,
    attempts         INTEGER NOT NULL DEFAULT 0,
    callback_call_uid TEXT,
    callback_outcome TEXT,
    called_at        INTEGER,
    closed_at        INTEGER,
    closed_by        INTEGER REFERENCES users(id) ON DELETE SET NULL,
    close_reason     TEXT
);
-- At most one live missed-call item per number: more missed calls count on it.
CREATE UNIQUE INDEX followups_live_number ON followups(number_national)
    WHERE state != 'closed' AND kind = 'missed';
CREATE INDEX followups_state_due ON followups(state, due_at);
CREATE INDEX followups_callback ON followups(callback_call_uid) WHERE callback_call_uid IS NOT NULL;
CREATE UNIQUE INDEX followups_workorder ON followups(workorder_id) WHERE workorder_id IS NOT NULL;
