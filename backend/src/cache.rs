//! The credential cache: an in-memory index of API tokens and client
//! credentials for the hot paths (authenticating every request, introspection),
//! and the coarse record of each client's last use.
//!
//! **Readers never wait.** A request clones one `Arc` of the current
//! [`Snapshot`] (a pointer read under a lock held for nanoseconds) and looks up
//! persistent hash maps in it; no database call, no waiting for writers.
//!
//! **The cache follows each change by itself.** Every change to the registry
//! appends an audit event in the same transaction, so the audit trail is the
//! change feed. One follower thread reads the events after the last one it
//! applied and reloads only the rows they name (a token, a client, the clients
//! of an org), building the next snapshot from the previous one in
//! O(changes · log n): never a reload of everything per write.
//!
//! **Freshness.** A write made through this process is in the cache before it
//! is acknowledged ([`Cache::caught_up`]). A change made elsewhere (another
//! replica, the CLI on the database file) is seen within the poll interval, at
//! once on PostgreSQL (LISTEN/NOTIFY wakes the follower). When the follower
//! cannot reach the database for longer than [`Config::max_staleness`], the
//! cache refuses to answer ([`Cache::fresh`] fails: the API answers 503 and
//! introspection inactive) until it has caught up again: it never vouches for a
//! credential longer than that bound after the database stopped holding it.
//!
//! **Expiry.** A token's expiry and a client's are checked against the
//! registry's clock at each lookup, so they need no change to take effect. A
//! token of an org that is offboarded is dropped when the org's event arrives:
//! it never authenticates again.
//!
//! **Last use.** A successful introspection notes the time in an atomic of the
//! client's entry, an authenticated request in its token's (at most one store
//! per entry per second). When an entry's last write is a minute old (or it has
//! none), the upkeep thread is woken and writes the due entries in one
//! transaction, so the hot path never touches the database (nor the follower
//! waits on that write). Those writes are not changes (no
//! audit event): they cause no reload.

use crate::audit::Anchor;
use crate::crypto::ct_eq;
use crate::db::{Change, CredentialRow, Database, DayCount, Select, TokenRow, TokenSelect};
use crate::error::{Error, Result};
use crate::records::Actor;
use crate::telemetry::Introspected;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub use crate::db::SecretHash;

/// No use recorded.
const NEVER: i64 = i64::MIN;
/// `last_used_at` is written at most this often per client and per token.
pub const USAGE_WRITE_INTERVAL: i64 = 60;
/// Changes read from the feed at once.
const FEED_PAGE: i64 = 500;
/// The anchor file moves at most this often.
const ANCHOR_INTERVAL: Duration = Duration::from_secs(1);

/// What runs in the transaction that writes introspection counts, before the
/// clients' `last_used_at` move (the usage drift check of [`crate::campaigns`]).
pub type UsageHook = Arc<dyn Fn(&mut dyn crate::db::Tx, &[DayCount]) -> Result<()> + Send + Sync>;

/// How the cache follows the database.
#[derive(Clone)]
pub struct Config {
    /// How often the follower looks for changes made elsewhere.
    pub poll: Duration,
    /// How long the cache answers without having reached the database.
    pub max_staleness: Duration,
    /// The anchor file moved up after commits (by the upkeep thread), if one is kept.
    pub anchor: Option<Anchor>,
    pub on_usage: Option<UsageHook>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            poll: Duration::from_millis(200),
            max_staleness: Duration::from_secs(1),
            anchor: None,
            on_usage: None,
        }
    }
}

/// When a client (or token) was last used, and what the database holds;
/// for a client also its introspections per UTC day not yet written.
#[derive(Debug)]
pub struct Usage {
    seen: AtomicI64,
    written: AtomicI64,
    /// The day `count` counts (unix seconds / 86400).
    day: AtomicI64,
    count: AtomicI64,
    /// Counts of earlier days not yet written.
    carried: Mutex<Vec<(i64, i64)>>,
}

impl Usage {
    fn new(written: Option<i64>) -> Self {
        let w = written.unwrap_or(NEVER);
        Usage {
            seen: AtomicI64::new(w),
            written: AtomicI64::new(w),
            day: AtomicI64::new(NEVER),
            count: AtomicI64::new(0),
            carried: Mutex::new(Vec::new()),
        }
    }

