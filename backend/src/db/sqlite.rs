//! The SQLite engine: one file, WAL, `synchronous=FULL` (a write is on disk
//! before it is acknowledged), foreign keys, `BEGIN IMMEDIATE` for every write,
//! versioned migrations through `PRAGMA user_version`.

use super::{
    CampaignSelect, Change, ClientFilter, CredentialRow, DayCount, IdemRecord, NewTokenRow,
    OrgFilter, Reader, Rows, SecretHash, Select, TokenRow, TokenSelect, Tx,
};
use crate::approvals::Approval;
use crate::audit::{Anchor, AuditHead, AuditRow, GENESIS};
use crate::campaigns::{Campaign, Cause, Decision, ReviewItem};
use crate::crypto::SecretKey;
use crate::error::{Error, Result};
use crate::records::{
    Client, ClientProfile, NewSecret, Org, OrgProfile, ReviewEnforcement, Role, end_of_day,
};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

/// Work a migration does beyond its SQL, in the same transaction.
type Step = fn(&mut Conn<'_>, Option<&SecretKey>) -> Result<()>;

/// The server key a migration step needs for rows that exist.
fn needed<'k>(key: Option<&'k SecretKey>, what: &str) -> Result<&'k SecretKey> {
    key.ok_or_else(|| {
        Error::Internal(format!(
            "migrating {what} needs the server key, and there is none: restore the key file first"
        ))
    })
}

/// Migrations, in order, one file each in `backend/migrations/sqlite/` (a
/// released one is never edited); `PRAGMA user_version` records how many ran.
/// A step, where there is one, runs after its SQL.
pub(crate) const MIGRATIONS: &[(&str, Option<Step>)] = &[
    (include_str!("../../migrations/sqlite/01_initial.sql"), None),
    (
        include_str!("../../migrations/sqlite/02_secret_rotation_and_last_use.sql"),
        None,
    ),
    (
        include_str!("../../migrations/sqlite/03_keyed_audit_chain.sql"),
        Some(rechain),
    ),
    (
        include_str!("../../migrations/sqlite/04_keyed_token_hashes.sql"),
        Some(rehash_tokens),
    ),
    (
        include_str!("../../migrations/sqlite/05_audit_head.sql"),
        Some(init_audit_head),
    ),
    (
        include_str!("../../migrations/sqlite/06_token_lifetime.sql"),
        None,
    ),
    (
        include_str!("../../migrations/sqlite/07_live_client_expiry_index.sql"),
        None,
    ),
    (
        include_str!("../../migrations/sqlite/08_access_reviews.sql"),
        None,
    ),
    (
        include_str!("../../migrations/sqlite/09_intermediaries_private_keys_approvals.sql"),
        None,
    ),
    (
        include_str!("../../migrations/sqlite/10_assertion_jtis.sql"),
        None,
    ),
    (
        include_str!("../../migrations/sqlite/11_jwks_uri.sql"),
        None,
    ),
    (
        include_str!("../../migrations/sqlite/12_client_attributes.sql"),
        None,
    ),
];

/// Verifies the plain SHA-256 chain of a database from before version 3, then
/// recomputes every event's `prev_hash` and `hash` under the server key.
fn rechain(c: &mut Conn<'_>, key: Option<&SecretKey>) -> Result<()> {
    if c.audit_after(0, 1)?.is_empty() {
        return Ok(());
    }
    let key = needed(key, "the audit chain")?;
    if let Err(crate::audit::AuditCheck::Broken { seq, reason }) =
        crate::audit::walk(c, crate::crypto::sha256_hex)?
    {
        return Err(Error::Internal(format!(
            "the audit chain is broken at sequence number {seq} ({reason}); refusing to re-chain it \
             under the server key, which would hide the damage: investigate or restore a backup first"
        )));
    }
    let mut events = Vec::new();
    c.walk_audit(&mut |ev| {
        events.push(ev);
        Ok(true)
    })?;
    c.c.execute_batch("DROP TRIGGER audit_events_no_update")?;
    let mut prev = GENESIS.to_string();
    for ev in events {
        let mac = key.audit_mac(ev.canonical(&prev).as_bytes());
        c.c.execute(
            "UPDATE audit_events SET prev_hash = ?2, hash = ?3 WHERE seq = ?1",
            params![ev.seq, prev, mac],
        )?;
        prev = mac;
    }
    c.c.execute_batch(
        "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
         BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;",
    )?;
    Ok(())
}

fn rehash_tokens(c: &mut Conn<'_>, key: Option<&SecretKey>) -> Result<()> {
    let rows: Vec<(i64, Vec<u8>)> = {
        let mut st = c.c.prepare("SELECT id, token_hmac FROM api_tokens")?;
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    if rows.is_empty() {
        return Ok(());
    }
    let key = needed(key, "API tokens")?;
    for (id, digest) in rows {
        let digest: [u8; 32] = digest
            .try_into()
            .map_err(|_| Error::Internal(format!("api token {id}: not a SHA-256")))?;
        c.c.execute(
            "UPDATE api_tokens SET token_hmac = ?2 WHERE id = ?1",
            params![id, key.hash_token_digest(&digest).as_slice()],
        )?;
    }
    Ok(())
}

fn init_audit_head(c: &mut Conn<'_>, key: Option<&SecretKey>) -> Result<()> {
    let last: Option<(i64, String)> =
        c.c.query_row(
            "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((seq, hash)) = last {
        let head = AuditHead::new(needed(key, "the audit head")?, seq, &hash);
        set_head(c.c, &head)?;
    }
    Ok(())
}

fn set_head(c: &Connection, head: &AuditHead) -> Result<()> {
    c.execute(
        "INSERT INTO audit_head (id, seq, hash, mac) VALUES (1, ?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, mac = excluded.mac",
        params![head.seq, head.hash, head.mac],
    )?;
    Ok(())
}

/// Opens one connection with the pragmas every connection needs.
pub fn open_connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Each open connection keeps its own page cache (SQLite's default is
    // 2 MiB): with the pool and the writer that is most of the registry's
    // memory past the credential cache. The kernel's page cache holds the
    // file anyway, so a smaller one costs a copy, not a disk read.
    conn.pragma_update(None, "cache_size", PAGE_CACHE_KIB)?;
    // SQLite's automatic checkpoint runs inline, on the connection that
    // commits: here the one writer thread, so by default every ~1000 WAL
    // pages a write batch would wait while pages are copied into the
    // database file and fsynced (far longer once a large table's dirty pages
    // are spread out). The `Sqlite`'s checkpointer thread copies them
    // instead, off the write path, and the writer's own checkpoint is left
    // as the WAL's bound: past it, the frames left to copy are few and the
    // WAL can start over. Durability is unchanged (a commit is fsynced in
    // the WAL).
    conn.pragma_update(None, "wal_autocheckpoint", WAL_FRAMES_MAX)?;
    // Once a checkpoint has let the WAL start over, a WAL file grown past
    // this is truncated back to it.
    conn.pragma_update(None, "journal_size_limit", WAL_FILE_LIMIT_BYTES)?;
    Ok(conn)
}

/// The size (bytes) a WAL file is truncated back to after it starts over.
const WAL_FILE_LIMIT_BYTES: i64 = 64 * 1024 * 1024;

/// The frames (about 64 MiB of 4 KiB pages) past which a commit checkpoints
/// the WAL itself. Under sustained writes the writer keeps appending while
/// the checkpointer copies, so the WAL may never find a moment to start over
/// by itself; the writer's checkpoint finds what is left (little: the
/// checkpointer has copied the rest) and lets the next write start it over.
const WAL_FRAMES_MAX: i64 = 16_384;

/// The page cache of one connection, in KiB (a negative `cache_size` is KiB).
const PAGE_CACHE_KIB: i64 = -512;

/// Creates an empty database file readable by its owner only (SQLite gives
/// its WAL and shared-memory files the same mode).
fn create_private(path: &Path) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(f) => {
            f.sync_all()
                .map_err(|e| Error::Internal(format!("{}: {e}", path.display())))?;
            crate::crypto::sync_parent(path);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::Internal(format!(
            "cannot create the database {}: {e}",
            path.display()
        ))),
    }
}

