//! Storage: what the registry reads and writes, in domain types, over two
//! engines. SQLite ([`sqlite`]) is the embedded default for one machine;
//! PostgreSQL ([`postgres`]) serves several registry replicas.
//!
//! Both engines implement the same two traits: [`Reader`] (one consistent
//! read) and [`Tx`] (one write transaction). The use cases in
//! [`crate::service`] are written once against them; the engine only moves
//! rows. Every write transaction starts by taking the one global write lock
//! (SQLite's `BEGIN IMMEDIATE`; PostgreSQL's lock on the audit head row), so
//! that the audit chain stays one chain and every rule that reads before it
//! writes (quota, unique names, If-Match, Idempotency-Key) holds under
//! concurrent writers, on one replica or several.
//!
//! The traits are blocking: SQLite is a blocking library, and one
//! synchronous code path for both engines keeps the use cases free of engine
//! details. Async callers go through [`Database::read_async`] and
//! [`Database::write_async`], which run on tokio's blocking pool, never on
//! the async workers.

pub mod copy;
pub mod postgres;
pub mod sqlite;

use crate::approvals::Approval;
use crate::audit::{AuditHead, AuditRow};
use crate::campaigns::{Campaign, ReviewItem};
use crate::error::{Error, Result};
use crate::records::{Client, ClientStatus, NewSecret, Org, OrgStatus, Role};
use std::any::Any;
use std::path::PathBuf;
use std::sync::Arc;

/// Where the registry's data lives: a SQLite file, or a PostgreSQL URL.
#[derive(Clone, PartialEq, Eq)]
pub enum Target {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Target {
    /// `postgres://…` or `postgresql://…` is PostgreSQL; anything else a path.
    pub fn parse(s: &str) -> Target {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Target::Postgres(s.to_string())
        } else {
            Target::Sqlite(PathBuf::from(s))
        }
    }

    /// The target for messages: the path, or the URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Target::Sqlite(p) => p.display().to_string(),
            Target::Postgres(url) => postgres::redact(url),
        }
    }
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// One page of a list: the rows and the cursor of the next page.
#[derive(Debug, Clone)]
pub struct Rows<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<i64>,
}

impl<T> Rows<T> {
    /// `limit + 1` rows read, at most `limit` kept: the cursor says whether
    /// there are more.
    pub fn page(mut items: Vec<(T, i64)>, limit: i64) -> Rows<T> {
        let more = items.len() as i64 > limit;
        items.truncate(limit.max(0) as usize);
        let next_cursor = if more {
            items.last().map(|(_, c)| *c)
        } else {
            None
        };
        Rows {
            items: items.into_iter().map(|(t, _)| t).collect(),
            next_cursor,
        }
    }
}

/// A page of orgs: a name, a status, the page's size and where it starts.
#[derive(Debug, Clone, Default)]
pub struct OrgFilter {
    /// The one org an org token may see: set by the service from the
    /// caller, whatever the request asked.
    pub scope: Option<String>,
    pub name: Option<String>,
    pub status: Option<OrgStatus>,
    pub limit: i64,
    pub cursor: i64,
}

impl OrgFilter {
    /// The SQL condition of the status asked for, over `orgs` with `?4`
    /// today (`YYYY-MM-DD`); PostgreSQL's engine writes `$` for `?`.
    pub(crate) fn status_condition(&self) -> &'static str {
        match self.status {
            None => "",
            Some(OrgStatus::Active) => "AND offboarded_at IS NULL AND contract_end >= ?4",
            Some(OrgStatus::Expired) => "AND offboarded_at IS NULL AND contract_end < ?4",
            Some(OrgStatus::Offboarded) => "AND offboarded_at IS NOT NULL",
        }
    }
}

/// A page of clients: an org, a status, an expiry horizon, the page's size
/// and where it starts.
#[derive(Debug, Clone, Default)]
pub struct ClientFilter {
    /// The one org an org token may see: set by the service from the
    /// caller, whatever the request asked.
    pub scope: Option<String>,
    pub org_id: Option<String>,
    pub status: Option<ClientStatus>,
    pub expiring_within: Option<i64>,
    pub limit: i64,
    pub cursor: i64,
}

