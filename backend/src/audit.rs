//! The audit trail's chain.
//!
//! Every event stores `prev_hash` (the MAC of the event before it; [`GENESIS`] for
//! the first) and `hash`: `HMAC-SHA256(audit key, canonical JSON of the event
//! including seq and prev_hash)`, hex. The audit key is derived from the server key,
//! which lives outside the database, so someone who can write the database but does
//! not hold the key cannot edit, insert, reorder or drop an event and recompute the
//! chain: `audit verify` (which loads the key as the server does) names the first
//! event that does not verify.
//!
//! The tail is anchored twice:
//! - **The head row** (`audit_head` in the database) holds the last sequence number,
//!   its hash and a MAC of both under the audit key. It moves in the same transaction
//!   as every append (on both engines, under the global write lock), so the chain and
//!   its head never disagree; deleting events from the end without the key leaves a
//!   head that names events that are gone.
//! - **Anchor files** outside the database (`<db>.audit-head` beside a SQLite file;
//!   `serve --audit-anchor FILE` on each PostgreSQL replica) record the highest
//!   `(seq, hash)` a process has seen committed, written off the request path after
//!   commits and never moved backwards. Someone able to write the database could put
//!   back an older head row together with the chain it ended; an anchor elsewhere
//!   detects such a rollback below what it recorded. `audit verify` reads the anchor
//!   first, then the database in one consistent read, so a live registry never
//!   looks broken.
//!
//! Databases from before SQLite schema version 3 carried a plain SHA-256 chain; that
//! migration ([`crate::db::sqlite`]) verifies and re-chains it under the key.

use crate::crypto::SecretKey;
use crate::db::{Reader, Tx};
use crate::error::{Error, Result};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};

/// `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One stored event, as the chain covers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub entity_kind: String,
    pub entity_id: String,
    pub org_id: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub request_id: String,
    pub change_ref: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRow {
    /// The canonical form the MAC covers, chained to `prev_hash`.
    pub fn canonical(&self, prev_hash: &str) -> String {
        json!({
            "seq": self.seq, "at": self.at, "actor": self.actor, "action": self.action,
            "entity_kind": self.entity_kind, "entity_id": self.entity_id, "org_id": self.org_id,
            "before": self.before, "after": self.after, "request_id": self.request_id,
            "change_ref": self.change_ref, "prev_hash": prev_hash,
        })
        .to_string()
    }
}

/// The newest event as the database records it, with a MAC under the audit key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditHead {
    pub seq: i64,
    pub hash: String,
    pub mac: String,
}

impl AuditHead {
    /// The head for event `seq` with `hash`.
    pub fn new(key: &SecretKey, seq: i64, hash: &str) -> AuditHead {
        AuditHead {
            seq,
            hash: hash.to_string(),
            mac: Self::mac_of(key, seq, hash),
        }
    }

    fn mac_of(key: &SecretKey, seq: i64, hash: &str) -> String {
        key.audit_mac(format!("audit head\n{seq}\n{hash}").as_bytes())
    }

    /// Whether the head's MAC is the key's.
    pub fn authentic(&self, key: &SecretKey) -> bool {
        crate::crypto::ct_eq(
            Self::mac_of(key, self.seq, &self.hash).as_bytes(),
            self.mac.as_bytes(),
        )
    }
}

/// One event to append.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub at: i64,
    pub actor: &'a str,
    pub request_id: &'a str,
    pub change_ref: Option<&'a str>,
    pub action: &'a str,
    pub entity_kind: &'a str,
    pub entity_id: &'a str,
    pub org_id: Option<&'a str>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Appends one event to the chain inside the caller's write transaction and
/// returns its sequence number.
pub fn append(tx: &mut dyn Tx, key: &SecretKey, ev: NewEvent<'_>) -> Result<i64> {
    let (seq, prev) = match tx.audit_head()? {
        Some(head) => (head.seq + 1, head.hash),
        None => (1, GENESIS.to_string()),
    };
    let mut row = AuditRow {
        seq,
        at: ev.at,
        actor: ev.actor.to_string(),
        action: ev.action.to_string(),
        entity_kind: ev.entity_kind.to_string(),
        entity_id: ev.entity_id.to_string(),
        org_id: ev.org_id.map(str::to_string),
        before: ev.before.map(|v| v.to_string()),
        after: ev.after.map(|v| v.to_string()),
        request_id: ev.request_id.to_string(),
        change_ref: ev.change_ref.map(str::to_string),
        prev_hash: String::new(),
        hash: String::new(),
    };
    row.hash = key.audit_mac(row.canonical(&prev).as_bytes());
    row.prev_hash = prev;
    tx.append_audit(&row, &AuditHead::new(key, seq, &row.hash))?;
    Ok(seq)
}

