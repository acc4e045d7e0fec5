-- callpop initial schema. Timestamps are INTEGER milliseconds since the Unix epoch (UTC).


CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL CHECK (role IN ('agent', 'team_lead', 'qa', 'marketer', 'admin')),
    team          TEXT,
    password_hash TEXT,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE customers (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    company       TEXT NOT NULL DEFAULT '',
    owner_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    custom_fields TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(custom_fields)),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX customers_owner ON customers(owner_user_id);

-- Groups and tags: the unit SMS campaigns and routing select customers by.
CREATE TABLE customer_tags (
    tag         TEXT NOT NULL,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    PRIMARY KEY (tag, customer_id)
) WITHOUT ROWID;
CREATE INDEX customer_tags_customer ON customer_tags(customer_id);

-- Every number keeps its raw text and its match keys (see src/phone.rs).
-- national_rev is the national significant number reversed: equality on it is
-- the "exact" and "national" rules, a prefix range on it the "suffix" rule.
-- Clustered by customer, so a customer's numbers are one range read and no
-- separate customer index is maintained on every insert.
CREATE TABLE customer_phones (
    customer_id  INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    raw          TEXT NOT NULL,
    e164         TEXT,
    national     TEXT NOT NULL,
    national_rev TEXT NOT NULL,
    country_code INTEGER,
    extension    TEXT,
    kind         TEXT NOT NULL,
    label        TEXT,
    PRIMARY KEY (customer_id, position)
) WITHOUT ROWID;
-- One index serves all three match rules: E.164 is country code + national
-- number, so "same E.164" is "same (national_rev, country_code), both valid";
-- kind tells complete numbers from incomplete ones (service, local), so every
-- rule's filter is decided in the index and only true matches read the table.
CREATE INDEX customer_phones_match ON customer_phones(national_rev, country_code, kind);

-- Call detail records (话单), one per call, written by the call engine.
CREATE TABLE calls (
    id              INTEGER PRIMARY KEY,
    call_uid        TEXT NOT NULL UNIQUE,
    line            TEXT NOT NULL,
    device          TEXT NOT NULL,
    direction       TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    outcome         TEXT CHECK (outcome IN ('answered', 'missed', 'abandoned', 'outbound')),
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
    ended_at        INTEGER
);
CREATE INDEX calls_started ON calls(started_at);
CREATE INDEX calls_customer ON calls(customer_id, started_at);
CREATE INDEX calls_number ON calls(number_national);

-- Work-order forms are data: fields are rows, editable without a recompile.
CREATE TABLE work_order_forms (
    id         INTEGER PRIMARY KEY,
    key        TEXT NOT NULL UNIQUE,
    name_zh    TEXT NOT NULL,
    name_en    TEXT NOT NULL,
    active     INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE work_order_form_fields (
    form_id       INTEGER NOT NULL REFERENCES work_order_forms(id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    position      INTEGER NOT NULL,
    label_zh      TEXT NOT NULL,
    label_en      TEXT NOT NULL,
    field_type    TEXT NOT NULL CHECK (field_type IN ('text', 'textarea', 'number', 'enum', 'date', 'phone')),
    required      INTEGER NOT NULL DEFAULT 0,
    default_value TEXT,
    options       TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(options)),
    prefill_from  TEXT,
    PRIMARY KEY (form_id, key)
);

CREATE TABLE work_orders (
    id              INTEGER PRIMARY KEY,
    form_id         INTEGER NOT NULL REFERENCES work_order_forms(id),
    customer_id     INTEGER REFERENCES customers(id) ON DELETE SET NULL,
    call_id         INTEGER REFERENCES calls(id) ON DELETE SET NULL,
    agent_user_id   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    idempotency_key TEXT UNIQUE,
    status          TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'in_progress', 'closed')),
    fields          TEXT NOT NULL CHECK (json_valid(fields)),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX work_orders_customer ON work_orders(customer_id, created_at);

-- Who did what, when, from where. actor keeps the name even if the user is deleted.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    user_id     INTEGER REFERENCES users(id) ON DELETE SET NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT,
    detail      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail)),
    remote_addr TEXT
);
CREATE INDEX audit_log_at ON audit_log(at);
