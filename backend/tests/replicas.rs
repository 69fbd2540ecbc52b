//! Several `partner-registry serve` processes on one PostgreSQL database, as
//! behind a load balancer: changes made through one replica reach the others'
//! introspection within a second; concurrent writers spread over replicas keep
//! quotas, unique names, If-Match and Idempotency-Key; a replica killed with
//! SIGKILL loses no acknowledged write; a PostgreSQL restart gives only 2xx
//! and 503 answers and the replicas recover by themselves. Also: a SQLite
//! registry copied to PostgreSQL keeps working, and SQLite survives SIGKILL
//! at random moments during writes.

use acceptance_tests::bodies;
use acceptance_tests::postgres::PgCluster;
use acceptance_tests::{Process, run};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_partner-registry");

/// A registry's data: a `--db` value and its key file.
struct Data {
    db: String,
    key: PathBuf,
    _dir: tempfile::TempDir,
}

impl Data {
    fn postgres(cluster: &PgCluster) -> Data {
        let dir = tempfile::tempdir().unwrap();
        let data = Data {
            db: cluster.new_database(),
            key: dir.path().join("registry.key"),
            _dir: dir,
        };
        data.cli(&["init"]).assert_success();
        data
    }

    /// A new SQLite file of this name in a directory of its own.
    fn sqlite(file: &str) -> Data {
        let dir = tempfile::tempdir().unwrap();
        let data = Data {
            db: dir.path().join(file).display().to_string(),
            key: dir.path().join(format!("{file}.key")),
            _dir: dir,
        };
        data.cli(&["init"]).assert_success();
        data
    }

    fn cli(&self, args: &[&str]) -> acceptance_tests::Run {
        run(Command::new(BIN)
            .args(args)
            .args(["--db", &self.db])
            .env("PARTNER_REGISTRY_SECRET_KEY_FILE", &self.key))
    }

    fn token(&self, name: &str) -> String {
        let r = self.cli(&["token", "create", "--name", name, "--role", "admin"]);
        r.assert_success();
        r.stdout.trim().to_string()
    }

    fn verify(&self) -> acceptance_tests::Run {
        self.cli(&["audit", "verify"])
    }

    fn serve(&self) -> Replica {
        self.serve_with(&[])
    }

    /// A replica started with these further `serve` flags.
    fn serve_with(&self, flags: &[&str]) -> Replica {
        let mut process = Process::spawn(
            Command::new(BIN)
                .args(["serve", "--listen", "127.0.0.1:0", "--db", &self.db])
                .args(flags)
                .env("PARTNER_REGISTRY_SECRET_KEY_FILE", &self.key)
                .env("PARTNER_REGISTRY_ACCESS_LOG", "0"),
        );
        let line = process.next_line().unwrap_or_default();
        let url = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("serve printed {line:?}\n{process}"))
            .to_string();
        Replica {
            url,
            _process: process,
        }
    }
}