/// Outcome of `audit verify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditCheck {
    Intact(i64),
    Broken { seq: i64, reason: String },
}

/// Walks the chain with `mac` as the hash of each canonical form; the
/// number of events and the hash of the last, or where it breaks. Also
/// used by the SQLite migration that re-chains old plain SHA-256 chains.
pub(crate) fn walk(
    r: &mut dyn Reader,
    mac: impl Fn(&[u8]) -> String,
) -> Result<std::result::Result<(i64, String), AuditCheck>> {
    let mut expected_seq = 1i64;
    let mut prev = GENESIS.to_string();
    let mut broken = None;
    r.walk_audit(&mut |ev| {
        if ev.seq != expected_seq {
            broken = Some(AuditCheck::Broken {
                seq: expected_seq,
                reason: format!(
                    "event {expected_seq} is missing (next stored event is {})",
                    ev.seq
                ),
            });
        } else if ev.prev_hash != prev {
            broken = Some(AuditCheck::Broken {
                seq: ev.seq,
                reason: "its prev_hash does not match the hash of the event before it".into(),
            });
        } else if mac(ev.canonical(&ev.prev_hash).as_bytes()) != ev.hash {
            broken = Some(AuditCheck::Broken {
                seq: ev.seq,
                reason: "its content does not match its MAC under the server key".into(),
            });
        } else {
            prev = ev.hash;
            expected_seq += 1;
        }
        Ok(broken.is_none())
    })?;
    Ok(match broken {
        Some(b) => Err(b),
        None => Ok((expected_seq - 1, prev)),
    })
}

/// What an anchor file said when it was read, before the database was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnchorRead {
    /// No anchor file is kept for this database.
    NotKept,
    Missing(PathBuf),
    Unreadable(PathBuf, String),
    At {
        path: PathBuf,
        seq: i64,
        hash: String,
    },
}

/// Verifies the whole chain under the server key, then that it ends at the
/// head row, then that it reaches the anchor (read beforehand: an anchor
/// never runs ahead of the database). Reports the first sequence number that
/// does not verify.
pub fn verify(r: &mut dyn Reader, key: &SecretKey, anchor: &AnchorRead) -> Result<AuditCheck> {
    let (n, _) = match walk(r, |canonical| key.audit_mac(canonical))? {
        Ok(end) => end,
        Err(broken) => return Ok(broken),
    };
    let broken = |seq: i64, reason: String| Ok(AuditCheck::Broken { seq, reason });
    match r.audit_head()? {
        None if n == 0 => {}
        None => {
            return broken(
                n + 1,
                "the audit head row is missing, so the removal of the last events cannot be ruled out"
                    .into(),
            );
        }
        Some(head) if !head.authentic(key) => {
            return broken(
                head.seq.max(1),
                "the audit head row's MAC is not the server key's".into(),
            );
        }
        Some(head) if head.seq > n => {
            return broken(
                n + 1,
                format!(
                    "events {}..={} are missing: the chain ends at {n} but the audit head records event {}",
                    n + 1,
                    head.seq,
                    head.seq
                ),
            );
        }
        Some(head) if head.seq < n => {
            return broken(
                head.seq + 1,
                format!(
                    "events after {} are not covered by the audit head, which records event {}",
                    head.seq, head.seq
                ),
            );
        }
        Some(head) => {
            if hash_at(r, head.seq)?.as_deref() != Some(head.hash.as_str()) {
                return broken(
                    head.seq.max(1),
                    "its MAC is not the one the audit head records".into(),
                );
            }
        }
    }
    match anchor {
        AnchorRead::NotKept => {}
        AnchorRead::Missing(_) if n == 0 => {}
        AnchorRead::Missing(path) => {
            return broken(
                n + 1,
                format!(
                    "the audit anchor {} is missing, so a rollback of the database cannot be ruled out",
                    path.display()
                ),
            );
        }
        AnchorRead::Unreadable(path, why) => {
            return broken(
                n + 1,
                format!("the audit anchor {} is unreadable ({why})", path.display()),
            );
        }
        AnchorRead::At { path, seq, .. } if *seq > n => {
            return broken(
                n + 1,
                format!(
                    "events {}..={seq} are missing: the chain ends at {n} but the audit anchor {} records event {seq}",
                    n + 1,
                    path.display()
                ),
            );
        }
        AnchorRead::At { path, seq, hash } => {
            let at = if *seq == 0 {
                Some(GENESIS.to_string())
            } else {
                hash_at(r, *seq)?
            };
            if at.as_deref() != Some(hash.as_str()) {
                return broken(
                    (*seq).max(1),
                    format!(
                        "its MAC is not the one the audit anchor {} records",
                        path.display()
                    ),
                );
            }
        }
    }
    Ok(AuditCheck::Intact(n))
}

