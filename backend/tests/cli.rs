//! The real binary: `serve` (listening line, signals, fake clock), `token`, `audit verify`.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_partner-registry");

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `serve` on `db` at a free port, its output piped, without an inherited
/// key-file setting.
fn serve_command(db: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            db.to_str().unwrap(),
        ])
        .env_remove("PARTNER_REGISTRY_SECRET_KEY_FILE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

struct Server {
    child: Child,
    /// The rest of its stdout, after the `listening on` line.
    stdout: BufReader<std::process::ChildStdout>,
    url: String,
}

impl Drop for Server {
    /// A failing test leaves no server behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(db: &Path, extra: &[&str]) -> Server {
        let mut child = serve_command(db).args(extra).spawn().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let line = line.trim_end().to_string();
        let rest = line
            .strip_prefix("listening on http://127.0.0.1:")
            .or_else(|| line.strip_prefix("listening on https://127.0.0.1:"))
            .unwrap_or_else(|| panic!("first line: {line:?}"));
        assert!(rest.parse::<u16>().unwrap() > 0, "{line}");
        Server {
            url: line.strip_prefix("listening on ").unwrap().to_string(),
            child,
            stdout,
        }
    }

    /// SIGTERM, wait, and return (exit code, stderr).
    fn stop(mut self) -> (i32, String) {
        let st = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            stderr.read_to_string(&mut err).unwrap();
        }
        let mut out = String::new();
        self.stdout.read_to_string(&mut out).unwrap();
        (status.code().unwrap_or(-1), format!("{out}{err}"))
    }
}

fn token(db: &Path, name: &str, role: &str, org: Option<&str>) -> String {
    let mut args = vec![
        "token",
        "create",
        "--db",
        db.to_str().unwrap(),
        "--name",
        name,
        "--role",
        role,
    ];
    if let Some(o) = org {
        args.extend(["--org", o]);
    }
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "token create failed: {err}");
    assert_eq!(
        out.lines().count(),
        1,
        "stdout must be the token alone: {out:?}"
    );
    let t = out.trim().to_string();
    assert!(t.starts_with("prt_"), "{t}");
    t
}

/// Creates the org `acme` with its contract's end and scopes; the org.
async fn create_acme(url: &str, admin: &str, contract_end: &str, scopes: &[&str]) -> Value {
    let body = acceptance_tests::bodies::org("acme", contract_end, scopes);
    let (s, org) = call(url, "POST", "/v1/orgs", admin, Some(body)).await;
    assert_eq!(s, 201, "{org}");
    org
}

async fn call(url: &str, method: &str, path: &str, tok: &str, body: Option<Value>) -> (u16, Value) {
    let c = reqwest::Client::new();
    let mut rb = c
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{url}{path}"),
        )
        .bearer_auth(tok);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.unwrap();
    let s = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        s,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Moves the fake clock of the server at `url` to `at`.
async fn set_clock(url: &str, admin: &str, at: &str) {
    let (s, body) = call(url, "PUT", "/v1/clock", admin, Some(json!({"now": at}))).await;
    assert_eq!(s, 200, "{body}");
}