/// One running replica; killed (SIGKILL) when dropped.
struct Replica {
    url: String,
    _process: Process,
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Sends one request; the status, the `Retry-After` header, and the JSON body.
fn send(
    c: &reqwest::blocking::Client,
    method: &str,
    url: String,
    token: &str,
    body: Option<Value>,
    headers: &[(&str, String)],
) -> (u16, Option<String>, Value) {
    let mut rb = c
        .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url)
        .bearer_auth(token);
    for (k, v) in headers {
        rb = rb.header(*k, v);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    match rb.send() {
        Ok(r) => {
            let status = r.status().as_u16();
            let retry = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(String::from);
            let text = r.text().unwrap_or_default();
            (
                status,
                retry,
                serde_json::from_str(&text).unwrap_or(Value::Null),
            )
        }
        Err(e) => (0, None, json!({"transport": e.to_string()})),
    }
}

type Answer = (u16, Option<String>, Value);

fn get(c: &reqwest::blocking::Client, url: String, token: &str) -> Answer {
    send(c, "GET", url, token, None, &[])
}

fn post(c: &reqwest::blocking::Client, url: String, token: &str, body: Value) -> Answer {
    send(c, "POST", url, token, Some(body), &[])
}

fn delete(c: &reqwest::blocking::Client, url: String, token: &str) -> Answer {
    send(c, "DELETE", url, token, None, &[])
}

/// An org with room for `max_clients`, its contract far in the future.
fn org_body(name: &str, max_clients: i64) -> Value {
    let mut body = bodies::org(name, "2099-12-31", &["orders:read", "orders:write"]);
    body["max_clients"] = json!(max_clients);
    body
}

/// Creates an org through the replica at `url`; its id.
fn create_org(
    c: &reqwest::blocking::Client,
    url: &str,
    token: &str,
    name: &str,
    max_clients: i64,
) -> String {
    let (status, _, org) = post(
        c,
        format!("{url}/v1/orgs"),
        token,
        org_body(name, max_clients),
    );
    assert_eq!(status, 201, "{org}");
    org["id"].as_str().unwrap().to_string()
}

fn client_body(org: &str, name: &str) -> Value {
    bodies::client(org, name, &["orders:read"])
}

fn introspect(
    c: &reqwest::blocking::Client,
    r: &Replica,
    token: &str,
    id: &str,
    secret: &str,
) -> bool {
    let (status, _, body) = post(
        c,
        format!("{}/v1/introspect", r.url),
        token,
        json!({"client_id": id, "client_secret": secret}),
    );
    assert_eq!(status, 200, "{body}");
    body["active"] == true
}

/// Polls `f` until true; how long it took (panics after 10 s).
fn until(mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(10), "never happened");
        std::thread::sleep(Duration::from_millis(10));
    }
    start.elapsed()
}

#[test]
fn changes_through_one_replica_reach_the_others_within_a_second() {
    let cluster = PgCluster::shared();
    let data = Data::postgres(cluster);
    let token = data.token("admin");
    let (a, b, c3) = (data.serve(), data.serve(), data.serve());
    let c = http();
    let org_id = &create_org(&c, &a.url, &token, "acme", 10);
    let mut clients = Vec::new();
    for name in ["revoked", "rotated", "offboarded"] {
        let (s, _, cl) = post(
            &c,
            format!("{}/v1/clients", a.url),
            &token,
            client_body(org_id, name),
        );
        assert_eq!(s, 201, "{cl}");
        clients.push(cl);
    }
    let creds = |cl: &Value| {
        (
            cl["id"].as_str().unwrap().to_string(),
            cl["client_id"].as_str().unwrap().to_string(),
            cl["client_secret"].as_str().unwrap().to_string(),
        )
    };
    let (rid, rcid, rsecret) = creds(&clients[0]);
    let (tid, tcid, tsecret) = creds(&clients[1]);
    // Created on A, active on B and C as soon as they follow.
    until(|| {
        introspect(&c, &b, &token, &rcid, &rsecret) && introspect(&c, &c3, &token, &rcid, &rsecret)
    });

    // A revocation on A: B and C answer inactive within a second.
    let (s, _, _) = delete(&c, format!("{}/v1/clients/{rid}", a.url), &token);
    assert_eq!(s, 200);
    assert!(
        !introspect(&c, &a, &token, &rcid, &rsecret),
        "the writing replica at once"
    );
    let took = until(|| {
        !introspect(&c, &b, &token, &rcid, &rsecret)
            && !introspect(&c, &c3, &token, &rcid, &rsecret)
    });
    assert!(took < Duration::from_secs(1), "revocation took {took:?}");

    // A rotation without overlap on B ends the old secret on A and C.
    let (s, _, rotated) = post(
        &c,
        format!("{}/v1/clients/{tid}/rotate", b.url),
        &token,
        json!({"grace_period": "0s"}),
    );
    assert_eq!(s, 200, "{rotated}");
    let new_secret = rotated["client_secret"].as_str().unwrap().to_string();
    let took = until(|| {
        !introspect(&c, &a, &token, &tcid, &tsecret)
            && !introspect(&c, &c3, &token, &tcid, &tsecret)
            && introspect(&c, &a, &token, &tcid, &new_secret)
    });
    assert!(took < Duration::from_secs(1), "rotation took {took:?}");

    // Offboarding on C ends every client on A and B.
    let (_, ocid, osecret) = creds(&clients[2]);
    let (s, _, _) = delete(&c, format!("{}/v1/orgs/{org_id}", c3.url), &token);
    assert_eq!(s, 200);
    let took = until(|| {
        !introspect(&c, &a, &token, &ocid, &osecret) && !introspect(&c, &b, &token, &ocid, &osecret)
    });
    assert!(took < Duration::from_secs(1), "offboarding took {took:?}");

    // A token revoked through the CLI stops on every replica.
    let temp = data.token("temp");
    until(|| get(&c, format!("{}/v1/orgs", b.url), &temp).0 == 200);
    data.cli(&["token", "revoke", "--name", "temp"])
        .assert_success();
    let took = until(|| {
        [&a, &b, &c3]
            .iter()
            .all(|r| get(&c, format!("{}/v1/orgs", r.url), &temp).0 == 401)
    });
    assert!(
        took < Duration::from_secs(1),
        "token revocation took {took:?}"
    );
    data.verify().assert_success();
}