fn hash_at(r: &mut dyn Reader, seq: i64) -> Result<Option<String>> {
    Ok(r.audit_after(seq - 1, 1)?
        .into_iter()
        .find(|e| e.seq == seq)
        .map(|e| e.hash))
}

/// A file outside the database that records the highest `(seq, hash)` this
/// process has seen committed (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub path: PathBuf,
}

impl Anchor {
    /// The anchor kept beside a SQLite database.
    pub fn beside(db: &Path) -> Anchor {
        let mut path = db.as_os_str().to_owned();
        path.push(".audit-head");
        Anchor {
            path: PathBuf::from(path),
        }
    }

    /// What the file says now.
    pub fn read(&self) -> AnchorRead {
        match read_anchor(&self.path) {
            Ok(Some((seq, hash))) => AnchorRead::At {
                path: self.path.clone(),
                seq,
                hash,
            },
            Ok(None) => AnchorRead::Missing(self.path.clone()),
            Err(e) => AnchorRead::Unreadable(self.path.clone(), e.to_string()),
        }
    }

    /// Moves the anchor up to `seq` (never down). A missing file is created
    /// only while `seq` is 0: once events exist, `audit verify` must keep
    /// reporting a removed anchor until an operator puts it back.
    pub fn advance(&self, seq: i64, hash: &str) -> std::io::Result<()> {
        match read_anchor(&self.path)? {
            Some((at, _)) if at >= seq => Ok(()),
            Some(_) => write_anchor(&self.path, seq, hash),
            None if seq == 0 => write_anchor(&self.path, 0, GENESIS),
            None => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the anchor file is missing and is not recreated while events exist (audit verify reports it)",
            )),
        }
    }

    /// Writes the anchor for a database created or migrated just now.
    pub fn reset(&self, seq: i64, hash: &str) -> std::io::Result<()> {
        write_anchor(&self.path, seq, hash)
    }

    /// [`Anchor::advance`], reporting a failure on stderr: the change itself
    /// is committed, and verification tolerates an anchor that lags.
    pub fn advance_or_warn(&self, seq: i64, hash: &str) {
        if let Err(e) = self.advance(seq, hash) {
            eprintln!(
                "warning: audit anchor {} not updated: {e}",
                self.path.display()
            );
        }
    }
}

/// The anchor file's `(seq, hash)`; `None` when there is no file.
fn read_anchor(path: &Path) -> std::io::Result<Option<(i64, String)>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "not `<seq> <hash>`");
    let (seq, hash) = text.trim().split_once(' ').ok_or_else(bad)?;
    let seq: i64 = seq.parse().map_err(|_| bad())?;
    if seq < 0 || hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    Ok(Some((seq, hash.to_string())))
}

/// Replaces the anchor file atomically (temporary file, fsync, rename, fsync of the folder).
fn write_anchor(path: &Path, seq: i64, hash: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(format!("{seq} {hash}\n").as_bytes())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    crate::crypto::sync_parent(path);
    Ok(())
}

/// An `Error` for an anchor that cannot be written during a migration.
pub(crate) fn anchor_err(e: std::io::Error) -> Error {
    Error::Internal(format!("audit anchor: {e}"))
}
