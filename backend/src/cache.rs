//! In-memory index of API tokens and client credentials for the hot paths
//! (authentication of every request, and introspection), and the coarse record of
//! each client's last use.
//!
//! Correctness: every request must see every commit that finished before it
//! arrived, from this server or any other process (the CLI revoking a token).
//! `PRAGMA data_version` on a connection changes exactly when another connection
//! has committed since that connection last asked.
//!
//! * Fast path: a request asks the checker connection *of its own worker thread*
//!   (a thread-local, so no lock is shared between requests; busy timeout 0 so it
//!   never sleeps: the pragma reads the WAL index in shared memory) for
//!   `data_version`. When the value equals one the index is already known to cover,
//!   the snapshot is fresh: no other thread is involved, which is what keeps
//!   introspection cheap.
//! * Slow path: when the value is new (or the check fails, or this thread has no
//!   checker yet: it is then opened on the blocking pool, never on the worker), the
//!   request takes a ticket from the index thread and waits until the thread has run
//!   its own `data_version` check *after* the ticket was issued, reloading the index
//!   from its own connection when anything changed. Once that ticket is served the
//!   value is marked as covered for that thread's checker. If the thread cannot
//!   answer in time the request fails closed; a failed reload empties the index
//!   (every credential refused).
//!
//! A thread's checkers belong to the thread: they close when it ends (for the
//! server, when the runtime shuts down), or when the thread next opens a checker
//! after their cache has been dropped.
//!
//! Last use: a successful introspection notes the time in an atomic of the
//! client's entry (at most one store per client per second). When a client's last
//! write is a minute old (or it has none), the index thread is woken and writes the
//! due entries in one transaction on its own connection, so the hot path never
//! touches the database and the thread's own writes never force a reload.

use crate::crypto::ct_eq;
use crate::models::end_of_day;
use crate::store::{Actor, Role, open_connection};
use rusqlite::{Connection, params};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::time::Duration;
use tokio::sync::watch;

/// One stored secret hash; `not_after` bounds a previous secret's grace period.
#[derive(Debug, Clone)]
pub struct SecretHash {
    pub hmac: [u8; 32],
    pub not_after: Option<i64>,
}

/// No use recorded.
const NEVER: i64 = i64::MIN;
/// `last_used_at` is written at most this often per client.
pub const USAGE_WRITE_INTERVAL: i64 = 60;

/// When a client was last seen by introspection, and what the database holds.
#[derive(Debug)]
pub struct Usage {
    seen: AtomicI64,
    written: AtomicI64,
}

impl Usage {
    fn new(written: Option<i64>) -> Self {
        let w = written.unwrap_or(NEVER);
        Usage {
            seen: AtomicI64::new(w),
            written: AtomicI64::new(w),
        }
    }
    /// Whether the database value is due for an update.
    fn due(&self) -> bool {
        let seen = self.seen.load(Ordering::Relaxed);
        let written = self.written.load(Ordering::Relaxed);
        seen != NEVER && (written == NEVER || seen.saturating_sub(written) >= USAGE_WRITE_INTERVAL)
    }
}

/// What introspection needs to know about one non-revoked client of a live org.
#[derive(Debug, Clone)]
pub struct Credential {
    /// The record id (`cli_…`).
    pub id: String,
    pub client_id: String,
    pub org_id: String,
    pub org_name: String,
    pub scope: String,
    pub expires_at: i64,
    pub contract_end: i64,
    pub secrets: Vec<SecretHash>,
    pub usage: Arc<Usage>,
}

impl Credential {
    /// Whether `hmac` matches a valid secret at `now` and the client is usable.
    /// Every stored hash is compared, in constant time each.
    pub fn accepts(&self, hmac: &[u8; 32], now: i64) -> bool {
        let mut matched = false;
        for s in &self.secrets {
            let in_time = s.not_after.is_none_or(|t| now <= t);
            matched |= ct_eq(&s.hmac, hmac) & in_time;
        }
        matched && now <= self.expires_at && now <= self.contract_end
    }
}

#[derive(Debug, Default)]
pub struct Snapshot {
    pub tokens: HashMap<[u8; 32], Actor>,
    pub credentials: HashMap<String, Credential>,
}

type UsageMap = HashMap<String, Arc<Usage>>;

