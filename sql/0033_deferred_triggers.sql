-- Insert triggers a bulk load into an empty store set aside: each made
-- every row's INSERT keep a statement journal and run its own statements,
-- so the load drops them and does their work for all rows at once at the
-- end. Their SQL waits here, as the migrations created it, until then, and
-- a crash in between is mended when the store is next opened
-- (src/store/customers.rs, restore_deferred_triggers).
CREATE TABLE deferred_triggers (
    name TEXT PRIMARY KEY,
    sql  TEXT NOT NULL
) WITHOUT ROWID;

-- A crash during a load by an earlier version left the number-fragment
-- trigger dropped with nothing recorded (that version rebuilt it from its
-- own copy): recorded here, so it is rebuilt the same way.
INSERT INTO deferred_triggers (name, sql)
    SELECT 'customer_phones_grams_insert',
           'CREATE TRIGGER customer_phones_grams_insert AFTER INSERT ON customer_phones BEGIN
    INSERT INTO customer_number_grams (rowid, national)
        VALUES (NEW.customer_id * 1024 + NEW.position, NEW.national);
END'
    WHERE NOT EXISTS (SELECT 1 FROM sqlite_master
                      WHERE type = 'trigger' AND name = 'customer_phones_grams_insert');
