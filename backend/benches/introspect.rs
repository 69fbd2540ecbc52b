//! Throughput and p99 of `POST /v1/introspect` against a bare warp handler, on
//! loopback: the registry on SQLite, and two replicas on one PostgreSQL.
//!
//! `cargo bench -p partner-registry --bench introspect` (optionally
//! `BENCH_REQUESTS=N BENCH_CONNECTIONS=C`). Bounded: N requests per target, then it stops.

use acceptance_tests::postgres::PgCluster;
use partner_registry::db::Target;
use partner_registry::requests::parse_token;
use partner_registry::service::{self, WriteCtx};
use partner_registry::{Config, SystemClock};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use warp::Filter;

// This bench sends as fast as answered: the paced load is for `scale`.
#[allow(dead_code)]
#[path = "common/load.rs"]
mod load;
use load::{load, request};

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A registry on `target` serving from `replicas` processes' worth of servers
/// (in this process) on one database, with an admin token and one client;
/// the servers and an introspection request for that client.
async fn registry(
    target: Target,
    key_file: std::path::PathBuf,
    replicas: usize,
) -> (Vec<partner_registry::Running>, Arc<Vec<u8>>) {
    let admin = {
        let (target, key_file) = (target.clone(), key_file.clone());
        // Outside the runtime: the CLI path blocks.
        std::thread::spawn(move || {
            let opened =
                partner_registry::open(&target, Some(&key_file), None, true).expect("open");
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
    };
    let mut servers = Vec::new();
    for _ in 0..replicas {
        servers.push(
            partner_registry::start(
                Config {
                    listen: "127.0.0.1:0".parse().expect("addr"),
                    db: target.clone(),
                    key_file: Some(key_file.clone()),
                    audit_anchor: None,
                    access_log: false,
                    write_batch: partner_registry::db::MAX_BATCH,
                    limits: partner_registry::server::Limits::default(),
                    tls: None,
                    metrics_listen: None,
                    assertion_audience: None,
                },
                Arc::new(SystemClock),
            )
            .await
            .expect("start"),
        );
    }
    let http = reqwest::Client::new();
    let base = format!("http://{}", servers[0].addr);
    let org: serde_json::Value = http
        .post(format!("{base}/v1/orgs"))
        .bearer_auth(&admin)
        .json(&acceptance_tests::bodies::org(
            "bench",
            "2999-12-31",
            &["read"],
        ))
        .send()
        .await
        .expect("org")
        .json()
        .await
        .expect("org json");
    let client: serde_json::Value = http
        .post(format!("{base}/v1/clients"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"org_id": org["id"], "name": "bench", "purpose": "p", "owner": "o@b.example", "scopes": ["read"]}))
        .send().await.expect("client").json().await.expect("client json");
    let body = serde_json::json!({"client_id": client["client_id"], "client_secret": client["client_secret"]}).to_string();
    // Every replica follows the client before the measurement starts.
    tokio::time::sleep(Duration::from_millis(500)).await;
    (servers, request(&admin, &body))
}

fn main() {
    let total = env_num("BENCH_REQUESTS", 20_000);
    let conns = env_num("BENCH_CONNECTIONS", 16).max(1);
    let per_conn = (total / conns).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        // Bare warp: same route shape, constant answer.
        let bare = warp::path!("v1" / "introspect")
            .and(warp::post())
            .and(warp::body::bytes())
            .map(|_b: warp::hyper::body::Bytes| {
                warp::reply::json(&serde_json::json!({"active": false}))
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let bare_addr = listener.local_addr().expect("addr");
        tokio::spawn(warp::serve(bare).incoming(listener).run());

        let dir = tempfile::tempdir().expect("tempdir");
        let (sqlite, sqlite_req) = registry(
            Target::Sqlite(dir.path().join("bench.db")),
            dir.path().join("bench.key"),
            1,
        )
        .await;
        let cluster = PgCluster::start();
        let (pg, pg_req) = registry(
            Target::Postgres(cluster.new_database()),
            dir.path().join("pg.key"),
            2,
        )
        .await;
        let addrs = |servers: &[partner_registry::Running]| -> Vec<SocketAddr> {
            servers.iter().map(|r| r.addr).collect()
        };
        // Warm up every target, then measure them one after the other.
        load(&[bare_addr], Arc::clone(&sqlite_req), conns, 200, "active").await;
        load(
            &addrs(&sqlite),
            Arc::clone(&sqlite_req),
            conns,
            200,
            "\"active\":true",
        )
        .await;
        load(
            &addrs(&pg),
            Arc::clone(&pg_req),
            conns,
            200,
            "\"active\":true",
        )
        .await;
        let bare = load(
            &[bare_addr],
            Arc::clone(&sqlite_req),
            conns,
            per_conn,
            "active",
        )
        .await;
        let lite = load(
            &addrs(&sqlite),
            Arc::clone(&sqlite_req),
            conns,
            per_conn,
            "\"active\":true",
        )
        .await;
        let two = load(
            &addrs(&pg),
            Arc::clone(&pg_req),
            conns,
            per_conn,
            "\"active\":true",
        )
        .await;
        // Rows of the table `make bench` prints: figure, value, floor or
        // ceiling, ratio.
        for (name, (rps, p99)) in [
            ("registry on SQLite", lite),
            ("registry on PostgreSQL, 2 replicas", two),
        ] {
            println!(
                "| introspection, {name}, {conns} connections | {rps:.0} req/s (p99 {:.2} ms) | ceiling: bare warp {:.0} req/s (p99 {:.2} ms) | {:.2} |",
                p99.as_secs_f64() * 1e3,
                bare.0,
                bare.1.as_secs_f64() * 1e3,
                rps / bare.0
            );
        }
        for r in sqlite.into_iter().chain(pg) {
            r.shutdown().await;
        }
    });
}
