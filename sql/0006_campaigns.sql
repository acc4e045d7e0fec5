-- SMS campaigns (marketing blasts). A campaign's recipients are written when
-- it is created; while it runs, the campaign runner turns pending recipients
-- into queued messages a batch at a time (a little ahead of the modems), so a
-- million recipients never sit in memory nor in the send queue at once.
CREATE TABLE sms_campaigns (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    -- The template with {merge} fields, and the opt-out text appended.
    template      TEXT NOT NULL,
    suffix        TEXT NOT NULL DEFAULT '',
    -- Where the recipients came from, for people: {"tag": "vip"}, {"file": "x.csv"}.
    source        TEXT NOT NULL CHECK (json_valid(source)),
    state         TEXT NOT NULL DEFAULT 'draft'
                  CHECK (state IN ('draft', 'scheduled', 'running', 'waiting', 'paused',
                                   'cancelled', 'done')),
    -- Not before this time (ms); NULL: as soon as it is started.
    start_at      INTEGER,
    -- Sending window, local time 'HH:MM'; NULL takes [sms.campaigns] window.
    window_from   TEXT,
    window_to     TEXT,
    -- Parts the whole campaign needs and what they are estimated to cost
    -- (yuan), known once the recipients are written; counted against the
    -- creator's monthly quota when it starts.
    parts         INTEGER NOT NULL DEFAULT 0,
    cost          REAL NOT NULL DEFAULT 0,
    created_by    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at    INTEGER NOT NULL,
    started_at    INTEGER,
    finished_at   INTEGER
);
CREATE INDEX sms_campaigns_state ON sms_campaigns(state);

CREATE TABLE sms_campaign_recipients (
    campaign_id   INTEGER NOT NULL REFERENCES sms_campaigns(id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    -- As given (a CSV cell, a customer's number), and the dialable E.164
    -- form when it is an SMS-capable number.
    number        TEXT NOT NULL,
    e164          TEXT,
    customer_id   INTEGER REFERENCES customers(id) ON DELETE SET NULL,
    -- Merge values: {"name": "...", "company": "...", ...}.
    fields        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(fields)),
    parts         INTEGER NOT NULL DEFAULT 0,
    -- pending: not queued yet; queued: its message exists; skipped: never sent.
    state         TEXT NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'queued', 'skipped')),
    -- invalid | duplicate | opted_out | blacklisted | cancelled
    skip_reason   TEXT,
    message_id    INTEGER REFERENCES sms_messages(id) ON DELETE SET NULL,
    PRIMARY KEY (campaign_id, seq)
) WITHOUT ROWID;
CREATE INDEX sms_campaign_recipients_number ON sms_campaign_recipients(campaign_id, e164);
CREATE INDEX sms_campaign_recipients_pending ON sms_campaign_recipients(campaign_id, seq)
    WHERE state = 'pending';

ALTER TABLE sms_messages ADD COLUMN campaign_id INTEGER REFERENCES sms_campaigns(id);
CREATE INDEX sms_messages_campaign ON sms_messages(campaign_id) WHERE campaign_id IS NOT NULL;

-- Denormalised from the message, so a campaign's progress is one index range.
ALTER TABLE sms_parts ADD COLUMN campaign_id INTEGER;
-- When a modem took it: per-SIM daily caps count these.
ALTER TABLE sms_parts ADD COLUMN claimed_at INTEGER;
CREATE INDEX sms_parts_campaign ON sms_parts(campaign_id, state) WHERE campaign_id IS NOT NULL;
CREATE INDEX sms_parts_claimed ON sms_parts(modem, claimed_at) WHERE claimed_at IS NOT NULL;

-- Numbers (E.164) that asked to hear no more, and why.
CREATE TABLE sms_optouts (
    e164          TEXT PRIMARY KEY,
    keyword       TEXT,
    inbox_id      INTEGER REFERENCES sms_inbox(id) ON DELETE SET NULL,
    created_at    INTEGER NOT NULL
) WITHOUT ROWID;

-- Numbers (E.164) nobody may message, set by admins.
CREATE TABLE sms_blacklist (
    e164          TEXT PRIMARY KEY,
    note          TEXT NOT NULL DEFAULT '',
    created_by    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at    INTEGER NOT NULL
) WITHOUT ROWID;

-- Parts a user may start per calendar month; without a row the
-- configured default applies.
CREATE TABLE sms_quotas (
    user_id       INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    monthly_parts INTEGER NOT NULL CHECK (monthly_parts >= 0),
    set_by        INTEGER REFERENCES users(id) ON DELETE SET NULL,
    set_at        INTEGER NOT NULL
);
