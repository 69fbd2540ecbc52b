-- A supplied secret is refused when it is valid for another client: the
-- keyed hash is looked up, so it needs an index of its own.
--
-- A client may be operated by an intermediary (another org: a reseller, an
-- MSP), and name a custodian besides its owner; clients are found by their
-- intermediary when it is offboarded.

CREATE INDEX client_secrets_hmac ON client_secrets(secret_hmac);
ALTER TABLE clients ADD COLUMN operated_by TEXT REFERENCES orgs(id);
ALTER TABLE clients ADD COLUMN custodian TEXT;
-- A client may authenticate with its own private key instead of a secret:
-- the registry keeps only the public keys.
ALTER TABLE clients ADD COLUMN auth_method TEXT NOT NULL DEFAULT 'client_secret';
ALTER TABLE clients ADD COLUMN jwks TEXT;
CREATE INDEX clients_operated_by ON clients(operated_by) WHERE operated_by IS NOT NULL;

ALTER TABLE orgs ADD COLUMN approval_policy TEXT NOT NULL DEFAULT 'warn';

-- A new role, `approver`, bound to an email: SQLite changes a CHECK only by
-- rebuilding the table (with foreign keys off for the migration, see
-- `migrate`).
CREATE TABLE api_tokens_next (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'reviewer', 'org', 'approver')),
    org_id TEXT REFERENCES orgs(id),
    token_hmac BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    created_by TEXT NOT NULL DEFAULT 'cli',
    expires_at INTEGER,
    last_used_at INTEGER,
    email TEXT,
    CHECK ((role = 'org') = (org_id IS NOT NULL)),
    CHECK ((role = 'approver') = (email IS NOT NULL))
);
INSERT INTO api_tokens_next (id, name, role, org_id, token_hmac, created_at, revoked_at, created_by, expires_at, last_used_at)
    SELECT id, name, role, org_id, token_hmac, created_at, revoked_at, created_by, expires_at, last_used_at FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_next RENAME TO api_tokens;
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens(name) WHERE revoked_at IS NULL;

-- An approval of one exact change, for one change reference; used once.
CREATE TABLE approvals (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
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
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    used_by TEXT
);
CREATE INDEX approvals_change ON approvals(change_ref, entity_id);
