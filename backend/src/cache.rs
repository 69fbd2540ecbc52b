//! In-memory index of API tokens and client credentials for the hot paths
//! (authentication of every request, and introspection).
//!
//! Correctness: a dedicated thread owns its own read connection. Before a request
//! trusts the index, it takes a ticket and waits until the thread has run
//! `PRAGMA data_version` *after* the ticket was issued; when any other connection
//! (this server's writers, the CLI, another process) has committed since the last
//! look, the thread reloads the index before answering. So every commit that
//! finished before a request arrived is visible to it, revocations included, while
//! one cheap check serves every request that queued behind it under load.
//! If the thread cannot answer in time the request fails closed.

use crate::crypto::ct_eq;
use crate::models::end_of_day;
use crate::store::{Actor, Role, open_connection};
use rusqlite::Connection;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::watch;

/// One stored secret hash; `not_after` bounds a previous secret's grace period.
#[derive(Debug, Clone)]
pub struct SecretHash {
    pub hmac: [u8; 32],
    pub not_after: Option<i64>,
}

/// What introspection needs to know about one non-revoked client of a live org.
#[derive(Debug, Clone)]
pub struct Credential {
    pub client_id: String,
    pub org_id: String,
    pub org_name: String,
    pub scope: String,
    pub expires_at: i64,
    pub contract_end: i64,
    pub secrets: Vec<SecretHash>,
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

fn load_snapshot(c: &Connection) -> rusqlite::Result<Snapshot> {
    let tx = c.unchecked_transaction()?;
    let mut snap = Snapshot::default();
    {
        let mut st = tx.prepare(
            "SELECT id, name, role, org_id, token_sha256 FROM api_tokens WHERE revoked_at IS NULL",
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
            "SELECT c.id, c.client_id, c.org_id, o.name, c.scopes, c.expires_at, o.contract_end
             FROM clients c JOIN orgs o ON o.id = c.org_id
             WHERE c.revoked_at IS NULL AND o.offboarded_at IS NULL",
        )?;
        let mut rows = st.query([])?;
        let mut by_ref: HashMap<String, String> = HashMap::new();
        while let Some(r) = rows.next()? {
            let scopes: String = r.get(4)?;
            let scopes: Vec<String> = serde_json::from_str(&scopes).unwrap_or_default();
            let end: String = r.get(6)?;
            let client_id: String = r.get(1)?;
            by_ref.insert(r.get(0)?, client_id.clone());
            snap.credentials.insert(
                client_id.clone(),
                Credential {
                    client_id,
                    org_id: r.get(2)?,
                    org_name: r.get(3)?,
                    scope: scopes.join(" "),
                    expires_at: r.get(5)?,
                    // An unparsable date fails closed.
                    contract_end: end_of_day(&end).unwrap_or(i64::MIN),
                    secrets: Vec::new(),
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
    Ok(snap)
}

struct Shared {
    snapshot: RwLock<Arc<Snapshot>>,
    requested: AtomicU64,
    wake: Mutex<()>,
    cv: Condvar,
    done: watch::Sender<u64>,
    stop: AtomicBool,
    healthy: AtomicBool,
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

impl Cache {
    /// Loads the index from `path` and starts the watcher thread.
    pub fn start(path: PathBuf) -> crate::error::Result<Arc<Cache>> {
        let conn = open_connection(&path)?;
        // First read establishes the data_version baseline.
        let mut last_version: i64 = conn.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        let snap = load_snapshot(&conn)?;
        let (done, _) = watch::channel(0u64);
        let shared = Arc::new(Shared {
            snapshot: RwLock::new(Arc::new(snap)),
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
                loop {
                    {
                        let mut g = sh.wake.lock().unwrap_or_else(|e| e.into_inner());
                        while sh.requested.load(Ordering::SeqCst) == served
                            && !sh.stop.load(Ordering::SeqCst)
                        {
                            g = sh.cv.wait(g).unwrap_or_else(|e| e.into_inner());
                        }
                    }
                    if sh.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let target = sh.requested.load(Ordering::SeqCst);
                    let fresh = conn
                        .prepare_cached("PRAGMA data_version")
                        .and_then(|mut st| st.query_row([], |r| r.get::<_, i64>(0)))
                        .and_then(|v| {
                            if v != last_version {
                                let snap = load_snapshot(&conn)?;
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
        let mut rx = sh.done.subscribe();
        let ticket = sh.requested.fetch_add(1, Ordering::SeqCst) + 1;
        {
            let _g = sh.wake.lock().unwrap_or_else(|e| e.into_inner());
            sh.cv.notify_one();
        }
        match tokio::time::timeout(FRESHNESS_TIMEOUT, rx.wait_for(|d| *d >= ticket)).await {
            Ok(Ok(_)) => Ok(Arc::clone(
                &sh.snapshot.read().unwrap_or_else(|e| e.into_inner()),
            )),
            _ => Err(crate::error::Error::Unavailable(
                "the credential index is not answering".into(),
            )),
        }
    }

    /// Stops the watcher thread.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        {
            let _g = self.shared.wake.lock().unwrap_or_else(|e| e.into_inner());
            self.shared.cv.notify_all();
        }
        if let Some(t) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
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

    #[test]
    fn current_and_previous_secret_with_grace_period() {
        let key = crate::crypto::SecretKey::from_bytes([7; 32]);
        let cred = Credential {
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
