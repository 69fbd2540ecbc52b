-- The first PostgreSQL schema: where SQLite's first five migrations lead
-- (orgs, clients and their secrets, API tokens, idempotency keys, the keyed
-- append-only audit trail and its head).

CREATE TABLE orgs (
    seq BIGSERIAL PRIMARY KEY,
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
    max_clients BIGINT NOT NULL,
    labels TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    offboarded_at BIGINT,
    version BIGINT NOT NULL
);
CREATE UNIQUE INDEX orgs_live_name ON orgs(name) WHERE offboarded_at IS NULL;

CREATE TABLE clients (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    client_id TEXT NOT NULL UNIQUE,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    purpose TEXT NOT NULL,
    owner TEXT NOT NULL,
    scopes TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    revoked_at BIGINT,
    version BIGINT NOT NULL,
    secret_rotated_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE UNIQUE INDEX clients_live_name ON clients(org_id, name) WHERE revoked_at IS NULL;
CREATE INDEX clients_org ON clients(org_id);

CREATE TABLE client_secrets (
    id BIGSERIAL PRIMARY KEY,
    client_ref TEXT NOT NULL REFERENCES clients(id),
    secret_hmac BYTEA NOT NULL,
    source TEXT NOT NULL DEFAULT 'generated',
    created_at BIGINT NOT NULL,
    not_after BIGINT
);
CREATE INDEX client_secrets_client ON client_secrets(client_ref);

CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'reviewer', 'org')),
    org_id TEXT REFERENCES orgs(id),
    token_hmac BYTEA NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    CHECK ((role = 'org') = (org_id IS NOT NULL))
);
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens(name) WHERE revoked_at IS NULL;

CREATE TABLE idempotency_keys (
    token_id BIGINT NOT NULL REFERENCES api_tokens(id),
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status BIGINT NOT NULL,
    response TEXT NOT NULL,
    location TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (token_id, key)
);
CREATE INDEX idempotency_created ON idempotency_keys(created_at);

CREATE TABLE audit_events (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
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
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit events are append-only'; END $$;
CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    mac TEXT NOT NULL
);