fn load_snapshot(c: &Connection, usage: &Mutex<UsageMap>) -> rusqlite::Result<Snapshot> {
    let tx = c.unchecked_transaction()?;
    let mut snap = Snapshot::default();
    let mut old_usage = std::mem::take(&mut *lock(usage));
    let mut new_usage = UsageMap::new();
    {
        let mut st = tx.prepare(
            "SELECT id, name, role, org_id, token_hmac FROM api_tokens WHERE revoked_at IS NULL",
        )?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let hash: Vec<u8> = r.get(4)?;
            let role: String = r.get(2)?;
            let (Ok(hash), Some(role)) = (<[u8; 32]>::try_from(hash), Role::parse(&role)) else {
                continue;
            };
            snap.tokens.insert(
                hash,
                Actor {
                    token_id: r.get(0)?,
                    name: r.get(1)?,
                    role,
                    org: r.get(3)?,
                },
            );
        }
        let mut st = tx.prepare(
            "SELECT c.id, c.client_id, c.org_id, o.name, c.scopes, c.expires_at, o.contract_end, c.last_used_at
             FROM clients c JOIN orgs o ON o.id = c.org_id
             WHERE c.revoked_at IS NULL AND o.offboarded_at IS NULL",
        )?;
        let mut rows = st.query([])?;
        let mut by_ref: HashMap<String, String> = HashMap::new();
        while let Some(r) = rows.next()? {
            let scopes: String = r.get(4)?;
            let scopes: Vec<String> = serde_json::from_str(&scopes).unwrap_or_default();
            let end: String = r.get(6)?;
            let id: String = r.get(0)?;
            let client_id: String = r.get(1)?;
            let last_used: Option<i64> = r.get(7)?;
            let usage = old_usage
                .remove(&id)
                .unwrap_or_else(|| Arc::new(Usage::new(last_used)));
            new_usage.insert(id.clone(), Arc::clone(&usage));
            by_ref.insert(id.clone(), client_id.clone());
            snap.credentials.insert(
                client_id.clone(),
                Credential {
                    id,
                    client_id,
                    org_id: r.get(2)?,
                    org_name: r.get(3)?,
                    scope: scopes.join(" "),
                    expires_at: r.get(5)?,
                    // An unparsable date fails closed.
                    contract_end: end_of_day(&end).unwrap_or(i64::MIN),
                    secrets: Vec::new(),
                    usage,
                },
            );
        }
        let mut st = tx.prepare("SELECT client_ref, secret_hmac, not_after FROM client_secrets")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let client_ref: String = r.get(0)?;
            let Some(cid) = by_ref.get(&client_ref) else {
                continue;
            };
            let hmac: Vec<u8> = r.get(1)?;
            let Ok(hmac) = <[u8; 32]>::try_from(hmac) else {
                continue;
            };
            if let Some(cred) = snap.credentials.get_mut(cid) {
                cred.secrets.push(SecretHash {
                    hmac,
                    not_after: r.get(2)?,
                });
            }
        }
    }
    tx.commit()?;
    *lock(usage) = new_usage;
    Ok(snap)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn data_version(c: &Connection) -> rusqlite::Result<i64> {
    c.prepare_cached("PRAGMA data_version")
        .and_then(|mut st| st.query_row([], |r| r.get::<_, i64>(0)))
}

/// One worker thread's fast-path connection for one cache, and the newest
/// `data_version` it has seen.
struct Checker {
    /// Which cache it serves ([`Shared::id`]); several run in one test process.
    cache: u64,
    /// Dead once the cache is gone: the entry is then dropped.
    owner: std::sync::Weak<Shared>,
    /// Unique per connection: `data_version` values of two connections do not compare.
    serial: u64,
    conn: Connection,
    version: i64,
    /// The index is known to include every commit up to `version`.
    covered: bool,
}

