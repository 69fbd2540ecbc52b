//! The PostgreSQL engine, for several registry replicas on one (replicated)
//! database: tokio-postgres with a deadpool connection pool.
//!
//! The [`Reader`]/[`Tx`] traits are blocking (see [`crate::db`]), so each call
//! here waits for its query on the runtime with `Handle::block_on`; callers run
//! on tokio's blocking pool or a thread of their own, never on an async worker.
//!
//! - Every write transaction first takes one transaction-level advisory lock,
//!   the cluster-wide write lock: appends to the audit chain, quotas, unique
//!   names, If-Match and Idempotency-Key all hold across replicas because no
//!   two writes ever interleave.
//! - Each append also sends `NOTIFY partner_registry_changes` (delivered at
//!   commit): every replica LISTENs and follows the change at once
//!   ([`Postgres::listen`]); the credential cache polls too, in case a
//!   notification was lost with a connection.
//! - A database that cannot be reached (restart, failover) makes every call
//!   fail with [`Error::Unavailable`] (503 with Retry-After) within
//!   [`CALL_TIMEOUT`], never a hang; the pool replaces broken connections by
//!   itself once the database is back.

use super::{
    CampaignSelect, Change, ClientFilter, CredentialRow, DayCount, IdemRecord, NewTokenRow,
    OrgFilter, Reader, Rows, SecretHash, Select, TokenRow, TokenSelect, Tx,
};
use crate::approvals::Approval;
use crate::audit::{AuditHead, AuditRow};
use crate::campaigns::{Campaign, Cause, Decision, ReviewItem};
use crate::error::{Error, Result};
use crate::records::{
    Client, ClientProfile, NewSecret, Org, OrgProfile, ReviewEnforcement, Role, end_of_day,
};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;
use tokio_postgres::types::ToSql;
use tokio_postgres::{AsyncMessage, NoTls, Row};

/// The longest any one database call may take before it counts as unavailable.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// The channel of change notifications.
const CHANNEL: &str = "partner_registry_changes";
/// Key of the advisory lock every write transaction holds.
const WRITE_LOCK: i64 = 0x0070_6172_746e_6572; // "partner"

/// Migrations, in order, one file each in `backend/migrations/postgres/` (a
/// released one is never edited); `schema_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/01_initial.sql"),
    include_str!("../../migrations/postgres/02_token_lifetime.sql"),
    include_str!("../../migrations/postgres/03_live_client_expiry_index.sql"),
    include_str!("../../migrations/postgres/04_access_reviews.sql"),
    include_str!("../../migrations/postgres/05_intermediaries_private_keys_approvals.sql"),
    include_str!("../../migrations/postgres/06_assertion_jtis.sql"),
    include_str!("../../migrations/postgres/07_jwks_uri.sql"),
    include_str!("../../migrations/postgres/08_client_attributes.sql"),
];

/// `url` with its password (if any) replaced by `***`, for messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// A PostgreSQL database.
pub struct Postgres {
    pool: Pool,
    url: String,
    rt: tokio::runtime::Handle,
    /// A runtime of its own when opened outside one (the CLI) or inside a
    /// current-thread one (tests).
    own_runtime: Option<tokio::runtime::Runtime>,
    listener: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Postgres {
    /// Connects to `url` and migrates the database (under a lock, so that
    /// replicas starting together migrate once).
    pub fn open(url: &str) -> Result<Postgres> {
        let config: tokio_postgres::Config = url.parse().map_err(|e| {
            Error::BadRequest(format!("{} is not a PostgreSQL URL: {e}", redact(url)))
        })?;
        let (rt, runtime) = match tokio::runtime::Handle::try_current() {
            // A current-thread runtime drives its IO only while its own thread
            // is in `block_on`: the blocking calls made here from other threads
            // would stall (holding the write lock, say) whenever that thread
            // blocks, as a test does while another process writes.
            Ok(handle)
                if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::CurrentThread =>
            {
                (handle, None)
            }
            _ => {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .map_err(|e| Error::Internal(format!("starting a runtime: {e}")))?;
                (runtime.handle().clone(), Some(runtime))
            }
        };
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(16)
            .wait_timeout(Some(CALL_TIMEOUT))
            .create_timeout(Some(CALL_TIMEOUT))
            .recycle_timeout(Some(CALL_TIMEOUT))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| Error::Internal(format!("PostgreSQL pool: {e}")))?;
        let db = Postgres {
            pool,
            url: url.to_string(),
            rt,
            own_runtime: runtime,
            listener: Mutex::new(None),
        };
        db.migrate()?;
        Ok(db)
    }

    /// Waits for `f` on the runtime, at most [`CALL_TIMEOUT`].
    fn run<T>(&self, f: impl Future<Output = Result<T>>) -> Result<T> {
        self.rt
            .block_on(async { tokio::time::timeout(CALL_TIMEOUT, f).await })
            .unwrap_or_else(|_| Err(super::unavailable("no answer in time")))
    }

    fn client(&self) -> Result<deadpool_postgres::Object> {
        self.run(async { self.pool.get().await.map_err(super::unavailable) })
    }