/// Waits until `GET path` with `tok` answers `want`, which must take less than a
/// second: the server follows changes made by other processes within that bound.
async fn settles(url: &str, path: &str, tok: &str, want: u16) {
    let start = std::time::Instant::now();
    loop {
        let (s, body) = call(url, "GET", path, tok, None).await;
        if s == want {
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(1),
            "still {s} instead of {want} after a second: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn serve_tokens_secrets_and_audit_verify_with_the_real_binary() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let dbs = db.to_str().unwrap();
    let (code, _, err) = run(&["init", "--db", dbs]);
    assert_eq!(code, 0, "{err}");
    let admin = token(&db, "admin", "admin", None);
    let server = Server::start(&db, &[]);
    let url = server.url.clone();
    let (s, _) = call(&url, "GET", "/healthz", "", None).await;
    assert_eq!(s, 200);
    // Without --fake-clock the clock route does not exist.
    let (s, _) = call(
        &url,
        "PUT",
        "/v1/clock",
        &admin,
        Some(json!({"now": "2030-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(s, 404);
    // Not even as a known path with another method.
    let (s, _) = call(&url, "GET", "/v1/clock", &admin, None).await;
    assert_eq!(s, 404);
    let org = create_acme(&url, &admin, "2099-12-31", &["read"]).await;
    let oid = org["id"].as_str().unwrap();
    let (s, client) = call(
        &url,
        "POST",
        "/v1/clients",
        &admin,
        Some(json!({"org_id": oid, "name": "shop", "purpose": "p", "owner": "o@acme.example", "scopes": ["read"]})),
    )
    .await;
    assert_eq!(s, 201, "{client}");
    let secret = client["client_secret"].as_str().unwrap().to_string();

    // Tokens made and revoked by the CLI while the server runs count within a second.
    let org_tok = token(&db, "acme-ci", "org", Some(oid));
    settles(&url, &format!("/v1/orgs/{oid}"), &org_tok, 200).await;
    let (code, out, _) = run(&["token", "list", "--db", dbs]);
    assert_eq!(code, 0);
    assert!(
        out.contains("acme-ci") && out.contains("admin") && !out.contains("prt_"),
        "{out}"
    );
    let (code, _, err) = run(&["token", "revoke", "--db", dbs, "--name", "acme-ci"]);
    assert_eq!(code, 0, "{err}");
    settles(&url, &format!("/v1/orgs/{oid}"), &org_tok, 401).await;
    let (code, _, err) = run(&[
        "token", "create", "--db", dbs, "--name", "x", "--role", "org",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("--org"), "{err}");

    let (code, logs) = server.stop();
    assert_eq!(code, 0, "graceful exit: {logs}");
    assert!(
        !logs.contains(&secret),
        "the secret appeared in the server's output"
    );
    assert!(logs.contains("POST /v1/clients 201"), "{logs}");
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let p = entry.unwrap().path();
        let bytes = std::fs::read(&p).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "secret in {}",
            p.display()
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("r.db.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // audit verify: intact, then a flipped byte is named.
    let (code, out, err) = run(&["audit", "verify", "--db", dbs]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "audit chain intact: 5 events");
    // The key is found as serve finds it; another key is refused as not this
    // registry's, and a missing one is an error rather than a new key.
    let other_key = dir.path().join("other.key");
    std::fs::write(&other_key, format!("{}\n", "ab".repeat(32))).unwrap();
    let verify_with = |key: &Path| {
        Command::new(BIN)
            .args(["audit", "verify", "--db", dbs])
            .env("PARTNER_REGISTRY_SECRET_KEY_FILE", key)
            .output()
            .unwrap()
    };
    let out = verify_with(&other_key);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not verify the audit chain"),
        "{out:?}"
    );
    let out = verify_with(&dir.path().join("missing.key"));
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.key"));
    assert!(!dir.path().join("missing.key").exists());
    assert_eq!(
        verify_with(&dir.path().join("r.db.key")).status.code(),
        Some(0)
    );
    // Tampering by `sql` makes `audit verify` fail, naming event `seq`.
    let tamper = |sql: &str, seq: u32| {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(sql).unwrap();
        drop(c);
        let (code, out, err) = run(&["audit", "verify", "--db", dbs]);
        assert_ne!(code, 0, "{out}");
        assert!(err.contains(&format!("sequence number {seq}")), "{err}");
    };
    // Removing the newest event is named through the head file.
    let saved = std::fs::read(&db).unwrap();
    tamper(
        "DROP TRIGGER audit_events_no_delete; DELETE FROM audit_events WHERE seq = 5;",
        5,
    );
    std::fs::write(&db, saved).unwrap();
    let (code, _, err) = run(&["audit", "verify", "--db", dbs]);
    assert_eq!(code, 0, "{err}");
    tamper(
        "DROP TRIGGER audit_events_no_update; \
         UPDATE audit_events SET after = replace(after, 'acme', 'acmf') WHERE seq = 2;",
        2,
    );
}

/// A new registry `r.db` in `dir` with an admin token, served on a fake clock
/// at 2027-01-01T00:00:00Z: its database, that token and the server.
fn fake_clock_registry(dir: &Path) -> (std::path::PathBuf, String, Server) {
    let db = dir.join("r.db");
    let (code, _, err) = run(&["init", "--db", db.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let admin = token(&db, "admin", "admin", None);
    let server = Server::start(&db, &["--fake-clock", "2027-01-01T00:00:00Z"]);
    (db, admin, server)
}

#[tokio::test]
async fn fake_clock_moves_time_for_other_processes() {
    let dir = tempfile::tempdir().unwrap();
    let (_, admin, server) = fake_clock_registry(dir.path());
    let url = server.url.clone();
    let org = create_acme(&url, &admin, "2027-06-30", &[]).await;
    assert_eq!(org["created_at"], "2027-01-01T00:00:00Z");
    set_clock(&url, &admin, "2027-07-01T00:00:00Z").await;
    let (_, org) = call(
        &url,
        "GET",
        &format!("/v1/orgs/{}", org["id"].as_str().unwrap()),
        &admin,
        None,
    )
    .await;
    assert_eq!(org["status"], "expired");
    let (code, logs) = server.stop();
    assert_eq!(code, 0, "{logs}");
}

/// Runs the binary with `envs` and no inherited key-file setting.
fn run_env(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .envs(envs.iter().copied())
        .env_remove("PARTNER_REGISTRY_SECRET_KEY_FILE")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A mistyped --db creates nothing and says so in one line, whatever
/// RUST_BACKTRACE says.
#[test]
fn a_mistyped_db_creates_nothing_and_errors_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("registyr.db");
    for backtrace in ["0", "1", "full"] {
        let (code, out, err) = run_env(
            &[
                "token",
                "create",
                "--db",
                typo.to_str().unwrap(),
                "--name",
                "ci",
                "--role",
                "admin",
            ],
            &[("RUST_BACKTRACE", backtrace)],
        );
        assert_ne!(code, 0, "RUST_BACKTRACE={backtrace}: {out}{err}");
        assert!(out.is_empty(), "no token printed: {out:?}");
        assert_eq!(
            err.lines().count(),
            1,
            "RUST_BACKTRACE={backtrace}: {err:?}"
        );
        assert!(err.starts_with("error: "), "{err:?}");
        assert!(err.contains("registyr.db"), "{err:?}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "nothing may be created"
        );
    }
}

/// The database, its WAL and SHM and the key are mode 0600.
#[test]
#[cfg(unix)]
fn the_database_files_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("registry.db");
    let (code, _, err) = run_env(&["init", "--db", db.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    token(&db, "ci", "admin", None);
    // A reader keeps the WAL and SHM files in place while their modes are read.
    let server = keep_open(&db);
    for name in [
        "registry.db",
        "registry.db-wal",
        "registry.db-shm",
        "registry.db.key",
    ] {
        let path = dir.path().join(name);
        let mode = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{name} is {mode:o}");
    }
    server.stop();
}

/// Keeps `db` open (as a running server would), so that SQLite keeps its
/// WAL and SHM files.
fn keep_open(db: &Path) -> Server {
    Server::start(db, &[])
}

/// A registry that holds data never starts without its key, nor with
/// a key that is not its own, and says which file is wrong.
#[test]
fn serve_refuses_a_missing_or_foreign_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("registry.db");
    let key = dir.path().join("registry.db.key");
    let (code, _, err) = run_env(&["init", "--db", db.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    token(&db, "ci", "admin", None);

    let other = tempfile::tempdir().unwrap();
    let other_db = other.path().join("other.db");
    let (code, _, err) = run_env(&["init", "--db", other_db.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    token(&other_db, "x", "admin", None);
    let original = std::fs::read(&key).unwrap();

    std::fs::remove_file(&key).unwrap();
    let err = serve_must_refuse(&db);
    assert!(err.contains(key.to_str().unwrap()), "{err}");
    assert!(err.contains("missing"), "{err}");
    assert!(!key.exists(), "no new key may be made");

    std::fs::copy(other.path().join("other.db.key"), &key).unwrap();
    let err = serve_must_refuse(&db);
    assert!(err.contains("does not verify"), "{err}");

    // With its own key back, it serves (and shuts down cleanly).
    std::fs::write(&key, original).unwrap();
    let server = Server::start(&db, &[]);
    let addr = server.url.trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    std::io::Write::write_all(
        &mut stream,
        format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let (code, _) = server.stop();
    assert_eq!(code, 0);
}

/// Starts `serve` on `db` and expects it to exit with an error before it
/// ever listens (so `/healthz` never answers); returns its stderr.
fn serve_must_refuse(db: &Path) -> String {
    let mut child = serve_command(db).spawn().unwrap();
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > std::time::Duration::from_secs(10) {
            let _ = child.kill();
            panic!("serve kept running without its key");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!status.success(), "{out}{err}");
    assert!(!out.contains("listening"), "it listened: {out}");
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(err.starts_with("error: "), "{err:?}");
    err
}

/// `audit verify` run again and again while the registry writes never
/// reports a break that is not there; a real removal of the newest events is
/// still caught.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_during_writes_never_cries_wolf() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let (code, _, err) = run_env(&["init", "--db", db.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    let admin = token(&db, "admin", "admin", None);
    let server = Server::start(&db, &[]);
    let url = server.url.clone();
    let writer = tokio::spawn(async move {
        for i in 0..80 {
            let body =
                acceptance_tests::bodies::org(&format!("org-{i}"), "2099-12-31", &["a:read"]);
            let (s, b) = call(&url, "POST", "/v1/orgs", &admin, Some(body)).await;
            assert_eq!(s, 201, "{b}");
        }
    });
    let dbs = db.to_str().unwrap().to_string();
    let mut runs = 0;
    while !writer.is_finished() || runs < 20 {
        let dbs = dbs.clone();
        let (code, out, err) =
            tokio::task::spawn_blocking(move || run(&["audit", "verify", "--db", &dbs]))
                .await
                .unwrap();
        assert_eq!(code, 0, "run {runs} reported a break: {out}{err}");
        assert!(out.starts_with("audit chain intact"), "{out}");
        runs += 1;
    }
    writer.await.unwrap();
    let (code, _) = server.stop();
    assert_eq!(code, 0);

    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(
            "DROP TRIGGER audit_events_no_delete; \
             DELETE FROM audit_events WHERE seq > (SELECT max(seq) - 2 FROM audit_events);",
        )
        .unwrap();
    }
    let (code, out, err) = run(&["audit", "verify", "--db", &dbs]);
    assert_ne!(code, 0, "a removed tail must be caught: {out}");
    assert!(
        err.contains("missing") || err.contains("sequence number"),
        "{err}"
    );
}

/// `serve --tls-cert/--tls-key` answers HTTPS; SIGHUP loads a new
/// certificate for new connections while open ones go on, and a broken file
/// leaves the current certificate in place.
#[tokio::test]
async fn tls_certificates_reload_on_sighup_without_dropping_connections() {
    use acceptance_tests::certs::TestCa;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let (code, _, err) = run(&["init", "--db", db.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (first, second) = (TestCa::new("first-ca"), TestCa::new("second-ca"));
    let (cert, key) = (dir.path().join("tls.pem"), dir.path().join("tls.key"));
    let install = |ca: &TestCa| {
        let files = ca.server("registry");
        std::fs::copy(&files.cert, &cert).unwrap();
        std::fs::copy(&files.key, &key).unwrap();
    };
    install(&first);
    let mut server = Server::start(
        &db,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(server.url.starts_with("https://"), "{}", server.url);
    let trusting = |ca: &TestCa| {
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(ca.pem.as_bytes()).unwrap())
            .build()
            .unwrap()
    };
    let healthz = format!("{}/healthz", server.url);
    let kept = trusting(&first);
    assert_eq!(kept.get(&healthz).send().await.unwrap().status(), 200);
    assert!(
        trusting(&second).get(&healthz).send().await.is_err(),
        "a client trusting only the second CA must refuse the first certificate"
    );

    install(&second);
    let hangup = |pid: u32| {
        let st = Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    };
    hangup(server.child.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while trusting(&second).get(&healthz).send().await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the new certificate was not served within 10 s of SIGHUP"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The connection opened before the reload is still served.
    assert_eq!(kept.get(&healthz).send().await.unwrap().status(), 200);
    assert!(trusting(&first).get(&healthz).send().await.is_err());

    std::fs::write(&cert, "not a certificate").unwrap();
    hangup(server.child.id());
    let mut log = BufReader::new(server.child.stderr.take().unwrap());
    // The log stays open: the server goes on writing to it.
    let (said, _log) = tokio::task::spawn_blocking(move || {
        let mut said = String::new();
        while !said.contains("kept the current TLS certificate") {
            if log.read_line(&mut said).unwrap() == 0 {
                break;
            }
        }
        (said, log)
    })
    .await
    .unwrap();
    assert!(said.contains("reloaded the TLS certificate"), "{said}");
    assert!(said.contains("kept the current TLS certificate"), "{said}");
    assert!(said.contains("tls.pem"), "the error names the file: {said}");
    assert_eq!(
        trusting(&second)
            .get(&healthz)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let (code, err) = server.stop();
    assert_eq!(code, 0, "{err}");
}

/// `serve --log-format json`: one JSON object a line for every request, with
/// its id, route template, status, caller and change reference, and never a
/// token or secret, even at trace level; `/metrics` counts what happened, on
/// the API port for admin and reviewer tokens and on `--metrics-listen`
/// without one; `/readyz` answers ready.
#[tokio::test]
async fn json_logs_and_metrics_tell_what_happened_and_never_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let (code, _, err) = run(&["init", "--db", db.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let admin = token(&db, "admin", "admin", None);
    let mut server = Server::start(
        &db,
        &[
            "--log-format",
            "json",
            "--log-level",
            "trace",
            "--metrics-listen",
            "127.0.0.1:0",
        ],
    );
    let mut second = String::new();
    server.stdout.read_line(&mut second).unwrap();
    let metrics_url = second
        .trim()
        .strip_prefix("metrics on ")
        .unwrap_or_else(|| panic!("second line: {second:?}"))
        .to_string();
    let url = server.url.clone();
    let http = reqwest::Client::new();
    let org = create_acme(&url, &admin, "2099-12-31", &["read"]).await;
    let oid = org["id"].as_str().unwrap();
    let created = http
        .post(format!("{url}/v1/clients"))
        .bearer_auth(&admin)
        .header("X-Change-Ref", "https://git.example/pr/7")
        .header("X-Request-Id", "req-from-ci-42")
        .json(
            &json!({"org_id": oid, "name": "shop", "purpose": "p", "owner": "o@acme.example",
                      "scopes": ["read"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.headers()["x-request-id"], "req-from-ci-42");
    let client: Value = created.json().await.unwrap();
    let (cid, secret) = (
        client["client_id"].as_str().unwrap().to_string(),
        client["client_secret"].as_str().unwrap().to_string(),
    );
    let (s, gone) = call(
        &url,
        "POST",
        "/v1/clients",
        &admin,
        Some(
            json!({"org_id": oid, "name": "gone", "purpose": "p", "owner": "o@acme.example",
                    "scopes": ["read"]}),
        ),
    )
    .await;
    assert_eq!(s, 201, "{gone}");
    let revoked = format!("/v1/clients/{}", gone["id"].as_str().unwrap());
    assert_eq!(call(&url, "DELETE", &revoked, &admin, None).await.0, 200);
    for (id, secret) in [
        (cid.as_str(), secret.as_str()),
        (cid.as_str(), "pcs_wrong"),
        ("pc_nobody", "x"),
        (
            gone["client_id"].as_str().unwrap(),
            gone["client_secret"].as_str().unwrap(),
        ),
    ] {
        let (s, _) = call(
            &url,
            "POST",
            "/v1/introspect",
            &admin,
            Some(json!({"client_id": id, "client_secret": secret})),
        )
        .await;
        assert_eq!(s, 200);
    }
    let (s, _) = call(
        &url,
        "GET",
        &format!("/v1/clients/{}", client["id"].as_str().unwrap()),
        &admin,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(call(&url, "GET", "/readyz", "", None).await.0, 200);

    let scraped = http
        .get(format!("{url}/metrics"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(scraped.status(), 200);
    let text = scraped.text().await.unwrap();
    let value = |series: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    };
    for outcome in ["active", "bad_secret", "unknown", "revoked"] {
        assert_eq!(
            value(&format!(
                "partner_registry_introspections_total{{outcome=\"{outcome}\"}}"
            )),
            1.0
        );
    }
    assert_eq!(
        value(
            "partner_registry_http_requests_total{method=\"POST\",route=\"/v1/orgs\",status=\"201\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            "partner_registry_http_requests_total{method=\"GET\",route=\"/v1/clients/{id}\",status=\"200\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            "partner_registry_http_request_duration_seconds_count{route=\"/v1/clients\",status=\"201\"}"
        ),
        2.0
    );
    assert_eq!(value("partner_registry_cache_credentials"), 1.0);
    // The token's creation, the org's, two clients' and one revocation.
    assert_eq!(value("partner_registry_audit_chain_length"), 5.0);
    assert!(value("partner_registry_write_transactions_total") >= 2.0);
    assert!(
        text.contains("partner_registry_db_call_duration_seconds_bucket"),
        "{text}"
    );
    // Without a token on the API port: 401; on the metrics address: served.
    assert_eq!(call(&url, "GET", "/metrics", "", None).await.0, 401);
    let open = http.get(&metrics_url).send().await.unwrap();
    assert_eq!(open.status(), 200);
    assert!(
        open.text()
            .await
            .unwrap()
            .contains("partner_registry_http_requests_total")
    );

    let (code, log) = server.stop();
    assert_eq!(code, 0, "{log}");
    let lines: Vec<Value> = log
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let create = lines
        .iter()
        .find(|l| l["route"] == "/v1/clients" && l["method"] == "POST")
        .unwrap_or_else(|| panic!("no line for the create in\n{log}"));
    assert_eq!(create["status"], 201);
    assert_eq!(create["request_id"], "req-from-ci-42");
    assert_eq!(create["caller"], "admin");
    assert_eq!(create["role"], "admin");
    assert_eq!(create["change_ref"], "https://git.example/pr/7");
    assert!(
        create["timestamp"].is_string() && create["level"] == "INFO",
        "{create}"
    );
    assert!(
        lines.iter().any(|l| l["route"] == "/v1/clients/{id}"),
        "routes are logged by template: {log}"
    );
    for needle in [admin.as_str(), secret.as_str(), &admin[4..]] {
        assert!(
            !log.contains(needle),
            "the log holds a secret or token:\n{log}"
        );
    }
}

/// `token list` in JSON, parsed: its `items` by name.
fn token_list_json(dbs: &str, extra: &[&str]) -> std::collections::BTreeMap<String, Value> {
    let mut args = vec!["token", "list", "--db", dbs, "--format", "json"];
    args.extend(extra);
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("prt_"), "a token in the list: {out}");
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap().to_string(), t.clone()))
        .collect()
}

/// Where each whitespace-separated field of `line` starts.
fn field_starts(line: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut previous = ' ';
    for (i, c) in line.char_indices() {
        if c != ' ' && previous == ' ' {
            starts.push(i);
        }
        previous = c;
    }
    starts
}

/// `token create --expires-in`.
fn create_expiring(dbs: &str, name: &str, role: &str, expires_in: &str) -> (i32, String, String) {
    let flags = [
        "--db",
        dbs,
        "--name",
        name,
        "--role",
        role,
        "--expires-in",
        expires_in,
    ];
    run(&[&["token", "create"][..], &flags].concat())
}

#[test]
fn token_list_has_a_header_columns_and_json_and_expires_in_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let dbs = db.to_str().unwrap();
    let (code, _, err) = run(&["init", "--db", dbs]);
    assert_eq!(code, 0, "{err}");
    token(&db, "admin", "admin", None);
    let (code, out, err) = create_expiring(dbs, "nightly", "reviewer", "1h30m");
    assert_eq!(code, 0, "{err}");
    assert!(out.trim().starts_with("prt_"), "{out}");
    token(&db, "gone", "admin", None);
    let (code, _, err) = run(&["token", "revoke", "--db", dbs, "--name", "gone"]);
    assert_eq!(code, 0, "{err}");

    // A lifetime that breaks the rule names the flag and the rule, and makes nothing.
    for bad in ["30d", "0s", "87601h", "1 hour"] {
        let (code, out, err) = create_expiring(dbs, "bad", "admin", bad);
        assert_ne!(code, 0, "{bad} accepted");
        assert!(out.is_empty(), "{out}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("--expires-in")
                && err.contains("such as 720h")
                && err.contains("at most 87600h"),
            "{bad}: {err}"
        );
    }
    let (code, _, err) = run(&[
        "token", "create", "--db", dbs, "--name", "nightly", "--role", "org",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("--org") && err.contains("--name"), "{err}");

    // Text: a header, then one line per token, in aligned columns.
    let (code, out, err) = run(&["token", "list", "--db", dbs]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("prt_"), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>().join(" "),
        "NAME ROLE ORG STATUS CREATED CREATED_BY EXPIRES LAST_USED REVOKED"
    );
    let rows: Vec<Vec<&str>> = lines[1..]
        .iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 3, "{out}");
    let row = |name: &str| {
        rows.iter()
            .find(|r| r[0] == name)
            .unwrap_or_else(|| panic!("{name}: {out}"))
    };
    assert_eq!(row("admin")[1..4], ["admin", "-", "active"]);
    assert_eq!(row("admin")[5..], ["cli", "-", "-", "-"]);
    assert_eq!(row("nightly")[3], "active");
    assert_ne!(row("nightly")[6], "-");
    assert_eq!(row("gone")[3], "revoked");
    assert_ne!(row("gone")[8], "-");
    for line in &lines {
        // Every value of this list is one word, so the fields are the columns.
        assert_eq!(
            field_starts(line)[..8],
            field_starts(lines[0])[..8],
            "{out}"
        );
    }

    // JSON: what GET /v1/tokens answers.
    let tokens = token_list_json(dbs, &[]);
    assert_eq!(tokens.len(), 3);
    let nightly = &tokens["nightly"];
    assert_eq!(nightly["role"], "reviewer");
    assert_eq!(nightly["created_by"], "cli");
    assert_eq!(nightly["status"], "active");
    let at = |v: &Value| partner_registry::records::parse_ts(v.as_str().unwrap()).unwrap();
    assert_eq!(
        at(&nightly["expires_at"]) - at(&nightly["created_at"]),
        5400
    );
    assert_eq!(tokens["admin"]["expires_at"], Value::Null);
    assert_eq!(tokens["gone"]["status"], "revoked");
    assert_eq!(row("nightly")[6], nightly["expires_at"]);
    // As of a later time, the short one reads expired.
    let later = token_list_json(dbs, &["--now", "2099-01-01T00:00:00Z"]);
    assert_eq!(later["nightly"]["status"], "expired");
    assert_eq!(later["admin"]["status"], "active");
}

#[tokio::test]
async fn a_token_made_through_the_api_expires_on_the_real_binarys_fake_clock() {
    let dir = tempfile::tempdir().unwrap();
    let (db, admin, server) = fake_clock_registry(dir.path());
    let dbs = db.to_str().unwrap();
    let url = server.url.clone();
    let (s, made) = call(
        &url,
        "POST",
        "/v1/tokens",
        &admin,
        Some(json!({"name": "short", "role": "reviewer", "expires_in": "1h"})),
    )
    .await;
    assert_eq!(s, 201, "{made}");
    let short = made["token"].as_str().unwrap().to_string();
    assert_eq!(made["expires_at"], "2027-01-01T01:00:00Z");
    let (s, who) = call(&url, "GET", "/v1/whoami", &short, None).await;
    assert_eq!(s, 200, "{who}");
    let (s, _) = call(&url, "GET", "/v1/tokens", &short, None).await;
    assert_eq!(s, 403);
    set_clock(&url, &admin, "2027-01-01T01:00:01Z").await;
    let (s, body) = call(&url, "GET", "/v1/whoami", &short, None).await;
    assert_eq!(s, 401, "{body}");
    assert_eq!(body["status"], 401);
    let (code, logs) = server.stop();
    assert_eq!(code, 0, "{logs}");
    assert!(logs.contains("POST /v1/tokens 201"), "{logs}");
    assert!(
        !logs.contains(&short[4..]),
        "the token in the server's output: {logs}"
    );
    // The server wrote the last uses it held when it stopped.
    let tokens = token_list_json(dbs, &["--now", "2027-01-01T02:00:00Z"]);
    let t = &tokens["short"];
    assert_eq!(t["created_by"], "admin");
    assert_eq!(t["created_at"], "2027-01-01T00:00:00Z");
    assert_eq!(t["status"], "expired");
    assert_eq!(t["last_used_at"], "2027-01-01T00:00:00Z");
    assert_eq!(tokens["admin"]["status"], "active");
}
