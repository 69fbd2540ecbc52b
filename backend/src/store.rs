//! The storage boundary. Everything that touches the database lives here; the rest
//! of the server calls the async methods of [`Store`], which run the blocking
//! SQLite work on tokio's blocking pool, never on the async workers.
//!
//! SQLite today (WAL, `synchronous=FULL`, foreign keys, `BEGIN IMMEDIATE` for every
//! write, versioned migrations via `PRAGMA user_version`); the methods speak in
//! domain types so a PostgreSQL implementation can sit behind the same surface.

use crate::audit::NewEvent;
pub use crate::audit::{AuditCheck, Chain};
use crate::error::{Error, FieldError, Result};
use crate::models::*;
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};
use serde::Serialize;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const SCHEMA_V1: &str = r#"
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
"#;

/// Issue 5: when the current secret was made, and the coarse time of last use.
const SCHEMA_V2: &str = r#"
ALTER TABLE clients ADD COLUMN secret_rotated_at INTEGER NOT NULL DEFAULT 0;
UPDATE clients SET secret_rotated_at = created_at;
ALTER TABLE clients ADD COLUMN last_used_at INTEGER;
"#;

/// Schema version 3: the audit chain is keyed (see [`crate::audit`]): existing
/// events are verified under the old plain SHA-256 scheme and re-chained under the
/// server key by [`crate::audit::rechain`].
const SCHEMA_V3: &str = "";

/// Schema version 4: API tokens stored as `HMAC(token key, SHA-256(token))` under a
/// key derived from the server key instead of a bare SHA-256, so that someone who can
/// write the database cannot add a token of their own making. The stored SHA-256 is
/// the inner digest, so [`rehash_tokens`] converts every existing row in place and
/// existing tokens keep working.
const SCHEMA_V4: &str = "ALTER TABLE api_tokens RENAME COLUMN token_sha256 TO token_hmac;";

fn rehash_tokens(tx: &Transaction<'_>, chain: &Chain) -> Result<()> {
    let rows: Vec<(i64, Vec<u8>)> = {
        let mut st = tx.prepare("SELECT id, token_hmac FROM api_tokens")?;
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    for (id, digest) in rows {
        let digest: [u8; 32] = digest
            .try_into()
            .map_err(|_| Error::Internal(format!("api token {id}: not a SHA-256")))?;
        tx.execute(
            "UPDATE api_tokens SET token_hmac = ?2 WHERE id = ?1",
            params![id, chain.key.hash_token_digest(&digest).as_slice()],
        )?;
    }
    Ok(())
}

/// Work a migration does beyond its SQL, in the same transaction.
type Step = fn(&Transaction<'_>, &Chain) -> Result<()>;

pub(crate) const MIGRATIONS: &[(&str, Option<Step>)] = &[
    (SCHEMA_V1, None),
    (SCHEMA_V2, None),
    (SCHEMA_V3, Some(crate::audit::rechain)),
    (SCHEMA_V4, Some(rehash_tokens)),
];

/// Opens one connection with the pragmas every connection needs.
pub fn open_connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Creates or migrates the database at `path`; `chain` holds the server key (the
/// audit chain is re-chained under it on the way to version 3) and the audit head
/// file (written for a database made from nothing or just re-chained, and created
/// when missing while there are no events).
pub fn migrate(conn: &mut Connection, chain: &Chain) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let target = MIGRATIONS.len() as i64;
    if version > target {
        return Err(Error::Internal(format!(
            "database schema version {version} is newer than this binary ({target})"
        )));
    }
    for (i, (sql, step)) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql)?;
        if let Some(step) = step {
            step(&tx, chain)?;
        }
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
    }
    // A database made from nothing or just re-chained (on the way to version 3)
    // gets a new head; any other keeps its own, which only writes move up. Under the
    // write lock, so that no other writer moves the head meanwhile.
    chain.init_head(&tx, version < 3)?;
    tx.commit()?;
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Reviewer,
    Org,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "reviewer" => Some(Role::Reviewer),
            "org" => Some(Role::Org),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Reviewer => "reviewer",
            Role::Org => "org",
        }
    }
}

/// Who is making a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub token_id: i64,
    pub name: String,
    pub role: Role,
    /// The org an `org` token is bound to.
    pub org: Option<String>,
}

impl Actor {
    /// The org a list is restricted to: an org token's own (none matches when it
    /// has none); `None` (every org) for the other roles.
    pub fn list_scope(&self) -> Option<String> {
        (self.role == Role::Org).then(|| self.org.clone().unwrap_or_default())
    }

    /// Whether this actor may see records of `org_id`.
    pub fn sees(&self, org_id: &str) -> bool {
        self.role != Role::Org || self.org.as_deref() == Some(org_id)
    }
}

/// Everything a write needs besides its payload.
#[derive(Debug, Clone)]
pub struct WriteCtx {
    /// The server key and the audit head the write's event goes to.
    pub chain: Arc<Chain>,
    pub actor: Actor,
    pub request_id: String,
    pub change_ref: Option<String>,
    pub now: i64,
}

/// An `Idempotency-Key` and the fingerprint (hash of route and canonical body) it came with.
#[derive(Debug, Clone)]
pub struct Idem {
    pub key: String,
    pub fingerprint: String,
}

/// The result of a create (or the replay of one).
#[derive(Debug, Clone)]
pub struct Created {
    pub body: Value,
    pub location: String,
    pub version: i64,
    pub replayed: bool,
}

/// A page of a list.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct OrgFilter {
    pub name: Option<String>,
    pub status: Option<OrgStatus>,
    pub limit: i64,
    pub cursor: i64,
}

#[derive(Debug, Clone, Default)]
pub struct ClientFilter {
    pub org_id: Option<String>,
    pub status: Option<ClientStatus>,
    pub expiring_within: Option<i64>,
    pub limit: i64,
    pub cursor: i64,
}

/// One audit event as served by `GET /v1/audit`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditEvent {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub entity_kind: String,
    pub entity_id: String,
    pub org_id: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub request_id: String,
    pub change_ref: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// A token as listed by the CLI (never the token itself).
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub name: String,
    pub role: String,
    pub org_id: Option<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// A connection pool plus the path. Cheap to clone behind an `Arc`.
pub struct Store {
    path: PathBuf,
    pool: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

const POOL_MAX: usize = 8;

impl Store {
    /// Opens (creating and migrating) the database at `path`.
    pub fn open(path: &Path, chain: &Chain) -> Result<Arc<Store>> {
        let mut conn = open_connection(path)?;
        migrate(&mut conn, chain)?;
        Ok(Arc::new(Store {
            path: path.to_path_buf(),
            pool: Mutex::new(vec![conn]),
        }))
    }

