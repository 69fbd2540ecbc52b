//! What the registry tells its operators: one structured log line per
//! request (`tracing`, as text or JSON), and metrics in the Prometheus text
//! format. Neither ever holds a secret, a token or a request body: a log line
//! names the route's template (`/v1/clients/{id}`), not the path with ids.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};
use std::sync::Mutex;
use std::time::Duration;

tokio::task_local! {
    /// Who the request being answered turned out to be, set by the routes.
    static CALLER: Mutex<Option<(String, &'static str)>>;
}

/// Runs one request's answer with a place for [`note_caller`] to fill;
/// returns the answer and the caller (token name and role), if one was
/// authenticated.
pub async fn with_caller<T>(
    answer: impl Future<Output = T>,
) -> (T, Option<(String, &'static str)>) {
    CALLER
        .scope(Mutex::new(None), async {
            let out = answer.await;
            let caller = CALLER
                .try_with(|c| c.lock().ok().and_then(|mut c| c.take()))
                .ok()
                .flatten();
            (out, caller)
        })
        .await
}

/// Records the authenticated caller of the request being answered.
pub fn note_caller(name: &str, role: &'static str) {
    let _ = CALLER.try_with(|c| {
        if let Ok(mut c) = c.lock() {
            *c = Some((name.to_string(), role));
        }
    });
}

/// What one request did, for its log line and the request metrics.
pub struct Answered<'a> {
    pub method: &'a str,
    /// The route's template, `"unknown"` for a path no route has.
    pub route: &'a str,
    pub status: u16,
    pub elapsed: Duration,
    pub request_id: &'a str,
    pub caller: Option<&'a (String, &'static str)>,
    pub change_ref: Option<&'a str>,
}

/// Writes the log line of one request: at `info`, but successful
/// introspections (the gateways' hot path) only at `debug`.
pub fn log_request(a: &Answered<'_>) {
    let (caller, role) = a
        .caller
        .map_or(("-", "-"), |(name, role)| (name.as_str(), *role));
    let elapsed_ms = a.elapsed.as_secs_f64() * 1000.0;
    macro_rules! line {
        ($level:ident) => {
            tracing::$level!(
                request_id = a.request_id,
                method = a.method,
                route = a.route,
                status = a.status,
                elapsed_ms,
                caller,
                role,
                change_ref = a.change_ref.unwrap_or("-"),
                "{} {} {}",
                a.method,
                a.route,
                a.status
            )
        };
    }
    if a.route == "/v1/introspect" && a.status == 200 {
        line!(debug);
    } else {
        line!(info);
    }
}

/// How introspections ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Introspected {
    Active,
    /// No client has this client_id, or the body was not an introspection
    /// request.
    Unknown,
    BadSecret,
    Expired,
    /// The client is revoked, or its org offboarded.
    Revoked,
    ContractEnded,
    /// Undecided in an access review past its due date, under the org's
    /// `review_enforcement = "suspend"`.
    Suspended,
    /// A client assertion whose `jti` was used before (on any replica).
    Replayed,
    /// A client assertion whose `jti` could not be claimed (the database
    /// failed): answered 503, never active.
    ReplayUnchecked,
    /// A client assertion of a client whose `jwks_uri` could not be fetched
    /// (the fetch's outcome is counted apart): inactive.
    KeysUnavailable,
}

impl Introspected {
    /// Every outcome, in declaration order (the index of each).
    const ALL: [Introspected; 10] = [
        Introspected::Active,
        Introspected::Unknown,
        Introspected::BadSecret,
        Introspected::Expired,
        Introspected::Revoked,
        Introspected::ContractEnded,
        Introspected::Suspended,
        Introspected::Replayed,
        Introspected::ReplayUnchecked,
        Introspected::KeysUnavailable,
    ];

    fn label(self) -> &'static str {
        match self {
            Introspected::Active => "active",
            Introspected::Unknown => "unknown",
            Introspected::BadSecret => "bad_secret",
            Introspected::Expired => "expired",
            Introspected::Revoked => "revoked",
            Introspected::ContractEnded => "contract_ended",
            Introspected::Suspended => "review_suspended",
            Introspected::Replayed => "replayed_jti",
            Introspected::ReplayUnchecked => "jti_unchecked",
            Introspected::KeysUnavailable => "jwks_unavailable",
        }
    }
}

