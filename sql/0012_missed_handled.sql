-- A missed call marked handled (called back, or dealt with otherwise) on an
-- agent's missed-call list: when, and by whom.
ALTER TABLE calls ADD COLUMN handled_at INTEGER;
ALTER TABLE calls ADD COLUMN handled_by INTEGER REFERENCES users(id);