    fn migrate(&self) -> Result<()> {
        let mut client = self.client()?;
        self.run(async {
            let tx = client.transaction().await.map_err(pg_err)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
                .await
                .map_err(pg_err)?;
            tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
                .await
                .map_err(pg_err)?;
            let version: i64 = tx
                .query_opt("SELECT version FROM schema_version", &[])
                .await
                .map_err(pg_err)?
                .map(|r| r.get(0))
                .unwrap_or(0);
            let target = MIGRATIONS.len() as i64;
            if version > target {
                return Err(Error::Internal(format!(
                    "database schema version {version} is newer than this binary ({target})"
                )));
            }
            for sql in &MIGRATIONS[version as usize..] {
                tx.batch_execute(sql).await.map_err(pg_err)?;
            }
            tx.execute("DELETE FROM schema_version", &[])
                .await
                .map_err(pg_err)?;
            tx.execute(
                "INSERT INTO schema_version (version) VALUES ($1)",
                &[&target],
            )
            .await
            .map_err(pg_err)?;
            tx.commit().await.map_err(pg_err)
        })
    }

    pub fn read<T>(&self, f: impl FnOnce(&mut dyn Reader) -> Result<T>) -> Result<T> {
        let mut client = self.client()?;
        let tx = self.run(async {
            client
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await
                .map_err(pg_err)
        })?;
        let mut conn = PgTx {
            db: self,
            tx,
            last_seq: None,
        };
        let out = f(&mut conn);
        let _ = self.run(async { conn.tx.commit().await.map_err(pg_err) });
        out
    }

    /// Runs a batch of writes in one transaction under the cluster-wide write
    /// lock, one commit.
    pub(crate) fn write_batch(&self, jobs: Vec<super::Job>) -> Vec<super::Answer> {
        let mut client = match self.client() {
            Ok(c) => c,
            Err(e) => return jobs.into_iter().map(|j| j.refused(&e)).collect(),
        };
        let tx = self.run(async {
            let tx = client.transaction().await.map_err(pg_err)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
                .await
                .map_err(pg_err)?;
            Ok(tx)
        });
        let tx = match tx {
            Ok(tx) => tx,
            Err(e) => return jobs.into_iter().map(|j| j.refused(&e)).collect(),
        };
        let mut conn = PgTx {
            db: self,
            tx,
            last_seq: None,
        };
        let answers = super::run_jobs(&mut conn, jobs);
        match self.run(async { conn.tx.commit().await.map_err(pg_err) }) {
            Ok(()) => answers,
            Err(e) => super::commit_failed(answers, &e),
        }
    }

    /// Starts the listener: a connection of its own that LISTENs and calls
    /// `waker` on every notification, reconnecting after a loss (and calling
    /// `waker` then too, for whatever happened while nobody listened).
    pub fn listen(&self, waker: Box<dyn Fn() + Send + Sync>) {
        let url = self.url.clone();
        let task = self.rt.spawn(async move {
            loop {
                if let Ok((client, mut connection)) = tokio_postgres::connect(&url, NoTls).await {
                    let forward = async {
                        while let Some(message) =
                            std::future::poll_fn(|cx| connection.poll_message(cx)).await
                        {
                            match message {
                                Ok(AsyncMessage::Notification(_)) => waker(),
                                Ok(_) => {}
                                Err(_) => break,
                            }
                        }
                    };
                    let subscribe = async {
                        if client
                            .batch_execute(&format!("LISTEN {CHANNEL}"))
                            .await
                            .is_ok()
                        {
                            waker();
                            std::future::pending::<()>().await;
                        }
                    };
                    tokio::select! {
                        () = forward => {},
                        () = subscribe => {},
                    }
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        });
        if let Some(old) = self
            .listener
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(task)
        {
            old.abort();
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(h) = self
            .listener
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            h.abort();
        }
        if let Some(rt) = self.own_runtime.take() {
            // Dropping a runtime inside another panics; only our tasks run on
            // it. Outside any, it is dropped here, waiting for its threads.
            if tokio::runtime::Handle::try_current().is_ok() {
                rt.shutdown_background();
            }
        }
    }
}

/// Maps a PostgreSQL error: a database that is gone or shutting down, a lost
/// connection or a serialization failure is unavailable (retry); a unique
/// violation a conflict; anything else internal.
pub fn pg_err(e: tokio_postgres::Error) -> Error {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        return match code {
            "23505" => Error::Conflict(format!(
                "a record with these values exists: {}",
                db.message()
            )),
            _ if code.starts_with("08") || code.starts_with("57") || code.starts_with("53") => {
                super::unavailable(db.message())
            }
            "40001" | "40P01" => super::unavailable(db.message()),
            _ => Error::Internal(format!("database: {} ({code})", db.message())),
        };
    }
    let lost =
        e.is_closed() || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
    if lost {
        super::unavailable(&e)
    } else {
        Error::Internal(format!("database: {e}"))
    }
}

/// One transaction: the [`Reader`] and [`Tx`] of PostgreSQL.
pub struct PgTx<'a> {
    db: &'a Postgres,
    tx: deadpool_postgres::Transaction<'a>,
    last_seq: Option<i64>,
}

type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

