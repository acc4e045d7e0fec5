-- Webhooks (Open CTI): endpoints other systems gave, the events that
-- happened (the outbox: written in the same transaction as the fact it
-- reports, so a fact without its event, or an event without its fact,
-- cannot be), and each event's delivery to each subscribed endpoint, in
-- event order per endpoint, retried with backoff, then dead.
CREATE TABLE webhook_endpoints (
    id               INTEGER PRIMARY KEY,
    url              TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    -- The signing secret, and the one before a rotation, still signed
    -- with until old_secret_until (ms) so receivers can switch over.
    secret           TEXT NOT NULL,
    old_secret       TEXT,
    old_secret_until INTEGER,
    -- The event types it wants (["*"] for all).
    events           TEXT NOT NULL CHECK (json_valid(events)),
    active           INTEGER NOT NULL DEFAULT 1,
    created_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at       INTEGER NOT NULL
);

CREATE TABLE webhook_events (
    id          INTEGER PRIMARY KEY,
    -- The id receivers de-duplicate on (UUID v7): the same on every retry.
    event_id    TEXT NOT NULL UNIQUE,
    type        TEXT NOT NULL,
    -- "type key" for facts that may be reported from more than one place
    -- (a call's end, a missed call): the second report is not an event.
    fact_key    TEXT UNIQUE,
    created_at  INTEGER NOT NULL,
    data        TEXT NOT NULL CHECK (json_valid(data))
);

CREATE TABLE webhook_deliveries (
    endpoint_id  INTEGER NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_id     INTEGER NOT NULL REFERENCES webhook_events(id) ON DELETE CASCADE,
    state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      INTEGER NOT NULL,
    last_status  INTEGER,
    last_error   TEXT,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (endpoint_id, event_id)
) WITHOUT ROWID;
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(endpoint_id, event_id)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_event ON webhook_deliveries(event_id);
