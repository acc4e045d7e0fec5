-- The inbound blacklist is held in memory by the call engine, which checks
-- every caller against it on the way to the pop. This counter, moved by
-- every change to the list, tells the engine when to read it again (one
-- small read instead of a search of the list for each call).
CREATE TABLE call_blacklist_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO call_blacklist_version (id, version) VALUES (1, 0);

CREATE TRIGGER call_blacklist_added AFTER INSERT ON call_blacklist
BEGIN
    UPDATE call_blacklist_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER call_blacklist_changed AFTER UPDATE ON call_blacklist
BEGIN
    UPDATE call_blacklist_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER call_blacklist_removed AFTER DELETE ON call_blacklist
BEGIN
    UPDATE call_blacklist_version SET version = version + 1 WHERE id = 1;
END;