    /// Runs `f` with a pooled connection on the current thread (blocking).
    pub fn with_conn<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let conn = self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut conn = match conn {
            Some(c) => c,
            None => open_connection(&self.path)?,
        };
        let out = f(&mut conn);
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < POOL_MAX {
            pool.push(conn);
        }
        out
    }

    /// Runs `f` on tokio's blocking pool.
    pub async fn call<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = Arc::clone(self);
        tokio::task::spawn_blocking(move || store.with_conn(f))
            .await
            .map_err(|e| Error::Internal(format!("storage task failed: {e}")))?
    }

    /// Checkpoints the WAL and closes every pooled connection.
    pub fn close(&self) {
        let conns: Vec<Connection> =
            std::mem::take(&mut *self.pool.lock().unwrap_or_else(|e| e.into_inner()));
        for c in conns {
            let _ = c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
            let _ = c.close();
        }
    }

    pub async fn create_org(
        self: &Arc<Self>,
        ctx: WriteCtx,
        draft: OrgDraft,
        idem: Option<Idem>,
    ) -> Result<Created> {
        self.call(move |c| create_org(c, &ctx, draft, idem.as_ref()))
            .await
    }
    pub async fn get_org(self: &Arc<Self>, id: String) -> Result<Option<Org>> {
        self.call(move |c| get_org(c, &id)).await
    }
    pub async fn list_orgs(
        self: &Arc<Self>,
        scope: Option<String>,
        f: OrgFilter,
        now: i64,
    ) -> Result<Page<OrgView>> {
        self.call(move |c| list_orgs(c, scope.as_deref(), &f, now))
            .await
    }
    pub async fn update_org(
        self: &Arc<Self>,
        ctx: WriteCtx,
        id: String,
        patch: serde_json::Map<String, Value>,
        if_match: Option<String>,
    ) -> Result<Org> {
        self.call(move |c| update_org(c, &ctx, &id, &patch, if_match.as_deref()))
            .await
    }
    pub async fn offboard_org(self: &Arc<Self>, ctx: WriteCtx, id: String) -> Result<Org> {
        self.call(move |c| offboard_org(c, &ctx, &id)).await
    }
    pub async fn create_client(
        self: &Arc<Self>,
        ctx: WriteCtx,
        draft: ClientDraft,
        secret: NewSecret,
        idem: Option<Idem>,
    ) -> Result<Created> {
        self.call(move |c| create_client(c, &ctx, draft, &secret, idem.as_ref()))
            .await
    }
    pub async fn rotate_secret(
        self: &Arc<Self>,
        ctx: WriteCtx,
        id: String,
        secret: NewSecret,
        grace: i64,
        if_match: Option<String>,
    ) -> Result<(Client, i64)> {
        self.call(move |c| rotate_secret(c, &ctx, &id, &secret, grace, if_match.as_deref()))
            .await
    }
    pub async fn get_client(self: &Arc<Self>, id: String) -> Result<Option<(Client, i64)>> {
        self.call(move |c| get_client(c, &id)).await
    }
    pub async fn list_clients(
        self: &Arc<Self>,
        scope: Option<String>,
        f: ClientFilter,
        now: i64,
    ) -> Result<Page<ClientView>> {
        self.call(move |c| list_clients(c, scope.as_deref(), &f, now))
            .await
    }
    pub async fn update_client(
        self: &Arc<Self>,
        ctx: WriteCtx,
        id: String,
        patch: serde_json::Map<String, Value>,
        if_match: Option<String>,
    ) -> Result<(Client, i64)> {
        self.call(move |c| update_client(c, &ctx, &id, &patch, if_match.as_deref()))
            .await
    }
    pub async fn revoke_client(
        self: &Arc<Self>,
        ctx: WriteCtx,
        id: String,
    ) -> Result<(Client, i64)> {
        self.call(move |c| revoke_client(c, &ctx, &id)).await
    }
    pub async fn record_clock_set(self: &Arc<Self>, ctx: WriteCtx, to: i64) -> Result<()> {
        self.call(move |c| record_clock_set(c, &ctx, to)).await
    }
    pub async fn list_audit(self: &Arc<Self>, after: i64, limit: i64) -> Result<Page<AuditEvent>> {
        self.call(move |c| list_audit(c, after, limit)).await
    }
}

// ---------- rows ----------

const ORG_COLS: &str = "id, name, legal_entity, technical_owner, approval_authority, commercial_sponsor, contract_id, \
     contract_start, contract_end, tenant, business_unit, allowed_scopes, max_clients, labels, created_at, \
     updated_at, offboarded_at, version, seq";

fn org_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Org> {
    let scopes: String = r.get(11)?;
    let labels: String = r.get(13)?;
    Ok(Org {
        id: r.get(0)?,
        name: r.get(1)?,
        legal_entity: r.get(2)?,
        technical_owner: r.get(3)?,
        approval_authority: r.get(4)?,
        commercial_sponsor: r.get(5)?,
        contract_id: r.get(6)?,
        contract_start: r.get(7)?,
        contract_end: r.get(8)?,
        tenant: r.get(9)?,
        business_unit: r.get(10)?,
        allowed_scopes: serde_json::from_str(&scopes).unwrap_or_default(),
        max_clients: r.get(12)?,
        labels: serde_json::from_str(&labels).unwrap_or_default(),
        created_at: r.get(14)?,
        updated_at: r.get(15)?,
        offboarded_at: r.get(16)?,
        version: r.get(17)?,
    })
}

const CLIENT_COLS: &str = "c.id, c.client_id, c.org_id, c.name, c.purpose, c.owner, c.scopes, c.expires_at, \
     c.created_at, c.updated_at, c.revoked_at, c.version, o.contract_end, c.seq, c.secret_rotated_at, c.last_used_at, \
     (SELECT MAX(s.not_after) FROM client_secrets s WHERE s.client_ref = c.id)";

fn client_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Client, i64)> {
    let scopes: String = r.get(6)?;
    let end: String = r.get(12)?;
    Ok((
        Client {
            id: r.get(0)?,
            client_id: r.get(1)?,
            org_id: r.get(2)?,
            name: r.get(3)?,
            purpose: r.get(4)?,
            owner: r.get(5)?,
            scopes: serde_json::from_str(&scopes).unwrap_or_default(),
            expires_at: r.get(7)?,
            created_at: r.get(8)?,
            updated_at: r.get(9)?,
            revoked_at: r.get(10)?,
            version: r.get(11)?,
            secret_rotated_at: r.get(14)?,
            last_used_at: r.get(15)?,
            previous_secret_not_after: r.get(16)?,
        },
        end_of_day(&end).unwrap_or(0),
    ))
}

