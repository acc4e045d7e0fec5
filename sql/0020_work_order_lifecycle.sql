-- The work-order lifecycle (工单流转): numbers people read out
-- (GD-20261203-0042), statuses as data per form (the CHECK on status
-- goes: a form names its own), assignment to an agent or a team
-- (派单/升级), due dates, and a timeline of every change and comment.

-- A form's statuses as JSON ([{key, label_zh, label_en, open, next}]);
-- NULL: the default 新建 → 处理中 → 已解决 → 已关闭.
ALTER TABLE work_order_forms ADD COLUMN statuses TEXT
    CHECK (statuses IS NULL OR json_valid(statuses));

CREATE TABLE work_orders_new (
    id               INTEGER PRIMARY KEY,
    number           TEXT NOT NULL UNIQUE,
    form_id          INTEGER NOT NULL REFERENCES work_order_forms(id),
    customer_id      INTEGER REFERENCES customers(id) ON DELETE SET NULL,
    call_id          INTEGER REFERENCES calls(id) ON DELETE SET NULL,
    call_uid         TEXT,
    -- Who saved it (the author).
    agent_user_id    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    idempotency_key  TEXT UNIQUE,
    status           TEXT NOT NULL,
    -- Whether the status is an open one, kept with it (the pop lists the
    -- open orders; overdue counts only them).
    is_open          INTEGER NOT NULL DEFAULT 1,
    -- Who works on it: an agent (and so their team), or a team's queue.
    assignee_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    team             TEXT,
    due_at           INTEGER,
    closed_at        INTEGER,
    fields           TEXT NOT NULL CHECK (json_valid(fields)),
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
INSERT INTO work_orders_new (id, number, form_id, customer_id, call_id, call_uid,
        agent_user_id, idempotency_key, status, is_open, assignee_user_id, team,
        closed_at, fields, created_at, updated_at)
    SELECT w.id,
           'GD-' || strftime('%Y%m%d', w.created_at / 1000, 'unixepoch', 'localtime') || '-' ||
               printf('%04d', row_number() OVER (
                   PARTITION BY strftime('%Y%m%d', w.created_at / 1000, 'unixepoch', 'localtime')
                   ORDER BY w.id)),
           w.form_id, w.customer_id, w.call_id, w.call_uid, w.agent_user_id,
           w.idempotency_key, w.status, w.status <> 'closed', w.agent_user_id,
           (SELECT team FROM users u WHERE u.id = w.agent_user_id),
           CASE WHEN w.status = 'closed' THEN w.updated_at END,
           w.fields, w.created_at, w.updated_at
    FROM work_orders w;
DROP TABLE work_orders;
ALTER TABLE work_orders_new RENAME TO work_orders;

CREATE INDEX work_orders_customer ON work_orders(customer_id, is_open, id);
CREATE INDEX work_orders_call ON work_orders(call_uid);
CREATE INDEX work_orders_agent ON work_orders(agent_user_id, created_at);
CREATE INDEX work_orders_status ON work_orders(status, id);
CREATE INDEX work_orders_open ON work_orders(is_open, id);
CREATE INDEX work_orders_assignee ON work_orders(assignee_user_id, status, id);
CREATE INDEX work_orders_assignee_open ON work_orders(assignee_user_id, is_open, id);
CREATE INDEX work_orders_team ON work_orders(team, status, id);
CREATE INDEX work_orders_team_open ON work_orders(team, is_open, id);
-- A team's queue: orders escalated to it that nobody has taken yet.
CREATE INDEX work_orders_queue ON work_orders(team, id) WHERE assignee_user_id IS NULL;
CREATE INDEX work_orders_due ON work_orders(due_at) WHERE is_open AND due_at IS NOT NULL;

-- The last number given out each local day (YYYYMMDD).
CREATE TABLE work_order_days (
    day  TEXT PRIMARY KEY,
    last INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO work_order_days (day, last)
    SELECT substr(number, 4, 8), count(*) FROM work_orders GROUP BY substr(number, 4, 8);

-- The timeline: every change and comment, who made it and when.
-- kind: created | status | assigned | due | fields | comment;
-- detail: what changed ({"from": …, "to": …, "note": …}).
CREATE TABLE work_order_events (
    id            INTEGER PRIMARY KEY,
    work_order_id INTEGER NOT NULL REFERENCES work_orders(id) ON DELETE CASCADE,
    at            INTEGER NOT NULL,
    user_id       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    kind          TEXT NOT NULL,
    detail        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail))
);
CREATE INDEX work_order_events_order ON work_order_events(work_order_id, id);
INSERT INTO work_order_events (work_order_id, at, user_id, kind, detail)
    SELECT id, created_at, agent_user_id, 'created', json_object('status', status)
    FROM work_orders;
