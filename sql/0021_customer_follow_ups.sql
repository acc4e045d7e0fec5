-- Call-backs (回访) scheduled by hand from a customer's page or a pop, not
-- only from a work order's follow-up date: what the call is about.
ALTER TABLE followups ADD COLUMN note TEXT;
CREATE INDEX followups_customer ON followups(customer_id, due_at) WHERE customer_id IS NOT NULL;