fn json_text<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

pub fn get_org(c: &Connection, id: &str) -> Result<Option<Org>> {
    Ok(c.query_row(
        &format!("SELECT {ORG_COLS} FROM orgs WHERE id = ?1"),
        [id],
        org_from_row,
    )
    .optional()?)
}

pub fn get_client(c: &Connection, id: &str) -> Result<Option<(Client, i64)>> {
    Ok(c
        .query_row(
            &format!("SELECT {CLIENT_COLS} FROM clients c JOIN orgs o ON o.id = c.org_id WHERE c.id = ?1 OR c.client_id = ?1"),
            [id],
            client_from_row,
        )
        .optional()?)
}

fn live_clients(c: &Connection, org_id: &str) -> Result<Vec<Client>> {
    let mut st = c.prepare(&format!(
        "SELECT {CLIENT_COLS} FROM clients c JOIN orgs o ON o.id = c.org_id WHERE c.org_id = ?1 AND c.revoked_at IS NULL ORDER BY c.seq"
    ))?;
    let rows = st.query_map([org_id], client_from_row)?;
    let mut out = Vec::new();
    for r in rows {
        out.push(r?.0);
    }
    Ok(out)
}

fn today(now: i64) -> String {
    fmt_ts(now)[..10].to_string()
}

// ---------- audit ----------

/// Appends the event of a change made through the API, in its transaction.
#[allow(clippy::too_many_arguments)]
fn audit(
    tx: &Transaction<'_>,
    ctx: &WriteCtx,
    action: &str,
    kind: &str,
    id: &str,
    org: Option<&str>,
    before: Option<Value>,
    after: Option<Value>,
) -> Result<()> {
    crate::audit::append(
        tx,
        &ctx.chain.key,
        NewEvent {
            at: ctx.now,
            actor: &ctx.actor.name,
            request_id: &ctx.request_id,
            change_ref: ctx.change_ref.as_deref(),
            action,
            entity_kind: kind,
            entity_id: id,
            org_id: org,
            before,
            after,
        },
    )
}

/// Verifies the audit chain under the server key and against its head file.
pub fn verify_audit(c: &Connection, chain: &Chain) -> Result<AuditCheck> {
    crate::audit::verify(c, chain)
}

