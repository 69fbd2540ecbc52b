//! While the database cannot be reached, the credential cache
//! keeps serving its last good state for a bounded time, then every API call
//! answers 503 problem+json with Retry-After (never 401 or 500) and
//! introspection fails closed; it recovers by itself. Before the cache has
//! loaded, the registry is alive but not ready, and refuses the same way.

use acceptance_tests::postgres::{PgCluster, database_of};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_partner-registry");

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cli(db: &str, key: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .args(["--db", db])
        .env("PARTNER_REGISTRY_SECRET_KEY_FILE", key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A database of its own on `cluster`, initialised with its key in a
/// temporary folder, and an admin token.
struct RegistryData {
    db: String,
    _dir: tempfile::TempDir,
    key: std::path::PathBuf,
    token: String,
}

impl RegistryData {
    fn init(cluster: &PgCluster) -> RegistryData {
        let db = cluster.new_database();
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("registry.key");
        cli(&db, &key, &["init"]);
        let token = cli(
            &db,
            &key,
            &["token", "create", "--name", "admin", "--role", "admin"],
        );
        RegistryData {
            db,
            _dir: dir,
            key,
            token,
        }
    }

    /// `serve` at `listen`, its stdout piped.
    fn serve(&self, listen: &str) -> std::process::Child {
        Command::new(BIN)
            .args(["serve", "--listen", listen, "--db", &self.db])
            .env("PARTNER_REGISTRY_SECRET_KEY_FILE", &self.key)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }
}

/// One request: status, Retry-After, content type and body.
async fn send(
    c: &reqwest::Client,
    method: &str,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (u16, Option<String>, String, Value) {
    let mut rb = c
        .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url)
        .bearer_auth(token)
        .timeout(Duration::from_secs(10));
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.unwrap();
    let header = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (status, retry, ct) = (
        r.status().as_u16(),
        header("retry-after"),
        header("content-type").unwrap_or_default(),
    );
    let text = r.text().await.unwrap_or_default();
    (
        status,
        retry,
        ct,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_gives_503_with_retry_after_never_401() {
    let cluster = PgCluster::start();
    let registry = RegistryData::init(&cluster);
    let token = &registry.token;
    let mut child = registry.serve("127.0.0.1:0");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _serve = Serve(child);
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    let c = reqwest::Client::new();
    let start = Instant::now();
    while send(&c, "GET", format!("{url}/v1/orgs"), token, None)
        .await
        .0
        == 401
    {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "token never followed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let org = send(
        &c,
        "POST",
        format!("{url}/v1/orgs"),
        token,
        Some(acceptance_tests::bodies::org(
            "acme",
            "2099-12-31",
            &["a:read"],
        )),
    )
    .await
    .3;
    let made = send(
        &c,
        "POST",
        format!("{url}/v1/clients"),
        token,
        Some(json!({
            "org_id": org["id"], "name": "probe", "purpose": "probe",
            "owner": "o@acme.example", "scopes": ["a:read"],
        })),
    )
    .await
    .3;
    let credential =
        json!({"client_id": made["client_id"], "client_secret": made["client_secret"]});
    let introspect = || {
        send(
            &c,
            "POST",
            format!("{url}/v1/introspect"),
            token,
            Some(credential.clone()),
        )
    };
    assert_eq!(introspect().await.3["active"], true);
    let ready = || send(&c, "GET", format!("{url}/readyz"), "", None);
    assert_eq!(ready().await.0, 200);

    cluster.stop().assert_success();
    let down = Instant::now();
    let mut unavailable = 0;
    while down.elapsed() < Duration::from_secs(4) {
        for (status, retry, ct, body) in [
            send(&c, "GET", format!("{url}/v1/whoami"), token, None).await,
            introspect().await,
        ] {
            match status {
                200 if body.get("active").is_some() => {
                    // Introspection may vouch only within the staleness bound.
                    if down.elapsed() > Duration::from_secs(3) {
                        assert_eq!(
                            body["active"], false,
                            "vouched long after the outage: {body}"
                        );
                    }
                }
                200 => {}
                503 => {
                    unavailable += 1;
                    assert!(retry.is_some(), "503 without Retry-After: {body}");
                    assert_eq!(ct, "application/problem+json", "{body}");
                    assert_eq!(body["status"], 503, "{body}");
                }
                other => panic!("answered {other} while the database was down: {body}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(unavailable > 0, "the outage was never reported");
    let (status, retry, ct, body) = ready().await;
    assert_eq!(status, 503, "ready while the database is down: {body}");
    assert!(
        retry.is_some() && ct == "application/problem+json",
        "{body}"
    );

    cluster.start_again().assert_success();
    let up = Instant::now();
    loop {
        let whoami = send(&c, "GET", format!("{url}/v1/whoami"), token, None)
            .await
            .0;
        if whoami == 200 && introspect().await.3["active"] == true && ready().await.0 == 200 {
            break;
        }
        assert!(up.elapsed() < Duration::from_secs(15), "never recovered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The registry serves `/healthz` as soon as it listens; until its
/// credential cache has loaded (here held back by a lock on the clients
/// table), `/readyz` and every API call answer 503 with Retry-After, and it
/// prints `listening on` only once it is ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_until_the_credential_cache_has_loaded() {
    let cluster = PgCluster::start();
    let registry = RegistryData::init(&cluster);
    let token = &registry.token;
    let mut lock = cluster.session(database_of(&registry.db));
    let mut sql = lock.stdin.take().unwrap();
    writeln!(
        sql,
        "BEGIN; LOCK TABLE clients IN ACCESS EXCLUSIVE MODE; SELECT 'locked';"
    )
    .unwrap();
    let mut rows = BufReader::new(lock.stdout.take().unwrap());
    let mut locked = String::new();
    rows.read_line(&mut locked).unwrap();
    assert_eq!(locked.trim(), "locked");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let mut child = registry.serve(&format!("127.0.0.1:{port}"));
    let stdout = child.stdout.take().unwrap();
    let _serve = Serve(child);
    let c = reqwest::Client::new();
    let started = Instant::now();
    while c
        .get(format!("{url}/healthz"))
        .send()
        .await
        .map_or(true, |r| r.status() != 200)
    {
        assert!(started.elapsed() < Duration::from_secs(10), "never alive");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (method, path, auth, body) in [
        ("GET", "/readyz", "", None),
        ("GET", "/v1/whoami", token.as_str(), None),
        (
            "POST",
            "/v1/introspect",
            token.as_str(),
            Some(json!({"client_id": "pc_x", "client_secret": "pcs_x"})),
        ),
    ] {
        let (status, retry, ct, answer) =
            send(&c, method, format!("{url}{path}"), auth, body).await;
        assert_eq!(status, 503, "{path} while the cache loads: {answer}");
        assert!(retry.is_some(), "{path}: 503 without Retry-After");
        assert_eq!(ct, "application/problem+json", "{path}");
        assert!(
            answer["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("loading"),
            "{path}: {answer}"
        );
    }

    writeln!(sql, "COMMIT;").unwrap();
    drop(sql);
    let ready = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    assert_eq!(ready.trim(), format!("listening on {url}"));
    assert_eq!(
        send(&c, "GET", format!("{url}/readyz"), "", None).await.0,
        200
    );
    assert_eq!(
        send(&c, "GET", format!("{url}/v1/whoami"), token, None)
            .await
            .0,
        200
    );
    assert!(lock.wait().unwrap().success());
}
