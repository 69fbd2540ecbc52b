//! The audit trail's chain.
//!
//! Every event stores `prev_hash` (the MAC of the event before it; [`GENESIS`] for
//! the first) and `hash`: `HMAC-SHA256(audit key, canonical JSON of the event
//! including seq and prev_hash)`, hex. The audit key is derived from the server key,
//! which lives outside the database, so someone who can write the database file but
//! does not hold the key cannot edit, insert, reorder or drop an event and recompute
//! the chain: `audit verify` (which loads the key as the server does) names the
//! first event that does not verify.
//!
//! Dropping events from the end leaves a valid chain, so the last sequence number and
//! its MAC are also kept in a head file beside the database, `<db>.audit-head`,
//! rewritten after each commit that appended events (under the database write lock,
//! so it never moves backwards). Verification requires the chain to reach the head's
//! sequence number with the head's MAC there; a head behind the database (a crash
//! between the commit and the head write) is tolerated. A missing head is never
//! recreated while events exist: `audit verify` reports it until an operator puts the
//! file back. The head is not secret (its MAC is also served by `GET /v1/audit`);
//! it defeats truncation by whoever can write the database but not the head file.
//! Someone able to write both can roll both back to an earlier event; only a copy
//! of the head kept elsewhere detects that.
//!
//! Databases from before schema version 3 carried a plain SHA-256 chain. Migration to
//! version 3 first verifies that chain and refuses to go on if it is broken (a
//! re-chain would launder the tampering); otherwise it recomputes every event's
//! `prev_hash` and `hash` under the audit key in the migration's transaction and
//! writes the head. After it, one scheme covers every event.

use crate::crypto::SecretKey;
use crate::error::{Error, Result};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};

/// `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What appending to and verifying the chain need besides the database: the
/// server key and the head file.
#[derive(Debug, Clone)]
pub struct Chain {
    pub key: SecretKey,
    pub head: PathBuf,
}

impl Chain {
    /// The chain of the database at `db`, with its head at `<db>.audit-head`.
    pub fn new(key: SecretKey, db: &Path) -> Chain {
        let mut head = db.as_os_str().to_owned();
        head.push(".audit-head");
        Chain {
            key,
            head: PathBuf::from(head),
        }
    }

    /// After a commit that appended events: moves the head file up to the newest
    /// event. Takes the write lock for the read and the file write, so that heads
    /// written by several processes never go backwards. A failure leaves the head
    /// behind the database, which verification tolerates; it is reported on stderr
    /// because the change itself is committed.
    pub fn sync_head(&self, c: &Connection) {
        if let Err(e) = self.try_sync_head(c) {
            eprintln!(
                "warning: audit head {} not updated: {e}",
                self.head.display()
            );
        }
    }

    fn try_sync_head(&self, c: &Connection) -> Result<()> {
        c.execute_batch("BEGIN IMMEDIATE")?;
        let res = (|| {
            let Some((seq, mac)) = last_event(c)? else {
                return Ok(());
            };
            match read_head(&self.head) {
                Ok(Some((h, _))) if h >= seq => Ok(()),
                Ok(Some(_)) => write_head(&self.head, seq, &mac).map_err(io_err),
                Ok(None) => Err(Error::Internal(
                    "the head file is missing and is not recreated while events exist (audit verify reports it)".into(),
                )),
                Err(e) => Err(Error::Internal(format!("unreadable head file: {e}"))),
            }
        })();
        let _ = c.execute_batch("ROLLBACK");
        res
    }

    /// Inside a migration's transaction: writes the head for the database as it now
    /// is when `reset` (a database created from nothing, or one just re-chained), or
    /// creates it when missing while there are no events.
    pub(crate) fn init_head(&self, tx: &Transaction<'_>, reset: bool) -> Result<()> {
        let last = last_event(tx)?;
        if reset || (last.is_none() && !self.head.exists()) {
            let (seq, mac) = last.unwrap_or_else(|| (0, GENESIS.to_string()));
            write_head(&self.head, seq, &mac).map_err(io_err)?;
        }
        Ok(())
    }
}

fn io_err(e: std::io::Error) -> Error {
    Error::Internal(e.to_string())
}