impl ClientFilter {
    /// The SQL conditions of the status and expiry asked for, over `c`
    /// (clients) and `o` (their orgs) with `?4` now, `?5` today and `?6`
    /// [`horizon`](Self::horizon); PostgreSQL's engine writes `$` for `?`.
    pub(crate) fn conditions(&self) -> String {
        let status = match self.status {
            None => "",
            Some(ClientStatus::Active) => {
                "AND c.revoked_at IS NULL AND c.expires_at >= ?4 AND o.contract_end >= ?5"
            }
            Some(ClientStatus::Expired) => {
                "AND c.revoked_at IS NULL AND (c.expires_at < ?4 OR o.contract_end < ?5)"
            }
            Some(ClientStatus::Revoked) => "AND c.revoked_at IS NOT NULL",
        };
        let expiring = if self.expiring_within.is_some() {
            "AND c.revoked_at IS NULL AND c.expires_at >= ?4 AND c.expires_at <= ?6"
        } else {
            ""
        };
        format!("{status} {expiring}")
    }

    /// The latest expiry an `expiring_within` filter keeps.
    pub(crate) fn horizon(&self, now: i64) -> i64 {
        now.saturating_add(self.expiring_within.unwrap_or(0))
    }
}

/// An API token's row (never the token: only its keyed hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub org_id: Option<String>,
    pub hmac: [u8; 32],
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    /// The actor that made it: `cli`, or the admin token's name.
    pub created_by: String,
    /// `None`: it never expires.
    pub expires_at: Option<i64>,
    /// Last authenticated request, written coarsely (at most once a minute).
    pub last_used_at: Option<i64>,
    /// When the org of an org token was offboarded (read with the token: it
    /// ends the token's use).
    pub org_offboarded_at: Option<i64>,
    /// The person an approver token is bound to.
    pub email: Option<String>,
}

impl TokenRow {
    /// Who makes the requests this token authenticates.
    pub fn actor(&self) -> crate::records::Actor {
        crate::records::Actor {
            token_id: self.id,
            name: self.name.clone(),
            role: self.role,
            org: self.org_id.clone(),
            email: self.email.clone(),
        }
    }
}

/// A token to store.
#[derive(Debug, Clone)]
pub struct NewTokenRow<'a> {
    pub name: &'a str,
    pub role: Role,
    pub org_id: Option<&'a str>,
    pub hmac: &'a [u8; 32],
    pub created_at: i64,
    pub created_by: &'a str,
    pub expires_at: Option<i64>,
    pub email: Option<&'a str>,
}

/// Which live (not revoked) tokens to load.
#[derive(Debug, Clone, Copy)]
pub enum TokenSelect<'a> {
    All,
    Named(&'a str),
    /// The tokens bound to this org.
    OfOrg(&'a str),
}

impl<'a> TokenSelect<'a> {
    /// The (name, org id) the engines' query filters on.
    pub fn params(self) -> (Option<&'a str>, Option<&'a str>) {
        match self {
            TokenSelect::All => (None, None),
            TokenSelect::Named(name) => (Some(name), None),
            TokenSelect::OfOrg(org) => (None, Some(org)),
        }
    }
}

/// The stored answer of a create made with an `Idempotency-Key`.
#[derive(Debug, Clone)]
pub struct IdemRecord {
    pub fingerprint: String,
    pub response: String,
    pub location: String,
    /// When the create was made (unix seconds).
    pub created_at: i64,
}

/// One stored secret hash; `not_after` bounds a previous secret's grace period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretHash {
    pub hmac: [u8; 32],
    pub not_after: Option<i64>,
    /// When it was issued: introspection's `iat`.
    pub created_at: i64,
}

