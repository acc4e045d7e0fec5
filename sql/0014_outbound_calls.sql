-- Calls placed by callpop (click-to-dial) end answered, no_answer, busy,
-- failed (with the reason in `failure`) or cancelled; a call dialled by
-- hand on the phone still ends 'outbound'. A blacklisted caller's call is
-- marked (`blocked`: the list's reason) and, where the device hung it up,
-- ends 'rejected'. The CHECK is widened by rebuilding the table with its
-- rows, ids and indexes (as in 0003).
CREATE TABLE calls_new (
    id              INTEGER PRIMARY KEY,
    call_uid        TEXT NOT NULL UNIQUE,
    line            TEXT NOT NULL,
    device          TEXT NOT NULL,
    direction       TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    outcome         TEXT CHECK (outcome IN ('answered', 'missed', 'abandoned', 'outbound',
                        'unknown', 'no_answer', 'busy', 'failed', 'cancelled', 'rejected')),
    presentation    TEXT NOT NULL DEFAULT 'available'
                    CHECK (presentation IN ('available', 'private', 'unavailable')),
    raw_number      TEXT,
    number_e164     TEXT,
    number_national TEXT,
    caller_name     TEXT,
    customer_id     INTEGER REFERENCES customers(id) ON DELETE SET NULL,
    match_rule      TEXT CHECK (match_rule IN ('exact', 'national', 'suffix', 'none')),
    agent_user_id   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    ring_count      INTEGER NOT NULL DEFAULT 0,
    started_at      INTEGER NOT NULL,
    first_ring_at   INTEGER,
    cid_at          INTEGER,
    answered_at     INTEGER,
    ended_at        INTEGER,
    dtmf            TEXT NOT NULL DEFAULT '',
    offered_to      INTEGER REFERENCES users(id) ON DELETE SET NULL,
    team            TEXT,
    wrapup_ended_at INTEGER,
    handled_at      INTEGER,
    handled_by      INTEGER REFERENCES users(id),
    -- Why a dialled call failed, as the device said it (`+CME ERROR: 30`,
    -- `NO DIALTONE`, "the device went away").
    failure         TEXT,
    -- The blacklist's reason, for a call from a blacklisted number.
    blocked         TEXT
);
INSERT INTO calls_new (id, call_uid, line, device, direction, outcome, presentation,
    raw_number, number_e164, number_national, caller_name, customer_id, match_rule,
    agent_user_id, ring_count, started_at, first_ring_at, cid_at, answered_at, ended_at, dtmf,
    offered_to, team, wrapup_ended_at, handled_at, handled_by)
SELECT id, call_uid, line, device, direction, outcome, presentation,
    raw_number, number_e164, number_national, caller_name, customer_id, match_rule,
    agent_user_id, ring_count, started_at, first_ring_at, cid_at, answered_at, ended_at, dtmf,
    offered_to, team, wrapup_ended_at, handled_at, handled_by
FROM calls;
DROP TABLE calls;
ALTER TABLE calls_new RENAME TO calls;
CREATE INDEX calls_customer ON calls(customer_id, started_at);
CREATE INDEX calls_number ON calls(number_national);
CREATE INDEX calls_agent ON calls(agent_user_id, started_at);
CREATE INDEX calls_started ON calls(started_at, direction, outcome, line, agent_user_id,
    offered_to, team, answered_at, ended_at, wrapup_ended_at);
CREATE INDEX calls_line ON calls(line, started_at);
CREATE INDEX calls_team ON calls(team, started_at) WHERE team IS NOT NULL;
CREATE INDEX calls_offered ON calls(offered_to, started_at) WHERE offered_to IS NOT NULL;

-- The inbound blacklist: a whole number or a prefix (as dialled nationally,
-- with the trunk 0 for landlines: "13800138000", "0755", "170"), why, and
-- whether a device that can hang up refuses the call (else it pops marked).
CREATE TABLE call_blacklist (
    id          INTEGER PRIMARY KEY,
    number      TEXT NOT NULL UNIQUE,
    is_prefix   INTEGER NOT NULL DEFAULT 0,
    reason      TEXT NOT NULL,
    reject      INTEGER NOT NULL DEFAULT 1,
    created_by  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL
);
