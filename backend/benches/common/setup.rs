//! What the in-process registry benches share: a number from the
//! environment, an admin token made the CLI's way, and a server's settings.

use partner_registry::Config;
use partner_registry::db::Target;
use partner_registry::requests::parse_token;
use partner_registry::service::{self, WriteCtx};
use std::path::PathBuf;

/// The environment variable `name` as a number, or `default`.
pub fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// An admin API token for the registry on `target`, created as the CLI does,
/// on a thread of its own (the CLI path blocks; callers run inside the runtime).
pub fn admin_token(target: &Target, key_file: &std::path::Path) -> String {
    let (target, key_file) = (target.clone(), key_file.to_path_buf());
    std::thread::spawn(move || {
        let opened = partner_registry::open(&target, Some(&key_file), None, true).expect("open");
        let ctx = WriteCtx {
            key: opened.key.clone(),
            actor: service::cli_actor(),
            request_id: "bench".into(),
            change_ref: None,
            now: 0,
        };
        opened
            .db
            .write(move |tx| {
                let flags = serde_json::json!({"name": "bench", "role": "admin"});
                service::create_token(tx, &ctx, parse_token(flags.as_object().expect("flags")))
            })
            .expect("token")
            .0
            .token
    })
    .join()
    .expect("token thread")
}

/// A server on `target` at a free loopback port, committing up to
/// `write_batch` writes at once; no access log, TLS or metrics.
pub fn config(target: Target, key_file: PathBuf, write_batch: usize) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        db: target,
        key_file: Some(key_file),
        audit_anchor: None,
        access_log: false,
        write_batch,
        limits: partner_registry::server::Limits::default(),
        tls: None,
        metrics_listen: None,
        assertion_audience: None,
    }
}

/// `POST` of `body` to `url` with `token`; the answer's JSON.
pub async fn post_json(
    http: &reqwest::Client,
    url: String,
    token: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    http.post(&url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"))
}
