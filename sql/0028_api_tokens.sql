-- API tokens for other systems (Open CTI): named by an admin, acting as one
-- user (their role, team and masking) within the scopes they were given.
-- Only the token's SHA-256 is kept; the token is shown once. `prefix` (its
-- first characters) lets people tell tokens apart in the console.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    scopes       TEXT NOT NULL CHECK (json_valid(scopes)),
    created_by   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
