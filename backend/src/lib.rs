//! Partner registry backend: partner orgs and their API clients over HTTP, with
//! secrets, roles, a keyed hash-chained audit trail ([`audit`]) and a runtime
//! introspection endpoint.
//!
//! Layout follows warp's `todos` example: [`filters`] (routes), [`handlers`],
//! [`models`]; storage sits behind [`store::Store`]; time comes from [`clock::Clock`];
//! the credential index and last-use recording live in [`cache`]; the entitlement
//! review (API and CLI) in [`review`].

pub mod audit;
pub mod cache;
pub mod clock;
pub mod crypto;
pub mod error;
pub mod filters;
pub mod handlers;
pub mod models;
pub mod openapi;
pub mod review;
pub mod store;

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
    pub store: Arc<store::Store>,
    pub cache: Arc<cache::Cache>,
    pub clock: Arc<dyn Clock>,
    pub key: crypto::SecretKey,
    /// The server key and the audit head file, for every write's audit event.
    pub chain: Arc<audit::Chain>,
    /// One stderr line per request (method, path, status, time); never bodies or headers.
    pub access_log: bool,
}

/// How to run the server.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub db: PathBuf,
    /// Server key file; `None`: `PARTNER_REGISTRY_SECRET_KEY_FILE` or `<db>.key`.
    pub key_file: Option<PathBuf>,
    /// Log one line per request to stderr.
    pub access_log: bool,
}

/// A server bound to its address and serving in the background.
pub struct Running {
    pub addr: SocketAddr,
    pub app: App,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops accepting, finishes requests in flight, and closes the database.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.handle).await;
        self.app.cache.stop();
        self.app.store.close();
    }
}

/// Opens (creating and migrating) the database, loads the key, binds and serves.
pub async fn start(cfg: Config, clock: Arc<dyn Clock>) -> Result<Running> {
    let key_path = cfg
        .key_file
        .clone()
        .unwrap_or_else(|| crypto::SecretKey::default_path(&cfg.db));
    let db = cfg.db.clone();
    let (store, cache, key, chain) = tokio::task::spawn_blocking(move || -> Result<_> {
        let key = crypto::SecretKey::load_or_create(&key_path)?;
        let chain = audit::Chain::new(key.clone(), &db);
        let store = store::Store::open(&db, &chain)?;
        let cache = cache::Cache::start(db)?;
        Ok((store, cache, key, chain))
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))??;
    let app = App(Arc::new(AppState {
        store,
        cache,
        clock,
        key,
        chain: Arc::new(chain),
        access_log: cfg.access_log,
    }));
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| Error::Internal(format!("cannot listen on {}: {e}", cfg.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let routes = filters::routes(app.clone());
    let handle = tokio::spawn(async move {
        warp::serve(routes)
            .incoming(listener)
            .graceful(async move {
                let _ = rx.await;
            })
            .run()
            .await;
    });
    Ok(Running {
        addr,
        app,
        shutdown: Some(tx),
        handle,
    })
}