    /// Counts one introspection at `now`; true when it is the first of a new
    /// day, whose predecessor's count is then set aside for writing. Two
    /// introspections racing across midnight may count for either day: the
    /// counts feed a factor-of-five heuristic, not a bill.
    fn count(&self, now: i64) -> bool {
        let day = now.div_euclid(86_400);
        let mut new_day = false;
        if self.day.load(Ordering::SeqCst) != day {
            // The day moves and its count is carried in one step under the
            // lock `take_counts` holds: a flush sees the old day with its
            // count, or the new day with the count since, never the new day
            // with the old day's count.
            let mut carried = lock(&self.carried);
            let current = self.day.load(Ordering::SeqCst);
            if current != day {
                self.day.store(day, Ordering::SeqCst);
                let earlier = self.count.swap(0, Ordering::SeqCst);
                if earlier > 0 {
                    carried.push((current, earlier));
                }
                new_day = true;
            }
        }
        self.count.fetch_add(1, Ordering::SeqCst);
        new_day
    }

    fn counts_pending(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0 || !lock(&self.carried).is_empty()
    }

    /// The counts not yet written, taken out.
    fn take_counts(&self) -> Vec<(i64, i64)> {
        // Under the lock a new day is begun under (see `count`).
        let mut carried = lock(&self.carried);
        let day = self.day.load(Ordering::SeqCst);
        let mut out = std::mem::take(&mut *carried);
        let n = self.count.swap(0, Ordering::SeqCst);
        if n > 0 {
            out.push((day, n));
        }
        out
    }

    /// Puts back counts whose write failed.
    fn restore_counts(&self, counts: &[(i64, i64)]) {
        lock(&self.carried).extend_from_slice(counts);
    }
    /// Whether the database value is due for an update.
    fn due(&self) -> bool {
        let seen = self.seen.load(Ordering::Relaxed);
        let written = self.written.load(Ordering::Relaxed);
        seen != NEVER && (written == NEVER || seen.saturating_sub(written) >= USAGE_WRITE_INTERVAL)
    }
}

/// What the credentials of one org share, held once per org rather than
/// copied into each (at 100,000 clients every byte of a [`Credential`] is
/// 100 KB). A change to the org reloads all its clients, and each reload
/// either shares the org's current facts or makes the new ones the org's.
#[derive(Debug, PartialEq, Eq)]
pub struct OrgFacts {
    pub id: Box<str>,
    pub name: Box<str>,
    pub contract_end: i64,
}

/// What introspection needs to know about one non-revoked client of a live org.
/// Boxed strings and slices rather than `String` and `Vec`: they never grow
/// once loaded, so neither their capacity nor its word is kept.
#[derive(Debug)]
pub struct Credential {
    /// The record id (`cli_…`).
    pub id: Box<str>,
    pub client_id: Box<str>,
    pub org: Arc<OrgFacts>,
    pub scope: Box<str>,
    pub expires_at: i64,
    /// The intermediary org that operates the client, if any.
    pub operated_by: Option<Box<str>>,
    pub secrets: Box<[SecretHash]>,
    /// After this time the client is suspended by an overdue access review.
    pub suspended_after: Option<i64>,
    /// The public keys of a `private_key_jwt` client (which has no secret).
    pub keys: Option<Arc<crate::assertions::Keys>>,
    /// Or where it publishes them (fetched at introspection, see
    /// [`crate::jwks_fetch`]).
    pub jwks_uri: Option<Box<str>>,
    pub usage: Arc<Usage>,
}

impl Credential {
    /// Whether `hmac` matches a valid secret at `now` and the client is
    /// usable, and if not, why; with the time the matching secret was issued
    /// (introspection's `iat`). Every stored hash is compared, in constant
    /// time each, whatever the outcome.
    pub fn verdict(&self, hmac: &[u8; 32], now: i64) -> (Introspected, i64) {
        let mut matched = false;
        let mut issued_at = 0;
        for s in &self.secrets {
            let in_time = s.not_after.is_none_or(|t| now <= t);
            let this = ct_eq(&s.hmac, hmac) & in_time;
            matched |= this;
            issued_at = if this { s.created_at } else { issued_at };
        }
        if !matched {
            return (Introspected::BadSecret, issued_at);
        }
        (self.standing(now), issued_at)
    }

    /// [`Credential::verdict`] for an RFC 7523 client assertion instead of a
    /// secret (see [`crate::assertions`]); an active verdict holds only once
    /// the caller has claimed the returned `jti`.
    /// `keys` are the client's: its own, or fetched from its `jwks_uri`.
    pub fn assertion_verdict(
        &self,
        keys: Option<&crate::assertions::Keys>,
        assertion: &str,
        audience: Option<&str>,
        now: i64,
    ) -> (Introspected, Option<crate::assertions::Proven>) {
        let proven = keys.and_then(|keys| {
            crate::assertions::verify(keys, &self.client_id, assertion, audience, now)
        });
        match proven {
            Some(p) => (self.standing(now), Some(p)),
            None => (Introspected::BadSecret, None),
        }
    }

    /// Whether the client, its credential proven, is usable at `now`.
    fn standing(&self, now: i64) -> Introspected {
        if now > self.org.contract_end {
            Introspected::ContractEnded
        } else if now > self.expires_at {
            Introspected::Expired
        } else if self.suspended_after.is_some_and(|t| now > t) {
            Introspected::Suspended
        } else {
            Introspected::Active
        }
    }

