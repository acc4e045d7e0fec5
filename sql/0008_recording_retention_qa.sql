-- Retention: a recording removed after `recording.retention_days` keeps its
-- row (the call history still says it existed, and when it went); the file
-- was deleted, or moved under the archive folder.
ALTER TABLE recordings ADD COLUMN removed_at INTEGER;
ALTER TABLE recordings ADD COLUMN removed_how TEXT CHECK (removed_how IN ('deleted', 'archived'));
CREATE INDEX recordings_retention ON recordings(started_at) WHERE removed_at IS NULL AND held = 0;

-- Quality checking (质检): scoring forms are data, one row a form; `items`
-- is a JSON array of {"key", "label", "label_en", "points"}, and a score
-- passes at `pass_mark` points or more.
CREATE TABLE qa_forms (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    title      TEXT NOT NULL,
    items      TEXT NOT NULL,
    pass_mark  INTEGER NOT NULL,
    active     INTEGER NOT NULL DEFAULT 1
);
INSERT INTO qa_forms (name, title, items, pass_mark) VALUES ('standard', '通话质检 Call quality',
 '[{"key":"greeting","label":"开场问候","label_en":"Greeting","points":10},
   {"key":"identify","label":"核实客户身份","label_en":"Verified the customer","points":15},
   {"key":"understand","label":"准确理解问题","label_en":"Understood the problem","points":20},
   {"key":"solution","label":"解决方案正确","label_en":"Right solution","points":25},
   {"key":"courtesy","label":"礼貌用语与语气","label_en":"Courtesy and tone","points":15},
   {"key":"closing","label":"结束语与工单记录","label_en":"Closing and work order","points":15}]', 80);

-- A score given to a recording, item by item; the agent may appeal it.
CREATE TABLE qa_scores (
    id            INTEGER PRIMARY KEY,
    recording_id  INTEGER NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
    form_id       INTEGER NOT NULL REFERENCES qa_forms(id),
    scorer_id     INTEGER REFERENCES users(id) ON DELETE SET NULL,
    -- JSON object: item key -> points given.
    items         TEXT NOT NULL,
    total         INTEGER NOT NULL,
    passed        INTEGER NOT NULL,
    comment       TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    appeal_note   TEXT,
    appeal_by     INTEGER REFERENCES users(id) ON DELETE SET NULL,
    appeal_at     INTEGER
);
CREATE INDEX qa_scores_recording ON qa_scores(recording_id);
