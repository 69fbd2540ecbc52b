//! Partner registry backend: partner orgs and their API clients over HTTP, with
//! secrets, roles, a keyed hash-chained audit trail ([`audit`]) and a runtime
//! introspection endpoint.
//!
//! - [`filters`] (routes), [`handlers`] (HTTP shapes), following warp's `todos`;
//!   [`server`]: the accept loop and the check of each request's framing;
//! - [`service`]: the use cases, the one layer that authorises;
//! - [`records`] (what is stored) and [`requests`] (what is sent);
//! - [`db`]: the storage traits and their SQLite and PostgreSQL engines;
//! - [`cache`]: the credential cache that follows every change;
//! - [`review`]: the entitlement review; [`campaigns`]: the access reviews
//!   that reviewers decide; [`clock`]: the one source of time.
//!
//! The rules of values and between records live in the shared `partner-rules`
//! crate, so that the provider's plan-time checks are the registry's own.

pub mod approvals;
pub mod assertions;
pub mod audit;
pub mod blast_radius;
pub mod cache;
pub mod campaigns;
pub mod clock;
pub mod crypto;
pub mod db;
pub mod error;
pub mod filters;
pub mod handlers;
pub mod jwks_fetch;
pub mod openapi;
pub mod records;
pub mod requests;
pub mod review;
pub mod review_routes;
pub mod server;
pub mod service;
pub mod telemetry;
pub mod tls;
pub mod ui;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{Error, Result};

/// Shared state of a running server: one pointer, so that a clone per request is
/// a single reference-count increment.
#[derive(Clone)]
pub struct App(Arc<AppState>);

impl std::ops::Deref for App {
    type Target = AppState;
    fn deref(&self) -> &AppState {
        &self.0
    }
}

/// What [`App`] points to.
pub struct AppState {
    pub db: Arc<db::Database>,
    pub cache: Arc<cache::Cache>,
    pub clock: Arc<dyn Clock>,
    pub key: crypto::SecretKey,
    /// One log line per request (see [`telemetry`]); never bodies or secrets.
    pub access_log: bool,
    pub metrics: telemetry::Metrics,
    /// The review console's sessions (see [`ui`]).
    pub console: ui::Sessions,
    /// The `aud` client assertions must name; `None`: none is accepted.
    pub assertion_audience: Option<String>,
    /// The key sets of clients with a `jwks_uri`, fetched and kept.
    pub jwks: jwks_fetch::KeyFetcher,
}

impl App {
    /// The metrics in the Prometheus text format, as of now.
    pub fn metrics_text(&self) -> String {
        let (snapshot, cache_refreshes) = self.cache.current();
        let (credentials, tokens) = snapshot.sizes();
        let relaxed = std::sync::atomic::Ordering::Relaxed;
        self.metrics.render(telemetry::Scraped {
            credentials,
            tokens,
            cache_refreshes,
            audit_events: snapshot.seq,
            write_transactions: self.db.writes.transactions.load(relaxed),
            write_micros: self.db.writes.micros.load(relaxed),
        })
    }

    /// Runs one read on the blocking pool.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn db::Reader) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let started = std::time::Instant::now();
        let out = self.db.read_async(f).await;
        self.metrics.db_call("read", started.elapsed());
        out
    }

    /// Runs one write transaction on the blocking pool and, once it has
    /// committed, waits for the credential cache to include it: what this
    /// registry acknowledged, its introspection already answers.
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn db::Tx) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let started = std::time::Instant::now();
        let written = self.db.write_async(f).await;
        self.metrics.db_call("write", started.elapsed());
        let (out, seq) = written?;
        if let Some(seq) = seq {
            self.cache.caught_up(seq).await;
        }
        Ok(out)
    }
}

/// How to run the server.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub db: db::Target,
    /// Server key file; `None`: `PARTNER_REGISTRY_SECRET_KEY_FILE`, or `<db>.key`
    /// beside a SQLite database.
    pub key_file: Option<PathBuf>,
    /// The audit anchor of a PostgreSQL registry (SQLite keeps `<db>.audit-head`).
    pub audit_anchor: Option<PathBuf>,
    /// Log one line per request to stderr.
    pub access_log: bool,
    /// The most writes that share one transaction (group commit).
    pub write_batch: usize,
    /// Timeouts and the connection limit.
    pub limits: server::Limits,
    /// Serve HTTPS with these files (reloaded on SIGHUP); plain HTTP without.
    pub tls: Option<tls::TlsFiles>,
    /// Also serve `GET /metrics` here, without a token (plain HTTP).
    pub metrics_listen: Option<SocketAddr>,
    /// The `aud` client assertions must name; `None`: none is accepted.
    pub assertion_audience: Option<String>,
}

/// The database, its key and its audit anchor, opened as every subcommand opens them.
pub struct Opened {
    pub db: Arc<db::Database>,
    pub key: crypto::SecretKey,
    pub anchor: Option<audit::Anchor>,
}