thread_local! {
    static CHECKERS: std::cell::RefCell<Vec<Checker>> = const { std::cell::RefCell::new(Vec::new()) };
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// What this thread's checker saw.
enum Seen {
    /// The index covers everything this checker has seen.
    Fresh,
    /// Version `.1` of the checker with serial `.0`, not yet known to be covered.
    Version(u64, i64),
    /// No checker on this thread yet.
    NoChecker,
    /// The check failed (busy or broken): the index thread decides.
    Failed,
}

/// Opens a checker connection (on the blocking pool) and reads its first `data_version`.
fn open_checker(path: &std::path::Path) -> crate::error::Result<(Connection, i64)> {
    let conn = open_connection(path)?;
    conn.busy_timeout(Duration::ZERO)?;
    let v = data_version(&conn)?;
    Ok((conn, v))
}

struct Shared {
    /// Distinguishes this cache's checkers from other caches' on the same thread.
    id: u64,
    path: PathBuf,
    /// Checker connections opened so far (one per worker thread that asked).
    checkers: AtomicU64,
    snapshot: RwLock<Arc<Snapshot>>,
    usage: Mutex<UsageMap>,
    usage_due: AtomicBool,
    requested: AtomicU64,
    wake: Mutex<()>,
    cv: Condvar,
    done: watch::Sender<u64>,
    stop: AtomicBool,
    healthy: AtomicBool,
}

impl Shared {
    fn notify(&self) {
        let _g = lock(&self.wake);
        self.cv.notify_one();
    }
    fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.snapshot.read().unwrap_or_else(|e| e.into_inner()))
    }
}

/// The credential index and the thread that keeps it fresh.
pub struct Cache {
    shared: Arc<Shared>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cache")
    }
}

const FRESHNESS_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a `last_used_at` flush waits for the write lock before trying later.
const USAGE_BUSY_TIMEOUT: Duration = Duration::from_millis(200);
const USAGE_RETRY: Duration = Duration::from_secs(1);

/// Writes every due `last_used_at` in one transaction. Returns whether all were written.
fn flush_usage(conn: &Connection, usage: &Mutex<UsageMap>) -> bool {
    let due: Vec<(String, Arc<Usage>, i64)> = lock(usage)
        .iter()
        .filter(|(_, u)| u.due())
        .map(|(id, u)| (id.clone(), Arc::clone(u), u.seen.load(Ordering::Relaxed)))
        .collect();
    if due.is_empty() {
        return true;
    }
    let _ = conn.busy_timeout(USAGE_BUSY_TIMEOUT);
    let res = (|| -> rusqlite::Result<()> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let write = || -> rusqlite::Result<()> {
            let mut st = conn.prepare_cached(
                "UPDATE clients SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2)",
            )?;
            for (id, _, seen) in &due {
                st.execute(params![id, seen])?;
            }
            Ok(())
        };
        match write() {
            Ok(()) => conn.execute_batch("COMMIT"),
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    })();
    let _ = conn.busy_timeout(Duration::from_secs(10));
    match res {
        Ok(()) => {
            for (_, u, seen) in &due {
                u.written.fetch_max(*seen, Ordering::Relaxed);
            }
            true
        }
        Err(_) => false,
    }
}

