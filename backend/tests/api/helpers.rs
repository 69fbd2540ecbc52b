//! Test harness: the app on port 0 with a fresh database and a ManualClock, on
//! the engine `PARTNER_REGISTRY_TEST_ENGINE` names: `sqlite` (the default) or
//! `postgres` (a fresh database in a throwaway cluster). `make test` runs the
//! whole suite once on each.

use acceptance_tests::bodies;
use acceptance_tests::postgres::{PgCluster, database_of};
use partner_registry::db::Target;
use partner_registry::records::Role;
use partner_registry::service::{self, WriteCtx};
use partner_registry::{Config, ManualClock, Running};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;

pub const START: &str = "2027-01-01T00:00:00Z";

pub use acceptance_tests::keys::AUDIENCE;

/// The engine this run of the suite tests.
pub fn engine_is_postgres() -> bool {
    match std::env::var("PARTNER_REGISTRY_TEST_ENGINE").as_deref() {
        Ok("postgres") => true,
        Ok("sqlite") | Err(_) => false,
        Ok(other) => panic!("PARTNER_REGISTRY_TEST_ENGINE={other}: use sqlite or postgres"),
    }
}

/// A fresh database of the engine under test.
pub fn fresh_target(dir: &std::path::Path) -> Target {
    if engine_is_postgres() {
        Target::Postgres(PgCluster::shared().new_database())
    } else {
        Target::Sqlite(dir.join("registry.db"))
    }
}

