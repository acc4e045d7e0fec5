-- Which custom fields SMS campaigns of customers offer as merge fields and
-- recipient filters. Every field so far was offered: they stay offered.
ALTER TABLE customer_fields ADD COLUMN in_sms INTEGER NOT NULL DEFAULT 1;