/// Creates or migrates the database on `conn`; `anchor` is the head file beside it
/// (written for a database made from nothing or just re-chained).
pub fn migrate(conn: &Connection, key: Option<&SecretKey>, anchor: &Anchor) -> Result<()> {
    // A migration may rebuild a table (SQLite changes a CHECK no other way),
    // which foreign keys would block; they are checked before the commit.
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    let res = migrate_in_transaction(conn, key, anchor);
    conn.pragma_update(None, "foreign_keys", "ON")?;
    res
}

fn migrate_in_transaction(
    conn: &Connection,
    key: Option<&SecretKey>,
    anchor: &Anchor,
) -> Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let res = (|| {
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let target = MIGRATIONS.len() as i64;
        if version > target {
            return Err(Error::Internal(format!(
                "database schema version {version} is newer than this binary ({target})"
            )));
        }
        let mut c = Conn::new(conn);
        for (i, (sql, step)) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            conn.execute_batch(sql)?;
            if let Some(step) = step {
                step(&mut c, key)?;
            }
            conn.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        // A database made from nothing or just re-chained gets a new anchor; any
        // other keeps its own, which only commits move up.
        if version < 3 {
            let head = c.audit_head()?;
            let (seq, hash) = head
                .map(|h| (h.seq, h.hash))
                .unwrap_or((0, GENESIS.to_string()));
            anchor.reset(seq, &hash).map_err(crate::audit::anchor_err)?;
        }
        let broken: Option<String> = conn
            .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
            .optional()?;
        if let Some(table) = broken {
            return Err(Error::Internal(format!(
                "the migration left a row of {table} without its parent; nothing was changed"
            )));
        }
        Ok(())
    })();
    match res {
        Ok(()) => Ok(conn.execute_batch("COMMIT")?),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// A SQLite database: its file, a small pool of open connections, and the
/// thread that checkpoints its WAL.
pub struct Sqlite {
    path: PathBuf,
    pool: Mutex<Vec<Connection>>,
    checkpoints: Arc<Checkpoints>,
    /// The checkpointer thread, until it is stopped.
    checkpointer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// What the writer tells the checkpointer thread.
#[derive(Default)]
struct Checkpoints {
    state: Mutex<CheckpointState>,
    wake: Condvar,
}

#[derive(Default)]
struct CheckpointState {
    /// Commits so far; the checkpointer runs when it has not seen them all.
    commits: u64,
    stop: bool,
}

impl Checkpoints {
    fn lock(&self) -> std::sync::MutexGuard<'_, CheckpointState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes one commit (never blocks on a checkpoint: the lock is only held
    /// to read or bump the counter).
    fn committed(&self) {
        self.lock().commits += 1;
        self.wake.notify_one();
    }

    fn stop(&self) {
        self.lock().stop = true;
        self.wake.notify_one();
    }

    /// Waits for commits the checkpointer has not seen (`seen` is the count
    /// it saw last); `None` once stopped.
    fn wait_past(&self, seen: u64) -> Option<u64> {
        let mut state = self.lock();
        while state.commits == seen && !state.stop {
            state = self.wake.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        (!state.stop).then_some(state.commits)
    }
}

/// The checkpointer thread: after commits, copies the WAL into the database
/// file (a passive checkpoint: it never holds a writer or reader back).
fn run_checkpointer(conn: Connection, checkpoints: Arc<Checkpoints>) {
    let mut seen = 0;
    while let Some(commits) = checkpoints.wait_past(seen) {
        // A failed checkpoint is logged and tried again after the next
        // commit (not at once: what failed would likely fail again).
        seen = commits;
        if let Err(e) = checkpoint(&conn) {
            tracing::warn!(error = %e, "the WAL checkpoint failed; retrying after the next commit");
        }
    }
    let _ = conn.close();
}

/// `PRAGMA wal_checkpoint(PASSIVE)`: copies what it can of the WAL into the
/// database file without waiting for any lock.
fn checkpoint(conn: &Connection) -> Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
    Ok(())
}

const POOL_MAX: usize = 8;

impl Sqlite {
    /// Opens (when `create`, creating) and migrates the database at `path`.
    pub fn open(path: &Path, key: Option<&SecretKey>, create: bool) -> Result<Sqlite> {
        if !path.exists() {
            if !create {
                return Err(Error::NotFound(format!(
                    "no database at {} (check --db; `partner-registry init` creates one)",
                    path.display()
                )));
            }
            create_private(path)?;
        }
        let conn = open_connection(path)?;
        migrate(&conn, key, &Anchor::beside(path))?;
        let checkpointer_conn = open_connection(path)?;
        let checkpoints = Arc::new(Checkpoints::default());
        let shared = Arc::clone(&checkpoints);
        let checkpointer = std::thread::Builder::new()
            .name("registry-checkpointer".into())
            .spawn(move || run_checkpointer(checkpointer_conn, shared))
            .map_err(|e| Error::Internal(format!("cannot start the checkpointer: {e}")))?;
        Ok(Sqlite {
            path: path.to_path_buf(),
            pool: Mutex::new(vec![conn]),
            checkpoints,
            checkpointer: Mutex::new(Some(checkpointer)),
        })
    }

    /// Stops the checkpointer thread and waits for it (at most its current
    /// checkpoint).
    fn stop_checkpointer(&self) {
        self.checkpoints.stop();
        let thread = self
            .checkpointer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn take(&self) -> Result<Connection> {
        let conn = self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match conn {
            Some(c) => Ok(c),
            None => open_connection(&self.path),
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < POOL_MAX {
            pool.push(conn);
        }
    }

    fn with_conn<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.take()?;
        let out = f(&conn);
        self.give_back(conn);
        out
    }

    pub fn read<T>(&self, f: impl FnOnce(&mut dyn Reader) -> Result<T>) -> Result<T> {
        self.with_conn(|conn| {
            // One read transaction: every query sees the same snapshot.
            conn.execute_batch("BEGIN")?;
            let out = f(&mut Conn::new(conn));
            let _ = conn.execute_batch("COMMIT");
            out
        })
    }

    /// Runs a batch of writes in one `BEGIN IMMEDIATE` transaction, one commit.
    pub(crate) fn write_batch(&self, jobs: Vec<super::Job>) -> Vec<super::Answer> {
        let conn = match self.take() {
            Ok(c) => c,
            Err(e) => return jobs.into_iter().map(|j| j.refused(&e)).collect(),
        };
        let answers = match conn.execute_batch("BEGIN IMMEDIATE") {
            Err(e) => {
                let e = Error::from(e);
                jobs.into_iter().map(|j| j.refused(&e)).collect()
            }
            Ok(()) => {
                let answers = super::run_jobs(&mut Conn::new(&conn), jobs);
                match conn.execute_batch("COMMIT") {
                    Ok(()) => {
                        self.checkpoints.committed();
                        answers
                    }
                    Err(e) => {
                        let _ = conn.execute_batch("ROLLBACK");
                        super::commit_failed(answers, &Error::from(e))
                    }
                }
            }
        };
        self.give_back(conn);
        answers
    }

    /// Stops the checkpointer, checkpoints the WAL and closes every pooled
    /// connection.
    pub fn close(&self) {
        self.stop_checkpointer();
        let conns: Vec<Connection> =
            std::mem::take(&mut *self.pool.lock().unwrap_or_else(|e| e.into_inner()));
        for c in conns {
            let _ = c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
            let _ = c.close();
        }
    }
}

impl Drop for Sqlite {
    /// Stops the checkpointer thread (a `Sqlite` dropped unclosed leaves no
    /// thread behind).
    fn drop(&mut self) {
        self.stop_checkpointer();
    }
}

/// One connection inside a transaction: the [`Reader`] and [`Tx`] of SQLite.
pub struct Conn<'a> {
    c: &'a Connection,
    /// The last audit event this transaction appended.
    last_seq: Option<i64>,
}

impl<'a> Conn<'a> {
    fn new(c: &'a Connection) -> Self {
        Conn { c, last_seq: None }
    }
}

const ORG_COLS: &str = "id, name, legal_entity, technical_owner, approval_authority, commercial_sponsor, contract_id, \
     contract_start, contract_end, tenant, business_unit, allowed_scopes, max_clients, labels, created_at, \
     updated_at, offboarded_at, version, seq, review_enforcement, approval_policy";

fn org_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Org> {
    let enforcement: String = r.get(19)?;
    let labels: String = r.get(13)?;
    Ok(Org {
        id: r.get(0)?,
        profile: OrgProfile {
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
            allowed_scopes: scopes_at(r, 11)?,
            labels: serde_json::from_str(&labels).unwrap_or_default(),
        },
        max_clients: r.get(12)?,
        created_at: r.get(14)?,
        updated_at: r.get(15)?,
        offboarded_at: r.get(16)?,
        version: r.get(17)?,
        review_enforcement: ReviewEnforcement::parse(&enforcement).unwrap_or_default(),
        approval_policy: r.get(20)?,
    })
}

const CLIENT_COLS: &str = "c.id, c.client_id, c.org_id, c.name, c.purpose, c.owner, c.scopes, c.expires_at, \
     c.created_at, c.updated_at, c.revoked_at, c.version, o.contract_end, c.seq, c.secret_rotated_at, c.last_used_at, \
     (SELECT MAX(s.not_after) FROM client_secrets s WHERE s.client_ref = c.id), c.operated_by, c.attributes, \
     c.auth_method, c.jwks, c.jwks_uri";

fn client_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Client> {
    Ok(Client {
        id: r.get(0)?,
        client_id: r.get(1)?,
        org_id: r.get(2)?,
        profile: ClientProfile {
            name: r.get(3)?,
            purpose: r.get(4)?,
            owner: r.get(5)?,
            operated_by: r.get(17)?,
            scopes: scopes_at(r, 6)?,
            attributes: super::attributes_from_text(&r.get::<_, String>(18)?),
        },
        expires_at: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
        revoked_at: r.get(10)?,
        version: r.get(11)?,
        secret_rotated_at: r.get(14)?,
        last_used_at: r.get(15)?,
        previous_secret_not_after: r.get(16)?,
        auth_method: r.get(19)?,
        jwks: r.get(20)?,
        jwks_uri: r.get(21)?,
        org_contract_end: day_end_at(r, 12)?,
    })
}

/// A list of scopes stored as JSON text.
fn scopes_at(r: &rusqlite::Row<'_>, column: usize) -> rusqlite::Result<Vec<String>> {
    Ok(serde_json::from_str(&r.get::<_, String>(column)?).unwrap_or_default())
}

/// The end of a `YYYY-MM-DD` day stored as text. An unparsable date fails
/// closed: it ended before any time, so whatever it bounds reads as expired.
fn day_end_at(r: &rusqlite::Row<'_>, column: usize) -> rusqlite::Result<i64> {
    Ok(end_of_day(&r.get::<_, String>(column)?).unwrap_or(i64::MIN))
}

/// Tokens `t` with their org `o` (none for admin and reviewer tokens).
const TOKEN_COLS: &str = "t.id, t.name, t.role, t.org_id, t.token_hmac, t.created_at, t.revoked_at, \
     t.created_by, t.expires_at, t.last_used_at, o.offboarded_at, t.email \
     FROM api_tokens t LEFT JOIN orgs o ON o.id = t.org_id";

fn token_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRow> {
    let role: String = r.get(2)?;
    let hmac: Vec<u8> = r.get(4)?;
    Ok(TokenRow {
        id: r.get(0)?,
        name: r.get(1)?,
        role: Role::parse(&role).unwrap_or(Role::Reviewer),
        org_id: r.get(3)?,
        hmac: hmac.try_into().unwrap_or([0; 32]),
        created_at: r.get(5)?,
        revoked_at: r.get(6)?,
        created_by: r.get(7)?,
        expires_at: r.get(8)?,
        last_used_at: r.get(9)?,
        org_offboarded_at: r.get(10)?,
        email: r.get(11)?,
    })
}

/// The earliest due date of a campaign in which client `c` of org `o` is
/// undecided, under the org's `review_enforcement = 'suspend'`.
const SUSPENDED_AFTER: &str = "(SELECT MIN(rc.due_at) FROM review_items ri
     JOIN review_campaigns rc ON rc.id = ri.campaign_id
     WHERE ri.client_ref = c.id AND ri.decision IS NULL AND o.review_enforcement = 'suspend')";

/// Adds one day's introspections of one client to its count.
const USAGE_UPSERT: &str =
    "INSERT INTO client_usage_daily (client_ref, day, count) VALUES (?1, ?2, ?3)
     ON CONFLICT (client_ref, day) DO UPDATE SET count = client_usage_daily.count + excluded.count";

const CAMPAIGN_COLS: &str = "id, org_id, cause, note, opened_by, opened_at, due_at";
const ITEM_COLS: &str = "ri.campaign_id, ri.client_ref, c.client_id, c.name, c.owner, c.revoked_at, \
     ri.decision, ri.comment, ri.decided_by, ri.decided_at";

fn campaign_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Campaign> {
    let cause: String = r.get(2)?;
    Ok(Campaign {
        id: r.get(0)?,
        org_id: r.get(1)?,
        cause: Cause::parse(&cause).unwrap_or(Cause::Manual),
        note: r.get(3)?,
        opened_by: r.get(4)?,
        opened_at: r.get(5)?,
        due_at: r.get(6)?,
        items: Vec::new(),
    })
}

fn item_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, ReviewItem)> {
    let decision: Option<String> = r.get(6)?;
    Ok((
        r.get(0)?,
        ReviewItem {
            client_ref: r.get(1)?,
            client_id: r.get(2)?,
            client_name: r.get(3)?,
            owner: r.get(4)?,
            client_revoked_at: r.get(5)?,
            decision: decision.as_deref().and_then(Decision::parse),
            comment: r.get(7)?,
            decided_by: r.get(8)?,
            decided_at: r.get(9)?,
        },
    ))
}
/// The columns of an approval, in [`Approval`]'s order.
const APPROVAL_COLS: &str = "id, change_ref, entity_kind, entity_id, org_id, attribute, old_value, new_value, \
     approver, token_name, created_at, expires_at, used_at, used_by";