pub struct TestApp {
    pub url: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    pub target: Target,
    pub key_file: PathBuf,
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
        TestApp::spawn_with_limits(partner_registry::server::Limits::default()).await
    }

    /// A registry with these timeouts and connection limit.
    pub async fn spawn_with_limits(limits: partner_registry::server::Limits) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let target = fresh_target(dir.path());
        let key_file = dir.path().join("registry.key");
        let (admin, reviewer) = {
            let (target, key_file) = (target.clone(), key_file.clone());
            tokio::task::spawn_blocking(move || {
                partner_registry::open(&target, Some(&key_file), None, true).unwrap();
                (
                    create_token(&target, &key_file, "admin", Role::Admin, None),
                    create_token(&target, &key_file, "reviewer", Role::Reviewer, None),
                )
            })
            .await
            .unwrap()
        };
        let start =
            time::OffsetDateTime::parse(START, &time::format_description::well_known::Rfc3339)
                .unwrap();
        let clock = Arc::new(ManualClock::new(start));
        let running = start_registry(&target, &key_file, &clock, limits).await;
        TestApp {
            url: format!("http://{}", running.addr),
            http: reqwest::Client::new(),
            dir,
            target,
            key_file,
            clock,
            admin,
            reviewer,
            running: Some(running),
        }
    }

    /// Stops the server and starts a new one on the same database, key and
    /// clock (what a registry process keeps only in memory is gone).
    pub async fn restart(mut self) -> TestApp {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
        let limits = partner_registry::server::Limits::default();
        let running = start_registry(&self.target, &self.key_file, &self.clock, limits).await;
        self.url = format!("http://{}", running.addr);
        self.running = Some(running);
        self
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

    /// Creates a token as the CLI does, on the database directly, and waits
    /// until the server has followed the change.
    pub async fn token(&self, name: &str, role: Role, org: Option<&str>) -> String {
        let token = create_token(&self.target, &self.key_file, name, role, org);
        self.eventually(|| async {
            self.send("GET", "/v1/orgs?limit=1", Some(&token), None, &[])
                .await
                .status
                != 401
        })
        .await;
        token
    }

    /// Revokes a token as the CLI does, on the database directly.
    pub fn revoke_token(&self, name: &str) {
        let name = name.to_string();
        self.cli_write(move |tx, ctx| service::revoke_token(tx, ctx, &name));
    }

    /// Runs a write on the database directly, as the CLI (another process) would.
    pub fn cli_write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn partner_registry::db::Tx, &WriteCtx) -> partner_registry::Result<T>
        + Send
        + 'static,
    ) -> T {
        cli_write(&self.target, &self.key_file, f)
    }

    /// The server key.
    pub fn key(&self) -> partner_registry::crypto::SecretKey {
        partner_registry::crypto::SecretKey::load(&self.key_file).unwrap()
    }

    /// `audit verify`, as the CLI runs it (anchor first, then one consistent read).
    pub fn verify(&self) -> partner_registry::audit::AuditCheck {
        std::thread::scope(|s| {
            s.spawn(|| {
                let opened =
                    partner_registry::open(&self.target, Some(&self.key_file), None, false)
                        .unwrap();
                let anchor = opened
                    .anchor
                    .as_ref()
                    .map_or(partner_registry::audit::AnchorRead::NotKept, |a| a.read());
                opened
                    .db
                    .read(|r| partner_registry::audit::verify(r, &opened.key, &anchor))
                    .unwrap()
            })
            .join()
            .unwrap()
        })
    }

    /// Runs SQL on the database directly, as someone with write access to it
    /// (but not the key) could.
    pub fn sql(&self, sql: &str) {
        match &self.target {
            Target::Sqlite(path) => {
                let c = rusqlite::Connection::open(path).unwrap();
                c.execute_batch(sql).unwrap();
            }
            Target::Postgres(url) => {
                PgCluster::shared()
                    .psql(database_of(url), sql)
                    .assert_success();
            }
        }
    }

    /// Whether `sql` runs without an error.
    pub fn try_sql(&self, sql: &str) -> bool {
        match &self.target {
            Target::Sqlite(path) => rusqlite::Connection::open(path)
                .unwrap()
                .execute_batch(sql)
                .is_ok(),
            Target::Postgres(url) => {
                PgCluster::shared().psql(database_of(url), sql).code == Some(0)
            }
        }
    }

    /// The one value `sql` selects, as text.
    pub fn query_text(&self, sql: &str) -> String {
        query_text(&self.target, sql)
    }

    /// Polls `check` until it holds (at most 5 s) and returns how long it took.
    pub async fn eventually<F, Fut>(&self, mut check: F) -> std::time::Duration
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let start = std::time::Instant::now();
        while !check().await {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(5),
                "the condition did not hold within 5 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        start.elapsed()
    }

    /// The `--db` value of this app's database.
    pub fn db_arg(&self) -> String {
        match &self.target {
            Target::Sqlite(p) => p.display().to_string(),
            Target::Postgres(url) => url.clone(),
        }
    }

    /// Runs the `partner-registry` binary with this app's key file.
    pub fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_partner-registry"))
            .args(args)
            .env("PARTNER_REGISTRY_SECRET_KEY_FILE", &self.key_file)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Lifts the append-only protection of the audit trail, as an attacker with
    /// write access to the database could.
    pub fn drop_audit_triggers(&self) {
        self.sql(match self.target {
            Target::Sqlite(_) => {
                "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;"
            }
            Target::Postgres(_) => "ALTER TABLE audit_events DISABLE TRIGGER USER;",
        });
    }

    /// Everything the database holds, as bytes: the SQLite file and its WAL,
    /// or every row of the PostgreSQL database.
    pub fn stored_bytes(&self) -> Vec<u8> {
        match &self.target {
            Target::Sqlite(path) => {
                let mut all = std::fs::read(path).unwrap();
                let wal = PathBuf::from(format!("{}-wal", path.display()));
                all.extend(std::fs::read(wal).unwrap_or_default());
                all
            }
            Target::Postgres(url) => PgCluster::shared().dump(database_of(url)).into_bytes(),
        }
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

    /// A request to the review console, whose answers are HTML.
    pub async fn page(&self, method: &str, path: &str) -> Resp {
        let resp = self
            .http
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{}", self.url, path),
            )
            .send()
            .await
            .unwrap();
        let (status, headers) = (resp.status(), resp.headers().clone());
        let text = resp.text().await.unwrap();
        assert!(
            status.as_u16() < 500,
            "{method} {path} answered {status}: {text}"
        );
        Resp {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.send("GET", path, Some(token), None, &[]).await
    }
    /// `GET` that must answer 200; its body.
    pub async fn get_ok(&self, path: &str, token: &str) -> Value {
        self.get(path, token).await.expect(200).clone()
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

    /// `POST` of these bytes as they are, as the admin, without [`Self::send`]'s
    /// checks of the answer.
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.admin)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// `POST` as the admin that must answer 201; what it created.
    pub async fn create(&self, path: &str, body: Value) -> Value {
        self.post(path, &self.admin, body).await.expect(201).clone()
    }

    pub async fn create_org(&self, name: &str) -> Value {
        self.create("/v1/orgs", org_body(name)).await
    }

    pub async fn create_client(&self, org_id: &str, name: &str, scopes: &[&str]) -> Value {
        self.create("/v1/clients", client_body(org_id, name, scopes))
            .await
    }

    /// A client of a new org of its own.
    pub async fn create_client_in_new_org(&self, org: &str, name: &str, scopes: &[&str]) -> Value {
        let org = self.create_org(org).await;
        self.create_client(org["id"].as_str().unwrap(), name, scopes)
            .await
    }

    /// Introspects, as the admin, the secret of a client as its create answered it.
    pub async fn introspect_client(&self, client: &Value) -> Resp {
        let (id, secret) = (&client["client_id"], &client["client_secret"]);
        self.introspect(&self.admin, id.as_str().unwrap(), secret.as_str().unwrap())
            .await
    }

    /// `POST` as the admin with these headers (an `Idempotency-Key`).
    pub async fn post_with(&self, path: &str, body: Value, headers: &[(&str, &str)]) -> Resp {
        self.send("POST", path, Some(&self.admin), Some(body), headers)
            .await
    }

    /// `PATCH` as the admin with these headers (an `If-Match`).
    pub async fn patch_with(&self, path: &str, body: Value, headers: &[(&str, &str)]) -> Resp {
        self.send("PATCH", path, Some(&self.admin), Some(body), headers)
            .await
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

impl TestApp {
    /// Introspects `client_id` with an RFC 7523 client assertion, as admin.
    pub async fn introspect_assertion(&self, client_id: &str, assertion: &str) -> Resp {
        let body = acceptance_tests::keys::assertion_body(client_id, assertion);
        self.post("/v1/introspect", &self.admin, body).await
    }
}

/// A registry on `target` on port 0, on `clock`.
async fn start_registry(
    target: &Target,
    key_file: &std::path::Path,
    clock: &Arc<ManualClock>,
    limits: partner_registry::server::Limits,
) -> Running {
    partner_registry::start(
        Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            db: target.clone(),
            key_file: Some(key_file.to_path_buf()),
            audit_anchor: None,
            access_log: true,
            write_batch: partner_registry::db::MAX_BATCH,
            limits,
            tls: None,
            metrics_listen: None,
            assertion_audience: Some(AUDIENCE.into()),
        },
        clock.clone(),
    )
    .await
    .unwrap()
}

/// The one value `sql` selects on `target`, as text (`psql -At` prints it so).
pub fn query_text(target: &Target, sql: &str) -> String {
    match target {
        Target::Sqlite(path) => {
            use rusqlite::types::Value as V;
            let v: V = rusqlite::Connection::open(path)
                .unwrap()
                .query_row(sql, [], |r| r.get(0))
                .unwrap();
            match v {
                V::Null => String::new(),
                V::Integer(i) => i.to_string(),
                V::Real(f) => f.to_string(),
                V::Text(s) => s,
                V::Blob(b) => hex::encode(b),
            }
        }
        Target::Postgres(url) => {
            let out = PgCluster::shared().psql(database_of(url), sql);
            out.assert_success();
            out.stdout.trim().to_string()
        }
    }
}

/// Runs a write on `target` directly, as the CLI does: on a thread of its own,
/// outside the test's runtime, like the separate process it stands for.
pub fn cli_write<T: Send + 'static>(
    target: &Target,
    key_file: &std::path::Path,
    f: impl FnOnce(&mut dyn partner_registry::db::Tx, &WriteCtx) -> partner_registry::Result<T>
    + Send
    + 'static,
) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            let opened = partner_registry::open(target, Some(key_file), None, false).unwrap();
            let ctx = WriteCtx {
                key: opened.key.clone(),
                actor: service::cli_actor(),
                request_id: "cli_test".into(),
                change_ref: None,
                now: 0,
            };
            opened.db.write(move |tx| f(tx, &ctx)).unwrap().0
        })
        .join()
        .unwrap()
    })
}

