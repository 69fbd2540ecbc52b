-- The quota check counts an org's live clients by expiry on every create: an
-- index that answers it without reading the client rows.

CREATE INDEX clients_live_expiry ON clients(org_id, expires_at) WHERE revoked_at IS NULL;
