-- A `private_key_jwt` client may name where it publishes its keys (the
-- registry fetches them) instead of registering them in `jwks`.

ALTER TABLE clients ADD COLUMN jwks_uri TEXT;