/// Creates a token on `target` directly, as the CLI does.
pub fn create_token(
    target: &Target,
    key_file: &std::path::Path,
    name: &str,
    role: Role,
    org: Option<&str>,
) -> String {
    let flags = json!({"name": name, "role": role.as_str(), "org": org});
    cli_write(target, key_file, move |tx, ctx| {
        let draft = partner_registry::requests::parse_token(flags.as_object().unwrap());
        service::create_token(tx, ctx, draft).map(|t| t.token)
    })
}

/// The API suite's org: the shared body, with a contract start, a commercial
/// sponsor and an approval authority of the org's own, which the review and
/// approval tests name.
pub fn org_body(name: &str) -> Value {
    let mut body = bodies::org(
        name,
        "2027-06-30",
        &["orders:read", "orders:write", "invoices:read"],
    );
    body["approval_authority"] = json!(format!("boss@{name}.example"));
    body["commercial_sponsor"] = json!(format!("sales@{name}.example"));
    body["contract_start"] = json!("2026-01-01");
    body
}

/// The API suite's client: the shared body with the owner and purpose the
/// review tests name.
pub fn client_body(org_id: &str, name: &str, scopes: &[&str]) -> Value {
    let mut body = bodies::client(org_id, name, scopes);
    body["purpose"] = json!("sync orders");
    body["owner"] = json!("owner@partner.example");
    body
}

