-- Quality checking of work orders (工单质检): a form says what it scores
-- (recordings, work orders or both), and a score is a recording's or a
-- work order's.
ALTER TABLE qa_forms ADD COLUMN applies_to TEXT NOT NULL DEFAULT 'recording'
    CHECK (applies_to IN ('recording', 'work_order', 'both'));
INSERT INTO qa_forms (name, title, title_en, items, pass_mark, applies_to) VALUES
 ('work_order', '工单质检', 'Work-order quality',
 '[{"key":"complete","label":"记录完整准确","label_en":"Complete and accurate","points":25},
   {"key":"category","label":"分类正确","label_en":"Right category","points":15},
   {"key":"timely","label":"处理及时","label_en":"Handled in time","points":20},
   {"key":"resolved","label":"问题彻底解决","label_en":"Problem solved","points":25},
   {"key":"follow_up","label":"回访与结案说明","label_en":"Follow-up and closing note","points":15}]',
 80, 'work_order');

CREATE TABLE qa_scores_new (
    id            INTEGER PRIMARY KEY,
    recording_id  INTEGER REFERENCES recordings(id) ON DELETE CASCADE,
    work_order_id INTEGER REFERENCES work_orders(id) ON DELETE CASCADE,
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
    appeal_at     INTEGER,
    CHECK ((recording_id IS NULL) <> (work_order_id IS NULL))
);
INSERT INTO qa_scores_new (id, recording_id, form_id, scorer_id, items, total, passed, comment,
        created_at, appeal_note, appeal_by, appeal_at)
    SELECT id, recording_id, form_id, scorer_id, items, total, passed, comment, created_at,
           appeal_note, appeal_by, appeal_at
    FROM qa_scores;
DROP TABLE qa_scores;
ALTER TABLE qa_scores_new RENAME TO qa_scores;
CREATE INDEX qa_scores_recording ON qa_scores(recording_id) WHERE recording_id IS NOT NULL;
CREATE INDEX qa_scores_work_order ON qa_scores(work_order_id) WHERE work_order_id IS NOT NULL;
