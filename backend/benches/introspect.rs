//! Throughput and p99 of `POST /v1/introspect` against a bare warp handler, on
//! loopback: the registry on SQLite, and two replicas on one PostgreSQL.
//!
//! `cargo bench -p partner-registry --bench introspect` (optionally
//! `BENCH_REQUESTS=N BENCH_CONNECTIONS=C`). Bounded: N requests per target, then it stops.

use acceptance_tests::postgres::PgCluster;
use partner_registry::SystemClock;
use partner_registry::db::Target;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use warp::Filter;

// This bench sends as fast as answered: the paced load is for `scale`.
#[allow(dead_code)]
#[path = "common/load.rs"]
mod load;
use load::{load, request};

#[path = "common/setup.rs"]
mod setup;
use setup::{admin_token, config, env_num, post_json};

/// A registry on `target` serving from `replicas` processes' worth of servers
/// (in this process) on one database, with an admin token and one client;
/// the servers and an introspection request for that client.
async fn registry(
    target: Target,
    key_file: std::path::PathBuf,
    replicas: usize,
) -> (Vec<partner_registry::Running>, Arc<Vec<u8>>) {
    let admin = admin_token(&target, &key_file);
    let mut servers = Vec::new();
    for _ in 0..replicas {
        servers.push(
            partner_registry::start(
                config(
                    target.clone(),
                    key_file.clone(),
                    partner_registry::db::MAX_BATCH,
                ),
                Arc::new(SystemClock),
            )
            .await
            .expect("start"),
        );
    }
    let http = reqwest::Client::new();
    let base = format!("http://{}", servers[0].addr);
    let org = post_json(
        &http,
        format!("{base}/v1/orgs"),
        &admin,
        acceptance_tests::bodies::org("bench", "2999-12-31", &["read"]),
    )
    .await;
    let client = post_json(
        &http,
        format!("{base}/v1/clients"),
        &admin,
        serde_json::json!({"org_id": org["id"], "name": "bench", "purpose": "p", "owner": "o@b.example", "scopes": ["read"]}),
    )
    .await;
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
        // The bare handler, the registry on SQLite and on PostgreSQL: where
        // each listens, the request it answers and what its answer holds.
        let targets = [
            (vec![bare_addr], &sqlite_req, "active"),
            (addrs(&sqlite), &sqlite_req, "\"active\":true"),
            (addrs(&pg), &pg_req, "\"active\":true"),
        ];
        // Warm up every target, then measure them one after the other.
        for (at, request, expect) in &targets {
            load(at, Arc::clone(request), conns, 200, expect).await;
        }
        let mut measured = Vec::new();
        for (at, request, expect) in &targets {
            measured.push(load(at, Arc::clone(request), conns, per_conn, expect).await);
        }
        let [bare, lite, two] = measured[..] else {
            unreachable!("three targets")
        };
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
