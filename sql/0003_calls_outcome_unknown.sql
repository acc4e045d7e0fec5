-- Calls on a device that cannot see an answer (a voice modem beside the
-- phone) end with outcome 'unknown'. SQLite cannot change a CHECK in place:
-- the table is rebuilt with its rows, ids and indexes; references to it stay
-- valid (the migration runner keeps foreign keys off and checks them).
CREATE TABLE calls_new (
    id              INTEGER PRIMARY KEY,
    call_uid        TEXT NOT NULL UNIQUE,
    line            TEXT NOT NULL,
    device          TEXT NOT NULL,
    direction       TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    outcome         TEXT CHECK (outcome IN ('answered', 'missed', 'abandoned', 'outbound', 'unknown')),
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
    dtmf            TEXT NOT NULL DEFAULT ''
);
INSERT INTO calls_new (id, call_uid, line, device, direction, outcome, presentation,
    raw_number, number_e164, number_national, caller_name, customer_id, match_rule,
    agent_user_id, ring_count, started_at, first_ring_at, cid_at, answered_at, ended_at, dtmf)
SELECT id, call_uid, line, device, direction, outcome, presentation,
    raw_number, number_e164, number_national, caller_name, customer_id, match_rule,
    agent_user_id, ring_count, started_at, first_ring_at, cid_at, answered_at, ended_at, dtmf
FROM calls;
DROP TABLE calls;
ALTER TABLE calls_new RENAME TO calls;
CREATE INDEX calls_started ON calls(started_at);
CREATE INDEX calls_customer ON calls(customer_id, started_at);
CREATE INDEX calls_number ON calls(number_national);
