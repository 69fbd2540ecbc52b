-- Where a private_key_jwt client publishes its keys (the registry
-- fetches them), instead of holding them in jwks.

ALTER TABLE clients ADD COLUMN jwks_uri TEXT;