/// What introspection needs of one client that is not revoked, of an org
/// that is not offboarded.
#[derive(Debug, Clone)]
pub struct CredentialRow {
    pub id: String,
    pub client_id: String,
    pub org_id: String,
    pub org_name: String,
    pub scopes: Vec<String>,
    pub expires_at: i64,
    pub contract_end: i64,
    pub last_used_at: Option<i64>,
    /// The intermediary org that operates the client, if any.
    pub operated_by: Option<String>,
    /// `client_secret` or `private_key_jwt`.
    pub auth_method: String,
    /// The public keys of a `private_key_jwt` client.
    pub jwks: Option<String>,
    /// Or where it publishes them.
    pub jwks_uri: Option<String>,
    pub secrets: Vec<SecretHash>,
    /// Under the org's `review_enforcement = "suspend"`: the earliest due
    /// date of a review campaign in which the client is undecided.
    pub suspended_after: Option<i64>,
}

/// Successful introspections of one client on one UTC day (`day`: unix
/// seconds / 86400), and the last of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCount {
    pub client_ref: String,
    pub day: i64,
    pub count: i64,
    pub last_at: i64,
}

/// Which review campaigns to load (every field set narrows the selection).
#[derive(Debug, Clone, Copy, Default)]
pub struct CampaignSelect<'a> {
    pub id: Option<&'a str>,
    pub org: Option<&'a str>,
    /// Only campaigns with a client that waits for a decision.
    pub undecided_only: bool,
}

/// Which credentials to load.
#[derive(Debug, Clone, Copy)]
pub enum Select<'a> {
    All,
    /// The client with this record id.
    Client(&'a str),
    /// Every client of this org.
    Org(&'a str),
}

/// One committed change, as the audit trail records it: what the credential
/// cache follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub seq: i64,
    pub hash: String,
    pub entity_kind: String,
    pub entity_id: String,
}