#[test]
fn a_client_assertion_accepted_by_one_replica_is_refused_by_the_other() {
    use acceptance_tests::keys::{AUDIENCE, TestKey, assertion_body, jwks};
    let data = Data::postgres(PgCluster::shared());
    let token = data.token("admin");
    // Both on the same settable clock's instant: 2027-01-01T00:00:00Z.
    let now = 1_798_761_600;
    let flags = [
        "--fake-clock",
        "2027-01-01T00:00:00Z",
        "--assertion-audience",
        AUDIENCE,
    ];
    let (ra, rb) = (data.serve_with(&flags), data.serve_with(&flags));
    let c = http();
    // By URL: a replica's process handle stays on this thread.
    let post = |url: &str, path: &str, body: Value| post(&c, format!("{url}{path}"), &token, body);
    let (a, b) = (ra.url.as_str(), rb.url.as_str());
    let (s, _, org) = post(a, "/v1/orgs", org_body("acme", 10));
    assert_eq!(s, 201, "{org}");
    let key = TestKey::generate("k1");
    let mut body = client_body(org["id"].as_str().unwrap(), "signer");
    body["auth_method"] = json!("private_key_jwt");
    body["jwks"] = jwks(&[&key]);
    let (s, _, client) = post(a, "/v1/clients", body);
    assert_eq!(s, 201, "{client}");
    let cid = client["client_id"].as_str().unwrap();
    let active = |url: &str, jti: &str| {
        let assertion = key.assertion(cid, AUDIENCE, now + 120, jti);
        let (s, _, answer) = post(url, "/v1/introspect", assertion_body(cid, &assertion));
        assert_eq!(s, 200, "{answer}");
        answer["active"] == true
    };
    // B knows the client once its cache follows (each try a fresh jti).
    let mut tries = 0;
    until(|| {
        tries += 1;
        active(b, &format!("warm-{tries}"))
    });

    assert!(active(a, "once"), "the first use, on A");
    assert!(!active(b, "once"), "the same assertion on B");
    assert!(!active(a, "once"), "and on A again");
    data.verify().assert_success();

    // The same assertion at the same moment on both: exactly one answers active.
    let both = std::thread::scope(|s| {
        let on_a = s.spawn(|| active(a, "raced"));
        let on_b = s.spawn(|| active(b, "raced"));
        [on_a.join().unwrap(), on_b.join().unwrap()]
    });
    assert_eq!(both.iter().filter(|x| **x).count(), 1, "{both:?}");
}

