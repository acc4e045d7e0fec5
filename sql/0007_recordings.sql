-- Call recordings (录音): one WAV file per call under the recordings root,
-- recordings/YYYY/MM/DD/<call-uid>.wav. The row is written when recording
-- starts and completed when it stops; a row still 'recording' at start-up
-- belongs to a process that died, and its file is repaired and indexed.
CREATE TABLE recordings (
    id            INTEGER PRIMARY KEY,
    call_uid      TEXT NOT NULL,
    line          TEXT NOT NULL,
    agent_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    -- Relative to the recordings root.
    path          TEXT NOT NULL UNIQUE,
    sample_rate   INTEGER NOT NULL,
    started_at    INTEGER NOT NULL,
    duration_ms   INTEGER NOT NULL DEFAULT 0,
    bytes         INTEGER NOT NULL DEFAULT 0,
    state         TEXT NOT NULL DEFAULT 'recording'
                  CHECK (state IN ('recording', 'done', 'repaired', 'failed')),
    -- Why it stopped early (device gone, disk full...).
    error         TEXT,
    -- Kept past the retention period while quality checking needs it.
    held          INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX recordings_call ON recordings(call_uid);
CREATE INDEX recordings_started ON recordings(started_at);
CREATE INDEX recordings_line ON recordings(line, started_at);
CREATE INDEX recordings_agent ON recordings(agent_user_id, started_at);
CREATE INDEX recordings_unfinished ON recordings(state) WHERE state = 'recording';
