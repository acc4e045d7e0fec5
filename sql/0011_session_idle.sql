-- When each login session was last used, for the idle timeout
-- (screen_pop.session_idle_minutes); NULL means never since it was made.
ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER;
