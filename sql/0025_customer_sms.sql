-- A customer's page lists the messages sent to and received from their
-- numbers. Sent ones are kept by recipient in the queue's canonical form
-- (E.164, or a service code's digits: see src/phone/address.rs), which is
-- what a customer's number keeps as e164 (or national for a service code).
-- A received message's sender is kept as the modem reported it; its
-- canonical form is written beside it from now on, and worked out here
-- for the messages already received (E.164 as sent; China's mobiles as
-- 8613…, 13… or 013…, the shapes Chinese networks deliver; service codes
-- as their digits).
CREATE INDEX sms_messages_to ON sms_messages(to_number, created_at);

ALTER TABLE sms_inbox ADD COLUMN sender_number TEXT;
UPDATE sms_inbox SET sender_number = CASE
    WHEN sender GLOB '+[1-9]*' THEN sender
    WHEN length(sender) = 13 AND sender GLOB '861[3-9]*' THEN '+' || sender
    WHEN length(sender) = 11 AND sender GLOB '1[3-9]*' THEN '+86' || sender
    WHEN length(sender) = 12 AND sender GLOB '01[3-9]*' THEN '+86' || substr(sender, 2)
    -- Service codes (10086, 95588) are kept as their digits.
    WHEN length(sender) BETWEEN 3 AND 8 AND sender NOT GLOB '*[^0-9]*' THEN sender
    ELSE NULL
END
WHERE sender <> '';
CREATE INDEX sms_inbox_sender_number ON sms_inbox(sender_number, received_at)
    WHERE sender_number IS NOT NULL;