/// A consistent read. Everything a use case or a page needs to know.
pub trait Reader {
    fn org(&mut self, id: &str) -> Result<Option<Org>>;
    /// The org with this name that is not offboarded.
    fn live_org_named(&mut self, name: &str) -> Result<Option<Org>>;
    /// The client with this record id or client_id.
    fn client(&mut self, id: &str) -> Result<Option<Client>>;
    /// The org's clients that are not revoked, oldest first.
    fn live_clients(&mut self, org_id: &str) -> Result<Vec<Client>>;
    /// The clients that are not revoked and that this org operates for others.
    fn live_clients_operated_by(&mut self, org_id: &str) -> Result<Vec<Client>>;
    /// How many of the org's clients are active at `now` (neither revoked nor
    /// expired, within the contract); `today` is `YYYY-MM-DD`.
    fn active_client_count(&mut self, org_id: &str, now: i64, today: &str) -> Result<i64>;
    /// The org's client with this name that is not revoked.
    fn live_client_named(&mut self, org_id: &str, name: &str) -> Result<Option<Client>>;
    /// Whether the client holds a secret with this hash (current or previous).
    fn secret_held(&mut self, client_ref: &str, hmac: &[u8; 32]) -> Result<bool>;
    /// A client that is not revoked for which a secret with this hash is
    /// valid at `now` (current, or previous within its grace period): one
    /// index lookup on the keyed hash, never a scan of the secrets.
    fn client_holding_secret(&mut self, hmac: &[u8; 32], now: i64) -> Result<Option<Client>>;
    /// A page of orgs; `today` is `YYYY-MM-DD`.
    fn list_orgs(&mut self, f: &OrgFilter, today: &str) -> Result<Rows<Org>>;
    /// A page of clients; `today` is `now`'s `YYYY-MM-DD`.
    fn list_clients(&mut self, f: &ClientFilter, now: i64, today: &str) -> Result<Rows<Client>>;
    /// Orgs that are not offboarded, and their clients that are not revoked.
    fn review_data(&mut self) -> Result<(Vec<Org>, Vec<Client>)> {
        let orgs = self.live_orgs()?;
        let mut clients = Vec::new();
        self.each_live_client(&mut |c| {
            clients.push(c);
            Ok(())
        })?;
        Ok((orgs, clients))
    }
    /// Orgs that are not offboarded.
    fn live_orgs(&mut self) -> Result<Vec<Org>>;
    /// Calls `f` on each client that is not revoked of an org that is not
    /// offboarded, one at a time: the entitlement review reads them so, and
    /// never holds them all (at 100,000 clients they would be more than the
    /// rest of the registry's memory).
    fn each_live_client(&mut self, f: &mut dyn FnMut(Client) -> Result<()>) -> Result<()>;
    fn live_token_named(&mut self, name: &str) -> Result<Option<TokenRow>>;
    fn tokens(&mut self) -> Result<Vec<TokenRow>>;
    /// Tokens that are not revoked.
    fn live_tokens(&mut self, select: TokenSelect<'_>) -> Result<Vec<TokenRow>>;
    fn idempotency(&mut self, token_id: i64, key: &str) -> Result<Option<IdemRecord>>;
    fn credentials(&mut self, select: Select<'_>) -> Result<Vec<CredentialRow>>;
    /// The client_ids of the selected clients that are revoked, or of an
    /// offboarded org: what introspection tells apart from a client_id never
    /// registered.
    fn revoked_client_ids(&mut self, select: Select<'_>) -> Result<Vec<String>>;
    /// Audit events after `after`, at most `limit`, in order.
    fn audit_after(&mut self, after: i64, limit: i64) -> Result<Vec<AuditRow>>;
    /// Calls `f` on every audit event in order until it answers false.
    fn walk_audit(&mut self, f: &mut dyn FnMut(AuditRow) -> Result<bool>) -> Result<()>;
    fn audit_head(&mut self) -> Result<Option<AuditHead>>;
    /// Changes after `after`, at most `limit`, in order.
    fn changes_after(&mut self, after: i64, limit: i64) -> Result<Vec<Change>>;
    /// The approvals recorded for this change reference on this record
    /// (used, expired or not), oldest first.
    fn approvals_for(&mut self, change_ref: &str, entity_id: &str) -> Result<Vec<Approval>>;
    /// Whether the database holds any record at all (orgs, tokens or events).
    fn holds_data(&mut self) -> Result<bool>;
    /// A client's introspections per day from `from_day` on, oldest first.
    fn usage_days(&mut self, client_ref: &str, from_day: i64) -> Result<Vec<(i64, i64)>>;
    /// Review campaigns with their items, oldest first.
    fn campaigns(&mut self, select: CampaignSelect<'_>) -> Result<Vec<Campaign>>;
}

/// One write transaction. Committed by [`Database::write`] when the closure
/// returns `Ok`, rolled back otherwise.
pub trait Tx: Reader {
    fn insert_org(&mut self, org: &Org) -> Result<()>;
    fn update_org(&mut self, org: &Org) -> Result<()>;
    /// Whether any org, offboarded or not, has this id (ids are never reused).
    fn org_id_holder(&mut self, id: &str) -> Result<Option<Org>>;
    fn insert_client(&mut self, client: &Client) -> Result<()>;
    /// Writes every mutable column of the client.
    fn update_client(&mut self, client: &Client) -> Result<()>;
    fn add_secret(&mut self, client_ref: &str, secret: &NewSecret, now: i64) -> Result<()>;
    /// Drops the previous secrets (those with a `not_after`).
    fn drop_previous_secrets(&mut self, client_ref: &str) -> Result<()>;
    /// The current secret becomes a previous one valid until `not_after`;
    /// with `None` it is dropped.
    fn retire_current_secret(&mut self, client_ref: &str, not_after: Option<i64>) -> Result<()>;
    fn insert_token(&mut self, token: &NewTokenRow<'_>) -> Result<i64>;
    fn insert_approval(&mut self, approval: &Approval) -> Result<()>;
    /// Marks the approval used at `now` by the request `by`.
    fn use_approval(&mut self, id: &str, now: i64, by: &str) -> Result<()>;
    /// Records that `client_id` used the assertion `jti` (valid until
    /// `expires_at`); `false` when it was recorded before: a replay. Drops
    /// the rows whose assertions expired before `now` (less [`JTI_SKEW`]).
    fn claim_jti(&mut self, client_id: &str, jti: &str, expires_at: i64, now: i64) -> Result<bool>;
    fn revoke_token(&mut self, id: i64, now: i64) -> Result<()>;
    fn save_idempotency(&mut self, token_id: i64, key: &str, record: &IdemRecord) -> Result<()>;
    /// Stores a new campaign and its (undecided) items.
    fn insert_campaign(&mut self, campaign: &Campaign) -> Result<()>;
    /// Adds introspections to the clients' daily counts (not audited: a use is not a change).
    fn add_usage_counts(&mut self, counts: &[DayCount]) -> Result<()>;
    /// Records the last uses of clients (by client id) and of API tokens
    /// (by token id), never moving one back (coarse, not audited: a use is
    /// not a change).
    fn note_last_used(&mut self, clients: &[(String, i64)], tokens: &[(i64, i64)]) -> Result<()>;
    /// Writes the decision of `item` (its client's row in the campaign).
    fn decide_review_item(&mut self, campaign_id: &str, item: &ReviewItem) -> Result<()>;
    /// Appends one event and moves the head to it.
    fn append_audit(&mut self, row: &AuditRow, head: &AuditHead) -> Result<()>;
    /// Begins, releases or rolls back the savepoint of one job of a batch.
    fn savepoint(&mut self, step: Savepoint) -> Result<()>;
    /// The last audit event appended since the last call, if any.
    fn take_last_seq(&mut self) -> Option<i64>;
}

/// The engine behind a [`Database`].
pub enum Engine {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

/// What a queued write returns: its value, type-erased, and its last audit seq.
type Written = Result<(Box<dyn Any + Send>, Option<i64>)>;

/// A write as the writer runs it, its value type-erased.
type Run = Box<dyn FnOnce(&mut dyn Tx) -> Result<Box<dyn Any + Send>> + Send>;

/// One write waiting for the writer.
pub struct Job {
    run: Run,
    reply: tokio::sync::oneshot::Sender<Written>,
}

/// How long (seconds) a used `jti` is kept past its assertion's `exp`:
/// replicas' clocks differ a little, and one whose clock runs ahead must not
/// forget a `jti` that another could still accept.
pub const JTI_SKEW: i64 = 60;

/// The most writes that share one transaction by default.
pub const MAX_BATCH: usize = 64;

/// A job's answer and where it goes.
pub(crate) type Answer = (Written, tokio::sync::oneshot::Sender<Written>);

impl Job {
    /// Runs the job inside the batch's transaction, under a savepoint of its
    /// own, so that a job that fails (or panics) is rolled back alone.
    fn run_in(self, tx: &mut dyn Tx) -> Answer {
        let run = self.run;
        let outcome = tx.savepoint(Savepoint::Begin).and_then(|()| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&mut *tx))).unwrap_or_else(
                |_| {
                    Err(Error::Internal(
                        "a write panicked; it was rolled back".into(),
                    ))
                },
            )
        });
        let seq = tx.take_last_seq();
        let written = match outcome {
            Ok(value) => tx.savepoint(Savepoint::Release).map(|()| (value, seq)),
            Err(e) => {
                let _ = tx.savepoint(Savepoint::RollBack);
                Err(e)
            }
        };
        (written, self.reply)
    }

    /// The answer of a job that never ran (the transaction could not start).
    pub(crate) fn refused(self, why: &Error) -> Answer {
        (Err(why.again()), self.reply)
    }
}

/// Runs every job of a batch in `tx` (a transaction the engine began).
pub(crate) fn run_jobs(tx: &mut dyn Tx, jobs: Vec<Job>) -> Vec<Answer> {
    jobs.into_iter().map(|j| j.run_in(tx)).collect()
}

/// After a failed commit: every job that had succeeded fails with it.
pub(crate) fn commit_failed(answers: Vec<Answer>, why: &Error) -> Vec<Answer> {
    answers
        .into_iter()
        .map(|(w, reply)| (w.and_then(|_| Err(why.again())), reply))
        .collect()
}

/// What a batch asks of its engine around one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Savepoint {
    Begin,
    Release,
    RollBack,
}

impl Savepoint {
    /// The statement, the same in both engines' SQL.
    pub fn sql(self) -> &'static str {
        match self {
            Savepoint::Begin => "SAVEPOINT job",
            Savepoint::Release => "RELEASE SAVEPOINT job",
            Savepoint::RollBack => "ROLLBACK TO SAVEPOINT job; RELEASE SAVEPOINT job",
        }
    }
}

