#![allow(dead_code)]
//! Test harness: the app on port 0 with a fresh database and a ManualClock.

use partner_registry::store::{self, Role};
use partner_registry::{Config, ManualClock, Running};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;

pub const START: &str = "2027-01-01T00:00:00Z";

pub struct TestApp {
    pub url: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub clock: Arc<ManualClock>,
    pub admin: String,
    pub reviewer: String,
    running: Option<Running>,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl std::fmt::Debug for Resp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.text)
    }
}

impl Resp {
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        &self.body
    }
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }
    /// Fields named in a problem's `errors`.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e["field"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
    pub fn error_message(&self, field: &str) -> String {
        self.body["errors"]
            .as_array()
            .and_then(|a| a.iter().find(|e| e["field"] == field))
            .map(|e| e["message"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("registry.db");
        let (admin, reviewer) = {
            let chain = chain_of(&db);
            let mut c = store::open_connection(&db).unwrap();
            store::migrate(&mut c, &chain).unwrap();
            (
                store::token_create(&mut c, &chain, "admin", Role::Admin, None, 0).unwrap(),
                store::token_create(&mut c, &chain, "reviewer", Role::Reviewer, None, 0).unwrap(),
            )
        };
        let start =
            time::OffsetDateTime::parse(START, &time::format_description::well_known::Rfc3339)
                .unwrap();
        let clock = Arc::new(ManualClock::new(start));
        let running = partner_registry::start(
            Config {
                listen: "127.0.0.1:0".parse().unwrap(),
                db: db.clone(),
                key_file: Some(dir.path().join("registry.db.key")),
                access_log: true,
            },
            clock.clone(),
        )
        .await
        .unwrap();
        TestApp {
            url: format!("http://{}", running.addr),
            http: reqwest::Client::new(),
            dir,
            db,
            clock,
            admin,
            reviewer,
            running: Some(running),
        }
    }

    /// Stops the server; the returned directory keeps the database files alive.
    pub async fn shutdown(mut self) -> tempfile::TempDir {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
        self.dir
    }

    pub fn set_time(&self, rfc3339: &str) {
        self.clock.set(
            time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
                .unwrap(),
        );
    }

    pub fn token(&self, name: &str, role: Role, org: Option<&str>) -> String {
        let mut c = store::open_connection(&self.db).unwrap();
        store::token_create(&mut c, &self.chain(), name, role, org, 0).unwrap()
    }

    /// The server key and audit head of this app's database, as the CLI loads them.
    pub fn chain(&self) -> store::Chain {
        chain_of(&self.db)
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut rb = self.http.request(
            Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{}", self.url, path),
        );
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        assert!(
            status.as_u16() < 500,
            "{method} {path} answered {status}: {text}"
        );
        if !status.is_success() {
            let ct = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            assert_eq!(
                ct, "application/problem+json",
                "{method} {path} {status} not a problem: {text}"
            );
        }
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.send("GET", path, Some(token), None, &[]).await
    }
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.send("POST", path, Some(token), Some(body), &[]).await
    }
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Resp {
        self.send("PATCH", path, Some(token), Some(body), &[]).await
    }
    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.send("DELETE", path, Some(token), None, &[]).await
    }

    pub async fn create_org(&self, name: &str) -> Value {
        self.post("/v1/orgs", &self.admin, org_body(name))
            .await
            .expect(201)
            .clone()
    }

    pub async fn create_client(&self, org_id: &str, name: &str, scopes: &[&str]) -> Value {
        self.post(
            "/v1/clients",
            &self.admin,
            client_body(org_id, name, scopes),
        )
        .await
        .expect(201)
        .clone()
    }

    pub async fn introspect(&self, token: &str, client_id: &str, secret: &str) -> Resp {
        self.post(
            "/v1/introspect",
            token,
            json!({"client_id": client_id, "client_secret": secret}),
        )
        .await
    }
}

/// The chain of the database at `db`, with the key file `<db>.key` (created if missing).
pub fn chain_of(db: &std::path::Path) -> store::Chain {
    let key = partner_registry::crypto::SecretKey::load_or_create(
        &partner_registry::crypto::SecretKey::default_path(db),
    )
    .unwrap();
    store::Chain::new(key, db)
}

pub fn org_body(name: &str) -> Value {
    json!({
        "name": name,
        "legal_entity": format!("{name} Ltd"),
        "technical_owner": format!("tech@{name}.example"),
        "approval_authority": format!("boss@{name}.example"),
        "commercial_sponsor": format!("sales@{name}.example"),
        "contract_id": format!("C-{name}"),
        "contract_start": "2026-01-01",
        "contract_end": "2027-06-30",
        "allowed_scopes": ["orders:read", "orders:write", "invoices:read"],
    })
}

pub fn client_body(org_id: &str, name: &str, scopes: &[&str]) -> Value {
    json!({
        "org_id": org_id,
        "name": name,
        "purpose": "sync orders",
        "owner": "owner@partner.example",
        "scopes": scopes,
    })
}
