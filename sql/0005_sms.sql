-- The persistent SMS queue. A message is split into parts when queued;
-- every part is a row whose state moves
--   queued -> sending -> sent (with its TP-MR) -> delivered | failed
-- and 'sending' is written before the modem is asked. A part whose outcome
-- cannot be known (the port or the process died after the PDU went out)
-- becomes 'unknown' and is never re-sent automatically.
CREATE TABLE sms_messages (
    id            INTEGER PRIMARY KEY,
    to_number     TEXT NOT NULL,
    text          TEXT NOT NULL,
    encoding      TEXT NOT NULL CHECK (encoding IN ('gsm7', 'ucs2')),
    parts         INTEGER NOT NULL CHECK (parts >= 1),
    -- All parts of a message leave through one SIM, or the handset could not
    -- join them: the modem that took the first part keeps the rest.
    modem         TEXT,
    created_by    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE sms_parts (
    id            INTEGER PRIMARY KEY,
    message_id    INTEGER NOT NULL REFERENCES sms_messages(id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL CHECK (seq >= 1),
    pdu           TEXT NOT NULL,
    tpdu_len      INTEGER NOT NULL,
    state         TEXT NOT NULL DEFAULT 'queued'
                  CHECK (state IN ('queued', 'sending', 'sent', 'delivered', 'failed', 'unknown')),
    modem         TEXT,
    reference     INTEGER CHECK (reference BETWEEN 0 AND 255),
    attempts      INTEGER NOT NULL DEFAULT 0,
    -- Not before this time (ms): a transient failure's backoff.
    not_before    INTEGER NOT NULL DEFAULT 0,
    error         TEXT,
    -- TP-ST of the delivery report that settled it.
    report_status INTEGER,
    queued_at     INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (message_id, seq)
);
CREATE INDEX sms_parts_queued ON sms_parts(not_before, id) WHERE state = 'queued';
CREATE INDEX sms_parts_awaiting_report ON sms_parts(modem, reference) WHERE state = 'sent';
CREATE INDEX sms_parts_state ON sms_parts(state);

-- Received messages, whole (or released incomplete after the reassembly
-- timeout, with the missing part numbers).
CREATE TABLE sms_inbox (
    id            INTEGER PRIMARY KEY,
    modem         TEXT NOT NULL,
    sender        TEXT NOT NULL,
    text          TEXT NOT NULL,
    parts         INTEGER NOT NULL,
    missing       TEXT,
    -- The service centre's time stamp, ISO 8601 with offset.
    sent_at       TEXT NOT NULL,
    received_at   INTEGER NOT NULL
);
CREATE INDEX sms_inbox_received ON sms_inbox(received_at);
CREATE INDEX sms_inbox_sender ON sms_inbox(sender);

-- Each received PDU, written before it is deleted from the SIM, so a part
-- waiting for its siblings survives a restart.
CREATE TABLE sms_inbox_parts (
    id            INTEGER PRIMARY KEY,
    modem         TEXT NOT NULL,
    pdu           TEXT NOT NULL,
    received_at   INTEGER NOT NULL,
    message_id    INTEGER REFERENCES sms_inbox(id) ON DELETE CASCADE
);
CREATE INDEX sms_inbox_parts_waiting ON sms_inbox_parts(modem) WHERE message_id IS NULL;