/// A database of either engine, with its writer.
///
/// **Group commit.** Writes are queued to one writer thread per process, which
/// runs every write waiting at that moment in one transaction (each under a
/// savepoint of its own, so a refused write changes nothing) and commits them
/// with one fsync. Each write is answered only after that commit: durable as
/// before, but concurrent writers no longer queue for one fsync each.
pub struct Database {
    pub engine: Arc<Engine>,
    queue: std::sync::mpsc::Sender<Job>,
    batch_size: Arc<std::sync::atomic::AtomicUsize>,
    /// What the writer has done, for the metrics.
    pub writes: Arc<WriterStats>,
}

/// Write transactions the writer committed, and the time it spent on them.
#[derive(Debug, Default)]
pub struct WriterStats {
    pub transactions: std::sync::atomic::AtomicU64,
    pub micros: std::sync::atomic::AtomicU64,
}

impl Database {
    /// Opens the database at `target`, creating and migrating it when
    /// `create`; otherwise a database that does not exist is an error.
    /// `key` is the server key, `None` while there is none yet (only a
    /// database that holds nothing migrates without one).
    pub fn open(
        target: &Target,
        key: Option<&crate::crypto::SecretKey>,
        create: bool,
    ) -> Result<Database> {
        let engine = Arc::new(match target {
            Target::Sqlite(path) => Engine::Sqlite(sqlite::Sqlite::open(path, key, create)?),
            Target::Postgres(url) => Engine::Postgres(postgres::Postgres::open(url)?),
        });
        let (queue, jobs) = std::sync::mpsc::channel::<Job>();
        let writer_engine = Arc::clone(&engine);
        let batch_size = Arc::new(std::sync::atomic::AtomicUsize::new(MAX_BATCH));
        let writer_batch = Arc::clone(&batch_size);
        let writes = Arc::new(WriterStats::default());
        let writer_stats = Arc::clone(&writes);
        std::thread::Builder::new()
            .name("registry-writer".into())
            .spawn(move || {
                while let Ok(first) = jobs.recv() {
                    let mut batch = vec![first];
                    let most = writer_batch.load(std::sync::atomic::Ordering::Relaxed);
                    while batch.len() < most {
                        match jobs.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    let started = std::time::Instant::now();
                    let answers = match &*writer_engine {
                        Engine::Sqlite(db) => db.write_batch(batch),
                        Engine::Postgres(db) => db.write_batch(batch),
                    };
                    let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                    let relaxed = std::sync::atomic::Ordering::Relaxed;
                    writer_stats.transactions.fetch_add(1, relaxed);
                    writer_stats.micros.fetch_add(took, relaxed);
                    for (written, reply) in answers {
                        let _ = reply.send(written);
                    }
                }
            })
            .map_err(|e| Error::Internal(format!("cannot start the writer: {e}")))?;
        Ok(Database {
            engine,
            queue,
            batch_size,
            writes,
        })
    }

    /// Sets the most writes that share one transaction (at least 1: a batch
    /// of one gives every write a transaction and an fsync of its own, as
    /// without group commit; the benchmark measures both side by side).
    pub fn set_write_batch(&self, most: usize) {
        self.batch_size.store(
            most.clamp(1, MAX_BATCH),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// Runs `f` on one consistent read (blocking).
    pub fn read<T>(&self, f: impl FnOnce(&mut dyn Reader) -> Result<T>) -> Result<T> {
        match &*self.engine {
            Engine::Sqlite(db) => db.read(f),
            Engine::Postgres(db) => db.read(f),
        }
    }

    fn enqueue<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Tx) -> Result<T> + Send + 'static,
    ) -> Result<tokio::sync::oneshot::Receiver<Written>> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let run =
            Box::new(move |tx: &mut dyn Tx| f(tx).map(|v| Box::new(v) as Box<dyn Any + Send>));
        self.queue
            .send(Job { run, reply })
            .map_err(|_| Error::Unavailable("the registry is shutting down".into()))?;
        Ok(answer)
    }

