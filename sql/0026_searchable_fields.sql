-- Searching customers by a custom field marked searchable: each such
-- field's value of each customer, kept by triggers from
-- customers.custom_fields, so a search is one index range (the value's
-- prefix) instead of a scan of every customer's JSON. Making a field
-- searchable or not fills or empties its rows (src/store/customer_fields.rs).
CREATE TABLE customer_field_values (
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    customer_id INTEGER NOT NULL,
    PRIMARY KEY (key, value, customer_id)
) WITHOUT ROWID;
CREATE INDEX customer_field_values_customer ON customer_field_values(customer_id);

CREATE TRIGGER customer_field_values_insert AFTER INSERT ON customers
    WHEN EXISTS (SELECT 1 FROM customer_fields WHERE searchable)
BEGIN
    INSERT OR IGNORE INTO customer_field_values (key, value, customer_id)
        SELECT f.key, CAST(j.value AS TEXT), NEW.id
        FROM customer_fields f JOIN json_each(NEW.custom_fields) j ON j.key = f.key
        WHERE f.searchable AND j.type IN ('text', 'integer', 'real')
          AND CAST(j.value AS TEXT) <> '';
END;
CREATE TRIGGER customer_field_values_update AFTER UPDATE OF custom_fields ON customers
    WHEN EXISTS (SELECT 1 FROM customer_fields WHERE searchable)
BEGIN
    DELETE FROM customer_field_values WHERE customer_id = OLD.id;
    INSERT OR IGNORE INTO customer_field_values (key, value, customer_id)
        SELECT f.key, CAST(j.value AS TEXT), NEW.id
        FROM customer_fields f JOIN json_each(NEW.custom_fields) j ON j.key = f.key
        WHERE f.searchable AND j.type IN ('text', 'integer', 'real')
          AND CAST(j.value AS TEXT) <> '';
END;
CREATE TRIGGER customer_field_values_delete AFTER DELETE ON customers
BEGIN
    DELETE FROM customer_field_values WHERE customer_id = OLD.id;
END;

INSERT OR IGNORE INTO customer_field_values (key, value, customer_id)
    SELECT f.key, CAST(j.value AS TEXT), c.id
    FROM customer_fields f, customers c, json_each(c.custom_fields) j
    WHERE f.searchable AND j.key = f.key AND j.type IN ('text', 'integer', 'real')
      AND CAST(j.value AS TEXT) <> '';
