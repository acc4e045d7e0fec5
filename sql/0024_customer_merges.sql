-- Merging duplicate customers (合并客户): the duplicate's calls, work
-- orders, notes, call-backs and SMS recipients move to the kept customer,
-- its numbers and groups are added, its custom values fill the kept one's
-- gaps, and it is soft deleted as merged. What moved is recorded so an
-- admin or team lead can undo the merge for 30 days.
ALTER TABLE customers ADD COLUMN merged_into INTEGER REFERENCES customers(id) ON DELETE SET NULL;
CREATE TABLE customer_merges (
    id          INTEGER PRIMARY KEY,
    kept_id     INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    merged_id   INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    at          INTEGER NOT NULL,
    by_user_id  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    undo_until  INTEGER NOT NULL,
    -- What moved and what the kept customer was: {"kept_before": {...},
    -- "calls": [...], "work_orders": [...], "notes": [...], "followups": [...],
    -- "recipients": [[campaign, seq], ...], "phones_added": [national, ...], "tags_added": [...],
    -- "fields_filled": {...}}.
    record      TEXT NOT NULL CHECK (json_valid(record)),
    undone_at   INTEGER,
    undone_by   INTEGER REFERENCES users(id) ON DELETE SET NULL
);
CREATE INDEX customer_merges_kept ON customer_merges(kept_id, at);
CREATE INDEX customer_merges_merged ON customer_merges(merged_id, at);