pub fn list_audit(c: &Connection, after: i64, limit: i64) -> Result<Page<AuditEvent>> {
    let mut st = c.prepare(
        "SELECT seq, at, actor, action, entity_kind, entity_id, org_id, before, after, request_id, change_ref, prev_hash, hash
         FROM audit_events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = st.query_map(params![after, limit + 1], |r| {
        let before: Option<String> = r.get(7)?;
        let after: Option<String> = r.get(8)?;
        Ok(AuditEvent {
            seq: r.get(0)?,
            at: fmt_ts(r.get(1)?),
            actor: r.get(2)?,
            action: r.get(3)?,
            entity_kind: r.get(4)?,
            entity_id: r.get(5)?,
            org_id: r.get(6)?,
            before: before.and_then(|s| serde_json::from_str(&s).ok()),
            after: after.and_then(|s| serde_json::from_str(&s).ok()),
            request_id: r.get(9)?,
            change_ref: r.get(10)?,
            prev_hash: r.get(11)?,
            hash: r.get(12)?,
        })
    })?;
    let mut items = Vec::new();
    for r in rows {
        items.push(r?);
    }
    Ok(paginate(items, limit, |e| e.seq))
}

fn paginate<T>(mut items: Vec<T>, limit: i64, cursor_of: impl Fn(&T) -> i64) -> Page<T> {
    let more = items.len() as i64 > limit;
    items.truncate(limit.max(0) as usize);
    let next_cursor = if more {
        items.last().map(|i| cursor_of(i).to_string())
    } else {
        None
    };
    Page { items, next_cursor }
}

// ---------- idempotency ----------

fn idem_lookup(
    tx: &Transaction<'_>,
    ctx: &WriteCtx,
    idem: Option<&Idem>,
) -> Result<Option<Created>> {
    let Some(idem) = idem else { return Ok(None) };
    let row: Option<(String, String, String)> = tx
        .query_row(
            "SELECT fingerprint, response, location FROM idempotency_keys WHERE token_id = ?1 AND key = ?2",
            params![ctx.actor.token_id, idem.key],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    match row {
        None => Ok(None),
        Some((fp, _, _)) if fp != idem.fingerprint => Err(Error::field(
            "Idempotency-Key",
            "this key was already used with a different request body; use a new key for a different request",
        )),
        Some((_, response, location)) => {
            let body: Value = serde_json::from_str(&response).unwrap_or(Value::Null);
            let version = body.get("version").and_then(Value::as_i64).unwrap_or(1);
            Ok(Some(Created {
                body,
                location,
                version,
                replayed: true,
            }))
        }
    }
}

fn idem_store(
    tx: &Transaction<'_>,
    ctx: &WriteCtx,
    idem: Option<&Idem>,
    created: &Created,
) -> Result<()> {
    if let Some(idem) = idem {
        tx.execute(
            "INSERT INTO idempotency_keys (token_id, key, fingerprint, status, response, location, created_at) VALUES (?1, ?2, ?3, 201, ?4, ?5, ?6)",
            params![ctx.actor.token_id, idem.key, idem.fingerprint, created.body.to_string(), created.location, ctx.now],
        )?;
    }
    Ok(())
}

// ---------- orgs ----------

fn org_rules(c: &Connection, draft: &mut OrgDraft, current: Option<&Org>, now: i64) -> Result<()> {
    let this_id = current.map(|o| o.id.as_str()).unwrap_or("");
    if let Some(name) = &draft.name {
        let taken: Option<String> = c
            .query_row(
                "SELECT id FROM orgs WHERE name = ?1 AND offboarded_at IS NULL AND id != ?2",
                params![name, this_id],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(other) = taken {
            draft.errors.push(FieldError::new(
                "name",
                format!("an org named {name:?} already exists ({other})"),
            ));
        }
    }
    let Some(current) = current else {
        return Ok(());
    };
    let clients = live_clients(c, &current.id)?;
    if let Some(allowed) = &draft.allowed_scopes {
        let blocking: Vec<String> = clients
            .iter()
            .filter_map(|cl| {
                let missing: Vec<&str> = cl
                    .scopes
                    .iter()
                    .filter(|s| !allowed.contains(s))
                    .map(|s| s.as_str())
                    .collect();
                (!missing.is_empty())
                    .then(|| format!("{} ({}) uses {}", cl.name, cl.client_id, missing.join(", ")))
            })
            .collect();
        if !blocking.is_empty() {
            draft.errors.push(FieldError::new(
                "allowed_scopes",
                format!(
                    "cannot remove scopes that existing clients hold: {}",
                    blocking.join("; ")
                ),
            ));
        }
    }
    if let Some(end) = draft.contract_end.as_deref().and_then(end_of_day) {
        let blocking: Vec<String> = clients
            .iter()
            .filter(|cl| cl.expires_at > end)
            .map(|cl| {
                format!(
                    "{} ({}) expires {}",
                    cl.name,
                    cl.client_id,
                    fmt_ts(cl.expires_at)
                )
            })
            .collect();
        if !blocking.is_empty() {
            draft.errors.push(FieldError::new(
                "contract_end",
                format!(
                    "cannot end the contract before existing clients expire: {}",
                    blocking.join("; ")
                ),
            ));
        }
    }
    if let Some(max) = draft.max_clients {
        let end = current.contract_end_ts();
        let active: Vec<&Client> = clients
            .iter()
            .filter(|cl| cl.status(now, end) == ClientStatus::Active)
            .collect();
        if (active.len() as i64) > max {
            draft.errors.push(FieldError::new(
                "max_clients",
                format!(
                    "the org has {} active clients, more than {max}: {}",
                    active.len(),
                    active
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    Ok(())
}

fn draft_into_org(d: OrgDraft, base: Org) -> Org {
    Org {
        name: d.name.unwrap_or_default(),
        legal_entity: d.legal_entity.unwrap_or_default(),
        technical_owner: d.technical_owner.unwrap_or_default(),
        approval_authority: d.approval_authority.unwrap_or_default(),
        commercial_sponsor: d.commercial_sponsor,
        contract_id: d.contract_id.unwrap_or_default(),
        contract_start: d.contract_start,
        contract_end: d.contract_end.unwrap_or_default(),
        tenant: d.tenant,
        business_unit: d.business_unit,
        allowed_scopes: d.allowed_scopes.unwrap_or_default(),
        max_clients: d.max_clients.unwrap_or(DEFAULT_MAX_CLIENTS),
        labels: d.labels.unwrap_or_default(),
        ..base
    }
}

fn write_org(tx: &Transaction<'_>, o: &Org, insert: bool) -> Result<()> {
    let p = params![
        o.id,
        o.name,
        o.legal_entity,
        o.technical_owner,
        o.approval_authority,
        o.commercial_sponsor,
        o.contract_id,
        o.contract_start,
        o.contract_end,
        o.tenant,
        o.business_unit,
        json_text(&o.allowed_scopes),
        o.max_clients,
        json_text(&o.labels),
        o.created_at,
        o.updated_at,
        o.offboarded_at,
        o.version
    ];
    if insert {
        tx.execute(
            "INSERT INTO orgs (id, name, legal_entity, technical_owner, approval_authority, commercial_sponsor, contract_id,
               contract_start, contract_end, tenant, business_unit, allowed_scopes, max_clients, labels, created_at,
               updated_at, offboarded_at, version) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18)",
            p,
        )?;
    } else {
        tx.execute(
            "UPDATE orgs SET name=?2, legal_entity=?3, technical_owner=?4, approval_authority=?5, commercial_sponsor=?6,
               contract_id=?7, contract_start=?8, contract_end=?9, tenant=?10, business_unit=?11, allowed_scopes=?12,
               max_clients=?13, labels=?14, created_at=?15, updated_at=?16, offboarded_at=?17, version=?18 WHERE id=?1",
            p,
        )?;
    }
    Ok(())
}

fn view_json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

pub fn create_org(
    c: &mut Connection,
    ctx: &WriteCtx,
    mut draft: OrgDraft,
    idem: Option<&Idem>,
) -> Result<Created> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if let Some(replay) = idem_lookup(&tx, ctx, idem)? {
        return Ok(replay);
    }
    org_rules(&tx, &mut draft, None, ctx.now)?;
    if let Some(id) = &draft.id {
        let holder: Option<(String, Option<i64>)> = tx
            .query_row(
                "SELECT name, offboarded_at FROM orgs WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((name, off)) = holder {
            draft.errors.push(FieldError::new(
                "id",
                format!(
                    "{id} is already the id of org {name:?}{}; ids are never reused",
                    if off.is_some() { " (offboarded)" } else { "" }
                ),
            ));
        }
    }
    if !draft.errors.is_empty() {
        return Err(Error::Validation(draft.errors));
    }
    let id = match draft.id.take() {
        Some(id) => id,
        None => crate::crypto::new_id("org_")?,
    };
    let base = Org {
        id,
        name: String::new(),
        legal_entity: String::new(),
        technical_owner: String::new(),
        approval_authority: String::new(),
        commercial_sponsor: None,
        contract_id: String::new(),
        contract_start: None,
        contract_end: String::new(),
        tenant: None,
        business_unit: None,
        allowed_scopes: vec![],
        max_clients: DEFAULT_MAX_CLIENTS,
        labels: Default::default(),
        created_at: ctx.now,
        updated_at: ctx.now,
        offboarded_at: None,
        version: 1,
    };
    let org = draft_into_org(draft, base);
    write_org(&tx, &org, true)?;
    let body = view_json(&org.view(ctx.now));
    audit(
        &tx,
        ctx,
        "org.create",
        "org",
        &org.id,
        Some(&org.id),
        None,
        Some(body.clone()),
    )?;
    let created = Created {
        body,
        location: format!("/v1/orgs/{}", org.id),
        version: org.version,
        replayed: false,
    };
    idem_store(&tx, ctx, idem, &created)?;
    tx.commit()?;
    ctx.chain.sync_head(c);
    Ok(created)
}

fn check_if_match(if_match: Option<&str>, version: i64) -> Result<()> {
    let Some(given) = if_match else { return Ok(()) };
    let ok = given.split(',').map(str::trim).any(|tag| {
        tag == "*" || tag.trim_start_matches("W/").trim_matches('"') == version.to_string()
    });
    if ok {
        Ok(())
    } else {
        Err(Error::PreconditionFailed {
            given: given.to_string(),
            current: version,
        })
    }
}

pub fn list_orgs(
    c: &Connection,
    scope: Option<&str>,
    f: &OrgFilter,
    now: i64,
) -> Result<Page<OrgView>> {
    let today = today(now);
    let status = match f.status {
        None => "",
        Some(OrgStatus::Active) => "AND offboarded_at IS NULL AND contract_end >= ?4",
        Some(OrgStatus::Expired) => "AND offboarded_at IS NULL AND contract_end < ?4",
        Some(OrgStatus::Offboarded) => "AND offboarded_at IS NOT NULL",
    };
    let sql = format!(
        "SELECT {ORG_COLS} FROM orgs WHERE seq > ?1 AND (?2 IS NULL OR id = ?2) AND (?3 IS NULL OR name = ?3) {status}
           AND ?4 = ?4 ORDER BY seq LIMIT ?5"
    );
    let mut st = c.prepare(&sql)?;
    let rows = st.query_map(params![f.cursor, scope, f.name, today, f.limit + 1], |r| {
        Ok((org_from_row(r)?, r.get::<_, i64>(18)?))
    })?;
    let mut items = Vec::new();
    for r in rows {
        items.push(r?);
    }
    let page = paginate(items, f.limit, |(_, seq)| *seq);
    Ok(Page {
        items: page.items.into_iter().map(|(o, _)| o.view(now)).collect(),
        next_cursor: page.next_cursor,
    })
}

pub fn update_org(
    c: &mut Connection,
    ctx: &WriteCtx,
    id: &str,
    patch: &serde_json::Map<String, Value>,
    if_match: Option<&str>,
) -> Result<Org> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current = get_org(&tx, id)?.ok_or_else(|| Error::NotFound(format!("no org {id}")))?;
    check_if_match(if_match, current.version)?;
    if current.offboarded_at.is_some() {
        return Err(Error::Conflict(format!(
            "org {id} is offboarded and can no longer change"
        )));
    }
    let mut merged = current.editable_json();
    merge_patch(&mut merged, patch);
    let mut draft = parse_org(&merged);
    org_rules(&tx, &mut draft, Some(&current), ctx.now)?;
    if !draft.errors.is_empty() {
        return Err(Error::Validation(draft.errors));
    }
    let mut next = draft_into_org(draft, current.clone());
    if next == current {
        return Ok(current);
    }
    next.updated_at = ctx.now;
    next.version = current.version + 1;
    write_org(&tx, &next, false)?;
    audit(
        &tx,
        ctx,
        "org.update",
        "org",
        id,
        Some(id),
        Some(view_json(&current.view(ctx.now))),
        Some(view_json(&next.view(ctx.now))),
    )?;
    tx.commit()?;
    ctx.chain.sync_head(c);
    Ok(next)
}

pub fn offboard_org(c: &mut Connection, ctx: &WriteCtx, id: &str) -> Result<Org> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current = get_org(&tx, id)?.ok_or_else(|| Error::NotFound(format!("no org {id}")))?;
    if current.offboarded_at.is_some() {
        return Ok(current);
    }
    let end = current.contract_end_ts();
    for cl in live_clients(&tx, id)? {
        let before = view_json(&cl.view(ctx.now, end));
        let revoked = Client {
            revoked_at: Some(ctx.now),
            updated_at: ctx.now,
            version: cl.version + 1,
            ..cl
        };
        tx.execute(
            "UPDATE clients SET revoked_at = ?2, updated_at = ?2, version = ?3 WHERE id = ?1",
            params![revoked.id, ctx.now, revoked.version],
        )?;
        audit(
            &tx,
            ctx,
            "client.revoke",
            "client",
            &revoked.id,
            Some(id),
            Some(before),
            Some(view_json(&revoked.view(ctx.now, end))),
        )?;
    }
    let next = Org {
        offboarded_at: Some(ctx.now),
        updated_at: ctx.now,
        version: current.version + 1,
        ..current.clone()
    };
    write_org(&tx, &next, false)?;
    audit(
        &tx,
        ctx,
        "org.offboard",
        "org",
        id,
        Some(id),
        Some(view_json(&current.view(ctx.now))),
        Some(view_json(&next.view(ctx.now))),
    )?;
    tx.commit()?;
    ctx.chain.sync_head(c);
    Ok(next)
}

// ---------- clients ----------

/// Rules of a client against its org. `current` is the client being updated.
fn client_rules(
    c: &Connection,
    ctx: &WriteCtx,
    d: &mut ClientDraft,
    org: &Org,
    current: Option<&Client>,
) -> Result<i64> {
    let now = ctx.now;
    let end = org.contract_end_ts();
    if org.offboarded_at.is_some() {
        d.errors.push(FieldError::new(
            "org_id",
            format!("org {} is offboarded", org.id),
        ));
    } else if now > end && current.is_none() {
        d.errors.push(FieldError::new(
            "org_id",
            format!(
                "the contract of org {} ended on {}",
                org.id, org.contract_end
            ),
        ));
    }
    if let Some(scopes) = &d.scopes {
        let outside: Vec<&str> = scopes
            .iter()
            .filter(|s| !org.allowed_scopes.contains(s))
            .map(|s| s.as_str())
            .collect();
        if !outside.is_empty() {
            d.errors.push(FieldError::new(
                "scopes",
                format!(
                    "not in the allowed_scopes of org {}: {}",
                    org.id,
                    outside.join(", ")
                ),
            ));
        }
    }
    let expires_at = match d.expires_at {
        Ok(Some(t)) => {
            if t > end {
                d.errors.push(FieldError::new(
                    "expires_at",
                    format!(
                        "must not be after the end of the org's contract ({})",
                        fmt_ts(end)
                    ),
                ));
            } else if t <= now && current.map(|c| c.expires_at) != Some(t) {
                d.errors
                    .push(FieldError::new("expires_at", "must be in the future"));
            }
            t
        }
        Ok(None) => end,
        Err(()) => end,
    };
    if let Some(name) = &d.name {
        let taken: Option<String> = c
            .query_row(
                "SELECT client_id FROM clients WHERE org_id = ?1 AND name = ?2 AND revoked_at IS NULL AND id != ?3",
                params![org.id, name, current.map(|c| c.id.as_str()).unwrap_or("")],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(other) = taken {
            d.errors.push(FieldError::new(
                "name",
                format!(
                    "org {} already has a client named {name:?} ({other})",
                    org.id
                ),
            ));
        }
    }
    let becomes_active = expires_at >= now && now <= end;
    let was_active = current.is_some_and(|cl| cl.status(now, end) == ClientStatus::Active);
    if becomes_active && !was_active && org.offboarded_at.is_none() {
        let active: Vec<String> = live_clients(c, &org.id)?
            .into_iter()
            .filter(|cl| cl.status(now, end) == ClientStatus::Active)
            .map(|cl| cl.name)
            .collect();
        if active.len() as i64 >= org.max_clients {
            d.errors.push(FieldError::new(
                "org_id",
                format!(
                    "org {} has reached its max_clients of {} active clients: {}",
                    org.id,
                    org.max_clients,
                    active.join(", ")
                ),
            ));
        }
    }
    Ok(expires_at)
}

pub fn create_client(
    c: &mut Connection,
    ctx: &WriteCtx,
    mut d: ClientDraft,
    secret: &NewSecret,
    idem: Option<&Idem>,
) -> Result<Created> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if let Some(replay) = idem_lookup(&tx, ctx, idem)? {
        return Ok(replay);
    }
    let org = match &d.org_id {
        Some(org_id) => {
            if !ctx.actor.sees(org_id) {
                return Err(Error::NotFound(format!("no org {org_id}")));
            }
            let org = get_org(&tx, org_id)?;
            if org.is_none() {
                d.errors
                    .push(FieldError::new("org_id", format!("no org {org_id}")));
            }
            org
        }
        None => None,
    };
    let expires_at = match &org {
        Some(org) => client_rules(&tx, ctx, &mut d, org, None)?,
        None => 0,
    };
    if !d.errors.is_empty() {
        return Err(Error::Validation(d.errors));
    }
    let org = org.ok_or_else(|| Error::Internal("org vanished".into()))?;
    let client = Client {
        id: crate::crypto::new_id("cli_")?,
        client_id: format!(
            "{}{}",
            crate::crypto::CLIENT_ID_PREFIX,
            crate::crypto::random_base62(24)?
        ),
        org_id: org.id.clone(),
        name: d.name.unwrap_or_default(),
        purpose: d.purpose.unwrap_or_default(),
        owner: d.owner.unwrap_or_default(),
        scopes: d.scopes.unwrap_or_default(),
        expires_at,
        created_at: ctx.now,
        updated_at: ctx.now,
        revoked_at: None,
        version: 1,
        secret_rotated_at: ctx.now,
        last_used_at: None,
        previous_secret_not_after: None,
    };
    tx.execute(
        "INSERT INTO clients (id, client_id, org_id, name, purpose, owner, scopes, expires_at, created_at, updated_at, revoked_at, version, secret_rotated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL, 1, ?9)",
        params![
            client.id,
            client.client_id,
            client.org_id,
            client.name,
            client.purpose,
            client.owner,
            json_text(&client.scopes),
            client.expires_at,
            ctx.now,
            ctx.now
        ],
    )?;
    tx.execute(
        "INSERT INTO client_secrets (client_ref, secret_hmac, source, created_at, not_after) VALUES (?1, ?2, ?3, ?4, NULL)",
        params![client.id, secret.hmac.as_slice(), secret.source, ctx.now],
    )?;
    let body = view_json(&client.view(ctx.now, org.contract_end_ts()));
    audit(
        &tx,
        ctx,
        "client.create",
        "client",
        &client.id,
        Some(&org.id),
        None,
        Some(body.clone()),
    )?;
    let created = Created {
        body,
        location: format!("/v1/clients/{}", client.id),
        version: 1,
        replayed: false,
    };
    idem_store(&tx, ctx, idem, &created)?;
    tx.commit()?;
    ctx.chain.sync_head(c);
    Ok(created)
}

pub fn list_clients(
    c: &Connection,
    scope: Option<&str>,
    f: &ClientFilter,
    now: i64,
) -> Result<Page<ClientView>> {
    let status = match f.status {
        None => "",
        Some(ClientStatus::Active) => {
            "AND c.revoked_at IS NULL AND c.expires_at >= ?4 AND o.contract_end >= ?5"
        }
        Some(ClientStatus::Expired) => {
            "AND c.revoked_at IS NULL AND (c.expires_at < ?4 OR o.contract_end < ?5)"
        }
        Some(ClientStatus::Revoked) => "AND c.revoked_at IS NOT NULL",
    };
    let expiring = if f.expiring_within.is_some() {
        "AND c.revoked_at IS NULL AND c.expires_at >= ?4 AND c.expires_at <= ?6"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {CLIENT_COLS} FROM clients c JOIN orgs o ON o.id = c.org_id
         WHERE c.seq > ?1 AND (?2 IS NULL OR c.org_id = ?2) AND (?3 IS NULL OR c.org_id = ?3) {status} {expiring}
           AND ?4 = ?4 AND ?5 = ?5 AND ?6 = ?6 ORDER BY c.seq LIMIT ?7"
    );
    let horizon = now.saturating_add(f.expiring_within.unwrap_or(0));
    let mut st = c.prepare(&sql)?;
    let rows = st.query_map(
        params![
            f.cursor,
            scope,
            f.org_id,
            now,
            today(now),
            horizon,
            f.limit + 1
        ],
        |r| Ok((client_from_row(r)?, r.get::<_, i64>(13)?)),
    )?;
    let mut items = Vec::new();
    for r in rows {
        items.push(r?);
    }
    let page = paginate(items, f.limit, |(_, seq)| *seq);
    Ok(Page {
        items: page
            .items
            .into_iter()
            .map(|((cl, end), _)| cl.view(now, end))
            .collect(),
        next_cursor: page.next_cursor,
    })
}

pub fn update_client(
    c: &mut Connection,
    ctx: &WriteCtx,
    id: &str,
    patch: &serde_json::Map<String, Value>,
    if_match: Option<&str>,
) -> Result<(Client, i64)> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (current, end) = get_client(&tx, id)?
        .filter(|(cl, _)| ctx.actor.sees(&cl.org_id))
        .ok_or_else(|| Error::NotFound(format!("no client {id}")))?;
    check_if_match(if_match, current.version)?;
    if current.revoked_at.is_some() {
        return Err(Error::Conflict(format!(
            "client {id} is revoked and can no longer change"
        )));
    }
    let org = get_org(&tx, &current.org_id)?
        .ok_or_else(|| Error::Internal("client without org".into()))?;
    let mut merged = current.editable_json();
    merge_patch(&mut merged, patch);
    let mut d = parse_client(&merged);
    if let Some(other) = patch
        .get("org_id")
        .filter(|v| v.as_str() != Some(current.org_id.as_str()))
    {
        d.errors.retain(|e| e.field != "org_id");
        d.errors.push(FieldError::new(
            "org_id",
            format!(
                "a client never changes org (it belongs to {}, not {other}); create a new client under the other org instead",
                current.org_id
            ),
        ));
    }
    let expires_at = client_rules(&tx, ctx, &mut d, &org, Some(&current))?;
    if !d.errors.is_empty() {
        return Err(Error::Validation(d.errors));
    }
    let mut next = Client {
        name: d.name.unwrap_or_default(),
        purpose: d.purpose.unwrap_or_default(),
        owner: d.owner.unwrap_or_default(),
        scopes: d.scopes.unwrap_or_default(),
        expires_at,
        ..current.clone()
    };
    if next == current {
        return Ok((current, end));
    }
    next.updated_at = ctx.now;
    next.version = current.version + 1;
    tx.execute(
        "UPDATE clients SET name=?2, purpose=?3, owner=?4, scopes=?5, expires_at=?6, updated_at=?7, version=?8 WHERE id=?1",
        params![
            next.id,
            next.name,
            next.purpose,
            next.owner,
            json_text(&next.scopes),
            next.expires_at,
            next.updated_at,
            next.version
        ],
    )?;
    audit(
        &tx,
        ctx,
        "client.update",
        "client",
        &next.id,
        Some(&next.org_id),
        Some(view_json(&current.view(ctx.now, end))),
        Some(view_json(&next.view(ctx.now, end))),
    )?;
    tx.commit()?;
    ctx.chain.sync_head(c);
    Ok((next, end))
}

pub fn revoke_client(c: &mut Connection, ctx: &WriteCtx, id: &str) -> Result<(Client, i64)> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (current, end) = get_client(&tx, id)?
        .filter(|(cl, _)| ctx.actor.sees(&cl.org_id))
        .ok_or_else(|| Error::NotFound(format!("no client {id}")))?;
    if current.revoked_at.is_some() {
        return Ok((current, end));
    }
    let next = Client {
        revoked_at: Some(ctx.now),
        updated_at: ctx.now,
        version: current.version + 1,
        ..current.clone()
    };
    tx.execute(
        "UPDATE clients SET revoked_at = ?2, updated_at = ?2, version = ?3 WHERE id = ?1",
        params![next.id, ctx.now, next.version],
    )?;
    audit(
        &tx,
        ctx,
        "client.revoke",
        "client",
        &next.id,
        Some(&next.org_id),
        Some(view_json(&current.view(ctx.now, end))),
        Some(view_json(&next.view(ctx.now, end))),
    )?;
    tx.commit()?;
    ctx.chain.sync_head(c);
    Ok((next, end))
}

/// Replaces a client's secret. The current one stays valid until `now + grace`
/// (dropped at once for a grace of 0); any older previous secret is dropped, so at
/// most two are ever valid.
pub fn rotate_secret(
    c: &mut Connection,
    ctx: &WriteCtx,
    id: &str,
    secret: &NewSecret,
    grace: i64,
    if_match: Option<&str>,
) -> Result<(Client, i64)> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (current, end) = get_client(&tx, id)?
        .filter(|(cl, _)| ctx.actor.sees(&cl.org_id))
        .ok_or_else(|| Error::NotFound(format!("no client {id}")))?;
    check_if_match(if_match, current.version)?;
    if current.revoked_at.is_some() {
        return Err(Error::Conflict(format!(
            "client {id} is revoked; a revoked client's secret never rotates"
        )));
    }
    // A rotation to a secret the client already has would leave whoever
    // holds it (a previous owner, say) with a working secret.
    let already_held: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM client_secrets WHERE client_ref = ?1 AND secret_hmac = ?2)",
        params![current.id, secret.hmac.as_slice()],
        |r| r.get(0),
    )?;
    if already_held {
        return Err(Error::field(
            "client_secret",
            "must differ from the client's current and previous secrets: a rotation replaces the secret",
        ));
    }
    tx.execute(
        "DELETE FROM client_secrets WHERE client_ref = ?1 AND not_after IS NOT NULL",
        [&current.id],
    )?;
    if grace > 0 {
        tx.execute(
            "UPDATE client_secrets SET not_after = ?2 WHERE client_ref = ?1 AND not_after IS NULL",
            params![current.id, ctx.now.saturating_add(grace)],
        )?;
    } else {
        tx.execute(
            "DELETE FROM client_secrets WHERE client_ref = ?1",
            [&current.id],
        )?;
    }
    tx.execute(
        "INSERT INTO client_secrets (client_ref, secret_hmac, source, created_at, not_after) VALUES (?1, ?2, ?3, ?4, NULL)",
        params![current.id, secret.hmac.as_slice(), secret.source, ctx.now],
    )?;
    tx.execute(
        "UPDATE clients SET secret_rotated_at = ?2, updated_at = ?2, version = ?3 WHERE id = ?1",
        params![current.id, ctx.now, current.version + 1],
    )?;
    let (next, _) =
        get_client(&tx, &current.id)?.ok_or_else(|| Error::Internal("client vanished".into()))?;
    audit(
        &tx,
        ctx,
        "client.rotate_secret",
        "client",
        &next.id,
        Some(&next.org_id),
        Some(view_json(&current.view(ctx.now, end))),
        Some(view_json(&next.view(ctx.now, end))),
    )?;
    tx.commit()?;
    ctx.chain.sync_head(c);
    Ok((next, end))
}