impl PgTx<'_> {
    fn query(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>> {
        self.db.run(async {
            let st = self.tx.prepare_cached(sql).await.map_err(pg_err)?;
            self.tx.query(&st, params).await.map_err(pg_err)
        })
    }

    fn execute(&self, sql: &str, params: Params<'_>) -> Result<u64> {
        self.db.run(async {
            let st = self.tx.prepare_cached(sql).await.map_err(pg_err)?;
            self.tx.execute(&st, params).await.map_err(pg_err)
        })
    }

    /// Moves `last_used_at` of the rows of `table` up to each use, never back.
    fn note_uses<K: ToSql + Sync>(&self, table: &str, uses: &[(K, i64)]) -> Result<()> {
        let sql = format!(
            "UPDATE {table} SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)"
        );
        for (id, at) in uses {
            self.execute(&sql, &[id, at])?;
        }
        Ok(())
    }

    fn orgs_where(&self, condition: &str, params: Params<'_>) -> Result<Vec<Org>> {
        let rows = self.query(
            &format!("SELECT {ORG_COLS} FROM orgs WHERE {condition} ORDER BY seq"),
            params,
        )?;
        Ok(rows.iter().map(org_from_row).collect())
    }

    fn clients_where(&self, condition: &str, params: Params<'_>) -> Result<Vec<Client>> {
        Ok(self
            .client_rows(condition, params)?
            .iter()
            .map(client_from_row)
            .collect())
    }

    fn client_rows(&self, condition: &str, params: Params<'_>) -> Result<Vec<Row>> {
        self.query(
            &format!(
                "SELECT {CLIENT_COLS} FROM clients c JOIN orgs o ON o.id = c.org_id WHERE {condition} ORDER BY c.seq"
            ),
            params,
        )
    }
}

const ORG_COLS: &str = "id, name, legal_entity, technical_owner, approval_authority, commercial_sponsor, contract_id, \
     contract_start, contract_end, tenant, business_unit, allowed_scopes, max_clients, labels, created_at, \
     updated_at, offboarded_at, version, seq, review_enforcement, approval_policy";

/// The WHERE condition on `c` (clients) of a credential query, and its one
/// parameter.
fn select_condition(select: Select<'_>) -> (&'static str, Option<&str>) {
    match select {
        Select::All => ("$1::text IS NULL", None),
        Select::Client(id) => ("c.id = $1", Some(id)),
        Select::Org(id) => ("c.org_id = $1", Some(id)),
    }
}

fn org_from_row(r: &Row) -> Org {
    let enforcement: String = r.get(19);
    let labels: String = r.get(13);
    Org {
        id: r.get(0),
        profile: OrgProfile {
            name: r.get(1),
            legal_entity: r.get(2),
            technical_owner: r.get(3),
            approval_authority: r.get(4),
            commercial_sponsor: r.get(5),
            contract_id: r.get(6),
            contract_start: r.get(7),
            contract_end: r.get(8),
            tenant: r.get(9),
            business_unit: r.get(10),
            allowed_scopes: scopes_at(r, 11),
            labels: serde_json::from_str(&labels).unwrap_or_default(),
        },
        max_clients: r.get(12),
        created_at: r.get(14),
        updated_at: r.get(15),
        offboarded_at: r.get(16),
        version: r.get(17),
        review_enforcement: ReviewEnforcement::parse(&enforcement).unwrap_or_default(),
        approval_policy: r.get(20),
    }
}

const CLIENT_COLS: &str = "c.id, c.client_id, c.org_id, c.name, c.purpose, c.owner, c.scopes, c.expires_at, \
     c.created_at, c.updated_at, c.revoked_at, c.version, o.contract_end, c.seq, c.secret_rotated_at, c.last_used_at, \
     (SELECT MAX(s.not_after) FROM client_secrets s WHERE s.client_ref = c.id), c.operated_by, c.attributes, \
     c.auth_method, c.jwks, c.jwks_uri";

fn client_from_row(r: &Row) -> Client {
    Client {
        id: r.get(0),
        client_id: r.get(1),
        org_id: r.get(2),
        profile: ClientProfile {
            name: r.get(3),
            purpose: r.get(4),
            owner: r.get(5),
            operated_by: r.get(17),
            scopes: scopes_at(r, 6),
            attributes: super::attributes_from_text(r.get(18)),
        },
        expires_at: r.get(7),
        created_at: r.get(8),
        updated_at: r.get(9),
        revoked_at: r.get(10),
        version: r.get(11),
        secret_rotated_at: r.get(14),
        last_used_at: r.get(15),
        previous_secret_not_after: r.get(16),
        auth_method: r.get(19),
        jwks: r.get(20),
        jwks_uri: r.get(21),
        org_contract_end: day_end_at(r, 12),
    }
}

/// A list of scopes stored as JSON text.
fn scopes_at(r: &Row, column: usize) -> Vec<String> {
    serde_json::from_str(&r.get::<_, String>(column)).unwrap_or_default()
}

/// The end of a `YYYY-MM-DD` day stored as text. An unparsable date fails
/// closed: it ended before any time, so whatever it bounds reads as expired.
fn day_end_at(r: &Row, column: usize) -> i64 {
    end_of_day(&r.get::<_, String>(column)).unwrap_or(i64::MIN)
}

/// The columns of an approval, in [`Approval`]'s order.
const APPROVAL_COLS: &str = "id, change_ref, entity_kind, entity_id, org_id, attribute, old_value, new_value, \
     approver, token_name, created_at, expires_at, used_at, used_by";

/// Tokens `t` with their org `o` (none for admin and reviewer tokens).
const TOKEN_COLS: &str = "t.id, t.name, t.role, t.org_id, t.token_hmac, t.created_at, t.revoked_at, \
     t.created_by, t.expires_at, t.last_used_at, o.offboarded_at, t.email \
     FROM api_tokens t LEFT JOIN orgs o ON o.id = t.org_id";

fn token_from_row(r: &Row) -> TokenRow {
    let role: String = r.get(2);
    let hmac: Vec<u8> = r.get(4);
    TokenRow {
        id: r.get(0),
        name: r.get(1),
        role: Role::parse(&role).unwrap_or(Role::Reviewer),
        org_id: r.get(3),
        hmac: hmac.try_into().unwrap_or([0; 32]),
        created_at: r.get(5),
        revoked_at: r.get(6),
        created_by: r.get(7),
        expires_at: r.get(8),
        last_used_at: r.get(9),
        org_offboarded_at: r.get(10),
        email: r.get(11),
    }
}

