//! Writes per second with 16 concurrent writers creating clients through the
//! API, on each engine, with group commit and with one transaction per write
//! (`PARTNER_REGISTRY_WRITE_BATCH=1`), side by side in one run.
//!
//! `cargo bench -p partner-registry --bench writes` (optionally
//! `BENCH_WRITES=N BENCH_WRITERS=W`). Bounded: N creates per configuration.

use acceptance_tests::postgres::PgCluster;
use partner_registry::SystemClock;
use partner_registry::db::Target;
use std::sync::Arc;
use std::time::{Duration, Instant};

// Only the rate and p99: this bench writes through an HTTP client.
#[allow(dead_code)]
#[path = "common/load.rs"]
mod load;
use load::rate_and_p99;

#[path = "common/setup.rs"]
mod setup;
use setup::{admin_token, config, env_num, post_json};

/// Starts a registry on `target`, creates `total` clients with `writers`
/// concurrent writers; writes per second and the p99 latency.
async fn measure(
    target: Target,
    dir: &std::path::Path,
    batch: usize,
    total: usize,
    writers: usize,
) -> (f64, Duration) {
    let key_file = dir.join("bench.key");
    let admin = admin_token(&target, &key_file);
    let running = partner_registry::start(config(target, key_file, batch), Arc::new(SystemClock))
        .await
        .expect("start");
    let base = format!("http://{}", running.addr);
    let http = reqwest::Client::new();
    // Wait for the token to be followed.
    while http
        .get(format!("{base}/v1/orgs?limit=1"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("get")
        .status()
        == 401
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut org = acceptance_tests::bodies::org("bench", "2999-12-31", &["read"]);
    org["max_clients"] = serde_json::json!(100_000);
    let org = post_json(&http, format!("{base}/v1/orgs"), &admin, org).await;
    let org_id = org["id"].as_str().expect("org id").to_string();
    let per_writer = (total / writers).max(1);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (http, base, admin, org_id) =
            (http.clone(), base.clone(), admin.clone(), org_id.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_writer);
            for n in 0..per_writer {
                let t = Instant::now();
                let r = http
                    .post(format!("{base}/v1/clients"))
                    .bearer_auth(&admin)
                    .json(
                        &serde_json::json!({"org_id": org_id, "name": format!("w{w}-{n}"),
                        "purpose": "p", "owner": "o@b.example", "scopes": ["read"]}),
                    )
                    .send()
                    .await
                    .expect("create");
                assert_eq!(r.status().as_u16(), 201);
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.expect("writer"));
    }
    let (rate, p99) = rate_and_p99(latencies, start.elapsed());
    running.shutdown().await;
    (rate, p99)
}

fn main() {
    let total = env_num("BENCH_WRITES", 2000);
    let writers = env_num("BENCH_WRITERS", 16).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cluster = PgCluster::start();
    for engine in ["sqlite", "postgres"] {
        let mut figures = Vec::new();
        for batch in [1, partner_registry::db::MAX_BATCH] {
            let dir = tempfile::tempdir().expect("dir");
            let target = match engine {
                "sqlite" => Target::Sqlite(dir.path().join("bench.db")),
                _ => Target::Postgres(cluster.new_database()),
            };
            figures.push(rt.block_on(measure(target, dir.path(), batch, total, writers)));
        }
        let ((one, one_p99), (group, group_p99)) = (figures[0], figures[1]);
        // A row of the table `make bench` prints: figure, value, floor or
        // ceiling, ratio.
        println!(
            "| {total} client creates on {engine}, {writers} writers, group commit | {group:.0} writes/s (p99 {:.1} ms) | floor: one transaction per write {one:.0} writes/s (p99 {:.1} ms) | {:.2} |",
            group_p99.as_secs_f64() * 1e3,
            one_p99.as_secs_f64() * 1e3,
            group / one
        );
    }
}