impl Cache {
    /// Loads the index from `path` and starts the watcher thread.
    pub fn start(path: PathBuf) -> crate::error::Result<Arc<Cache>> {
        let conn = open_connection(&path)?;
        let mut last_version: i64 = data_version(&conn)?;
        let usage = Mutex::new(UsageMap::new());
        let snap = load_snapshot(&conn, &usage)?;
        let (done, _) = watch::channel(0u64);
        let shared = Arc::new(Shared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            path,
            checkers: AtomicU64::new(0),
            snapshot: RwLock::new(Arc::new(snap)),
            usage,
            usage_due: AtomicBool::new(false),
            requested: AtomicU64::new(0),
            wake: Mutex::new(()),
            cv: Condvar::new(),
            done,
            stop: AtomicBool::new(false),
            healthy: AtomicBool::new(true),
        });
        let sh = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("credential-index".into())
            .spawn(move || {
                let mut served = 0u64;
                let mut retry_usage = false;
                loop {
                    {
                        let mut g = lock(&sh.wake);
                        while sh.requested.load(Ordering::SeqCst) == served
                            && !sh.stop.load(Ordering::SeqCst)
                            && !sh.usage_due.load(Ordering::SeqCst)
                        {
                            if retry_usage {
                                let (g2, t) = sh
                                    .cv
                                    .wait_timeout(g, USAGE_RETRY)
                                    .unwrap_or_else(|e| e.into_inner());
                                g = g2;
                                if t.timed_out() {
                                    break;
                                }
                            } else {
                                g = sh.cv.wait(g).unwrap_or_else(|e| e.into_inner());
                            }
                        }
                    }
                    if sh.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let target = sh.requested.load(Ordering::SeqCst);
                    if target != served {
                        let fresh = data_version(&conn).and_then(|v| {
                            if v != last_version {
                                let snap = load_snapshot(&conn, &sh.usage)?;
                                *sh.snapshot.write().unwrap_or_else(|e| e.into_inner()) =
                                    Arc::new(snap);
                                last_version = v;
                            }
                            Ok(())
                        });
                        if fresh.is_err() {
                            // Fail closed: drop everything until a later check succeeds.
                            sh.healthy.store(false, Ordering::SeqCst);
                            *sh.snapshot.write().unwrap_or_else(|e| e.into_inner()) =
                                Arc::new(Snapshot::default());
                            last_version = -1;
                        } else {
                            sh.healthy.store(true, Ordering::SeqCst);
                        }
                        served = target;
                        sh.done.send_replace(target);
                    }
                    if sh.usage_due.swap(false, Ordering::SeqCst) || retry_usage {
                        retry_usage = !flush_usage(&conn, &sh.usage);
                    }
                }
                flush_usage(&conn, &sh.usage);
                let _ = conn.close();
            })
            .map_err(|e| {
                crate::error::Error::Internal(format!("cannot start the index thread: {e}"))
            })?;
        Ok(Arc::new(Cache {
            shared,
            thread: Mutex::new(Some(thread)),
        }))
    }

    /// A snapshot that reflects every commit made before this call.
    pub async fn fresh(&self) -> crate::error::Result<Arc<Snapshot>> {
        let sh = &self.shared;
        match self.check_here() {
            Seen::Fresh => Ok(sh.snapshot()),
            Seen::Version(serial, v) => {
                let snap = self.fresh_from_thread().await?;
                // Possibly on another thread now: only the same connection is marked.
                if sh.healthy.load(Ordering::SeqCst) {
                    self.with_checker(|ck| {
                        if ck.serial == serial && ck.version == v {
                            ck.covered = true;
                        }
                    });
                }
                Ok(snap)
            }
            Seen::Failed => self.fresh_from_thread().await,
            Seen::NoChecker => {
                // Opened off the worker. Its first value is read before the ticket
                // below is issued, so the ticket's check covers it.
                let path = sh.path.clone();
                let opened = tokio::task::spawn_blocking(move || open_checker(&path)).await;
                let snap = self.fresh_from_thread().await?;
                if let Ok(Ok((conn, version))) = opened {
                    self.install(conn, version, sh.healthy.load(Ordering::SeqCst));
                }
                Ok(snap)
            }
        }
    }

    /// The fast-path check on this thread's own checker connection.
    fn check_here(&self) -> Seen {
        let healthy = self.shared.healthy.load(Ordering::SeqCst);
        self.with_checker(|ck| match data_version(&ck.conn) {
            Ok(v) if v == ck.version => {
                if ck.covered && healthy {
                    Seen::Fresh
                } else {
                    Seen::Version(ck.serial, v)
                }
            }
            Ok(v) => {
                ck.version = v;
                ck.covered = false;
                Seen::Version(ck.serial, v)
            }
            Err(_) => Seen::Failed,
        })
        .unwrap_or(Seen::NoChecker)
    }

    /// Runs `f` on this thread's checker for this cache, if it has one.
    fn with_checker<T>(&self, f: impl FnOnce(&mut Checker) -> T) -> Option<T> {
        let id = self.shared.id;
        CHECKERS.with(|list| list.borrow_mut().iter_mut().find(|c| c.cache == id).map(f))
    }

    /// Keeps a newly opened checker on this thread (unless another request on it
    /// got there first), dropping those of caches that are gone.
    fn install(&self, conn: Connection, version: i64, covered: bool) {
        let sh = &self.shared;
        CHECKERS.with(|list| {
            let mut list = list.borrow_mut();
            list.retain(|c| c.owner.strong_count() > 0);
            if list.iter().all(|c| c.cache != sh.id) {
                sh.checkers.fetch_add(1, Ordering::Relaxed);
                list.push(Checker {
                    cache: sh.id,
                    owner: Arc::downgrade(sh),
                    serial: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                    conn,
                    version,
                    covered,
                });
            }
        });
    }

    /// How many checker connections have been opened (one per worker thread that
    /// has served an authenticated request).
    pub fn checker_connections(&self) -> u64 {
        self.shared.checkers.load(Ordering::Relaxed)
    }

    /// Waits until the index thread has checked for changes after this call.
    async fn fresh_from_thread(&self) -> crate::error::Result<Arc<Snapshot>> {
        let sh = &self.shared;
        let mut rx = sh.done.subscribe();
        let ticket = sh.requested.fetch_add(1, Ordering::SeqCst) + 1;
        sh.notify();
        match tokio::time::timeout(FRESHNESS_TIMEOUT, rx.wait_for(|d| *d >= ticket)).await {
            Ok(Ok(_)) => Ok(sh.snapshot()),
            _ => Err(crate::error::Error::Unavailable(
                "the credential index is not answering".into(),
            )),
        }
    }

    /// Notes a successful introspection of `cred` at `now` (cheap: atomics only,
    /// and a wake-up of the index thread at most once a minute per client).
    pub fn note_use(&self, cred: &Credential, now: i64) {
        let u = &cred.usage;
        // A plain load first: under load the entry is shared by every worker, and
        // the read-modify-write is needed only once per second per client.
        if u.seen.load(Ordering::Relaxed) < now
            && u.seen.fetch_max(now, Ordering::Relaxed) < now
            && u.due()
            && !self.shared.usage_due.swap(true, Ordering::SeqCst)
        {
            self.shared.notify();
        }
    }

    /// Stops the watcher thread (writing any due `last_used_at` first).
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        {
            let _g = lock(&self.shared.wake);
            self.shared.cv.notify_all();
        }
        if let Some(t) = lock(&self.thread).take() {
            let _ = t.join();
        }
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each worker thread checks freshness on a connection of its own (no lock shared
    /// between threads), opened once; a warmed thread answers without the index
    /// thread; and a commit from another connection is seen by the very next call on
    /// every thread.
    #[test]
    fn every_thread_checks_on_its_own_connection_and_sees_other_commits_at_once() {
        use crate::store::{self, Chain, Role};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let chain = Chain::new(crate::crypto::SecretKey::from_bytes([9; 32]), &path);
        let mut c = open_connection(&path).unwrap();
        store::migrate(&mut c, &chain).unwrap();
        let tok = store::token_create(&mut c, &chain, "t", Role::Admin, None, 0).unwrap();
        let hash = chain.key.hash_token(&tok);
        let cache = Cache::start(path.clone()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // Once warm, a thread answers from its own checker alone: no ticket.
        rt.block_on(cache.fresh()).unwrap();
        rt.block_on(cache.fresh()).unwrap();
        let tickets = cache.shared.requested.load(Ordering::SeqCst);
        for _ in 0..10 {
            assert!(
                rt.block_on(cache.fresh())
                    .unwrap()
                    .tokens
                    .contains_key(&hash)
            );
        }
        assert_eq!(cache.shared.requested.load(Ordering::SeqCst), tickets);
        assert_eq!(cache.checker_connections(), 1);
        let barrier = std::sync::Barrier::new(4);
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    let has = || {
                        rt.block_on(cache.fresh())
                            .unwrap()
                            .tokens
                            .contains_key(&hash)
                    };
                    for _ in 0..10 {
                        assert!(has());
                    }
                    barrier.wait();
                    barrier.wait();
                    assert!(!has(), "a revocation by another connection was missed");
                });
            }
            barrier.wait();
            store::token_revoke(&mut c, &chain, "t", 1).unwrap();
            barrier.wait();
        });
        assert_eq!(cache.checker_connections(), 4);
        assert!(
            !rt.block_on(cache.fresh())
                .unwrap()
                .tokens
                .contains_key(&hash)
        );
        cache.stop();
    }

    #[test]
    fn current_and_previous_secret_with_grace_period() {
        let key = crate::crypto::SecretKey::from_bytes([7; 32]);
        let cred = Credential {
            id: "cli_x".into(),
            usage: Arc::new(Usage::new(None)),
            client_id: "pc_x".into(),
            org_id: "org_x".into(),
            org_name: "x".into(),
            scope: String::new(),
            expires_at: 1_000,
            contract_end: 2_000,
            secrets: vec![
                SecretHash {
                    hmac: key.hash_secret("new"),
                    not_after: None,
                },
                SecretHash {
                    hmac: key.hash_secret("old"),
                    not_after: Some(500),
                },
            ],
        };
        assert!(cred.accepts(&key.hash_secret("new"), 100));
        assert!(cred.accepts(&key.hash_secret("old"), 500));
        assert!(!cred.accepts(&key.hash_secret("old"), 501));
        assert!(!cred.accepts(&key.hash_secret("new"), 1_001));
        assert!(!cred.accepts(&key.hash_secret("other"), 100));
    }
}