#[test]
fn concurrent_writers_on_three_replicas_keep_every_invariant() {
    let cluster = PgCluster::shared();
    let data = Data::postgres(cluster);
    let token = data.token("admin");
    let replicas = [data.serve(), data.serve(), data.serve()];
    let c = http();
    let url = |i: usize| replicas[i % replicas.len()].url.clone();
    let org_id = create_org(&c, &url(0), &token, "quota", 5);
    let (_, _, target) = post(
        &c,
        format!("{}/v1/clients", url(0)),
        &token,
        client_body(&org_id, "target"),
    );
    let target_id = target["id"].as_str().unwrap().to_string();
    let other_id = create_org(&c, &url(1), &token, "names", 100);

    // 32 writers at once, spread over the replicas: 12 create distinct clients
    // at a quota with 4 places left, 8 create the same name, 8 update one
    // client under If-Match, 4 replay one Idempotency-Key.
    let results: Vec<(&str, u16, Value)> = std::thread::scope(|s| {
        let mut handles = Vec::new();
        for i in 0..32usize {
            let (c, token, org_id, other_id, target_id) =
                (&c, &token, &org_id, &other_id, &target_id);
            let base = url(i);
            handles.push(s.spawn(move || match i {
                0..12 => {
                    let (st, _, b) = post(
                        c,
                        format!("{base}/v1/clients"),
                        token,
                        client_body(org_id, &format!("c{i}")),
                    );
                    ("quota", st, b)
                }
                12..20 => {
                    let (st, _, b) = post(
                        c,
                        format!("{base}/v1/clients"),
                        token,
                        client_body(other_id, "same-name"),
                    );
                    ("name", st, b)
                }
                20..28 => {
                    let (_, _, cur) = get(c, format!("{base}/v1/clients/{target_id}"), token);
                    let version = cur["version"].as_i64().unwrap();
                    let (st, _, b) = send(
                        c,
                        "PATCH",
                        format!("{base}/v1/clients/{target_id}"),
                        token,
                        Some(json!({"purpose": format!("writer {i}")})),
                        &[("if-match", format!("\"{version}\""))],
                    );
                    ("update", st, b)
                }
                _ => {
                    let (st, _, b) = send(
                        c,
                        "POST",
                        format!("{base}/v1/clients"),
                        token,
                        Some(client_body(other_id, "keyed")),
                        &[("idempotency-key", "one-key".to_string())],
                    );
                    ("idem", st, b)
                }
            }));
        }
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let count = |kind: &str, status: u16| {
        results
            .iter()
            .filter(|(k, s, _)| *k == kind && *s == status)
            .count()
    };
    for (kind, status, body) in &results {
        assert!(
            [200, 201, 412, 422, 409].contains(status),
            "{kind} {status} {body}"
        );
    }
    // The quota held: exactly 4 more (5 active in all).
    assert_eq!(count("quota", 201), 4, "{results:#?}");
    assert_eq!(count("quota", 422), 8);
    let (_, _, listed) = get(
        &c,
        format!("{}/v1/clients?org_id={org_id}&status=active", url(2)),
        &token,
    );
    assert_eq!(listed["items"].as_array().unwrap().len(), 5);
    // One client of that name.
    assert_eq!(count("name", 201), 1, "{results:#?}");
    // No lost update: every acknowledged update moved the version by one.
    let updated = count("update", 200);
    assert!(updated >= 1);
    assert_eq!(updated + count("update", 412), 8);
    let (_, _, now) = get(&c, format!("{}/v1/clients/{target_id}", url(1)), &token);
    assert_eq!(now["version"].as_i64().unwrap(), 1 + updated as i64);
    // One create for one key, replayed to every caller.
    let ids: std::collections::BTreeSet<&str> = results
        .iter()
        .filter(|(k, s, _)| *k == "idem" && *s == 201)
        .map(|(_, _, b)| b["id"].as_str().unwrap())
        .collect();
    assert_eq!(count("idem", 201), 4);
    assert_eq!(ids.len(), 1, "{ids:?}");
    // One chain, no gap or fork.
    let verified = data.verify();
    verified.assert_success();
    assert!(verified.stdout.contains("intact"), "{}", verified.stdout);
}

#[test]
fn a_replica_killed_during_writes_loses_no_acknowledged_write() {
    let cluster = PgCluster::shared();
    let data = Data::postgres(cluster);
    let token = data.token("admin");
    let survivor = data.serve();
    let victim = data.serve();
    let c = http();
    let org_id = create_org(&c, &survivor.url, &token, "kill", 100_000);
    let acknowledged: Vec<String> = std::thread::scope(|s| {
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let (c, token, org_id, url) = (&c, &token, &org_id, victim.url.clone());
                s.spawn(move || {
                    let mut ok = Vec::new();
                    for n in 0..1000 {
                        let (st, _, b) = post(
                            c,
                            format!("{url}/v1/clients"),
                            token,
                            client_body(org_id, &format!("w{w}-{n}")),
                        );
                        if st == 0 {
                            break; // the replica is gone
                        }
                        assert_eq!(st, 201, "{b}");
                        ok.push(b["id"].as_str().unwrap().to_string());
                    }
                    ok
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(700));
        drop(victim); // SIGKILL
        writers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    assert!(!acknowledged.is_empty());
    for id in &acknowledged {
        let (st, _, b) = get(&c, format!("{}/v1/clients/{id}", survivor.url), &token);
        assert_eq!(st, 200, "acknowledged {id} lost: {b}");
    }
    data.verify().assert_success();
}

#[test]
fn a_postgresql_restart_gives_only_2xx_and_503_and_the_replica_recovers() {
    let cluster = PgCluster::start();
    let data = Data::postgres(&cluster);
    let token = data.token("admin");
    let replica = data.serve();
    let c = http();
    let org_id = create_org(&c, &replica.url, &token, "restart", 1000);
    let (_, _, cl) = post(
        &c,
        format!("{}/v1/clients", replica.url),
        &token,
        client_body(&org_id, "probe"),
    );
    let (cid, secret) = (
        cl["client_id"].as_str().unwrap().to_string(),
        cl["client_secret"].as_str().unwrap().to_string(),
    );
    let stop = std::sync::atomic::AtomicBool::new(false);
    let saw_503 = std::sync::atomic::AtomicBool::new(false);
    let statuses: Vec<(u16, Option<String>, Value)> = std::thread::scope(|s| {
        let load = s.spawn(|| {
            let mut seen = Vec::new();
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                n += 1;
                seen.push(get(&c, format!("{}/v1/orgs/{org_id}", replica.url), &token));
                seen.push(post(
                    &c,
                    format!("{}/v1/clients", replica.url),
                    &token,
                    client_body(&org_id, &format!("n{n}")),
                ));
                let (st, r, b) = post(
                    &c,
                    format!("{}/v1/introspect", replica.url),
                    &token,
                    json!({"client_id": cid, "client_secret": secret}),
                );
                seen.push((st, r, b));
                if seen.iter().any(|(st, _, _)| *st == 503) {
                    saw_503.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            }
            seen
        });
        std::thread::sleep(Duration::from_millis(300));
        cluster.stop().assert_success();
        // Down until the replica has answered 503 (or 10 s have passed).
        let down = Instant::now();
        while !saw_503.load(std::sync::atomic::Ordering::SeqCst)
            && down.elapsed() < Duration::from_secs(10)
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(500));
        cluster.start_again().assert_success();
        std::thread::sleep(Duration::from_millis(500));
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        load.join().unwrap()
    });
    let unavailable = statuses.iter().filter(|(s, _, _)| *s == 503).count();
    for (status, retry, body) in &statuses {
        match status {
            200 | 201 => {}
            503 => {
                assert!(retry.is_some(), "503 without Retry-After: {body}");
                assert_eq!(body["status"], 503, "{body}");
            }
            other => panic!("answered {other} while the database restarted: {body}"),
        }
    }
    assert!(
        unavailable > 0,
        "the database was never seen down: {:?}",
        statuses.iter().map(|(s, _, _)| *s).collect::<Vec<_>>()
    );
    // Recovers by itself.
    until(|| get(&c, format!("{}/v1/orgs/{org_id}", replica.url), &token).0 == 200);
    until(|| introspect(&c, &replica, &token, &cid, &secret));
    let (st, _, b) = post(
        &c,
        format!("{}/v1/clients", replica.url),
        &token,
        client_body(&org_id, "after"),
    );
    assert_eq!(st, 201, "{b}");
    data.verify().assert_success();
}

/// A PostgreSQL database as the release before the attributes column left
/// it (each custodian in a column of its own) keeps every client's
/// custodian through the migration that moves it into that column.
#[test]
fn custodians_kept_in_their_own_column_survive_the_move_into_the_attributes() {
    let cluster = PgCluster::shared();
    let data = Data::postgres(cluster);
    let token = data.token("admin");
    let c = http();
    let created = {
        let r = data.serve();
        let org_id = create_org(&c, &r.url, &token, "acme", 10);
        let mut held = client_body(&org_id, "held");
        held["custodian"] = json!("ops@msp.example");
        [
            (held, json!("ops@msp.example")),
            (client_body(&org_id, "own"), Value::Null),
        ]
        .map(|(body, custodian)| {
            let (status, _, client) = post(&c, format!("{}/v1/clients", r.url), &token, body);
            assert_eq!(status, 201, "{client}");
            (client["id"].as_str().unwrap().to_string(), custodian)
        })
    };
    // Undo the migration by hand: the custodians back in their column, the
    // schema at the version before.
    cluster
        .psql(
            acceptance_tests::postgres::database_of(&data.db),
            "ALTER TABLE clients ADD COLUMN custodian TEXT;
             UPDATE clients SET custodian = attributes::json->>'custodian';
             ALTER TABLE clients DROP COLUMN attributes;
             UPDATE schema_version SET version = version - 1;",
        )
        .assert_success();
    let r = data.serve();
    for (id, custodian) in created {
        let (status, _, client) = get(&c, format!("{}/v1/clients/{id}", r.url), &token);
        assert_eq!(status, 200, "{client}");
        assert_eq!(client["custodian"], custodian, "{client}");
    }
    data.verify().assert_success();
}

#[test]
fn a_sqlite_registry_copied_to_postgresql_keeps_its_tokens_secrets_and_chain() {
    let sqlite = Data::sqlite("old.db");
    let token = sqlite.token("admin");
    let c = http();
    let (org_id, cid, secret, idem_body) = {
        let r = sqlite.serve();
        let org_id = create_org(&c, &r.url, &token, "moving", 10);
        let mut moved = client_body(&org_id, "moved");
        moved["custodian"] = json!("ops@msp.example");
        let (st, _, cl) = send(
            &c,
            "POST",
            format!("{}/v1/clients", r.url),
            &token,
            Some(moved.clone()),
            &[("idempotency-key", "move-1".to_string())],
        );
        assert_eq!(st, 201);
        let (st, _, made) = post(
            &c,
            format!("{}/v1/tokens", r.url),
            &token,
            json!({"name": "ci", "role": "reviewer", "expires_at": "2030-01-01T00:00:00Z"}),
        );
        assert_eq!(st, 201, "{made}");
        let (st, _, campaign) = post(
            &c,
            format!("{}/v1/reviews/campaigns", r.url),
            &token,
            json!({"org_id": org_id}),
        );
        assert_eq!(st, 201, "{campaign}");
        (
            org_id.clone(),
            cl["client_id"].as_str().unwrap().to_string(),
            cl["client_secret"].as_str().unwrap().to_string(),
            moved,
        )
    };
    // A last use as the server writes it (off the request path, so set here).
    rusqlite::Connection::open(&sqlite.db)
        .unwrap()
        .execute(
            "UPDATE api_tokens SET last_used_at = 1800000000 WHERE name = 'ci'",
            [],
        )
        .unwrap();
    rusqlite::Connection::open(&sqlite.db)
        .unwrap()
        .execute(
            "INSERT INTO client_usage_daily (client_ref, day, count) SELECT id, 20000, 7 FROM clients",
            [],
        )
        .unwrap();
    // A client assertion's jti used a moment ago (the server claims it so).
    rusqlite::Connection::open(&sqlite.db)
        .unwrap()
        .execute(
            "INSERT INTO assertion_jtis (client_id, jti, expires_at) VALUES ('pc_x', 'j1', 1800000300)",
            [],
        )
        .unwrap();
    let cluster = PgCluster::shared();
    let url = cluster.new_database();
    let copy = run(Command::new(BIN)
        .args(["storage", "copy", "--from", &sqlite.db, "--to", &url])
        .env("PARTNER_REGISTRY_SECRET_KEY_FILE", &sqlite.key));
    copy.assert_success();
    assert!(copy.stderr.contains("1 orgs"), "{}", copy.stderr);
    // A second copy into the same database is refused.
    let again = run(Command::new(BIN)
        .args(["storage", "copy", "--from", &sqlite.db, "--to", &url])
        .env("PARTNER_REGISTRY_SECRET_KEY_FILE", &sqlite.key));
    assert_ne!(again.code, Some(0));
    assert!(again.stderr.contains("not empty"), "{}", again.stderr);
    // A token's lifetime, maker and last use came along.
    let ci = cluster.psql(
        acceptance_tests::postgres::database_of(&url),
        "SELECT created_by || ' ' || expires_at || ' ' || last_used_at FROM api_tokens WHERE name = 'ci'",
    );
    ci.assert_success();
    assert_eq!(ci.stdout.trim(), "admin 1893456000 1800000000");
    // So did the access review, the usage counts and the used jtis.
    let reviews = cluster.psql(
        acceptance_tests::postgres::database_of(&url),
        "SELECT (SELECT COUNT(*) FROM review_campaigns) || ' ' || (SELECT COUNT(*) FROM review_items) \
         || ' ' || (SELECT SUM(count) FROM client_usage_daily) \
         || ' ' || (SELECT string_agg(jti, ',') FROM assertion_jtis)",
    );
    reviews.assert_success();
    assert_eq!(reviews.stdout.trim(), "1 1 7 j1");
    // And the client's descriptive attributes.
    let attributes = cluster.psql(
        acceptance_tests::postgres::database_of(&url),
        "SELECT attributes FROM clients WHERE name = 'moved'",
    );
    attributes.assert_success();
    assert_eq!(
        attributes.stdout.trim(),
        r#"{"custodian":"ops@msp.example"}"#
    );
    let pg = Data {
        db: url,
        key: sqlite.key.clone(),
        _dir: tempfile::tempdir().unwrap(),
    };
    let verified = pg.verify();
    verified.assert_success();
    let r = pg.serve();
    assert!(
        introspect(&c, &r, &token, &cid, &secret),
        "the same secret works"
    );
    let (st, _, org) = get(&c, format!("{}/v1/orgs/{org_id}", r.url), &token);
    assert_eq!(st, 200, "the same token works: {org}");
    // The idempotency record came along: a replay answers the first create.
    let (st, _, replay) = send(
        &c,
        "POST",
        format!("{}/v1/clients", r.url),
        &token,
        Some(idem_body),
        &[("idempotency-key", "move-1".to_string())],
    );
    assert_eq!(st, 201);
    assert_eq!(replay["client_id"], cid.as_str());
    // New writes continue the chain and the ids.
    let (st, _, _) = post(
        &c,
        format!("{}/v1/clients", r.url),
        &token,
        client_body(&org_id, "new"),
    );
    assert_eq!(st, 201);
    pg.verify().assert_success();
}

/// Every row a client create acknowledged, after SIGKILL of the registry at a
/// random moment during a stream of writes, 20 times over: still there, the
/// file intact, the audit chain intact.
#[test]
fn sqlite_keeps_every_acknowledged_write_through_sigkill() {
    let data = Data::sqlite("soak.db");
    let token = data.token("admin");
    let c = http();
    let org_id = {
        let r = data.serve();
        create_org(&c, &r.url, &token, "soak", 100_000)
    };
    let mut acknowledged: Vec<String> = Vec::new();
    for trial in 0..20u64 {
        let victim = data.serve();
        // A pseudo-random moment from 50 to 450 ms into the writes.
        let after = Duration::from_millis(50 + (trial * 7919) % 400);
        let acked: Vec<String> = std::thread::scope(|s| {
            let writers: Vec<_> = (0..3)
                .map(|w| {
                    let (c, token, org_id, url) = (&c, &token, &org_id, victim.url.clone());
                    s.spawn(move || {
                        let mut ok = Vec::new();
                        for n in 0.. {
                            let name = format!("t{trial}-w{w}-{n}");
                            let (st, _, b) = post(
                                c,
                                format!("{url}/v1/clients"),
                                token,
                                client_body(org_id, &name),
                            );
                            if st != 201 {
                                break;
                            }
                            ok.push(b["id"].as_str().unwrap().to_string());
                        }
                        ok
                    })
                })
                .collect();
            std::thread::sleep(after);
            drop(victim);
            writers
                .into_iter()
                .flat_map(|w| w.join().unwrap())
                .collect()
        });
        acknowledged.extend(acked);
        let integrity: String = rusqlite::Connection::open(&data.db)
            .unwrap()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(integrity, "ok", "trial {trial}");
        data.verify().assert_success();
    }
    assert!(acknowledged.len() > 20, "too few writes to mean anything");
    let r = data.serve();
    for id in &acknowledged {
        let (st, _, b) = get(&c, format!("{}/v1/clients/{id}", r.url), &token);
        assert_eq!(st, 200, "acknowledged {id} lost: {b}");
    }
}
