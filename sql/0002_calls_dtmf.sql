-- Digits keyed or dialled during a call (outbound calls: the number dialled).
ALTER TABLE calls ADD COLUMN dtmf TEXT NOT NULL DEFAULT '';