    fn from_row(row: CredentialRow, org: Arc<OrgFacts>, usage: Arc<Usage>) -> Credential {
        let own_key = row.auth_method == partner_rules::keys::PRIVATE_KEY_JWT;
        Credential {
            id: row.id.into(),
            client_id: row.client_id.into(),
            org,
            scope: row.scopes.join(" ").into(),
            expires_at: row.expires_at,
            operated_by: row.operated_by.map(Into::into),
            secrets: row.secrets.into(),
            suspended_after: row.suspended_after,
            keys: row
                .jwks
                .filter(|_| own_key)
                .map(|jwks| Arc::new(crate::assertions::Keys::parse(&jwks))),
            jwks_uri: row.jwks_uri.filter(|_| own_key).map(Into::into),
            usage,
        }
    }
}

/// A credential as the key of the snapshot's map, looked up by its
/// client_id: the map holds one pointer per client instead of a copy of its
/// client_id beside a pointer (the map's nodes were a sixth of the cache).
#[derive(Debug, Clone)]
struct ByClientId(Arc<Credential>);

impl std::hash::Hash for ByClientId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // As `str` hashes: `Borrow<str>` requires it.
        self.0.client_id.hash(state);
    }
}

impl PartialEq for ByClientId {
    fn eq(&self, other: &Self) -> bool {
        self.0.client_id == other.0.client_id
    }
}

impl Eq for ByClientId {}

impl std::borrow::Borrow<str> for ByClientId {
    fn borrow(&self) -> &str {
        &self.0.client_id
    }
}

/// What authentication needs to know about one live token of a live org.
#[derive(Debug)]
pub struct TokenEntry {
    pub actor: Actor,
    /// `None`: it never expires.
    pub expires_at: Option<i64>,
    pub usage: Arc<Usage>,
}

impl TokenEntry {
    /// Whether the token authenticates at `now`.
    pub fn valid_at(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|t| now <= t)
    }
}

/// One consistent state of the cache. Cloning one is cheap (persistent maps
/// share their structure), which is how the follower builds the next.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The last change it includes.
    pub seq: i64,
    tokens: imbl::HashMap<[u8; 32], Arc<TokenEntry>>,
    token_hashes: imbl::HashMap<String, [u8; 32]>,
    /// By client_id (a map to nothing: `imbl::HashSet` cannot hand back the
    /// entry it holds). No index by record id or org: a reload asks the
    /// database for the client_ids it concerns, live and revoked, which
    /// keeps the cache to one map entry per client (its memory is most of
    /// the registry's at 100,000 clients).
    credentials: imbl::HashMap<ByClientId, ()>,
    /// The facts the credentials of each org share, by org id: what a
    /// client loaded alone (a create, an update) takes its org's from.
    orgs: imbl::HashMap<Box<str>, Arc<OrgFacts>>,
    /// The client_ids of revoked clients (and of offboarded orgs' clients):
    /// for the metrics, which tell a revoked credential from one never
    /// registered. Revocation is final, so entries are only ever added.
    revoked: imbl::HashSet<String>,
}

impl Snapshot {
    /// How many live client credentials and API tokens it holds.
    pub fn sizes(&self) -> (usize, usize) {
        (self.credentials.len(), self.tokens.len())
    }

    fn credentials(&self) -> impl Iterator<Item = &Credential> {
        self.credentials.keys().map(|c| &*c.0)
    }

    /// The token with this hash, if it authenticates at `now`.
    pub fn token(&self, token_hash: &[u8; 32], now: i64) -> Option<&Arc<TokenEntry>> {
        self.tokens.get(token_hash).filter(|t| t.valid_at(now))
    }

    /// The credential of `client_id`.
    pub fn credential(&self, client_id: &str) -> Option<&Arc<Credential>> {
        self.credentials
            .get_key_value(client_id)
            .map(|(c, ())| &c.0)
    }

    /// Whether `client_id` was a client's and is revoked.
    pub fn revoked(&self, client_id: &str) -> bool {
        self.revoked.contains(client_id)
    }

    fn remove_token_named(&mut self, name: &str) -> Option<Arc<TokenEntry>> {
        let hash = self.token_hashes.remove(name)?;
        self.tokens.remove(&hash)
    }

    /// Inserts `t`, keeping the usage of `previous` when it is the same token
    /// (a use not yet written must survive a reload).
    fn insert_token(&mut self, t: TokenRow, previous: Option<&TokenEntry>) {
        // An offboarding is final: such a token never authenticates again.
        if t.org_offboarded_at.is_some() {
            return;
        }
        let usage = previous
            .filter(|p| p.actor.token_id == t.id)
            .map(|p| Arc::clone(&p.usage))
            .unwrap_or_else(|| Arc::new(Usage::new(t.last_used_at)));
        self.token_hashes.insert(t.name.clone(), t.hmac);
        self.tokens.insert(
            t.hmac,
            Arc::new(TokenEntry {
                actor: t.actor(),
                expires_at: t.expires_at,
                usage,
            }),
        );
    }

