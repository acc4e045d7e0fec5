-- Delivery reports are matched to a part by modem, reference (TP-MR),
-- recipient and send time: the 8-bit reference repeats every 256 parts, so
-- modem and reference alone settle other recipients' parts in a long run.
-- When the modem accepted the part (ms), for the time window.
ALTER TABLE sms_parts ADD COLUMN sent_at INTEGER;
UPDATE sms_parts SET sent_at = updated_at WHERE state = 'sent';

-- A delivery report that matched no part (no part of that modem with its
-- reference, recipient and time) is kept here for a person, never applied
-- to another part.
CREATE TABLE sms_unmatched_reports (
    id            INTEGER PRIMARY KEY,
    modem         TEXT NOT NULL,
    reference     INTEGER NOT NULL CHECK (reference BETWEEN 0 AND 255),
    -- As the report gave it, and in the queue's form when it is a number.
    recipient     TEXT NOT NULL,
    recipient_key TEXT,
    -- TP-ST.
    status        INTEGER NOT NULL,
    -- The service centre's time stamps (TP-SCTS, TP-DT), ISO 8601 with offset.
    submitted_at  TEXT NOT NULL,
    discharged_at TEXT NOT NULL,
    -- Why it matched nothing, for the person who looks.
    reason        TEXT NOT NULL,
    received_at   INTEGER NOT NULL
);
CREATE INDEX sms_unmatched_reports_received ON sms_unmatched_reports(received_at);

-- A received PDU that cannot be decoded is listed in the inbox with the
-- raw PDU and the reason, instead of only in a log line.
ALTER TABLE sms_inbox ADD COLUMN pdu TEXT;
ALTER TABLE sms_inbox ADD COLUMN error TEXT;