/// Opens the registry's database with the server key.
///
/// `create` (for `serve` and `init`) creates a SQLite database that does not
/// exist yet, and a key for a database that holds nothing; every other
/// subcommand refuses a database or a key that is missing. A database that
/// holds data is never given a new key (every token, secret and audit event
/// would silently stop verifying): without its key, or with a key that does not
/// verify its audit head, nothing starts.
pub fn open(
    target: &db::Target,
    key_file: Option<&std::path::Path>,
    audit_anchor: Option<&std::path::Path>,
    create: bool,
) -> Result<Opened> {
    let key_path = crypto::SecretKey::path_for(target, key_file)?;
    let existing = crypto::SecretKey::load_if_present(&key_path)?;
    // Without a key only migrations that need none can run: those of a
    // database that holds nothing.
    let database = db::Database::open(target, existing.as_ref(), create)?;
    let key = match existing {
        Some(key) => {
            let head = database.read(|r| r.audit_head())?;
            if head.is_some_and(|h| !h.authentic(&key)) {
                return Err(Error::Internal(format!(
                    "the server key {} does not verify the audit chain of {}: it is not this \
                     registry's key. Put the right key file in place (starting with another key would \
                     make every API token, client secret and audit event unverifiable).",
                    key_path.display(),
                    target.describe()
                )));
            }
            key
        }
        None if create && !database.read(|r| r.holds_data())? => {
            crypto::SecretKey::create_new(&key_path)?
        }
        None => {
            return Err(Error::Internal(format!(
                "the server key {} is missing{}: restore it (a new key would make every API token, \
                 client secret and audit event of this registry unverifiable)",
                key_path.display(),
                if create {
                    format!(" but the database {} holds data", target.describe())
                } else {
                    String::new()
                }
            )));
        }
    };
    let anchor = match target {
        db::Target::Sqlite(path) => Some(audit::Anchor::beside(path)),
        db::Target::Postgres(_) => audit_anchor.map(|p| audit::Anchor {
            path: p.to_path_buf(),
        }),
    };
    Ok(Opened {
        db: Arc::new(database),
        key,
        anchor,
    })
}

/// A server bound to its address and serving in the background.
pub struct Running {
    pub addr: SocketAddr,
    /// Where `--metrics-listen` serves, when it does.
    pub metrics_addr: Option<SocketAddr>,
    /// `https` or `http`.
    pub scheme: &'static str,
    pub app: App,
    /// Set to true to stop every listener.
    stop: tokio::sync::watch::Sender<bool>,
    /// The API's server and the metrics address's.
    servers: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, finishes requests in flight, and closes the database.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for server in self.servers {
            let _ = server.await;
        }
        let app = self.app.clone();
        let _ = tokio::task::spawn_blocking(move || {
            app.cache.stop();
            app.db.close();
        })
        .await;
    }
}

/// Opens (creating and migrating) the database, loads the key, binds and
/// serves, and returns once the credential cache is loaded. While it loads,
/// `/healthz` answers, `/readyz` and the API answer 503 with Retry-After.
pub async fn start(cfg: Config, clock: Arc<dyn Clock>) -> Result<Running> {
    let setup = cfg.clone();
    let (opened, cache) = tokio::task::spawn_blocking(move || -> Result<_> {
        let opened = open(
            &setup.db,
            setup.key_file.as_deref(),
            setup.audit_anchor.as_deref(),
            true,
        )?;
        opened.db.set_write_batch(setup.write_batch);
        let key = opened.key.clone();
        let cache = cache::Cache::start(
            Arc::clone(&opened.db),
            cache::Config {
                anchor: opened.anchor.clone(),
                on_usage: Some(Arc::new(move |tx, counts| {
                    campaigns::after_usage(tx, &key, counts)
                })),
                ..cache::Config::default()
            },
        )?;
        Ok((opened, cache))
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))??;
    let app = App(Arc::new(AppState {
        db: opened.db,
        cache,
        clock,
        key: opened.key,
        access_log: cfg.access_log,
        metrics: telemetry::Metrics::new(),
        console: ui::Sessions::new(cfg.tls.is_some()),
        assertion_audience: cfg.assertion_audience.clone(),
        jwks: jwks_fetch::KeyFetcher::new()?,
    }));
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| Error::Internal(format!("cannot listen on {}: {e}", cfg.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let tls = match cfg.tls {
        None => None,
        Some(files) => {
            let tls = Arc::new(tls::Tls::load(files).map_err(Error::Internal)?);
            tls::reload_on_sighup(Arc::clone(&tls))
                .map_err(|e| Error::Internal(format!("cannot listen for SIGHUP: {e}")))?;
            Some(tls)
        }
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }
    };
    let mut servers = Vec::new();
    let metrics_addr = match cfg.metrics_listen {
        None => None,
        Some(at) => {
            let listener = tokio::net::TcpListener::bind(at)
                .await
                .map_err(|e| Error::Internal(format!("cannot listen on {at} for metrics: {e}")))?;
            let bound = listener
                .local_addr()
                .map_err(|e| Error::Internal(e.to_string()))?;
            servers.push(tokio::spawn(server::serve(
                listener,
                filters::metrics_without_auth(app.clone()),
                app.clone(),
                cfg.limits,
                None,
                until_stopped(),
            )));
            Some(bound)
        }
    };
    servers.push(tokio::spawn(server::serve(
        listener,
        filters::routes(app.clone()),
        app.clone(),
        cfg.limits,
        tls,
        until_stopped(),
    )));
    app.cache.loaded().await;
    Ok(Running {
        addr,
        metrics_addr,
        scheme,
        app,
        stop,
        servers,
    })
}