// ---------- fake clock ----------

/// Appends the event of a move of the fake clock (`serve --fake-clock` only) from
/// `ctx.now` to `to`; the caller moves the clock once this has committed.
pub fn record_clock_set(c: &mut Connection, ctx: &WriteCtx, to: i64) -> Result<()> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    audit(
        &tx,
        ctx,
        "clock.set",
        "clock",
        "clock",
        None,
        Some(json!({"now": fmt_ts(ctx.now)})),
        Some(json!({"now": fmt_ts(to)})),
    )?;
    tx.commit()?;
    ctx.chain.sync_head(c);
    Ok(())
}

/// Every org that is not offboarded and every client that is not revoked (of
/// those orgs), for the entitlement review.
pub fn review_data(c: &Connection) -> Result<(Vec<Org>, Vec<Client>)> {
    let mut st = c.prepare(&format!(
        "SELECT {ORG_COLS} FROM orgs WHERE offboarded_at IS NULL ORDER BY seq"
    ))?;
    let orgs = st
        .query_map([], org_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut st = c.prepare(&format!(
        "SELECT {CLIENT_COLS} FROM clients c JOIN orgs o ON o.id = c.org_id
         WHERE c.revoked_at IS NULL AND o.offboarded_at IS NULL ORDER BY c.seq"
    ))?;
    let clients = st
        .query_map([], client_from_row)?
        .map(|r| r.map(|(cl, _)| cl))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((orgs, clients))
}

// ---------- API tokens (CLI) ----------

const CLI_ACTOR: &str = "cli";

/// Appends the event of a token change made with the CLI, in its transaction.
#[allow(clippy::too_many_arguments)]
fn cli_audit(
    tx: &Transaction<'_>,
    chain: &Chain,
    now: i64,
    action: &str,
    name: &str,
    org: Option<&str>,
    before: Option<Value>,
    after: Option<Value>,
) -> Result<()> {
    let request_id = crate::crypto::new_id("cli_").unwrap_or_else(|_| "cli".into());
    crate::audit::append(
        tx,
        &chain.key,
        NewEvent {
            at: now,
            actor: CLI_ACTOR,
            request_id: &request_id,
            change_ref: None,
            action,
            entity_kind: "token",
            entity_id: name,
            org_id: org,
            before,
            after,
        },
    )
}

/// Creates an API token and returns it (the only time it is seen).
pub fn token_create(
    c: &mut Connection,
    chain: &Chain,
    name: &str,
    role: Role,
    org: Option<&str>,
    now: i64,
) -> Result<String> {
    let mut errors = Vec::new();
    if name.trim().is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "name",
            "must be 1 to 100 printable characters",
        ));
    }
    match (role, org) {
        (Role::Org, None) => errors.push(FieldError::new("org", "an org token needs --org ORG_ID")),
        (Role::Admin | Role::Reviewer, Some(_)) => errors.push(FieldError::new(
            "org",
            "only org tokens are bound to an org",
        )),
        _ => {}
    }
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if let Some(org) = org {
        if get_org(&tx, org)?.is_none() {
            errors.push(FieldError::new("org", format!("no org {org}")));
        }
    }
    let taken: bool = tx.query_row(
        "SELECT EXISTS(SELECT 1 FROM api_tokens WHERE name = ?1 AND revoked_at IS NULL)",
        [name],
        |r| r.get(0),
    )?;
    if taken {
        errors.push(FieldError::new(
            "name",
            format!("a live token named {name:?} exists"),
        ));
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let token = crate::crypto::new_api_token()?;
    let hash = chain.key.hash_token(&token);
    tx.execute(
        "INSERT INTO api_tokens (name, role, org_id, token_hmac, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![name, role.as_str(), org, hash.as_slice(), now],
    )?;
    let after =
        json!({"name": name, "role": role.as_str(), "org_id": org, "created_at": fmt_ts(now)});
    cli_audit(
        &tx,
        chain,
        now,
        "token.create",
        name,
        org,
        None,
        Some(after),
    )?;
    tx.commit()?;
    chain.sync_head(c);
    Ok(token)
}