/// The earliest due date of a campaign in which client `c` of org `o` is
/// undecided, under the org's `review_enforcement = 'suspend'`.
const SUSPENDED_AFTER: &str = "(SELECT MIN(rc.due_at) FROM review_items ri
     JOIN review_campaigns rc ON rc.id = ri.campaign_id
     WHERE ri.client_ref = c.id AND ri.decision IS NULL AND o.review_enforcement = 'suspend')";

const CAMPAIGN_COLS: &str = "id, org_id, cause, note, opened_by, opened_at, due_at";
const ITEM_COLS: &str = "ri.campaign_id, ri.client_ref, c.client_id, c.name, c.owner, c.revoked_at, \
     ri.decision, ri.comment, ri.decided_by, ri.decided_at";
/// The campaigns `rc` a [`CampaignSelect`] names, as `$1` (id), `$2` (org), `$3` (undecided only).
const CAMPAIGN_FILTER: &str =
    "($1::text IS NULL OR rc.id = $1) AND ($2::text IS NULL OR rc.org_id = $2)
    AND (NOT $3 OR EXISTS (SELECT 1 FROM review_items u JOIN clients uc ON uc.id = u.client_ref
         WHERE u.campaign_id = rc.id AND u.decision IS NULL AND uc.revoked_at IS NULL))";

fn campaign_from_row(r: &Row) -> Campaign {
    let cause: String = r.get(2);
    Campaign {
        id: r.get(0),
        org_id: r.get(1),
        cause: Cause::parse(&cause).unwrap_or(Cause::Manual),
        note: r.get(3),
        opened_by: r.get(4),
        opened_at: r.get(5),
        due_at: r.get(6),
        items: Vec::new(),
    }
}

fn item_from_row(r: &Row) -> (String, ReviewItem) {
    let decision: Option<String> = r.get(6);
    (
        r.get(0),
        ReviewItem {
            client_ref: r.get(1),
            client_id: r.get(2),
            client_name: r.get(3),
            owner: r.get(4),
            client_revoked_at: r.get(5),
            decision: decision.as_deref().and_then(Decision::parse),
            comment: r.get(7),
            decided_by: r.get(8),
            decided_at: r.get(9),
        },
    )
}

const AUDIT_COLS: &str = "seq, at, actor, action, entity_kind, entity_id, org_id, before, after, request_id, change_ref, prev_hash, hash";

fn audit_from_row(r: &Row) -> AuditRow {
    AuditRow {
        seq: r.get(0),
        at: r.get(1),
        actor: r.get(2),
        action: r.get(3),
        entity_kind: r.get(4),
        entity_id: r.get(5),
        org_id: r.get(6),
        before: r.get(7),
        after: r.get(8),
        request_id: r.get(9),
        change_ref: r.get(10),
        prev_hash: r.get(11),
        hash: r.get(12),
    }
}

fn json_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