/// The registry's metrics. Most are counted as things happen; the rest
/// (cache size, audit chain length) are read when scraped.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    /// One counter per outcome, resolved once: introspection is the hot path.
    introspections: [IntCounter; 10],
    jwks_fetches: IntCounterVec,
    db_calls: HistogramVec,
    cache_credentials: IntGauge,
    cache_tokens: IntGauge,
    cache_refreshes: IntCounter,
    audit_events: IntGauge,
    write_transactions: IntCounter,
    write_micros: IntCounter,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("metric");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c
        };
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            let buckets = vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ];
            let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
                .expect("metric");
            registry
                .register(Box::new(h.clone()))
                .expect("unique metric");
            h
        };
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("metric");
            registry
                .register(Box::new(g.clone()))
                .expect("unique metric");
            g
        };
        let total = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).expect("metric");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c
        };
        Metrics {
            requests: counter(
                "partner_registry_http_requests_total",
                "HTTP requests answered, by route template, method and status.",
                &["route", "method", "status"],
            ),
            latency: histogram(
                "partner_registry_http_request_duration_seconds",
                "Time to answer an HTTP request, by route template and status.",
                &["route", "status"],
            ),
            introspections: {
                let by_outcome = counter(
                    "partner_registry_introspections_total",
                    "Introspections by outcome: active, or inactive because the client is \
                     unknown (never registered), the secret is wrong, the client expired, was \
                     revoked (or its org offboarded), its org's contract ended, or an access \
                     review of it is overdue under review_enforcement = suspend.",
                    &["outcome"],
                );
                Introspected::ALL.map(|o| by_outcome.with_label_values(&[o.label()]))
            },
            jwks_fetches: counter(
                "partner_registry_jwks_fetches_total",
                "Fetches of clients' jwks_uri, by outcome: ok, or failed because of the \
                 connection or a timeout (unreachable), an answer other than 200 (status), one \
                 over the size limit (too_large), or a body that is not a valid key set \
                 (invalid). A failed fetch leaves the client's assertions inactive.",
                &["outcome"],
            ),
            db_calls: histogram(
                "partner_registry_db_call_duration_seconds",
                "Time of one database call from the API (a read, or a write until it is \
                 committed and durable), by kind.",
                &["kind"],
            ),
            cache_credentials: gauge(
                "partner_registry_cache_credentials",
                "Live client credentials in the credential cache.",
            ),
            cache_tokens: gauge(
                "partner_registry_cache_tokens",
                "API tokens in the credential cache.",
            ),
            cache_refreshes: total(
                "partner_registry_cache_refreshes_total",
                "Changes the credential cache has applied since the registry started.",
            ),
            audit_events: gauge(
                "partner_registry_audit_chain_length",
                "Events in the audit chain (the sequence number of its head).",
            ),
            write_transactions: total(
                "partner_registry_write_transactions_total",
                "Write transactions committed (each may hold several writes: group commit).",
            ),
            write_micros: total(
                "partner_registry_write_transaction_microseconds_total",
                "Time the writer spent on write transactions, running them and committing \
                 them durably (the fsync), in microseconds.",
            ),
            registry,
        }
    }

    pub fn request(&self, a: &Answered<'_>) {
        let status = a.status.to_string();
        self.requests
            .with_label_values(&[a.route, a.method, &status])
            .inc();
        self.latency
            .with_label_values(&[a.route, &status])
            .observe(a.elapsed.as_secs_f64());
    }

    pub fn introspected(&self, outcome: Introspected) {
        self.introspections[outcome as usize].inc();
    }

    pub fn jwks_fetched(&self, outcome: &str) {
        self.jwks_fetches.with_label_values(&[outcome]).inc();
    }

    pub fn db_call(&self, kind: &str, elapsed: Duration) {
        self.db_calls
            .with_label_values(&[kind])
            .observe(elapsed.as_secs_f64());
    }

    /// Every metric in the Prometheus text format, with the values read at
    /// scrape time set from `now`.
    pub fn render(&self, now: Scraped) -> String {
        // Counters kept elsewhere (atomics of the cache and the writer)
        // catch up here: they only ever grow.
        let catch_up = |c: &IntCounter, value: u64| c.inc_by(value.saturating_sub(c.get()));
        self.cache_credentials.set(now.credentials as i64);
        self.cache_tokens.set(now.tokens as i64);
        catch_up(&self.cache_refreshes, now.cache_refreshes);
        self.audit_events.set(now.audit_events);
        catch_up(&self.write_transactions, now.write_transactions);
        catch_up(&self.write_micros, now.write_micros);
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The figures a scrape reads from the cache and the database.
pub struct Scraped {
    pub credentials: usize,
    pub tokens: usize,
    pub cache_refreshes: u64,
    pub audit_events: i64,
    pub write_transactions: u64,
    pub write_micros: u64,
}
