-- SMS on call events (Open CTI): the apology after a missed call, the
-- receipt with a work order's number, the satisfaction survey after a
-- call. One row per message callpop decided on, sent or skipped (and why),
-- so a retry of the event that caused it never sends it twice: the row and
-- the queued message are written in one transaction.
CREATE TABLE call_messages (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('apology', 'receipt', 'survey')),
    -- What it is about: the call (apology, survey) or the work order
    -- (receipt); exactly one message per kind and subject.
    subject TEXT NOT NULL,
    call_uid TEXT,
    work_order_id INTEGER,
    e164 TEXT NOT NULL,
    sms_id INTEGER REFERENCES sms_messages (id),
    -- Why nothing was sent: opted_out, blacklisted, not_mobile, called_back,
    -- daily_cap, too_short, too_late, no_number.
    skipped TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (kind, subject)
);
CREATE INDEX call_messages_by_day ON call_messages (created_at) WHERE sms_id IS NOT NULL;
CREATE INDEX call_messages_surveys ON call_messages (e164, created_at) WHERE kind = 'survey';

-- The caller's 1–5 answer to the survey, and when it came.
ALTER TABLE calls ADD COLUMN survey_score INTEGER CHECK (survey_score BETWEEN 1 AND 5);
ALTER TABLE calls ADD COLUMN survey_at INTEGER;
ALTER TABLE calls ADD COLUMN survey_reply_id INTEGER;

-- The reports' covering index of calls carries the score too.
DROP INDEX calls_started;
CREATE INDEX calls_started ON calls(started_at, direction, outcome, line, agent_user_id,
    offered_to, team, answered_at, ended_at, wrapup_ended_at, blocked, survey_score);
