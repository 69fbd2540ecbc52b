//! The key sets of `private_key_jwt` clients that publish their keys at a
//! `jwks_uri` instead of registering them: fetched by the registry itself,
//! with a short timeout and a size limit, never following a redirect, and
//! kept for the time the answer's `Cache-Control: max-age` allows (within
//! bounds, on the registry's clock). An assertion naming a `kid` the cached
//! set lacks fetches it again, at most once per [`REFETCH_INTERVAL`], so a
//! key added at the URI works at once and nobody can make the registry
//! hammer a partner's server.
//!
//! Fails closed: a fetch that fails, once the cached set is past its time,
//! leaves the client without keys, so its assertions are inactive; the log
//! line and `partner_registry_jwks_fetches_total` say why.

use crate::assertions::Keys;
use crate::telemetry::Metrics;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a key set is kept when its answer names no `max-age` (seconds).
pub const DEFAULT_CACHE: i64 = 300;
/// The longest a key set is kept whatever its answer says: a key removed at
/// the URI stops working within an hour.
pub const MAX_CACHE: i64 = 3600;
/// The shortest gap between two fetches of one URI (and so the least a key
/// set is kept): an unknown `kid` or a failing server costs at most one
/// fetch per this many seconds.
pub const REFETCH_INTERVAL: i64 = 30;
/// The whole fetch, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(3);
/// The largest answer read: a key set within the JWKS rule's 16384
/// characters, even if every character took four bytes.
pub const MAX_BYTES: usize = partner_rules::keys::MAX_JWKS_CHARS * 4;

/// The system's resolver, leaving out the addresses the registry never
/// fetches from ([`partner_rules::keys::fetchable`]): a name that resolves
/// to a cloud's metadata endpoint fails like an unreachable one.
struct Fetchable;

impl reqwest::dns::Resolve for Fetchable {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| partner_rules::keys::fetchable(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!(
                    "{host} resolves to no address a key set may be fetched from \
                     (link-local, unspecified, multicast and broadcast ones are left out)"
                )
                .into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// What one URI's last fetch left.
#[derive(Clone)]
struct Entry {
    /// `None`: the last fetch failed (why, in `failure`).
    keys: Option<Arc<Keys>>,
    failure: String,
    /// Kept until then (registry clock, seconds).
    fresh_until: i64,
    /// When it was last fetched.
    fetched_at: i64,
}

/// The fetched key sets, by URI.
pub struct KeyFetcher {
    http: reqwest::Client,
    cache: Mutex<HashMap<String, Entry>>,
}

impl KeyFetcher {
    pub fn new() -> crate::Result<KeyFetcher> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            // A redirect could lead anywhere the URI's rule never checked.
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(Fetchable))
            .user_agent(concat!("partner-registry/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| crate::Error::Internal(format!("cannot build the JWKS client: {e}")))?;
        Ok(KeyFetcher {
            http,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The keys published at `uri` as of `now`, fetching them when the
    /// cached set is past its time, or lacks `kid` and was fetched more than
    /// [`REFETCH_INTERVAL`] ago; why there are none otherwise.
    pub async fn keys(
        &self,
        uri: &str,
        kid: Option<&str>,
        now: i64,
        metrics: &Metrics,
    ) -> Result<Arc<Keys>, String> {
        let cached = self.cached(uri);
        if let Some(e) = &cached {
            let fresh = now < e.fresh_until;
            let knows_kid = match (&e.keys, kid) {
                (Some(keys), Some(kid)) => keys.has_kid(kid),
                _ => true,
            };
            let may_refetch = now >= e.fetched_at.saturating_add(REFETCH_INTERVAL);
            if fresh && (knows_kid || !may_refetch) {
                return e.keys.clone().ok_or_else(|| e.failure.clone());
            }
        }
        let entry = match self.fetch(uri).await {
            Ok((keys, max_age)) => {
                metrics.jwks_fetched("ok");
                let keep = max_age
                    .unwrap_or(DEFAULT_CACHE)
                    .clamp(REFETCH_INTERVAL, MAX_CACHE);
                Entry {
                    keys: Some(Arc::new(keys)),
                    failure: String::new(),
                    fresh_until: now.saturating_add(keep),
                    fetched_at: now,
                }
            }
            Err((outcome, why)) => {
                metrics.jwks_fetched(outcome);
                tracing::warn!(jwks_uri = %uri, outcome, reason = %why,
                    "fetching a client's jwks_uri failed; its assertions are inactive until a fetch succeeds");
                match cached.filter(|e| now < e.fresh_until) {
                    // Refetched for an unknown kid: the set still in time
                    // stays, and answers for the kids it has.
                    Some(e) => Entry {
                        fetched_at: now,
                        ..e
                    },
                    None => Entry {
                        keys: None,
                        failure: format!("fetching {uri} failed: {why}"),
                        fresh_until: now.saturating_add(REFETCH_INTERVAL),
                        fetched_at: now,
                    },
                }
            }
        };
        let answer = entry.keys.clone().ok_or_else(|| entry.failure.clone());
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        // A URI no client asked about for a while (its client changed or
        // went) is forgotten: the cache holds what is in use, no more.
        cache.retain(|_, e| e.fresh_until.saturating_add(MAX_CACHE) > now);
        cache.insert(uri.to_string(), entry);
        answer
    }

    fn cached(&self, uri: &str) -> Option<Entry> {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(uri)
            .cloned()
    }

    /// One fetch: the key set and the answer's `max-age`, or the metric's
    /// outcome and why it failed.
    async fn fetch(&self, uri: &str) -> Result<(Keys, Option<i64>), (&'static str, String)> {
        let unreachable = |e: reqwest::Error| ("unreachable", e.to_string());
        let mut resp = self.http.get(uri).send().await.map_err(unreachable)?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(("status", format!("it answered {}", resp.status())));
        }
        let max_age = resp
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age);
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > MAX_BYTES {
                return Err(("too_large", format!("its answer is over {MAX_BYTES} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(body)
            .map_err(|_| ("invalid", "its answer is not UTF-8".to_string()))?;
        partner_rules::keys::check_jwks(&text).map_err(|why| ("invalid", why))?;
        Ok((Keys::parse(&text), max_age))
    }
}

/// The `max-age` of a `Cache-Control` value, in seconds (`no-store` and
/// `no-cache` as 0, which the bounds raise to [`REFETCH_INTERVAL`]).
fn max_age(value: &str) -> Option<i64> {
    value.split(',').map(str::trim).find_map(|d| {
        if d.eq_ignore_ascii_case("no-store") || d.eq_ignore_ascii_case("no-cache") {
            return Some(0);
        }
        d.strip_prefix("max-age=")
            .and_then(|n| n.trim_matches('"').parse::<i64>().ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_of_cache_control() {
        assert_eq!(max_age("public, max-age=600"), Some(600));
        assert_eq!(max_age("no-store"), Some(0));
        assert_eq!(max_age("private"), None);
        assert_eq!(max_age("max-age=x"), None);
    }
}