pub fn token_list(c: &Connection) -> Result<Vec<TokenInfo>> {
    let mut st =
        c.prepare("SELECT name, role, org_id, created_at, revoked_at FROM api_tokens ORDER BY id")?;
    let rows = st.query_map([], |r| {
        Ok(TokenInfo {
            name: r.get(0)?,
            role: r.get(1)?,
            org_id: r.get(2)?,
            created_at: fmt_ts(r.get(3)?),
            revoked_at: r.get::<_, Option<i64>>(4)?.map(fmt_ts),
        })
    })?;
    let mut out = Vec::new();
    for r in rows {
        out.push(r?);
    }
    Ok(out)
}

/// Revokes the live token named `name`.
pub fn token_revoke(c: &mut Connection, chain: &Chain, name: &str, now: i64) -> Result<()> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let row: Option<(i64, String, Option<String>, i64)> = tx
        .query_row(
            "SELECT id, role, org_id, created_at FROM api_tokens WHERE name = ?1 AND revoked_at IS NULL",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((id, role, org, created)) = row else {
        return Err(Error::NotFound(format!("no live token named {name:?}")));
    };
    tx.execute(
        "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1",
        params![id, now],
    )?;
    let before = json!({"name": name, "role": role, "org_id": org, "created_at": fmt_ts(created), "revoked_at": null});
    let after = json!({"name": name, "role": role, "org_id": org, "created_at": fmt_ts(created), "revoked_at": fmt_ts(now)});
    cli_audit(
        &tx,
        chain,
        now,
        "token.revoke",
        name,
        org.as_deref(),
        Some(before),
        Some(after),
    )?;
    tx.commit()?;
    chain.sync_head(c);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_databases_migrate_with_secret_rotated_at_from_created_at() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        {
            let c = open_connection(&path).unwrap();
            c.execute_batch(SCHEMA_V1).unwrap();
            c.pragma_update(None, "user_version", 1).unwrap();
            c.execute_batch(
                "INSERT INTO orgs (id, name, legal_entity, technical_owner, approval_authority, contract_id, contract_end,
                   allowed_scopes, max_clients, labels, created_at, updated_at, version)
                 VALUES ('org_1', 'acme', 'A', 't@a.example', 'b@a.example', 'C', '2099-12-31', '[]', 10, '{}', 5, 5, 1);
                 INSERT INTO clients (id, client_id, org_id, name, purpose, owner, scopes, expires_at, created_at, updated_at, version)
                 VALUES ('cli_1', 'pc_1', 'org_1', 'shop', 'p', 'o@a.example', '[]', 99, 7, 7, 1);",
            )
            .unwrap();
        }
        let chain = Chain::new(crate::crypto::SecretKey::from_bytes([3; 32]), &path);
        let mut c = open_connection(&path).unwrap();
        migrate(&mut c, &chain).unwrap();
        let (cl, _) = get_client(&c, "cli_1").unwrap().unwrap();
        assert_eq!(cl.secret_rotated_at, 7);
        assert_eq!(cl.last_used_at, None);
        assert_eq!(cl.previous_secret_not_after, None);
        // Idempotent.
        migrate(&mut c, &chain).unwrap();
    }

    #[test]
    fn version_3_token_rows_are_rehashed_under_the_key_and_keep_working() {
        use sha2::Digest;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v3.db");
        let token = crate::crypto::new_api_token().unwrap();
        let sha: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        let chain = Chain::new(crate::crypto::SecretKey::from_bytes([4; 32]), &path);
        {
            let mut c = open_connection(&path).unwrap();
            let tx = c.transaction().unwrap();
            for (sql, step) in &MIGRATIONS[..3] {
                tx.execute_batch(sql).unwrap();
                if let Some(step) = step {
                    step(&tx, &chain).unwrap();
                }
            }
            tx.pragma_update(None, "user_version", 3).unwrap();
            tx.execute(
                "INSERT INTO api_tokens (name, role, token_sha256, created_at) VALUES ('old', 'admin', ?1, 0)",
                [sha.as_slice()],
            )
            .unwrap();
            tx.commit().unwrap();
        }
        let mut c = open_connection(&path).unwrap();
        migrate(&mut c, &chain).unwrap();
        let stored: Vec<u8> = c
            .query_row(
                "SELECT token_hmac FROM api_tokens WHERE name = 'old'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stored, chain.key.hash_token(&token));
        assert_ne!(stored, sha);
        // The credential index finds the old token under its new hash.
        let cache = crate::cache::Cache::start(path.clone()).unwrap();
        let snap = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(cache.fresh())
            .unwrap();
        assert_eq!(snap.tokens[&chain.key.hash_token(&token)].name, "old");
        cache.stop();
    }
}