    fn unbox<T: 'static>(
        answer: std::result::Result<Written, tokio::sync::oneshot::error::RecvError>,
    ) -> Result<(T, Option<i64>)> {
        let (value, seq) =
            answer.map_err(|_| Error::Internal("the writer stopped before answering".into()))??;
        let value = value
            .downcast::<T>()
            .map_err(|_| Error::Internal("a write answered with another type".into()))?;
        Ok((*value, seq))
    }

    /// Runs `f` in a write transaction under the global write lock, sharing
    /// the transaction (and its commit) with the other writes waiting now;
    /// answers once it is committed. Also returns the sequence number of the
    /// last audit event `f` appended, if any. Blocking: not for async workers.
    pub fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Tx) -> Result<T> + Send + 'static,
    ) -> Result<(T, Option<i64>)> {
        Self::unbox(self.enqueue(f)?.blocking_recv())
    }

    /// [`Database::read`] on the blocking pool.
    pub async fn read_async<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut dyn Reader) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let db = Arc::clone(self);
        tokio::task::spawn_blocking(move || db.read(f))
            .await
            .map_err(|e| Error::Internal(format!("storage task failed: {e}")))?
    }

    /// [`Database::write`] from async code: waits for the writer's answer
    /// without holding a thread.
    pub async fn write_async<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut dyn Tx) -> Result<T> + Send + 'static,
    ) -> Result<(T, Option<i64>)> {
        let answer = self.enqueue(f)?;
        Self::unbox(answer.await)
    }

    /// Calls `waker` whenever another process may have committed a change
    /// (PostgreSQL's LISTEN/NOTIFY, and after each reconnection of the
    /// listener). SQLite has no such signal: the cache polls it.
    pub fn on_change(&self, waker: Box<dyn Fn() + Send + Sync>) {
        if let Engine::Postgres(db) = &*self.engine {
            db.listen(waker);
        }
    }

    /// Finishes the queued writes and releases the engine's resources
    /// (checkpoints SQLite's WAL).
    pub fn close(&self) {
        if let Engine::Sqlite(db) = &*self.engine {
            db.close();
        }
    }
}