/// Creates an approver token bound to `email`, as the CLI does.
pub async fn approver(app: &TestApp, name: &str, email: &str) -> String {
    let flags = json!({"name": name, "role": "approver", "email": email});
    let token = app.cli_write(move |tx, ctx| {
        let draft = partner_registry::requests::parse_token(flags.as_object().unwrap());
        partner_registry::service::create_token(tx, ctx, draft).map(|t| t.token)
    });
    app.eventually(|| async { app.get("/v1/whoami", &token).await.status == 200 })
        .await;
    token
}

/// A supplied secret that meets the rule.
pub const STRONG: &str = "Correct-Horse-Battery-Staple-2027!xyz";

/// The string `field` of each item of the JSON array `items`.
pub fn field_of_each<'a>(items: &'a Value, field: &str) -> Vec<&'a str> {
    let items = items
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {items}"));
    items
        .iter()
        .map(|item| item[field].as_str().unwrap())
        .collect()
}

/// Whether an introspection answered active.
pub fn answered_active(r: &Resp) -> bool {
    r.expect(200)["active"] == true
}

/// `POST /v1/clients/{id}/rotate` with `body`.
pub async fn rotate(app: &TestApp, token: &str, id: &str, body: Value) -> Resp {
    app.post(&format!("/v1/clients/{id}/rotate"), token, body)
        .await
}

/// Polls GET /v1/clients/{id} (up to 2 s) until `last_used_at` equals `want`.
pub async fn wait_client_last_used(app: &TestApp, id: &str, want: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let got = app.get(&format!("/v1/clients/{id}"), &app.admin).await;
        let v = got.expect(200).clone();
        if v["last_used_at"] == want || std::time::Instant::now() > deadline {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