fn last_event(c: &Connection) -> Result<Option<(i64, String)>> {
    Ok(c.query_row(
        "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()?)
}

/// The head file's `(seq, mac)`; `None` when there is no file.
pub fn read_head(path: &Path) -> std::io::Result<Option<(i64, String)>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "not `<seq> <mac>`");
    let (seq, mac) = text.trim().split_once(' ').ok_or_else(bad)?;
    let seq: i64 = seq.parse().map_err(|_| bad())?;
    if seq < 0 || mac.len() != 64 || !mac.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    Ok(Some((seq, mac.to_string())))
}

/// Replaces the head file atomically (temporary file, fsync, rename, fsync of the folder).
fn write_head(path: &Path, seq: i64, mac: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(format!("{seq} {mac}\n").as_bytes())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Best effort: not every platform lets a folder be opened and synced.
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
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

/// One stored event, as the chain covers it.
struct Stored {
    seq: i64,
    at: i64,
    actor: String,
    action: String,
    entity_kind: String,
    entity_id: String,
    org_id: Option<String>,
    before: Option<String>,
    after: Option<String>,
    request_id: String,
    change_ref: Option<String>,
    prev_hash: String,
    hash: String,
}

const STORED_COLS: &str = "seq, at, actor, action, entity_kind, entity_id, org_id, before, after, request_id, change_ref, prev_hash, hash";

impl Stored {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Stored> {
        Ok(Stored {
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

    /// The canonical form the MAC covers, chained to `prev_hash`.
    fn canonical(&self, prev_hash: &str) -> String {
        json!({
            "seq": self.seq, "at": self.at, "actor": self.actor, "action": self.action,
            "entity_kind": self.entity_kind, "entity_id": self.entity_id, "org_id": self.org_id,
            "before": self.before, "after": self.after, "request_id": self.request_id,
            "change_ref": self.change_ref, "prev_hash": prev_hash,
        })
        .to_string()
    }
}

/// Appends one event to the chain, inside the caller's transaction.
pub fn append(tx: &Transaction<'_>, key: &SecretKey, ev: NewEvent<'_>) -> Result<()> {
    let (seq, prev) = match last_event(tx)? {
        Some((s, h)) => (s + 1, h),
        None => (1, GENESIS.to_string()),
    };
    let mut row = Stored {
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
    tx.execute(
        &format!("INSERT INTO audit_events ({STORED_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"),
        params![
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
        ],
    )?;
    Ok(())
}

/// Outcome of `audit verify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditCheck {
    Intact(i64),
    Broken { seq: i64, reason: String },
}

/// Walks the stored chain with `mac` as the hash of each canonical form.
fn walk(c: &Connection, mac: impl Fn(&[u8]) -> String) -> Result<AuditCheck> {
    let mut st = c.prepare(&format!(
        "SELECT {STORED_COLS} FROM audit_events ORDER BY seq"
    ))?;
    let mut rows = st.query([])?;
    let mut expected_seq = 1i64;
    let mut prev = GENESIS.to_string();
    while let Some(r) = rows.next()? {
        let ev = Stored::read(r)?;
        let broken = |reason: String| {
            Ok(AuditCheck::Broken {
                seq: ev.seq,
                reason,
            })
        };
        if ev.seq != expected_seq {
            return Ok(AuditCheck::Broken {
                seq: expected_seq,
                reason: format!(
                    "event {expected_seq} is missing (next stored event is {})",
                    ev.seq
                ),
            });
        }
        if ev.prev_hash != prev {
            return broken("its prev_hash does not match the hash of the event before it".into());
        }
        if mac(ev.canonical(&ev.prev_hash).as_bytes()) != ev.hash {
            return broken("its content does not match its MAC under the server key".into());
        }
        prev = ev.hash;
        expected_seq += 1;
    }
    Ok(AuditCheck::Intact(expected_seq - 1))
}

/// Verifies the whole chain under the server key, then that it reaches the head.
/// Reports the first sequence number that does not verify.
pub fn verify(c: &Connection, chain: &Chain) -> Result<AuditCheck> {
    let n = match walk(c, |canonical| chain.key.audit_mac(canonical))? {
        AuditCheck::Intact(n) => n,
        broken => return Ok(broken),
    };
    let head = chain.head.display();
    let (h, mac) = match read_head(&chain.head) {
        Ok(Some(head)) => head,
        Ok(None) if n == 0 => return Ok(AuditCheck::Intact(0)),
        Ok(None) => {
            return Ok(AuditCheck::Broken {
                seq: n + 1,
                reason: format!(
                    "the audit head file {head} is missing, so the removal of events after {n} cannot be ruled out"
                ),
            });
        }
        Err(e) => {
            return Ok(AuditCheck::Broken {
                seq: n + 1,
                reason: format!("the audit head file {head} is unreadable ({e})"),
            });
        }
    };
    if h > n {
        return Ok(AuditCheck::Broken {
            seq: n + 1,
            reason: format!(
                "events {}..={h} are missing: the chain ends at {n} but the audit head {head} records event {h}",
                n + 1
            ),
        });
    }
    let at_head = if h == 0 {
        Some(GENESIS.to_string())
    } else {
        c.query_row("SELECT hash FROM audit_events WHERE seq = ?1", [h], |r| {
            r.get::<_, String>(0)
        })
        .optional()?
    };
    if at_head.as_deref() != Some(mac.as_str()) {
        return Ok(AuditCheck::Broken {
            seq: h.max(1),
            reason: format!("its MAC is not the one the audit head {head} records"),
        });
    }
    Ok(AuditCheck::Intact(n))
}

/// Schema version 3: verifies the plain SHA-256 chain of older databases, then
/// recomputes every event's `prev_hash` and `hash` under the server key.
pub(crate) fn rechain(tx: &Transaction<'_>, chain: &Chain) -> Result<()> {
    if let AuditCheck::Broken { seq, reason } = walk(tx, crate::crypto::sha256_hex)? {
        return Err(Error::Internal(format!(
            "the audit chain is broken at sequence number {seq} ({reason}); refusing to re-chain it \
             under the server key, which would hide the damage: investigate or restore a backup first"
        )));
    }
    let events = {
        let mut st = tx.prepare(&format!(
            "SELECT {STORED_COLS} FROM audit_events ORDER BY seq"
        ))?;
        st.query_map([], Stored::read)?
            .collect::<rusqlite::Result<Vec<_>>>()?
    };
    tx.execute_batch("DROP TRIGGER audit_events_no_update")?;
    let mut prev = GENESIS.to_string();
    for ev in events {
        let mac = chain.key.audit_mac(ev.canonical(&prev).as_bytes());
        tx.execute(
            "UPDATE audit_events SET prev_hash = ?2, hash = ?3 WHERE seq = ?1",
            params![ev.seq, prev, mac],
        )?;
        prev = mac;
    }
    tx.execute_batch(
        "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
         BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;",
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{self, Role};

    fn key(b: u8) -> SecretKey {
        SecretKey::from_bytes([b; 32])
    }

    /// A fresh database with `n` token events (and `n` tokens).
    fn db_with_events(n: usize) -> (tempfile::TempDir, Connection, Chain) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        let chain = Chain::new(key(1), &path);
        let mut c = store::open_connection(&path).unwrap();
        store::migrate(&mut c, &chain).unwrap();
        for i in 0..n {
            store::token_create(
                &mut c,
                &chain,
                &format!("t{i}"),
                Role::Admin,
                None,
                100 + i as i64,
            )
            .unwrap();
        }
        c.execute_batch(
            "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;",
        )
        .unwrap();
        (dir, c, chain)
    }

    fn events(c: &Connection) -> Vec<Stored> {
        let mut st = c
            .prepare(&format!(
                "SELECT {STORED_COLS} FROM audit_events ORDER BY seq"
            ))
            .unwrap();
        st.query_map([], Stored::read)
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap()
    }

    /// What a forger with write access but without the key does: recompute every
    /// link from the first event with `mac`.
    fn rechain_with(c: &Connection, mac: impl Fn(&[u8]) -> String) {
        let mut prev = GENESIS.to_string();
        for ev in events(c) {
            let h = mac(ev.canonical(&prev).as_bytes());
            c.execute(
                "UPDATE audit_events SET prev_hash = ?2, hash = ?3 WHERE seq = ?1",
                params![ev.seq, prev, h],
            )
            .unwrap();
            prev = h;
        }
    }

    fn broken_at(check: AuditCheck) -> i64 {
        match check {
            AuditCheck::Broken { seq, .. } => seq,
            other => panic!("not detected: {other:?}"),
        }
    }

    #[test]
    fn an_edited_event_rechained_without_the_key_fails_verify() {
        let (_dir, c, chain) = db_with_events(4);
        assert_eq!(verify(&c, &chain).unwrap(), AuditCheck::Intact(4));
        c.execute(
            "UPDATE audit_events SET actor = 'mallory' WHERE seq = 2",
            [],
        )
        .unwrap();
        assert_eq!(broken_at(verify(&c, &chain).unwrap()), 2);
        // Recomputed as a plain SHA-256 chain (the old scheme), and under another key.
        rechain_with(&c, crate::crypto::sha256_hex);
        assert_eq!(broken_at(verify(&c, &chain).unwrap()), 1);
        let other = key(2);
        rechain_with(&c, |b| other.audit_mac(b));
        assert_eq!(broken_at(verify(&c, &chain).unwrap()), 1);
        // Only the holder of the server key can make it verify again.
        rechain_with(&c, |b| chain.key.audit_mac(b));
        assert!(
            matches!(
                verify(&c, &chain).unwrap(),
                AuditCheck::Broken { seq: 4, .. }
            ),
            "the head still records the MAC of the original event 4"
        );
    }

    #[test]
    fn removing_the_last_events_fails_verify() {
        let (_dir, c, chain) = db_with_events(4);
        c.execute("DELETE FROM audit_events WHERE seq = 4", [])
            .unwrap();
        let AuditCheck::Broken { seq, reason } = verify(&c, &chain).unwrap() else {
            panic!("truncation not detected");
        };
        assert_eq!(seq, 4);
        assert!(reason.contains("audit head"), "{reason}");
        c.execute("DELETE FROM audit_events WHERE seq >= 2", [])
            .unwrap();
        assert_eq!(broken_at(verify(&c, &chain).unwrap()), 2);
        c.execute("DELETE FROM audit_events", []).unwrap();
        assert_eq!(broken_at(verify(&c, &chain).unwrap()), 1);
    }

    #[test]
    fn reordered_events_fail_verify() {
        let (_dir, c, chain) = db_with_events(4);
        // Swap events 2 and 3, with their MACs, keeping the sequence numbers in order.
        c.execute_batch(
            "UPDATE audit_events SET seq = -2 WHERE seq = 2;
             UPDATE audit_events SET seq = 2 WHERE seq = 3;
             UPDATE audit_events SET seq = 3 WHERE seq = -2;",
        )
        .unwrap();
        assert_eq!(broken_at(verify(&c, &chain).unwrap()), 2);
        // Swapping the contents instead, links left in place.
        let (_dir, c, chain) = db_with_events(4);
        c.execute_batch(
            "UPDATE audit_events SET entity_id = 'x' WHERE seq = 2;
             UPDATE audit_events SET entity_id = 't1' WHERE seq = 3;
             UPDATE audit_events SET entity_id = 't2' WHERE seq = 2;",
        )
        .unwrap();
        assert_eq!(broken_at(verify(&c, &chain).unwrap()), 2);
    }

    #[test]
    fn the_head_tolerates_lagging_and_must_exist_once_there_are_events() {
        let (_dir, c, chain) = db_with_events(3);
        let (seq, _) = read_head(&chain.head).unwrap().unwrap();
        assert_eq!(seq, 3);
        // A head behind the database (crash after the commit) is fine.
        let mac1: String = c
            .query_row("SELECT hash FROM audit_events WHERE seq = 1", [], |r| {
                r.get(0)
            })
            .unwrap();
        write_head(&chain.head, 1, &mac1).unwrap();
        assert_eq!(verify(&c, &chain).unwrap(), AuditCheck::Intact(3));
        // The next write moves it up again.
        chain.sync_head(&c);
        assert_eq!(read_head(&chain.head).unwrap().unwrap().0, 3);
        // Missing: reported, and not recreated by a write.
        std::fs::remove_file(&chain.head).unwrap();
        assert_eq!(broken_at(verify(&c, &chain).unwrap()), 4);
        chain.sync_head(&c);
        assert!(!chain.head.exists());
        // Garbage is reported too.
        std::fs::write(&chain.head, "3 nonsense\n").unwrap();
        assert_eq!(broken_at(verify(&c, &chain).unwrap()), 4);
    }

    /// Appends an event the way schema version 2 did: plain SHA-256 links.
    fn legacy_append(c: &Connection, action: &str) {
        let (seq, prev) = last_event(c)
            .unwrap()
            .map(|(s, h)| (s + 1, h))
            .unwrap_or((1, GENESIS.to_string()));
        let ev = Stored {
            seq,
            at: 10 * seq,
            actor: "cli".into(),
            action: action.into(),
            entity_kind: "token".into(),
            entity_id: format!("t{seq}"),
            org_id: None,
            before: None,
            after: Some(r#"{"name":"t"}"#.into()),
            request_id: "cli_x".into(),
            change_ref: Some("PR-1".into()),
            prev_hash: prev.clone(),
            hash: String::new(),
        };
        let hash = crate::crypto::sha256_hex(ev.canonical(&prev).as_bytes());
        c.execute(
            &format!("INSERT INTO audit_events ({STORED_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"),
            params![ev.seq, ev.at, ev.actor, ev.action, ev.entity_kind, ev.entity_id, ev.org_id,
                    ev.before, ev.after, ev.request_id, ev.change_ref, prev, hash],
        )
        .unwrap();
    }

    /// A version-2 database with a plain SHA-256 chain of `n` events.
    fn v2_db(n: usize) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v2.db");
        let c = store::open_connection(&path).unwrap();
        for (sql, _) in &store::MIGRATIONS[..2] {
            c.execute_batch(sql).unwrap();
        }
        c.pragma_update(None, "user_version", 2).unwrap();
        for i in 0..n {
            legacy_append(
                &c,
                if i % 2 == 0 {
                    "token.create"
                } else {
                    "token.revoke"
                },
            );
        }
        (dir, path)
    }

    #[test]
    fn version_2_chains_are_rechained_under_the_key_at_migration() {
        let (_dir, path) = v2_db(3);
        let chain = Chain::new(key(5), &path);
        let mut c = store::open_connection(&path).unwrap();
        let legacy: Vec<String> = events(&c).into_iter().map(|e| e.hash).collect();
        store::migrate(&mut c, &chain).unwrap();
        assert_eq!(verify(&c, &chain).unwrap(), AuditCheck::Intact(3));
        let now = events(&c);
        assert!(now.iter().zip(&legacy).all(|(e, l)| e.hash != *l));
        assert_eq!(now[2].actor, "cli");
        assert_eq!(
            read_head(&chain.head).unwrap(),
            Some((3, now[2].hash.clone()))
        );
        // The triggers are back.
        assert!(
            c.execute("UPDATE audit_events SET actor = 'x'", [])
                .is_err()
        );
        assert!(c.execute("DELETE FROM audit_events", []).is_err());
        // And the old scheme no longer passes.
        assert_eq!(broken_at(walk(&c, crate::crypto::sha256_hex).unwrap()), 1);
    }

    #[test]
    fn a_broken_version_2_chain_is_not_laundered_by_the_migration() {
        let (_dir, path) = v2_db(3);
        let chain = Chain::new(key(5), &path);
        let mut c = store::open_connection(&path).unwrap();
        c.execute_batch("DROP TRIGGER audit_events_no_update")
            .unwrap();
        c.execute("UPDATE audit_events SET actor = 'x' WHERE seq = 2", [])
            .unwrap();
        let err = store::migrate(&mut c, &chain).unwrap_err().to_string();
        assert!(err.contains("broken at sequence number 2"), "{err}");
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, 2, "nothing migrated");
        assert!(!chain.head.exists());
    }
}
