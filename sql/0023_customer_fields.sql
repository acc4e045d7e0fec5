-- Typed custom fields of customers (自定义字段): each key's label in both
-- languages, its type, whether it is required, shown on the pop,
-- searchable, and which date field is the birthday. The values stay in
-- customers.custom_fields; every key already in use becomes a text field.
CREATE TABLE customer_fields (
    key        TEXT PRIMARY KEY,
    position   INTEGER NOT NULL,
    label_zh   TEXT NOT NULL,
    label_en   TEXT NOT NULL,
    field_type TEXT NOT NULL CHECK (field_type IN ('text', 'number', 'date', 'enum', 'phone')),
    required   INTEGER NOT NULL DEFAULT 0,
    options    TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(options)),
    in_pop     INTEGER NOT NULL DEFAULT 0,
    searchable INTEGER NOT NULL DEFAULT 0,
    birthday   INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE UNIQUE INDEX customer_fields_one_birthday ON customer_fields(birthday) WHERE birthday;
INSERT INTO customer_fields (key, position, label_zh, label_en, field_type, in_pop)
    SELECT key, row_number() OVER (ORDER BY key), key, key, 'text', 1
    FROM (SELECT DISTINCT j.key AS key FROM customers, json_each(customers.custom_fields) AS j);

-- Birthday reminders: the month and day (MM-DD) of the birthday field,
-- kept by triggers so "whose birthday is today" is one index lookup.
ALTER TABLE customers ADD COLUMN birthday_md TEXT;
CREATE INDEX customers_birthday ON customers(birthday_md, id) WHERE birthday_md IS NOT NULL;
CREATE TRIGGER customers_birthday_insert AFTER INSERT ON customers
    WHEN EXISTS (SELECT 1 FROM customer_fields WHERE birthday)
BEGIN
    UPDATE customers SET birthday_md = (
        SELECT CASE WHEN v GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]' THEN substr(v, 6, 5) END
        FROM (SELECT json_extract(NEW.custom_fields, '$."' || key || '"') AS v
              FROM customer_fields WHERE birthday))
    WHERE id = NEW.id;
END;
CREATE TRIGGER customers_birthday_update AFTER UPDATE OF custom_fields ON customers
BEGIN
    UPDATE customers SET birthday_md = (
        SELECT CASE WHEN v GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]' THEN substr(v, 6, 5) END
        FROM (SELECT json_extract(NEW.custom_fields, '$."' || key || '"') AS v
              FROM customer_fields WHERE birthday))
    WHERE id = NEW.id;
END;
