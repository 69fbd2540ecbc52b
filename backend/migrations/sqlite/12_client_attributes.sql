-- A client's optional descriptive attributes (`partner_api::ClientAttributes`)
-- live in one JSON object of those set, so that a new one needs no column
-- and no migration of its own; `custodian` moves into it, value and all.

ALTER TABLE clients ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
UPDATE clients SET attributes = json_object('custodian', custodian) WHERE custodian IS NOT NULL;
ALTER TABLE clients DROP COLUMN custodian;
