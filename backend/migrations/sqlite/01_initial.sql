-- The first schema: orgs, clients and their secrets, API tokens, idempotency
-- keys and the append-only audit trail.

CREATE TABLE orgs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    legal_entity TEXT NOT NULL,
    technical_owner TEXT NOT NULL,
    approval_authority TEXT NOT NULL,
    commercial_sponsor TEXT,
    contract_id TEXT NOT NULL,
    contract_start TEXT,
    contract_end TEXT NOT NULL,
    tenant TEXT,
    business_unit TEXT,
    allowed_scopes TEXT NOT NULL,
    max_clients INTEGER NOT NULL,
    labels TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    offboarded_at INTEGER,
    version INTEGER NOT NULL
);
CREATE UNIQUE INDEX orgs_live_name ON orgs(name) WHERE offboarded_at IS NULL;

CREATE TABLE clients (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    client_id TEXT NOT NULL UNIQUE,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    purpose TEXT NOT NULL,
    owner TEXT NOT NULL,
    scopes TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    revoked_at INTEGER,
    version INTEGER NOT NULL
);
CREATE UNIQUE INDEX clients_live_name ON clients(org_id, name) WHERE revoked_at IS NULL;
CREATE INDEX clients_org ON clients(org_id);

-- Secret hashes live apart from clients so that a client can hold a current and a
-- previous secret during a rotation grace period (not_after = end of grace).
CREATE TABLE client_secrets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    client_ref TEXT NOT NULL REFERENCES clients(id),
    secret_hmac BLOB NOT NULL,
    source TEXT NOT NULL DEFAULT 'generated',
    created_at INTEGER NOT NULL,
    not_after INTEGER
);
CREATE INDEX client_secrets_client ON client_secrets(client_ref);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'reviewer', 'org')),
    org_id TEXT REFERENCES orgs(id),
    token_sha256 BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    CHECK ((role = 'org') = (org_id IS NOT NULL))
);
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens(name) WHERE revoked_at IS NULL;

CREATE TABLE idempotency_keys (
    token_id INTEGER NOT NULL REFERENCES api_tokens(id),
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    response TEXT NOT NULL,
    location TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (token_id, key)
);

CREATE TABLE audit_events (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    entity_kind TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    org_id TEXT,
    before TEXT,
    after TEXT,
    request_id TEXT NOT NULL,
    change_ref TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