    fn reload_token(&mut self, t: TokenRow) {
        let previous = self.remove_token_named(&t.name);
        self.insert_token(t, previous.as_deref());
    }

    /// Puts `row` in place of what the cache held for its client_id,
    /// keeping the usage not yet written (it must survive a reload).
    fn reload_client(&mut self, mut row: CredentialRow) {
        let usage = match self.credentials.remove_with_key(row.client_id.as_str()) {
            Some((previous, ())) => Arc::clone(&previous.0.usage),
            None => Arc::new(Usage::new(row.last_used_at)),
        };
        let org = self.org_facts(
            std::mem::take(&mut row.org_id),
            std::mem::take(&mut row.org_name),
            row.contract_end,
        );
        let cred = Credential::from_row(row, org, usage);
        self.credentials.insert(ByClientId(Arc::new(cred)), ());
    }

    /// The org's facts as the database has them now: the ones its other
    /// credentials hold when they are the same, else new ones, which the
    /// org's next credentials then share (a change to an org reloads every
    /// client of it in the same batch).
    fn org_facts(&mut self, id: String, name: String, contract_end: i64) -> Arc<OrgFacts> {
        let facts = OrgFacts {
            id: id.into(),
            name: name.into(),
            contract_end,
        };
        match self.orgs.get(&facts.id) {
            Some(held) if **held == facts => Arc::clone(held),
            _ => {
                let facts = Arc::new(facts);
                self.orgs.insert(facts.id.clone(), Arc::clone(&facts));
                facts
            }
        }
    }

    fn revoke_client(&mut self, client_id: String) {
        self.credentials.remove(client_id.as_str());
        self.revoked.insert(client_id);
    }
}

/// What a batch of changes asks the follower to reload.
#[derive(Default)]
struct Affected {
    tokens: BTreeSet<String>,
    clients: BTreeSet<String>,
    orgs: BTreeSet<String>,
}

impl Affected {
    fn from(changes: &[Change]) -> Affected {
        let mut a = Affected::default();
        for c in changes {
            let set = match c.entity_kind.as_str() {
                "token" => &mut a.tokens,
                "client" => &mut a.clients,
                "org" => &mut a.orgs,
                _ => continue,
            };
            set.insert(c.entity_id.clone());
        }
        a
    }
}

/// The rows a batch of changes names, as they are now.
#[derive(Default)]
struct Reloaded {
    /// Tokens by name (none: revoked), and the live tokens of the orgs named.
    tokens: Vec<(String, Vec<TokenRow>)>,
    org_tokens: Vec<TokenRow>,
    /// The live clients named, and those of the orgs named.
    clients: Vec<CredentialRow>,
    /// The client_ids among them that are revoked.
    revoked: Vec<String>,
}

/// Entries whose last use is due to be written: their key (a client's record
/// id, a token's id), their usage and the use being written.
struct Due<K>(Vec<(K, Arc<Usage>, i64)>);