impl Reader for PgTx<'_> {
    fn org(&mut self, id: &str) -> Result<Option<Org>> {
        Ok(self.orgs_where("id = $1", &[&id])?.pop())
    }

    fn live_org_named(&mut self, name: &str) -> Result<Option<Org>> {
        Ok(self
            .orgs_where("name = $1 AND offboarded_at IS NULL", &[&name])?
            .pop())
    }

    fn client(&mut self, id: &str) -> Result<Option<Client>> {
        Ok(self
            .clients_where("c.id = $1 OR c.client_id = $1", &[&id])?
            .pop())
    }

    fn live_clients(&mut self, org_id: &str) -> Result<Vec<Client>> {
        self.clients_where("c.org_id = $1 AND c.revoked_at IS NULL", &[&org_id])
    }

    fn live_clients_operated_by(&mut self, org_id: &str) -> Result<Vec<Client>> {
        self.clients_where("c.operated_by = $1 AND c.revoked_at IS NULL", &[&org_id])
    }

    fn active_client_count(&mut self, org_id: &str, now: i64, today: &str) -> Result<i64> {
        let rows = self.query(
            "SELECT COUNT(*) FROM clients c JOIN orgs o ON o.id = c.org_id
             WHERE c.org_id = $1 AND c.revoked_at IS NULL AND c.expires_at >= $2 AND o.contract_end >= $3",
            &[&org_id, &now, &today],
        )?;
        Ok(rows.first().map_or(0, |r| r.get(0)))
    }

    fn live_client_named(&mut self, org_id: &str, name: &str) -> Result<Option<Client>> {
        Ok(self
            .clients_where(
                "c.org_id = $1 AND c.name = $2 AND c.revoked_at IS NULL",
                &[&org_id, &name],
            )?
            .pop())
    }

    fn secret_held(&mut self, client_ref: &str, hmac: &[u8; 32]) -> Result<bool> {
        let hmac = hmac.as_slice();
        let rows = self.query(
            "SELECT 1 FROM client_secrets WHERE client_ref = $1 AND secret_hmac = $2 LIMIT 1",
            &[&client_ref, &hmac],
        )?;
        Ok(!rows.is_empty())
    }

    fn client_holding_secret(&mut self, hmac: &[u8; 32], now: i64) -> Result<Option<Client>> {
        let hmac = hmac.as_slice();
        Ok(self
            .clients_where(
                "c.revoked_at IS NULL AND c.id IN (SELECT client_ref FROM client_secrets
                   WHERE secret_hmac = $1 AND (not_after IS NULL OR not_after >= $2))",
                &[&hmac, &now],
            )?
            .pop())
    }

    fn list_orgs(&mut self, f: &OrgFilter, today: &str) -> Result<Rows<Org>> {
        let limit = f.limit + 1;
        let rows = self.query(
            &format!(
                "SELECT {ORG_COLS} FROM orgs WHERE seq > $1 AND ($2::text IS NULL OR id = $2)
                   AND ($3::text IS NULL OR name = $3) {} AND $4::text = $4 ORDER BY seq LIMIT $5",
                f.status_condition().replace('?', "$")
            ),
            &[&f.cursor, &f.scope, &f.name, &today, &limit],
        )?;
        let items = rows
            .iter()
            .map(|r| (org_from_row(r), r.get::<_, i64>(18)))
            .collect();
        Ok(Rows::page(items, f.limit))
    }

    fn list_clients(&mut self, f: &ClientFilter, now: i64, today: &str) -> Result<Rows<Client>> {
        let (horizon, limit) = (f.horizon(now), f.limit + 1);
        let rows = self.query(
            &format!(
                "SELECT {CLIENT_COLS} FROM clients c JOIN orgs o ON o.id = c.org_id
                 WHERE c.seq > $1 AND ($2::text IS NULL OR c.org_id = $2) AND ($3::text IS NULL OR c.org_id = $3)
                   {} AND $4::bigint = $4 AND $5::text = $5 AND $6::bigint = $6
                 ORDER BY c.seq LIMIT $7",
                f.conditions().replace('?', "$")
            ),
            &[&f.cursor, &f.scope, &f.org_id, &now, &today, &horizon, &limit],
        )?;
        let items = rows
            .iter()
            .map(|r| (client_from_row(r), r.get::<_, i64>(13)))
            .collect();
        Ok(Rows::page(items, f.limit))
    }

    fn live_orgs(&mut self) -> Result<Vec<Org>> {
        self.orgs_where("offboarded_at IS NULL", &[])
    }

    /// The rows come in one answer, but each becomes a [`Client`] only when
    /// `f` takes it: the records are never all held at once.
    fn each_live_client(&mut self, f: &mut dyn FnMut(Client) -> Result<()>) -> Result<()> {
        let rows = self.client_rows("c.revoked_at IS NULL AND o.offboarded_at IS NULL", &[])?;
        rows.iter().try_for_each(|row| f(client_from_row(row)))
    }

    fn live_token_named(&mut self, name: &str) -> Result<Option<TokenRow>> {
        Ok(self.live_tokens(TokenSelect::Named(name))?.pop())
    }

    fn tokens(&mut self) -> Result<Vec<TokenRow>> {
        let rows = self.query(&format!("SELECT {TOKEN_COLS} ORDER BY t.id"), &[])?;
        Ok(rows.iter().map(token_from_row).collect())
    }

    fn live_tokens(&mut self, select: TokenSelect<'_>) -> Result<Vec<TokenRow>> {
        let (name, org) = select.params();
        let rows = self.query(
            &format!(
                "SELECT {TOKEN_COLS} WHERE t.revoked_at IS NULL AND ($1::text IS NULL OR t.name = $1) \
                 AND ($2::text IS NULL OR t.org_id = $2) ORDER BY t.id"
            ),
            &[&name, &org],
        )?;
        Ok(rows.iter().map(token_from_row).collect())
    }

    fn idempotency(&mut self, token_id: i64, key: &str) -> Result<Option<IdemRecord>> {
        let rows = self.query(
            "SELECT fingerprint, response, location, created_at FROM idempotency_keys WHERE token_id = $1 AND key = $2",
            &[&token_id, &key],
        )?;
        Ok(rows.first().map(|r| IdemRecord {
            fingerprint: r.get(0),
            response: r.get(1),
            location: r.get(2),
            created_at: r.get(3),
        }))
    }

    fn revoked_client_ids(&mut self, select: Select<'_>) -> Result<Vec<String>> {
        let (condition, arg) = select_condition(select);
        let rows = self.query(
            &format!(
                "SELECT c.client_id FROM clients c JOIN orgs o ON o.id = c.org_id
                 WHERE (c.revoked_at IS NOT NULL OR o.offboarded_at IS NOT NULL) AND {condition}"
            ),
            &[&arg],
        )?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn credentials(&mut self, select: Select<'_>) -> Result<Vec<CredentialRow>> {
        let (condition, arg) = select_condition(select);
        let rows = self.query(
            &format!(
                "SELECT c.id, c.client_id, c.org_id, o.name, c.scopes, c.expires_at, o.contract_end, c.last_used_at,
                   c.operated_by, c.auth_method, c.jwks, {SUSPENDED_AFTER}, c.jwks_uri
                 FROM clients c JOIN orgs o ON o.id = c.org_id
                 WHERE c.revoked_at IS NULL AND o.offboarded_at IS NULL AND {condition}"
            ),
            &[&arg],
        )?;
        let mut out: Vec<CredentialRow> = rows
            .iter()
            .map(|r| CredentialRow {
                id: r.get(0),
                client_id: r.get(1),
                org_id: r.get(2),
                org_name: r.get(3),
                scopes: scopes_at(r, 4),
                expires_at: r.get(5),
                contract_end: day_end_at(r, 6),
                last_used_at: r.get(7),
                operated_by: r.get(8),
                auth_method: r.get(9),
                jwks: r.get(10),
                jwks_uri: r.get(12),
                secrets: Vec::new(),
                suspended_after: r.get(11),
            })
            .collect();
        let index: std::collections::HashMap<String, usize> = out
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i))
            .collect();
        let secrets = self.query(
            &format!(
                "SELECT s.client_ref, s.secret_hmac, s.not_after, s.created_at FROM client_secrets s
                 JOIN clients c ON c.id = s.client_ref WHERE {condition}"
            ),
            &[&arg],
        )?;
        for r in &secrets {
            let client_ref: String = r.get(0);
            let hmac: Vec<u8> = r.get(1);
            if let (Some(i), Ok(hmac)) = (index.get(&client_ref), <[u8; 32]>::try_from(hmac)) {
                out[*i].secrets.push(SecretHash {
                    hmac,
                    not_after: r.get(2),
                    created_at: r.get(3),
                });
            }
        }
        Ok(out)
    }

    fn audit_after(&mut self, after: i64, limit: i64) -> Result<Vec<AuditRow>> {
        let rows = self.query(
            &format!("SELECT {AUDIT_COLS} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2"),
            &[&after, &limit],
        )?;
        Ok(rows.iter().map(audit_from_row).collect())
    }

    fn walk_audit(&mut self, f: &mut dyn FnMut(AuditRow) -> Result<bool>) -> Result<()> {
        // In pages, so that a long chain never sits in memory at once.
        const PAGE: i64 = 1000;
        let mut after = 0;
        loop {
            let page = self.audit_after(after, PAGE)?;
            let full = page.len() as i64 == PAGE;
            for row in page {
                after = row.seq;
                if !f(row)? {
                    return Ok(());
                }
            }
            if !full {
                return Ok(());
            }
        }
    }

    fn audit_head(&mut self) -> Result<Option<AuditHead>> {
        let rows = self.query("SELECT seq, hash, mac FROM audit_head WHERE id = 1", &[])?;
        Ok(rows.first().map(|r| AuditHead {
            seq: r.get(0),
            hash: r.get(1),
            mac: r.get(2),
        }))
    }

    fn changes_after(&mut self, after: i64, limit: i64) -> Result<Vec<Change>> {
        let rows = self.query(
            "SELECT seq, hash, entity_kind, entity_id FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&after, &limit],
        )?;
        Ok(rows
            .iter()
            .map(|r| Change {
                seq: r.get(0),
                hash: r.get(1),
                entity_kind: r.get(2),
                entity_id: r.get(3),
            })
            .collect())
    }

    fn approvals_for(&mut self, change_ref: &str, entity_id: &str) -> Result<Vec<Approval>> {
        let rows = self.query(
            &format!(
                "SELECT {APPROVAL_COLS} FROM approvals WHERE change_ref = $1 AND entity_id = $2 ORDER BY seq"
            ),
            &[&change_ref, &entity_id],
        )?;
        Ok(rows
            .iter()
            .map(|r| Approval {
                id: r.get(0),
                change_ref: r.get(1),
                entity_kind: r.get(2),
                entity_id: r.get(3),
                org_id: r.get(4),
                attribute: r.get(5),
                old: r.get(6),
                new: r.get(7),
                approver: r.get(8),
                token_name: r.get(9),
                created_at: r.get(10),
                expires_at: r.get(11),
                used_at: r.get(12),
                used_by: r.get(13),
            })
            .collect())
    }

    fn holds_data(&mut self) -> Result<bool> {
        let rows = self.query(
            "SELECT EXISTS (SELECT 1 FROM orgs) OR EXISTS (SELECT 1 FROM api_tokens)
               OR EXISTS (SELECT 1 FROM audit_events)",
            &[],
        )?;
        Ok(rows.first().is_some_and(|r| r.get::<_, bool>(0)))
    }

    fn usage_days(&mut self, client_ref: &str, from_day: i64) -> Result<Vec<(i64, i64)>> {
        let rows = self.query(
            "SELECT day, count FROM client_usage_daily WHERE client_ref = $1 AND day >= $2 ORDER BY day",
            &[&client_ref, &from_day],
        )?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn campaigns(&mut self, select: CampaignSelect<'_>) -> Result<Vec<Campaign>> {
        let args: Params<'_> = &[&select.id, &select.org, &select.undecided_only];
        let mut campaigns: Vec<Campaign> = self
            .query(
                &format!(
                    "SELECT {CAMPAIGN_COLS} FROM review_campaigns rc WHERE {CAMPAIGN_FILTER} ORDER BY rc.seq"
                ),
                args,
            )?
            .iter()
            .map(campaign_from_row)
            .collect();
        let index: std::collections::HashMap<String, usize> = campaigns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i))
            .collect();
        let items = self.query(
            &format!(
                "SELECT {ITEM_COLS} FROM review_items ri JOIN review_campaigns rc ON rc.id = ri.campaign_id
                 JOIN clients c ON c.id = ri.client_ref WHERE {CAMPAIGN_FILTER} ORDER BY rc.seq, c.seq"
            ),
            args,
        )?;
        for row in &items {
            let (campaign, item) = item_from_row(row);
            if let Some(i) = index.get(&campaign) {
                campaigns[*i].items.push(item);
            }
        }
        Ok(campaigns)
    }
}

