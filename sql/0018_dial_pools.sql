-- A team's pool of lines for outbound calls (外拨线路池), besides its agents'
-- own lines: GSM modems shared by a sales team. Set by admins in the
-- console; `[[dial_pool]]` in the config sets a team's pool at start.
CREATE TABLE dial_pools (
    team      TEXT NOT NULL,
    line      TEXT NOT NULL,
    -- The order lines are tried in.
    position  INTEGER NOT NULL,
    PRIMARY KEY (team, line)
) WITHOUT ROWID;