impl Drop for Database {
    /// Closing the queue ends the writer once it has answered every job
    /// queued. It is not waited for here: a PostgreSQL writer may be waiting on
    /// the database through the runtime this thread would then block. Every
    /// answered write is committed already, so nothing waits to be flushed.
    fn drop(&mut self) {
        let (closed, _) = std::sync::mpsc::channel();
        drop(std::mem::replace(&mut self.queue, closed));
    }
}

/// An `Error` for a database that cannot be reached at all.
pub fn unavailable(what: impl std::fmt::Display) -> Error {
    Error::Unavailable(format!(
        "the database is unavailable ({what}); retry shortly"
    ))
}

/// A client's descriptive attributes as both engines store them: one JSON
/// object of those set (an unset one takes no room, and one added later
/// reads as unset in every existing row).
pub(crate) fn attributes_text(attributes: &crate::records::ClientAttributes) -> String {
    let set: serde_json::Map<String, serde_json::Value> = attributes
        .iter()
        .filter_map(|(spec, value)| Some((spec.name.to_string(), value?.into())))
        .collect();
    serde_json::Value::Object(set).to_string()
}

/// The attributes stored by [`attributes_text`]; a key no attribute has any
/// more (one dropped from the declaration) is left out.
pub(crate) fn attributes_from_text(text: &str) -> crate::records::ClientAttributes {
    serde_json::from_str(text).unwrap_or_default()
}