impl Tx for PgTx<'_> {
    fn insert_campaign(&mut self, c: &Campaign) -> Result<()> {
        self.execute(
            &format!(
                "INSERT INTO review_campaigns ({CAMPAIGN_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            ),
            &[
                &c.id,
                &c.org_id,
                &c.cause.as_str(),
                &c.note,
                &c.opened_by,
                &c.opened_at,
                &c.due_at,
            ],
        )?;
        for item in &c.items {
            self.execute(
                "INSERT INTO review_items (campaign_id, client_ref) VALUES ($1, $2)",
                &[&c.id, &item.client_ref],
            )?;
        }
        Ok(())
    }

    fn add_usage_counts(&mut self, counts: &[DayCount]) -> Result<()> {
        for c in counts {
            self.execute(
                "INSERT INTO client_usage_daily (client_ref, day, count) VALUES ($1, $2, $3)
                 ON CONFLICT (client_ref, day) DO UPDATE SET count = client_usage_daily.count + excluded.count",
                &[&c.client_ref, &c.day, &c.count],
            )?;
        }
        Ok(())
    }

    fn note_last_used(&mut self, clients: &[(String, i64)], tokens: &[(i64, i64)]) -> Result<()> {
        self.note_uses("clients", clients)?;
        self.note_uses("api_tokens", tokens)
    }

    fn decide_review_item(&mut self, campaign_id: &str, item: &ReviewItem) -> Result<()> {
        self.execute(
            "UPDATE review_items SET decision = $3, comment = $4, decided_by = $5, decided_at = $6
             WHERE campaign_id = $1 AND client_ref = $2",
            &[
                &campaign_id,
                &item.client_ref,
                &item.decision.map(Decision::as_str),
                &item.comment,
                &item.decided_by,
                &item.decided_at,
            ],
        )?;
        Ok(())
    }

    fn insert_org(&mut self, o: &Org) -> Result<()> {
        let (scopes, labels) = (
            json_text(&o.profile.allowed_scopes),
            json_text(&o.profile.labels),
        );
        let enforcement = o.review_enforcement.as_str();
        self.execute(
            "INSERT INTO orgs (id, name, legal_entity, technical_owner, approval_authority, commercial_sponsor, contract_id,
               contract_start, contract_end, tenant, business_unit, allowed_scopes, max_clients, labels, created_at,
               updated_at, offboarded_at, version, review_enforcement, approval_policy)
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20)",
            &org_params(o, &scopes, &labels, &enforcement),
        )?;
        Ok(())
    }

    fn update_org(&mut self, o: &Org) -> Result<()> {
        let (scopes, labels) = (
            json_text(&o.profile.allowed_scopes),
            json_text(&o.profile.labels),
        );
        let enforcement = o.review_enforcement.as_str();
        self.execute(
            "UPDATE orgs SET name=$2, legal_entity=$3, technical_owner=$4, approval_authority=$5, commercial_sponsor=$6,
               contract_id=$7, contract_start=$8, contract_end=$9, tenant=$10, business_unit=$11, allowed_scopes=$12,
               max_clients=$13, labels=$14, created_at=$15, updated_at=$16, offboarded_at=$17, version=$18,
               review_enforcement=$19, approval_policy=$20 WHERE id=$1",
            &org_params(o, &scopes, &labels, &enforcement),
        )?;
        Ok(())
    }

    fn org_id_holder(&mut self, id: &str) -> Result<Option<Org>> {
        self.org(id)
    }

    fn insert_client(&mut self, c: &Client) -> Result<()> {
        let scopes = json_text(&c.profile.scopes);
        let attributes = super::attributes_text(&c.profile.attributes);
        self.execute(
            "INSERT INTO clients (id, client_id, org_id, name, purpose, owner, scopes, expires_at, created_at, updated_at,
               revoked_at, version, secret_rotated_at, last_used_at, operated_by, attributes, auth_method, jwks, jwks_uri)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
            &[
                &c.id,
                &c.client_id,
                &c.org_id,
                &c.profile.name,
                &c.profile.purpose,
                &c.profile.owner,
                &scopes,
                &c.expires_at,
                &c.created_at,
                &c.updated_at,
                &c.revoked_at,
                &c.version,
                &c.secret_rotated_at,
                &c.last_used_at,
                &c.profile.operated_by,
                &attributes,
                &c.auth_method,
                &c.jwks,
                &c.jwks_uri,
            ],
        )?;
        Ok(())
    }

    fn update_client(&mut self, c: &Client) -> Result<()> {
        let scopes = json_text(&c.profile.scopes);
        let attributes = super::attributes_text(&c.profile.attributes);
        self.execute(
            "UPDATE clients SET name=$2, purpose=$3, owner=$4, scopes=$5, expires_at=$6, updated_at=$7, revoked_at=$8,
               version=$9, secret_rotated_at=$10, operated_by=$11, attributes=$12, jwks=$13, jwks_uri=$14 WHERE id=$1",
            &[
                &c.id,
                &c.profile.name,
                &c.profile.purpose,
                &c.profile.owner,
                &scopes,
                &c.expires_at,
                &c.updated_at,
                &c.revoked_at,
                &c.version,
                &c.secret_rotated_at,
                &c.profile.operated_by,
                &attributes,
                &c.jwks,
                &c.jwks_uri,
            ],
        )?;
        Ok(())
    }

    fn add_secret(&mut self, client_ref: &str, secret: &NewSecret, now: i64) -> Result<()> {
        self.execute(
            "INSERT INTO client_secrets (client_ref, secret_hmac, source, created_at, not_after) VALUES ($1, $2, $3, $4, NULL)",
            &[&client_ref, &secret.hmac.as_slice(), &secret.source, &now],
        )?;
        Ok(())
    }

    fn drop_previous_secrets(&mut self, client_ref: &str) -> Result<()> {
        self.execute(
            "DELETE FROM client_secrets WHERE client_ref = $1 AND not_after IS NOT NULL",
            &[&client_ref],
        )?;
        Ok(())
    }

    fn retire_current_secret(&mut self, client_ref: &str, not_after: Option<i64>) -> Result<()> {
        match not_after {
            Some(t) => self.execute(
                "UPDATE client_secrets SET not_after = $2 WHERE client_ref = $1 AND not_after IS NULL",
                &[&client_ref, &t],
            )?,
            None => self.execute(
                "DELETE FROM client_secrets WHERE client_ref = $1 AND not_after IS NULL",
                &[&client_ref],
            )?,
        };
        Ok(())
    }

    fn insert_token(&mut self, t: &NewTokenRow<'_>) -> Result<i64> {
        let hmac = t.hmac.as_slice();
        let rows = self.query(
            "INSERT INTO api_tokens (name, role, org_id, token_hmac, created_at, created_by, expires_at, email) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            &[
                &t.name,
                &t.role.as_str(),
                &t.org_id,
                &hmac,
                &t.created_at,
                &t.created_by,
                &t.expires_at,
                &t.email,
            ],
        )?;
        rows.first()
            .map(|r| r.get(0))
            .ok_or_else(|| Error::Internal("the token insert returned no id".into()))
    }

    fn insert_approval(&mut self, a: &Approval) -> Result<()> {
        self.execute(
            &format!(
                "INSERT INTO approvals ({APPROVAL_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
            ),
            &[
                &a.id,
                &a.change_ref,
                &a.entity_kind,
                &a.entity_id,
                &a.org_id,
                &a.attribute,
                &a.old,
                &a.new,
                &a.approver,
                &a.token_name,
                &a.created_at,
                &a.expires_at,
                &a.used_at,
                &a.used_by,
            ],
        )?;
        Ok(())
    }

    fn use_approval(&mut self, id: &str, now: i64, by: &str) -> Result<()> {
        self.execute(
            "UPDATE approvals SET used_at = $2, used_by = $3 WHERE id = $1",
            &[&id, &now, &by],
        )?;
        Ok(())
    }

    fn claim_jti(&mut self, client_id: &str, jti: &str, expires_at: i64, now: i64) -> Result<bool> {
        let before = now.saturating_sub(super::JTI_SKEW);
        self.execute(
            "DELETE FROM assertion_jtis WHERE expires_at < $1",
            &[&before],
        )?;
        let added = self.execute(
            "INSERT INTO assertion_jtis (client_id, jti, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (client_id, jti) DO NOTHING",
            &[&client_id, &jti, &expires_at],
        )?;
        Ok(added == 1)
    }

    fn revoke_token(&mut self, id: i64, now: i64) -> Result<()> {
        self.execute(
            "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1",
            &[&id, &now],
        )?;
        Ok(())
    }

    fn save_idempotency(&mut self, token_id: i64, key: &str, record: &IdemRecord) -> Result<()> {
        self.execute(
            "INSERT INTO idempotency_keys (token_id, key, fingerprint, status, response, location, created_at)
             VALUES ($1, $2, $3, 201, $4, $5, $6)",
            &[
                &token_id,
                &key,
                &record.fingerprint,
                &record.response,
                &record.location,
                &record.created_at,
            ],
        )?;
        Ok(())
    }

    fn append_audit(&mut self, row: &AuditRow, head: &AuditHead) -> Result<()> {
        self.execute(
            &format!(
                "INSERT INTO audit_events ({AUDIT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
            ),
            &[
                &row.seq,
                &row.at,
                &row.actor,
                &row.action,
                &row.entity_kind,
                &row.entity_id,
                &row.org_id,
                &row.before,
                &row.after,
                &row.request_id,
                &row.change_ref,
                &row.prev_hash,
                &row.hash,
            ],
        )?;
        self.execute(
            "INSERT INTO audit_head (id, seq, hash, mac) VALUES (1, $1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, mac = excluded.mac",
            &[&head.seq, &head.hash, &head.mac],
        )?;
        let seq = row.seq.to_string();
        self.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &seq])?;
        self.last_seq = Some(row.seq);
        Ok(())
    }

    fn savepoint(&mut self, step: super::Savepoint) -> Result<()> {
        self.db
            .run(async { self.tx.batch_execute(step.sql()).await.map_err(pg_err) })
    }

    fn take_last_seq(&mut self) -> Option<i64> {
        self.last_seq.take()
    }
}

fn org_params<'a>(
    o: &'a Org,
    scopes: &'a String,
    labels: &'a String,
    enforcement: &'a &'static str,
) -> [&'a (dyn ToSql + Sync); 20] {
    [
        &o.id,
        &o.profile.name,
        &o.profile.legal_entity,
        &o.profile.technical_owner,
        &o.profile.approval_authority,
        &o.profile.commercial_sponsor,
        &o.profile.contract_id,
        &o.profile.contract_start,
        &o.profile.contract_end,
        &o.profile.tenant,
        &o.profile.business_unit,
        scopes,
        &o.max_clients,
        labels,
        &o.created_at,
        &o.updated_at,
        &o.offboarded_at,
        &o.version,
        enforcement,
        &o.approval_policy,
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            super::redact("postgres://reg:s3cret@db.example:5432/registry"),
            "postgres://reg:***@db.example:5432/registry"
        );
        assert_eq!(
            super::redact("postgresql://reg@db/registry"),
            "postgresql://reg@db/registry"
        );
        assert_eq!(
            super::redact("/var/lib/registry.db"),
            "/var/lib/registry.db"
        );
    }
}