impl<K: Clone> Due<K> {
    fn of<'a>(entries: impl Iterator<Item = (K, &'a Arc<Usage>)>) -> Due<K> {
        Due(entries
            .map(|(k, u)| (k, Arc::clone(u), u.seen.load(Ordering::Acquire)))
            .collect())
    }

    fn uses(&self) -> Vec<(K, i64)> {
        self.0.iter().map(|(k, _, at)| (k.clone(), *at)).collect()
    }

    /// After the commit: the written uses are no longer due.
    fn written(&self) {
        for (_, u, seen) in &self.0 {
            u.written.fetch_max(*seen, Ordering::Relaxed);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Shared {
    db: Arc<Database>,
    config: Config,
    snapshot: RwLock<Arc<Snapshot>>,
    /// Whether the first full load is done: before it, nothing is known.
    loaded: watch::Sender<bool>,
    /// Milliseconds since `epoch` of the last time the follower reached the database.
    synced_at: AtomicI64,
    epoch: Instant,
    /// The newest change this process committed, which the follower must apply.
    wanted: AtomicI64,
    usage_due: AtomicBool,
    /// Wakes the follower: a change committed here or announced elsewhere.
    follower: Wake,
    /// Wakes the upkeep thread: a use to write.
    upkeep: Wake,
    applied: watch::Sender<i64>,
    /// The newest change not yet in the anchor file, and when it last moved.
    anchor_due: Mutex<Option<(i64, String)>>,
    anchor_written: Mutex<Instant>,
    /// Batches of changes applied since the start (for the metrics).
    refreshes: std::sync::atomic::AtomicU64,
}

impl Shared {
    fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.snapshot.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The time since `epoch`, to note before reading the database.
    fn reaching(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// The snapshot holds everything the database held at `reached`.
    fn mark_synced(&self, reached: Duration) {
        self.synced_at
            .fetch_max(reached.as_millis() as i64, Ordering::SeqCst);
    }

    fn stale_for(&self) -> Duration {
        let now = self.epoch.elapsed().as_millis() as i64;
        Duration::from_millis((now - self.synced_at.load(Ordering::SeqCst)).max(0) as u64)
    }

    /// Reads every live token and credential: the first snapshot.
    fn load(&self) -> Result<()> {
        let reached = self.reaching();
        let (seq, tokens, credentials, revoked) = self.db.read(|r| {
            let seq = r.audit_head()?.map(|h| h.seq).unwrap_or(0);
            Ok((
                seq,
                r.live_tokens(TokenSelect::All)?,
                r.credentials(Select::All)?,
                r.revoked_client_ids(Select::All)?,
            ))
        })?;
        let mut snap = Snapshot {
            seq,
            revoked: revoked.into_iter().collect(),
            ..Snapshot::default()
        };
        for t in tokens {
            snap.insert_token(t, None);
        }
        for row in credentials {
            snap.reload_client(row);
        }
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(snap);
        self.wanted.fetch_max(seq, Ordering::SeqCst);
        self.applied.send_replace(seq);
        self.mark_synced(reached);
        self.loaded.send_replace(true);
        Ok(())
    }

    /// Applies every change after the snapshot's, page by page.
    fn follow(&self) -> Result<()> {
        loop {
            let current = self.snapshot();
            let reached = self.reaching();
            let changes = self.db.read(|r| r.changes_after(current.seq, FEED_PAGE))?;
            let Some(last) = changes.last().cloned() else {
                self.mark_synced(reached);
                return Ok(());
            };
            // A page not full held every change there was when it was read:
            // once it is applied, the cache is as fresh as that read. Counting
            // only an empty page as reaching the database would let a steady
            // stream of writes make a cache that keeps up look stale.
            let complete = changes.len() < FEED_PAGE as usize;
            let affected = Affected::from(&changes);
            let reloaded = self.db.read(|r| {
                let mut out = Reloaded::default();
                for name in &affected.tokens {
                    let rows = r.live_tokens(TokenSelect::Named(name))?;
                    out.tokens.push((name.clone(), rows));
                }
                let selects = (affected.clients.iter().map(|id| Select::Client(id)))
                    .chain(affected.orgs.iter().map(|id| Select::Org(id)));
                for select in selects {
                    out.clients.extend(r.credentials(select)?);
                    out.revoked.extend(r.revoked_client_ids(select)?);
                }
                for id in &affected.orgs {
                    out.org_tokens
                        .extend(r.live_tokens(TokenSelect::OfOrg(id))?);
                }
                Ok(out)
            })?;
            let mut next = (*current).clone();
            for (name, rows) in reloaded.tokens {
                let previous = next.remove_token_named(&name);
                for t in rows {
                    next.insert_token(t, previous.as_deref());
                }
            }
            for t in reloaded.org_tokens {
                next.reload_token(t);
            }
            for client_id in reloaded.revoked {
                next.revoke_client(client_id);
            }
            // An org left without live clients (offboarded, or all
            // revoked) needs no facts; dropping them keeps one entry per org
            // that has live clients.
            let idle: Vec<&String> = (affected.orgs.iter())
                .filter(|id| !reloaded.clients.iter().any(|c| &c.org_id == *id))
                .collect();
            for id in idle {
                next.orgs.remove(id.as_str());
            }
            for row in reloaded.clients {
                next.reload_client(row);
            }
            next.seq = last.seq;
            *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
            self.refreshes.fetch_add(1, Ordering::Relaxed);
            self.applied.send_replace(last.seq);
            *lock(&self.anchor_due) = Some((last.seq, last.hash));
            if complete {
                self.mark_synced(reached);
                return Ok(());
            }
        }
    }

    /// Moves the anchor file up to the newest change applied, at most once per
    /// [`ANCHOR_INTERVAL`] (or at once when `now`): each move costs two fsyncs,
    /// which must never pace the writes. An anchor that lags by that much is
    /// still an anchor: it catches a rollback to anything before it.
    fn advance_anchor(&self, now: bool) {
        let Some(anchor) = &self.config.anchor else {
            return;
        };
        let mut written = lock(&self.anchor_written);
        if !now && written.elapsed() < ANCHOR_INTERVAL {
            return;
        }
        if let Some((seq, hash)) = lock(&self.anchor_due).take() {
            anchor.advance_or_warn(seq, &hash);
            *written = Instant::now();
        }
    }

    /// Writes every due `last_used_at` (clients' and tokens') and the
    /// introspection counts in one transaction. Returns whether all were written.
    fn flush_usage(&self) -> bool {
        let snap = self.snapshot();
        // The last uses before the counts: a use is counted before it is
        // noted (see `note_introspection`), so the counts taken next hold
        // every use these cover, and the drift check, which runs before the
        // last uses move, compares each count with the use before it. Taken
        // the other way round, a use noted in between would be written as
        // the last use in this transaction while its count waits for the
        // next one, whose check would then see no time unused at all.
        let clients = Due::of(
            snap.credentials()
                .filter(|c| c.usage.due())
                .map(|c| (c.id.to_string(), &c.usage)),
        );
        let counted: Vec<(Arc<Usage>, Vec<DayCount>)> = snap
            .credentials()
            .filter(|c| c.usage.counts_pending())
            .map(|c| {
                let seen = c.usage.seen.load(Ordering::Relaxed);
                let counts = c
                    .usage
                    .take_counts()
                    .into_iter()
                    .map(|(day, count)| DayCount {
                        client_ref: c.id.to_string(),
                        day,
                        count,
                        // The use may not be noted yet: then its day is all we know.
                        last_at: seen.max(day * 86_400),
                    })
                    .collect();
                (Arc::clone(&c.usage), counts)
            })
            .collect();
        let counts: Vec<DayCount> = counted.iter().flat_map(|(_, c)| c.clone()).collect();
        let tokens = Due::of(
            snap.tokens
                .values()
                .filter(|t| t.usage.due())
                .map(|t| (t.actor.token_id, &t.usage)),
        );
        if clients.0.is_empty() && tokens.0.is_empty() && counts.is_empty() {
            return true;
        }
        let (client_uses, token_uses) = (clients.uses(), tokens.uses());
        let hook = self.config.on_usage.clone();
        let written = self.db.write(move |tx| {
            tx.add_usage_counts(&counts)?;
            if let Some(hook) = hook.filter(|_| !counts.is_empty()) {
                // Under a savepoint of its own: a failing check never costs
                // the counts or the last uses.
                tx.savepoint(crate::db::Savepoint::Begin)?;
                match hook(tx, &counts) {
                    Ok(()) => tx.savepoint(crate::db::Savepoint::Release)?,
                    Err(e) => {
                        tracing::warn!(error = %e, "the usage drift check failed");
                        tx.savepoint(crate::db::Savepoint::RollBack)?;
                    }
                }
            }
            tx.note_last_used(&client_uses, &token_uses)
        });
        if written.is_err() {
            for (usage, counts) in &counted {
                let days: Vec<(i64, i64)> = counts.iter().map(|c| (c.day, c.count)).collect();
                usage.restore_counts(&days);
            }
            return false;
        }
        clients.written();
        tokens.written();
        true
    }

    /// The follower: loads everything (retrying until the database
    /// answers), then applies the changes whenever woken, and at least every
    /// `poll`. It does nothing else, so that its freshness never waits on a
    /// write of its own.
    fn follow_until_stopped(&self) {
        while self.load().is_err() {
            if !self.follower.wait(self.config.poll) {
                return;
            }
        }
        while self.follower.wait(self.config.poll) {
            // A failure leaves the snapshot as it was; it goes stale, and
            // `fresh` refuses it once past the bound.
            let _ = self.follow();
        }
        let _ = self.follow();
    }

    /// The upkeep: writes the due uses (a write that waits its turn behind
    /// the writers) and moves the anchor file (two fsyncs), off the
    /// follower's thread. Stopped before the follower, so that the follower's
    /// last pass applies what the last flush wrote.
    fn keep_up_until_stopped(&self) {
        let mut retry_usage = false;
        while self.upkeep.wait(self.config.poll) {
            self.advance_anchor(false);
            if self.usage_due.swap(false, Ordering::SeqCst) || retry_usage {
                retry_usage = !self.flush_usage();
            }
        }
        self.flush_usage();
    }
}

/// How a background thread of the cache is woken and told to end.
struct Wake {
    woken: Mutex<bool>,
    cv: Condvar,
    stop: AtomicBool,
}

impl Wake {
    fn new() -> Wake {
        Wake {
            woken: Mutex::new(false),
            cv: Condvar::new(),
            stop: AtomicBool::new(false),
        }
    }

    fn notify(&self) {
        *lock(&self.woken) = true;
        self.cv.notify_one();
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.notify();
    }

    /// Waits until notified (at once if notified since the last wait) or
    /// for `timeout`; false once the thread is to end.
    fn wait(&self, timeout: Duration) -> bool {
        let mut woken = lock(&self.woken);
        if !*woken && !self.stop.load(Ordering::SeqCst) {
            woken = self
                .cv
                .wait_timeout(woken, timeout)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        *woken = false;
        !self.stop.load(Ordering::SeqCst)
    }
}

/// The credential cache and the threads that keep it following the
/// database (the follower) and write its uses (the upkeep).
pub struct Cache {
    shared: Arc<Shared>,
    threads: Mutex<Option<Threads>>,
}

struct Threads {
    follower: std::thread::JoinHandle<()>,
    upkeep: std::thread::JoinHandle<()>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cache")
    }
}

/// How long a write's answer waits for the cache to include it.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(5);

impl Cache {
    /// Starts the follower thread, which first loads everything (retrying
    /// until the database answers; until then [`Cache::fresh`] refuses), and
    /// the upkeep thread.
    pub fn start(db: Arc<Database>, config: Config) -> Result<Arc<Cache>> {
        let (applied, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            db: Arc::clone(&db),
            config,
            snapshot: RwLock::new(Arc::new(Snapshot::default())),
            loaded: watch::channel(false).0,
            synced_at: AtomicI64::new(0),
            epoch: Instant::now(),
            wanted: AtomicI64::new(0),
            usage_due: AtomicBool::new(false),
            follower: Wake::new(),
            upkeep: Wake::new(),
            applied,
            anchor_due: Mutex::new(None),
            anchor_written: Mutex::new(Instant::now()),
            refreshes: std::sync::atomic::AtomicU64::new(0),
        });
        let waker = Arc::downgrade(&shared);
        db.on_change(Box::new(move || {
            if let Some(sh) = waker.upgrade() {
                sh.follower.notify();
            }
        }));
        let spawn = |name: &str, run: fn(&Shared)| {
            let sh = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(name.into())
                .spawn(move || run(&sh))
                .map_err(|e| Error::Internal(format!("cannot start the {name} thread: {e}")))
        };
        let follower = spawn("credential-cache", Shared::follow_until_stopped)?;
        let upkeep = match spawn("credential-cache-upkeep", Shared::keep_up_until_stopped) {
            Ok(upkeep) => upkeep,
            Err(e) => {
                shared.follower.stop();
                let _ = follower.join();
                return Err(e);
            }
        };
        Ok(Arc::new(Cache {
            shared,
            threads: Mutex::new(Some(Threads { follower, upkeep })),
        }))
    }

    /// The snapshot as it is, however stale, and how many batches of
    /// changes the cache has applied: for the metrics.
    pub fn current(&self) -> (Arc<Snapshot>, u64) {
        (
            self.shared.snapshot(),
            self.shared.refreshes.load(Ordering::Relaxed),
        )
    }

    /// Waits until the first load is done.
    pub async fn loaded(&self) {
        let _ = self
            .shared
            .loaded
            .subscribe()
            .wait_for(|loaded| *loaded)
            .await;
    }

    /// The current snapshot, unless the first load is not done or the
    /// follower has not reached the database for longer than the staleness
    /// bound.
    pub fn fresh(&self) -> Result<Arc<Snapshot>> {
        if !*self.shared.loaded.borrow() {
            return Err(Error::Unavailable(
                "the credential cache is still loading; retry shortly".into(),
            ));
        }
        let stale = self.shared.stale_for();
        if stale > self.shared.config.max_staleness {
            return Err(Error::Unavailable(format!(
                "the credential cache has not reached the database for {}s; retry shortly",
                stale.as_secs()
            )));
        }
        Ok(self.shared.snapshot())
    }

    /// Waits until the cache includes the change with sequence number `seq`
    /// (one this process just committed).
    pub async fn caught_up(&self, seq: i64) {
        let sh = &self.shared;
        sh.wanted.fetch_max(seq, Ordering::SeqCst);
        let mut rx = sh.applied.subscribe();
        if *rx.borrow() >= seq {
            return;
        }
        sh.follower.notify();
        let _ =
            tokio::time::timeout(CATCH_UP_TIMEOUT, rx.wait_for(|applied| *applied >= seq)).await;
    }

    /// Notes a use at `now` of the client or token whose usage `u` is (a
    /// successful introspection, an authenticated request). Cheap: atomics
    /// only, and a wake-up of the upkeep thread at most once a minute per entry.
    pub fn note_use(&self, u: &Usage, now: i64) {
        // A plain load first: under load the entry is shared by every worker, and
        // the read-modify-write is needed only once per second per client.
        if u.seen.load(Ordering::Relaxed) < now
            // Release: whoever reads this use also sees its count (counted first).
            && u.seen.fetch_max(now, Ordering::Release) < now
            && u.due()
            && !self.shared.usage_due.swap(true, Ordering::SeqCst)
        {
            self.shared.upkeep.notify();
        }
    }

    /// Notes a successful introspection of the client whose usage `u` is:
    /// its use, and one more in its count of the day.
    pub fn note_introspection(&self, u: &Usage, now: i64) {
        if u.count(now) && !self.shared.usage_due.swap(true, Ordering::SeqCst) {
            self.shared.upkeep.notify();
        }
        self.note_use(u, now);
    }

    /// Stops the threads: the upkeep first (writing any due use), then the
    /// follower (applying it), then moves the anchor up to the last change.
    pub fn stop(&self) {
        if let Some(threads) = lock(&self.threads).take() {
            self.shared.upkeep.stop();
            let _ = threads.upkeep.join();
            self.shared.follower.stop();
            let _ = threads.follower.join();
            self.shared.advance_anchor(true);
        }
    }
}

impl Drop for Cache {
    /// Without [`Cache::stop`] (a panicking test, a runtime being torn down):
    /// tells both threads to end, without waiting for them. One may be waiting on
    /// the database through the very runtime this thread would block, so a
    /// join here could never return. Nothing is then ordered: the last uses
    /// may be written after the follower's last pass, and the anchor may lag
    /// the last changes (as it may after a crash; verification allows that).
    fn drop(&mut self) {
        if lock(&self.threads).take().is_some() {
            self.shared.upkeep.stop();
            self.shared.follower.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn introspections_are_counted_by_their_day() {
        let u = Usage::new(None);
        let day = 20_000 * 86_400;
        for _ in 0..3 {
            u.count(day + 10);
        }
        assert_eq!(u.take_counts(), vec![(20_000, 3)]);
        assert!(!u.counts_pending());
        u.count(day + 20);
        u.count(day + 86_400);
        u.count(day + 86_400 + 5);
        assert_eq!(u.take_counts(), vec![(20_000, 1), (20_001, 2)]);
        u.restore_counts(&[(20_001, 2)]);
        assert_eq!(u.take_counts(), vec![(20_001, 2)]);
    }

    #[test]
    fn a_flush_racing_midnight_files_every_count_under_its_own_day() {
        // One thread counts three introspections a day over 20,000 days (no
        // two introspections race each other), while flushes take the counts
        // as fast as they can: each crossing of midnight is a chance for a
        // flush to come between the day moving and its count being carried.
        const DAYS: i64 = 100_000;
        let u = Arc::new(Usage::new(None));
        let counter = {
            let u = Arc::clone(&u);
            std::thread::spawn(move || {
                for day in 0..DAYS {
                    for second in 0..3 {
                        u.count(day * 86_400 + second);
                    }
                }
            })
        };
        let mut per_day = std::collections::BTreeMap::new();
        let mut file = |counts: Vec<(i64, i64)>| {
            for (day, n) in counts {
                *per_day.entry(day).or_insert(0) += n;
            }
        };
        while !counter.is_finished() {
            file(u.take_counts());
        }
        counter.join().unwrap();
        file(u.take_counts());
        let misfiled: Vec<_> = per_day.iter().filter(|(_, n)| **n != 3).collect();
        assert_eq!(per_day.len() as i64, DAYS, "{misfiled:?}");
        assert!(misfiled.is_empty(), "{misfiled:?}");
    }

    #[test]
    fn current_and_previous_secret_with_grace_period() {
        let key = crate::crypto::SecretKey::from_bytes([7; 32]);
        let cred = Credential {
            id: "cli_x".into(),
            usage: Arc::new(Usage::new(None)),
            client_id: "pc_x".into(),
            org: Arc::new(OrgFacts {
                id: "org_x".into(),
                name: "x".into(),
                contract_end: 2_000,
            }),
            scope: "".into(),
            expires_at: 1_000,
            operated_by: None,
            keys: None,
            jwks_uri: None,
            secrets: Box::new([
                SecretHash {
                    hmac: key.hash_secret("new"),
                    not_after: None,
                    created_at: 20,
                },
                SecretHash {
                    hmac: key.hash_secret("old"),
                    not_after: Some(500),
                    created_at: 10,
                },
            ]),
            suspended_after: Some(900),
        };
        let verdict = |secret: &str, now| cred.verdict(&key.hash_secret(secret), now).0;
        assert_eq!(
            cred.verdict(&key.hash_secret("new"), 100),
            (Introspected::Active, 20)
        );
        assert_eq!(
            cred.verdict(&key.hash_secret("old"), 500),
            (Introspected::Active, 10)
        );
        assert_eq!(verdict("old", 501), Introspected::BadSecret);
        assert_eq!(verdict("new", 900), Introspected::Active);
        assert_eq!(verdict("new", 901), Introspected::Suspended);
        assert_eq!(verdict("new", 1_001), Introspected::Expired);
        assert_eq!(verdict("new", 2_001), Introspected::ContractEnded);
        assert_eq!(verdict("other", 100), Introspected::BadSecret);
    }
}