const AUDIT_COLS: &str = "seq, at, actor, action, entity_kind, entity_id, org_id, before, after, request_id, change_ref, prev_hash, hash";

fn audit_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok(AuditRow {
        seq: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        entity_kind: r.get(4)?,
        entity_id: r.get(5)?,
        org_id: r.get(6)?,
        before: r.get(7)?,
        after: r.get(8)?,
        request_id: r.get(9)?,
        change_ref: r.get(10)?,
        prev_hash: r.get(11)?,
        hash: r.get(12)?,
    })
}

/// The WHERE condition on `c` (clients) of a credential query, and its one
/// parameter.
fn select_condition(select: Select<'_>) -> (&'static str, Option<&str>) {
    match select {
        Select::All => ("?1 IS NULL", None),
        Select::Client(id) => ("c.id = ?1", Some(id)),
        Select::Org(id) => ("c.org_id = ?1", Some(id)),
    }
}

fn json_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

impl Conn<'_> {
    fn clients_where(&self, condition: &str, p: impl rusqlite::Params) -> Result<Vec<Client>> {
        let mut out = Vec::new();
        self.each_client_where(condition, p, &mut |c| {
            out.push(c);
            Ok(())
        })?;
        Ok(out)
    }

    /// [`Conn::clients_where`], each client handed to `f` as it is read.
    fn each_client_where(
        &self,
        condition: &str,
        p: impl rusqlite::Params,
        f: &mut dyn FnMut(Client) -> Result<()>,
    ) -> Result<()> {
        let mut st = self.c.prepare_cached(&format!(
            "SELECT {CLIENT_COLS} FROM clients c JOIN orgs o ON o.id = c.org_id WHERE {condition} ORDER BY c.seq"
        ))?;
        for client in st.query_map(p, client_from_row)? {
            f(client?)?;
        }
        Ok(())
    }

    /// Moves `last_used_at` of the rows of `table` up to each use, never back.
    fn note_uses<K: rusqlite::ToSql>(&self, table: &str, uses: &[(K, i64)]) -> Result<()> {
        let mut st = self.c.prepare_cached(&format!(
            "UPDATE {table} SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2)"
        ))?;
        for (id, at) in uses {
            st.execute(params![id, at])?;
        }
        Ok(())
    }

    fn orgs_where(&self, condition: &str, p: impl rusqlite::Params) -> Result<Vec<Org>> {
        let mut st = self.c.prepare_cached(&format!(
            "SELECT {ORG_COLS} FROM orgs WHERE {condition} ORDER BY seq"
        ))?;
        let rows = st.query_map(p, org_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl Reader for Conn<'_> {
    fn org(&mut self, id: &str) -> Result<Option<Org>> {
        Ok(self.orgs_where("id = ?1", [id])?.pop())
    }

    fn live_org_named(&mut self, name: &str) -> Result<Option<Org>> {
        Ok(self
            .orgs_where("name = ?1 AND offboarded_at IS NULL", [name])?
            .pop())
    }

    fn client(&mut self, id: &str) -> Result<Option<Client>> {
        Ok(self
            .clients_where("c.id = ?1 OR c.client_id = ?1", [id])?
            .pop())
    }

    fn live_clients(&mut self, org_id: &str) -> Result<Vec<Client>> {
        self.clients_where("c.org_id = ?1 AND c.revoked_at IS NULL", [org_id])
    }

    fn live_clients_operated_by(&mut self, org_id: &str) -> Result<Vec<Client>> {
        self.clients_where("c.operated_by = ?1 AND c.revoked_at IS NULL", [org_id])
    }

    fn active_client_count(&mut self, org_id: &str, now: i64, today: &str) -> Result<i64> {
        Ok(self.c.query_row(
            "SELECT COUNT(*) FROM clients c JOIN orgs o ON o.id = c.org_id
             WHERE c.org_id = ?1 AND c.revoked_at IS NULL AND c.expires_at >= ?2 AND o.contract_end >= ?3",
            params![org_id, now, today],
            |r| r.get(0),
        )?)
    }

    fn live_client_named(&mut self, org_id: &str, name: &str) -> Result<Option<Client>> {
        Ok(self
            .clients_where(
                "c.org_id = ?1 AND c.name = ?2 AND c.revoked_at IS NULL",
                [org_id, name],
            )?
            .pop())
    }

    fn secret_held(&mut self, client_ref: &str, hmac: &[u8; 32]) -> Result<bool> {
        Ok(self.c.query_row(
            "SELECT EXISTS (SELECT 1 FROM client_secrets WHERE client_ref = ?1 AND secret_hmac = ?2)",
            params![client_ref, hmac.as_slice()],
            |r| r.get(0),
        )?)
    }

    fn client_holding_secret(&mut self, hmac: &[u8; 32], now: i64) -> Result<Option<Client>> {
        Ok(self
            .clients_where(
                "c.revoked_at IS NULL AND c.id IN (SELECT client_ref FROM client_secrets
                   WHERE secret_hmac = ?1 AND (not_after IS NULL OR not_after >= ?2))",
                params![hmac.as_slice(), now],
            )?
            .pop())
    }

    fn list_orgs(&mut self, f: &OrgFilter, today: &str) -> Result<Rows<Org>> {
        let mut st = self.c.prepare_cached(&format!(
            "SELECT {ORG_COLS} FROM orgs WHERE seq > ?1 AND (?2 IS NULL OR id = ?2) AND (?3 IS NULL OR name = ?3) {}
               AND ?4 = ?4 ORDER BY seq LIMIT ?5",
            f.status_condition()
        ))?;
        let rows = st.query_map(
            params![f.cursor, f.scope, f.name, today, f.limit + 1],
            |r| Ok((org_from_row(r)?, r.get::<_, i64>(18)?)),
        )?;
        Ok(Rows::page(rows.collect::<rusqlite::Result<_>>()?, f.limit))
    }

    fn list_clients(&mut self, f: &ClientFilter, now: i64, today: &str) -> Result<Rows<Client>> {
        let mut st = self.c.prepare_cached(&format!(
            "SELECT {CLIENT_COLS} FROM clients c JOIN orgs o ON o.id = c.org_id
             WHERE c.seq > ?1 AND (?2 IS NULL OR c.org_id = ?2) AND (?3 IS NULL OR c.org_id = ?3) {}
               AND ?4 = ?4 AND ?5 = ?5 AND ?6 = ?6 ORDER BY c.seq LIMIT ?7",
            f.conditions()
        ))?;
        let page = params![
            f.cursor,
            f.scope,
            f.org_id,
            now,
            today,
            f.horizon(now),
            f.limit + 1
        ];
        let rows = st.query_map(page, |r| Ok((client_from_row(r)?, r.get::<_, i64>(13)?)))?;
        Ok(Rows::page(rows.collect::<rusqlite::Result<_>>()?, f.limit))
    }

    fn live_orgs(&mut self) -> Result<Vec<Org>> {
        self.orgs_where("offboarded_at IS NULL", [])
    }

    fn each_live_client(&mut self, f: &mut dyn FnMut(Client) -> Result<()>) -> Result<()> {
        self.each_client_where("c.revoked_at IS NULL AND o.offboarded_at IS NULL", [], f)
    }

    fn live_token_named(&mut self, name: &str) -> Result<Option<TokenRow>> {
        Ok(self.live_tokens(TokenSelect::Named(name))?.pop())
    }

    fn tokens(&mut self) -> Result<Vec<TokenRow>> {
        let mut st = self
            .c
            .prepare_cached(&format!("SELECT {TOKEN_COLS} ORDER BY t.id"))?;
        let rows = st.query_map([], token_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn live_tokens(&mut self, select: TokenSelect<'_>) -> Result<Vec<TokenRow>> {
        let mut st = self.c.prepare_cached(&format!(
            "SELECT {TOKEN_COLS} WHERE t.revoked_at IS NULL AND (?1 IS NULL OR t.name = ?1) \
             AND (?2 IS NULL OR t.org_id = ?2) ORDER BY t.id"
        ))?;
        let (name, org) = select.params();
        let rows = st.query_map(params![name, org], token_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn idempotency(&mut self, token_id: i64, key: &str) -> Result<Option<IdemRecord>> {
        Ok(self
            .c
            .query_row(
                "SELECT fingerprint, response, location, created_at FROM idempotency_keys WHERE token_id = ?1 AND key = ?2",
                params![token_id, key],
                |r| {
                    Ok(IdemRecord {
                        fingerprint: r.get(0)?,
                        response: r.get(1)?,
                        location: r.get(2)?,
                        created_at: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    fn revoked_client_ids(&mut self, select: Select<'_>) -> Result<Vec<String>> {
        let (condition, arg) = select_condition(select);
        let mut st = self.c.prepare_cached(&format!(
            "SELECT c.client_id FROM clients c JOIN orgs o ON o.id = c.org_id
             WHERE (c.revoked_at IS NOT NULL OR o.offboarded_at IS NOT NULL) AND {condition}"
        ))?;
        let rows = st.query_map([arg], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn credentials(&mut self, select: Select<'_>) -> Result<Vec<CredentialRow>> {
        let (condition, arg) = select_condition(select);
        let mut out: Vec<CredentialRow> = {
            let mut st = self.c.prepare_cached(&format!(
                "SELECT c.id, c.client_id, c.org_id, o.name, c.scopes, c.expires_at, o.contract_end, c.last_used_at,
                   c.operated_by, c.auth_method, c.jwks, {SUSPENDED_AFTER}, c.jwks_uri
                 FROM clients c JOIN orgs o ON o.id = c.org_id
                 WHERE c.revoked_at IS NULL AND o.offboarded_at IS NULL AND {condition}"
            ))?;
            let rows = st.query_map([arg], |r| {
                Ok(CredentialRow {
                    id: r.get(0)?,
                    client_id: r.get(1)?,
                    org_id: r.get(2)?,
                    org_name: r.get(3)?,
                    scopes: scopes_at(r, 4)?,
                    expires_at: r.get(5)?,
                    contract_end: day_end_at(r, 6)?,
                    last_used_at: r.get(7)?,
                    operated_by: r.get(8)?,
                    auth_method: r.get(9)?,
                    jwks: r.get(10)?,
                    jwks_uri: r.get(12)?,
                    secrets: Vec::new(),
                    suspended_after: r.get(11)?,
                })
            })?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut index: std::collections::HashMap<String, usize> = out
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i))
            .collect();
        let mut st = self.c.prepare_cached(&format!(
            "SELECT s.client_ref, s.secret_hmac, s.not_after, s.created_at FROM client_secrets s
             JOIN clients c ON c.id = s.client_ref WHERE {condition}"
        ))?;
        let mut rows = st.query([arg])?;
        while let Some(r) = rows.next()? {
            let client_ref: String = r.get(0)?;
            let hmac: Vec<u8> = r.get(1)?;
            if let (Some(i), Ok(hmac)) = (index.get_mut(&client_ref), <[u8; 32]>::try_from(hmac)) {
                out[*i].secrets.push(SecretHash {
                    hmac,
                    not_after: r.get(2)?,
                    created_at: r.get(3)?,
                });
            }
        }
        Ok(out)
    }

    fn audit_after(&mut self, after: i64, limit: i64) -> Result<Vec<AuditRow>> {
        let mut st = self.c.prepare_cached(&format!(
            "SELECT {AUDIT_COLS} FROM audit_events WHERE seq > ?1 ORDER BY seq LIMIT ?2"
        ))?;
        let rows = st.query_map(params![after, limit], audit_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn walk_audit(&mut self, f: &mut dyn FnMut(AuditRow) -> Result<bool>) -> Result<()> {
        let mut st = self.c.prepare(&format!(
            "SELECT {AUDIT_COLS} FROM audit_events ORDER BY seq"
        ))?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            if !f(audit_from_row(r)?)? {
                break;
            }
        }
        Ok(())
    }

    fn audit_head(&mut self) -> Result<Option<AuditHead>> {
        Ok(self
            .c
            .query_row(
                "SELECT seq, hash, mac FROM audit_head WHERE id = 1",
                [],
                |r| {
                    Ok(AuditHead {
                        seq: r.get(0)?,
                        hash: r.get(1)?,
                        mac: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    fn changes_after(&mut self, after: i64, limit: i64) -> Result<Vec<Change>> {
        let mut st = self.c.prepare_cached(
            "SELECT seq, hash, entity_kind, entity_id FROM audit_events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = st.query_map(params![after, limit], |r| {
            Ok(Change {
                seq: r.get(0)?,
                hash: r.get(1)?,
                entity_kind: r.get(2)?,
                entity_id: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn approvals_for(&mut self, change_ref: &str, entity_id: &str) -> Result<Vec<Approval>> {
        let mut st = self.c.prepare_cached(&format!(
            "SELECT {APPROVAL_COLS} FROM approvals WHERE change_ref = ?1 AND entity_id = ?2 ORDER BY seq"
        ))?;
        let rows = st.query_map([change_ref, entity_id], |r| {
            Ok(Approval {
                id: r.get(0)?,
                change_ref: r.get(1)?,
                entity_kind: r.get(2)?,
                entity_id: r.get(3)?,
                org_id: r.get(4)?,
                attribute: r.get(5)?,
                old: r.get(6)?,
                new: r.get(7)?,
                approver: r.get(8)?,
                token_name: r.get(9)?,
                created_at: r.get(10)?,
                expires_at: r.get(11)?,
                used_at: r.get(12)?,
                used_by: r.get(13)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn holds_data(&mut self) -> Result<bool> {
        Ok(self.c.query_row(
            "SELECT EXISTS (SELECT 1 FROM orgs) OR EXISTS (SELECT 1 FROM api_tokens)
               OR EXISTS (SELECT 1 FROM audit_events)",
            [],
            |r| r.get(0),
        )?)
    }

    fn usage_days(&mut self, client_ref: &str, from_day: i64) -> Result<Vec<(i64, i64)>> {
        let mut st = self.c.prepare_cached(
            "SELECT day, count FROM client_usage_daily WHERE client_ref = ?1 AND day >= ?2 ORDER BY day",
        )?;
        let rows = st.query_map(params![client_ref, from_day], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn campaigns(&mut self, select: CampaignSelect<'_>) -> Result<Vec<Campaign>> {
        let filter = "(?1 IS NULL OR rc.id = ?1) AND (?2 IS NULL OR rc.org_id = ?2)
            AND (?3 = 0 OR EXISTS (SELECT 1 FROM review_items u JOIN clients uc ON uc.id = u.client_ref
                 WHERE u.campaign_id = rc.id AND u.decision IS NULL AND uc.revoked_at IS NULL))";
        let args = params![select.id, select.org, select.undecided_only];
        let mut campaigns: Vec<Campaign> = {
            let mut st = self.c.prepare_cached(&format!(
                "SELECT {CAMPAIGN_COLS} FROM review_campaigns rc WHERE {filter} ORDER BY rc.seq"
            ))?;
            st.query_map(args, campaign_from_row)?
                .collect::<rusqlite::Result<_>>()?
        };
        let index: std::collections::HashMap<String, usize> = campaigns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i))
            .collect();
        let mut st = self.c.prepare_cached(&format!(
            "SELECT {ITEM_COLS} FROM review_items ri JOIN review_campaigns rc ON rc.id = ri.campaign_id
             JOIN clients c ON c.id = ri.client_ref WHERE {filter} ORDER BY rc.seq, c.seq"
        ))?;
        for row in st.query_map(args, item_from_row)? {
            let (campaign, item) = row?;
            if let Some(i) = index.get(&campaign) {
                campaigns[*i].items.push(item);
            }
        }
        Ok(campaigns)
    }
}

impl Tx for Conn<'_> {
    fn insert_campaign(&mut self, c: &Campaign) -> Result<()> {
        self.c
            .prepare_cached(&format!(
                "INSERT INTO review_campaigns ({CAMPAIGN_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ))?
            .execute(params![
                c.id,
                c.org_id,
                c.cause.as_str(),
                c.note,
                c.opened_by,
                c.opened_at,
                c.due_at
            ])?;
        let mut st = self
            .c
            .prepare_cached("INSERT INTO review_items (campaign_id, client_ref) VALUES (?1, ?2)")?;
        for item in &c.items {
            st.execute(params![c.id, item.client_ref])?;
        }
        Ok(())
    }

    fn add_usage_counts(&mut self, counts: &[DayCount]) -> Result<()> {
        let mut st = self.c.prepare_cached(USAGE_UPSERT)?;
        for c in counts {
            st.execute(params![c.client_ref, c.day, c.count])?;
        }
        Ok(())
    }

    fn note_last_used(&mut self, clients: &[(String, i64)], tokens: &[(i64, i64)]) -> Result<()> {
        self.note_uses("clients", clients)?;
        self.note_uses("api_tokens", tokens)
    }

    fn decide_review_item(&mut self, campaign_id: &str, item: &ReviewItem) -> Result<()> {
        self.c
            .prepare_cached(
                "UPDATE review_items SET decision = ?3, comment = ?4, decided_by = ?5, decided_at = ?6
                 WHERE campaign_id = ?1 AND client_ref = ?2",
            )?
            .execute(params![
                campaign_id,
                item.client_ref,
                item.decision.map(Decision::as_str),
                item.comment,
                item.decided_by,
                item.decided_at
            ])?;
        Ok(())
    }

    fn insert_org(&mut self, o: &Org) -> Result<()> {
        self.c.prepare_cached(
            "INSERT INTO orgs (id, name, legal_entity, technical_owner, approval_authority, commercial_sponsor, contract_id,
               contract_start, contract_end, tenant, business_unit, allowed_scopes, max_clients, labels, created_at,
               updated_at, offboarded_at, version, review_enforcement, approval_policy)
             VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20)",
        )?
        .execute(rusqlite::params_from_iter(org_params(o)))?;
        Ok(())
    }

    fn update_org(&mut self, o: &Org) -> Result<()> {
        self.c.prepare_cached(
            "UPDATE orgs SET name=?2, legal_entity=?3, technical_owner=?4, approval_authority=?5, commercial_sponsor=?6,
               contract_id=?7, contract_start=?8, contract_end=?9, tenant=?10, business_unit=?11, allowed_scopes=?12,
               max_clients=?13, labels=?14, created_at=?15, updated_at=?16, offboarded_at=?17, version=?18,
               review_enforcement=?19, approval_policy=?20 WHERE id=?1",
        )?
        .execute(rusqlite::params_from_iter(org_params(o)))?;
        Ok(())
    }

    fn org_id_holder(&mut self, id: &str) -> Result<Option<Org>> {
        self.org(id)
    }

    fn insert_client(&mut self, c: &Client) -> Result<()> {
        self.c.prepare_cached(
            "INSERT INTO clients (id, client_id, org_id, name, purpose, owner, scopes, expires_at, created_at, updated_at,
               revoked_at, version, secret_rotated_at, last_used_at, operated_by, attributes, auth_method, jwks, jwks_uri)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
        )?
        .execute(params![
            c.id,
            c.client_id,
            c.org_id,
            c.profile.name,
            c.profile.purpose,
            c.profile.owner,
            json_text(&c.profile.scopes),
            c.expires_at,
            c.created_at,
            c.updated_at,
            c.revoked_at,
            c.version,
            c.secret_rotated_at,
            c.last_used_at,
            c.profile.operated_by,
            super::attributes_text(&c.profile.attributes),
            c.auth_method,
            c.jwks,
            c.jwks_uri
        ])?;
        Ok(())
    }

    fn update_client(&mut self, c: &Client) -> Result<()> {
        self.c.prepare_cached(
            "UPDATE clients SET name=?2, purpose=?3, owner=?4, scopes=?5, expires_at=?6, updated_at=?7, revoked_at=?8,
               version=?9, secret_rotated_at=?10, operated_by=?11, attributes=?12, jwks=?13, jwks_uri=?14 WHERE id=?1",
        )?
        .execute(params![
            c.id,
            c.profile.name,
            c.profile.purpose,
            c.profile.owner,
            json_text(&c.profile.scopes),
            c.expires_at,
            c.updated_at,
            c.revoked_at,
            c.version,
            c.secret_rotated_at,
            c.profile.operated_by,
            super::attributes_text(&c.profile.attributes),
            c.jwks,
            c.jwks_uri
        ])?;
        Ok(())
    }

    fn add_secret(&mut self, client_ref: &str, secret: &NewSecret, now: i64) -> Result<()> {
        self.c.prepare_cached(
            "INSERT INTO client_secrets (client_ref, secret_hmac, source, created_at, not_after) VALUES (?1, ?2, ?3, ?4, NULL)",
        )?
        .execute(params![client_ref, secret.hmac.as_slice(), secret.source, now])?;
        Ok(())
    }

    fn drop_previous_secrets(&mut self, client_ref: &str) -> Result<()> {
        self.c
            .prepare_cached(
                "DELETE FROM client_secrets WHERE client_ref = ?1 AND not_after IS NOT NULL",
            )?
            .execute([client_ref])?;
        Ok(())
    }

    fn retire_current_secret(&mut self, client_ref: &str, not_after: Option<i64>) -> Result<()> {
        match not_after {
            Some(t) => self.c.prepare_cached(
                "UPDATE client_secrets SET not_after = ?2 WHERE client_ref = ?1 AND not_after IS NULL",
            )?
            .execute(params![client_ref, t])?,
            None => self
                .c
                .prepare_cached("DELETE FROM client_secrets WHERE client_ref = ?1 AND not_after IS NULL")?
                .execute([client_ref])?,
        };
        Ok(())
    }

    fn insert_token(&mut self, t: &NewTokenRow<'_>) -> Result<i64> {
        self.c.prepare_cached(
            "INSERT INTO api_tokens (name, role, org_id, token_hmac, created_at, created_by, expires_at, email) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            t.name,
            t.role.as_str(),
            t.org_id,
            t.hmac.as_slice(),
            t.created_at,
            t.created_by,
            t.expires_at,
            t.email
        ])?;
        Ok(self.c.last_insert_rowid())
    }

    fn insert_approval(&mut self, a: &Approval) -> Result<()> {
        self.c.prepare_cached(&format!(
            "INSERT INTO approvals ({APPROVAL_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
        ))?
        .execute(params![
            a.id,
            a.change_ref,
            a.entity_kind,
            a.entity_id,
            a.org_id,
            a.attribute,
            a.old,
            a.new,
            a.approver,
            a.token_name,
            a.created_at,
            a.expires_at,
            a.used_at,
            a.used_by
        ])?;
        Ok(())
    }

    fn use_approval(&mut self, id: &str, now: i64, by: &str) -> Result<()> {
        self.c
            .prepare_cached("UPDATE approvals SET used_at = ?2, used_by = ?3 WHERE id = ?1")?
            .execute(params![id, now, by])?;
        Ok(())
    }

    fn claim_jti(&mut self, client_id: &str, jti: &str, expires_at: i64, now: i64) -> Result<bool> {
        self.c
            .prepare_cached("DELETE FROM assertion_jtis WHERE expires_at < ?1")?
            .execute(params![now.saturating_sub(super::JTI_SKEW)])?;
        let added = self
            .c
            .prepare_cached(
                "INSERT INTO assertion_jtis (client_id, jti, expires_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (client_id, jti) DO NOTHING",
            )?
            .execute(params![client_id, jti, expires_at])?;
        Ok(added == 1)
    }

    fn revoke_token(&mut self, id: i64, now: i64) -> Result<()> {
        self.c
            .prepare_cached("UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1")?
            .execute(params![id, now])?;
        Ok(())
    }

    fn save_idempotency(&mut self, token_id: i64, key: &str, record: &IdemRecord) -> Result<()> {
        self.c.prepare_cached(
            "INSERT INTO idempotency_keys (token_id, key, fingerprint, status, response, location, created_at)
             VALUES (?1, ?2, ?3, 201, ?4, ?5, ?6)",
        )?
        .execute(params![
            token_id,
            key,
            record.fingerprint,
            record.response,
            record.location,
            record.created_at
        ])?;
        Ok(())
    }

    fn append_audit(&mut self, row: &AuditRow, head: &AuditHead) -> Result<()> {
        self.c
            .prepare_cached(&format!(
                "INSERT INTO audit_events ({AUDIT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
            ))?
            .execute(params![
                row.seq,
                row.at,
                row.actor,
                row.action,
                row.entity_kind,
                row.entity_id,
                row.org_id,
                row.before,
                row.after,
                row.request_id,
                row.change_ref,
                row.prev_hash,
                row.hash
            ])?;
        set_head(self.c, head)?;
        self.last_seq = Some(row.seq);
        Ok(())
    }

    fn savepoint(&mut self, step: super::Savepoint) -> Result<()> {
        Ok(self.c.execute_batch(step.sql())?)
    }

    fn take_last_seq(&mut self) -> Option<i64> {
        self.last_seq.take()
    }
}

fn org_params(o: &Org) -> Vec<Box<dyn rusqlite::ToSql + '_>> {
    vec![
        Box::new(&o.id),
        Box::new(&o.profile.name),
        Box::new(&o.profile.legal_entity),
        Box::new(&o.profile.technical_owner),
        Box::new(&o.profile.approval_authority),
        Box::new(&o.profile.commercial_sponsor),
        Box::new(&o.profile.contract_id),
        Box::new(&o.profile.contract_start),
        Box::new(&o.profile.contract_end),
        Box::new(&o.profile.tenant),
        Box::new(&o.profile.business_unit),
        Box::new(json_text(&o.profile.allowed_scopes)),
        Box::new(o.max_clients),
        Box::new(json_text(&o.profile.labels)),
        Box::new(o.created_at),
        Box::new(o.updated_at),
        Box::new(o.offboarded_at),
        Box::new(o.version),
        Box::new(o.review_enforcement.as_str()),
        Box::new(&o.approval_policy),
    ]
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(f, _) = &e {
            match f.code {
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => {
                    return Error::Unavailable("the database is busy, retry".into());
                }
                rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::DiskFull => {
                    return super::unavailable(&e);
                }
                _ => {}
            }
        }
        Error::Internal(format!("database: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database file at the version before `version` (the migrations
    /// before it applied), and a connection to it.
    fn migrated_before(version: usize) -> (tempfile::TempDir, PathBuf, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        let before = version - 1;
        for (sql, _) in &MIGRATIONS[..before] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", before as i64)
            .unwrap();
        (dir, path, conn)
    }

    /// The migration that rebuilds `api_tokens` keeps every token and what
    /// refers to one.
    #[test]
    fn rebuilding_the_token_table_keeps_tokens_and_their_references() {
        let (_dir, path, conn) = migrated_before(9);
        conn.execute_batch(
            "INSERT INTO api_tokens (name, role, token_hmac, created_at) VALUES ('adm', 'admin', x'01', 1);
             INSERT INTO idempotency_keys VALUES (1, 'k', 'f', 201, '{}', '/v1/orgs/x', 1);",
        )
        .unwrap();
        migrate(&conn, None, &Anchor::beside(&path)).unwrap();
        let (name, role): (String, String) = conn
            .query_row("SELECT name, role FROM api_tokens WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((name.as_str(), role.as_str()), ("adm", "admin"));
        let broken: Option<String> = conn
            .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
            .optional()
            .unwrap();
        assert_eq!(broken, None);
        let fk_on: i64 = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(fk_on, 1, "foreign keys are on again after the migration");
        conn.execute(
            "INSERT INTO api_tokens (name, role, token_hmac, created_at, email) VALUES ('boss', 'approver', x'02', 1, 'b@x.example')",
            [],
        )
        .unwrap();
        assert!(
            conn.execute(
                "INSERT INTO api_tokens (name, role, token_hmac, created_at) VALUES ('nobody', 'approver', x'03', 1)",
                [],
            )
            .is_err(),
            "an approver token without an email is refused by the table"
        );
    }

    /// The migration to one column of descriptive attributes keeps each
    /// client's custodian, and a client without one reads back without one.
    #[test]
    fn custodians_move_into_the_attributes() {
        let (_dir, path, conn) = migrated_before(12);
        conn.execute_batch(
            "INSERT INTO orgs (id, name, legal_entity, technical_owner, approval_authority, contract_id,
               contract_end, allowed_scopes, max_clients, labels, created_at, updated_at, version)
             VALUES ('org_1', 'acme', 'Acme', 't@acme.example', 'a@acme.example', 'c-1',
               '2027-06-30', '[]', 10, '{}', 1, 1, 1);
             INSERT INTO clients (id, client_id, org_id, name, purpose, owner, scopes, expires_at,
               created_at, updated_at, version, custodian)
             VALUES ('cli_1', 'pc_1', 'org_1', 'shop', 'p', 'o@acme.example', '[]', 2, 1, 1, 1, 'ops@msp.example'),
                    ('cli_2', 'pc_2', 'org_1', 'feed', 'p', 'o@acme.example', '[]', 2, 1, 1, 1, NULL);",
        )
        .unwrap();
        migrate(&conn, None, &Anchor::beside(&path)).unwrap();
        let mut c = Conn::new(&conn);
        let custodian = |c: &mut Conn<'_>, id: &str| {
            c.client(id).unwrap().unwrap().profile.attributes.custodian
        };
        assert_eq!(
            custodian(&mut c, "cli_1").as_deref(),
            Some("ops@msp.example")
        );
        assert_eq!(custodian(&mut c, "cli_2"), None);
    }

    /// Writes `batches` transactions of `per_batch` admin tokens each through
    /// the writer's path (`write_batch`), numbering them from `first`.
    fn write_tokens(db: &Sqlite, first: usize, batches: usize, per_batch: usize) {
        for b in 0..batches {
            let mut jobs = Vec::new();
            let mut replies = Vec::new();
            for j in 0..per_batch {
                let n = first + b * per_batch + j;
                let (reply, answer) = tokio::sync::oneshot::channel();
                let run: super::super::Run = Box::new(move |tx: &mut dyn Tx| {
                    let mut hmac = [0u8; 32];
                    hmac[..8].copy_from_slice(&(n as u64).to_be_bytes());
                    let id = tx.insert_token(&NewTokenRow {
                        name: &format!("token-{n}"),
                        role: Role::Admin,
                        org_id: None,
                        hmac: &hmac,
                        created_at: 1,
                        created_by: "test",
                        expires_at: None,
                        email: None,
                    })?;
                    Ok(Box::new(id) as Box<dyn std::any::Any + Send>)
                });
                jobs.push(super::super::Job { run, reply });
                replies.push(answer);
            }
            for (written, reply) in db.write_batch(jobs) {
                let _ = reply.send(written);
            }
            for answer in replies {
                answer.blocking_recv().unwrap().unwrap();
            }
        }
    }

    /// The size of the database file, and the size of the database (its
    /// pages as a connection sees them, the WAL's included).
    fn file_and_database_size(db: &Sqlite) -> (u64, u64) {
        let file = std::fs::metadata(db.path()).unwrap().len();
        let database = db
            .with_conn(|c| {
                Ok(c.query_row(
                    "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                    [],
                    |r| r.get::<_, i64>(0),
                )?)
            })
            .unwrap();
        (file, database as u64)
    }

    /// Below the WAL's bound no connection checkpoints as it commits: only
    /// the checkpointer thread copies the WAL into the database file, and it
    /// does after commits without anyone asking (the file stays at its first
    /// page otherwise).
    #[test]
    fn the_checkpointer_copies_committed_writes_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = Sqlite::open(&dir.path().join("r.db"), None, true).unwrap();
        let (file, database) = file_and_database_size(&db);
        assert!(
            file < database,
            "before any commit the migration is still in the WAL only ({file} < {database})"
        );
        write_tokens(&db, 0, 20, 50);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let (file, database) = file_and_database_size(&db);
            if file == database {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the database file was never caught up with the WAL ({file} of {database} bytes)"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let tokens = db.read(|r| r.tokens()).unwrap();
        assert_eq!(tokens.len(), 1000);
    }

    /// Closing stops the checkpointer thread (it lets go of what it shares
    /// with the `Sqlite`) and leaves no WAL behind.
    #[test]
    fn closing_stops_the_checkpointer_and_truncates_the_wal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let db = Sqlite::open(&path, None, true).unwrap();
        write_tokens(&db, 0, 10, 10);
        assert_eq!(Arc::strong_count(&db.checkpoints), 2, "the thread runs");
        db.close();
        assert_eq!(
            Arc::strong_count(&db.checkpoints),
            1,
            "the checkpointer thread has ended"
        );
        let wal = dir.path().join("r.db-wal");
        let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        assert_eq!(wal_len, 0, "the WAL is empty or gone after closing");
        drop(db);
    }

    /// Dropping a `Sqlite` without closing it ends its checkpointer thread
    /// too.
    #[test]
    fn dropping_the_database_stops_the_checkpointer() {
        let dir = tempfile::tempdir().unwrap();
        let db = Sqlite::open(&dir.path().join("r.db"), None, true).unwrap();
        write_tokens(&db, 0, 3, 5);
        let checkpoints = Arc::clone(&db.checkpoints);
        drop(db);
        assert_eq!(
            Arc::strong_count(&checkpoints),
            1,
            "no checkpointer thread outlives its database"
        );
    }

    /// Every write acknowledged before closing is there after reopening,
    /// written in batches while the checkpointer copies behind the writer.
    #[test]
    fn every_write_is_readable_after_closing_and_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let db = Sqlite::open(&path, None, true).unwrap();
        write_tokens(&db, 0, 40, 25);
        db.close();
        drop(db);
        let db = Sqlite::open(&path, None, false).unwrap();
        let names: Vec<String> = db
            .read(|r| r.tokens())
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        let expected: Vec<String> = (0..1000).map(|n| format!("token-{n}")).collect();
        assert_eq!(names, expected);
        write_tokens(&db, 1000, 1, 1);
        assert_eq!(db.read(|r| r.tokens()).unwrap().len(), 1001);
        db.close();
    }
}
