-- Group robots (企业微信, 钉钉) are endpoints of the webhook outbox too,
-- with rules for people: which teams' events a group hears of, quiet
-- hours (minutes after local midnight; deliveries wait until they end)
-- and at most so many messages a minute.
ALTER TABLE webhook_endpoints ADD COLUMN kind TEXT NOT NULL DEFAULT 'webhook'
    CHECK (kind IN ('webhook', 'dingtalk', 'wecom'));
ALTER TABLE webhook_endpoints ADD COLUMN teams TEXT NOT NULL DEFAULT '[]'
    CHECK (json_valid(teams));
ALTER TABLE webhook_endpoints ADD COLUMN quiet_from INTEGER
    CHECK (quiet_from BETWEEN 0 AND 1439);
ALTER TABLE webhook_endpoints ADD COLUMN quiet_to INTEGER
    CHECK (quiet_to BETWEEN 0 AND 1439);
ALTER TABLE webhook_endpoints ADD COLUMN per_minute INTEGER NOT NULL DEFAULT 0
    CHECK (per_minute >= 0);
