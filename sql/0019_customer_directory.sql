-- The customer directory (客户资料): customers are searched, edited, soft
-- deleted and restored, handed over, and carry notes (跟进记录).

-- Soft delete: a deleted customer is out of every search, match and pop,
-- and an admin can bring them back.
ALTER TABLE customers ADD COLUMN deleted_at INTEGER;
ALTER TABLE customers ADD COLUMN deleted_by INTEGER REFERENCES users(id) ON DELETE SET NULL;
-- The latest call with the customer, kept by the CDR writer (searchable).
ALTER TABLE customers ADD COLUMN last_call_at INTEGER;
UPDATE customers SET last_call_at =
    (SELECT max(started_at) FROM calls WHERE calls.customer_id = customers.id);

-- Searches walk one of these in order and stop at a page.
CREATE INDEX customers_name ON customers(name, id);
CREATE INDEX customers_company ON customers(company, id) WHERE company != '';
CREATE INDEX customers_created ON customers(created_at, id);
CREATE INDEX customers_last_call ON customers(last_call_at, id) WHERE last_call_at IS NOT NULL;

-- Number fragments (any 3+ digits of any of a customer's numbers): a
-- trigram index of the national numbers, one row per number, its rowid
-- the customer id × 1024 + the number's position, kept by triggers.
CREATE VIRTUAL TABLE customer_number_grams USING fts5(
    national, tokenize = 'trigram', content = '', contentless_delete = 1
);
INSERT INTO customer_number_grams (rowid, national)
    SELECT customer_id * 1024 + position, national FROM customer_phones;
CREATE TRIGGER customer_phones_grams_insert AFTER INSERT ON customer_phones BEGIN
    INSERT INTO customer_number_grams (rowid, national)
        VALUES (NEW.customer_id * 1024 + NEW.position, NEW.national);
END;
CREATE TRIGGER customer_phones_grams_delete AFTER DELETE ON customer_phones BEGIN
    DELETE FROM customer_number_grams WHERE rowid = OLD.customer_id * 1024 + OLD.position;
END;
CREATE TRIGGER customer_phones_grams_update AFTER UPDATE OF national ON customer_phones BEGIN
    DELETE FROM customer_number_grams WHERE rowid = OLD.customer_id * 1024 + OLD.position;
    INSERT INTO customer_number_grams (rowid, national)
        VALUES (NEW.customer_id * 1024 + NEW.position, NEW.national);
END;

-- Notes on a customer (跟进记录): who wrote what when, from the customer
-- page or the pop (with the call it was written on).
CREATE TABLE customer_notes (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    author_id   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    call_uid    TEXT,
    body        TEXT NOT NULL CHECK (length(body) BETWEEN 1 AND 4000),
    created_at  INTEGER NOT NULL
);
CREATE INDEX customer_notes_customer ON customer_notes(customer_id, created_at);
