-- A supplied secret is refused when it is valid for another client: the
-- keyed hash is looked up, so it needs an index of its own.
-- A client may be operated by an intermediary (another org: a reseller,
-- an MSP), and name a custodian besides its owner; clients are found by
-- their intermediary when it is offboarded.

CREATE INDEX client_secrets_hmac ON client_secrets(secret_hmac);
ALTER TABLE clients ADD COLUMN operated_by TEXT REFERENCES orgs(id);
ALTER TABLE clients ADD COLUMN custodian TEXT;
-- A client may authenticate with its own private key instead of a secret:
-- the registry keeps only the public keys.
ALTER TABLE clients ADD COLUMN auth_method TEXT NOT NULL DEFAULT 'client_secret';
ALTER TABLE clients ADD COLUMN jwks TEXT;
CREATE INDEX clients_operated_by ON clients(operated_by) WHERE operated_by IS NOT NULL;

ALTER TABLE orgs ADD COLUMN approval_policy TEXT NOT NULL DEFAULT 'warn';

-- A new role, `approver`, bound to an email.
ALTER TABLE api_tokens ADD COLUMN email TEXT;
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_role_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_role_check CHECK (role IN ('admin', 'reviewer', 'org', 'approver'));
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_approver_email CHECK ((role = 'approver') = (email IS NOT NULL));

-- An approval of one exact change, for one change reference; used once.
CREATE TABLE approvals (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    change_ref TEXT NOT NULL,
    entity_kind TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    attribute TEXT NOT NULL,
    old_value TEXT NOT NULL,
    new_value TEXT NOT NULL,
    approver TEXT NOT NULL,
    token_name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    used_by TEXT
);
CREATE INDEX approvals_change ON approvals(change_ref, entity_id);
