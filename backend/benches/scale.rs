//! The registry at 100,000 clients in 10,000 orgs, seeded through the API
//! (the real write path) on the release `partner-registry serve` over
//! SQLite: the create rate at the start and at the end of the seeding, the
//! entitlement review, a filtered client list page, introspection at and
//! below saturation and with writes in the background, and the server's RSS.
//!
//! `cargo bench -p partner-registry --bench scale` after
//! `cargo build --workspace --bins --release` (optionally `BENCH_CLIENTS=N`,
//! ten per org). Prints rows of the table `make bench` prints: figure, value,
//! floor or ceiling, ratio.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use acceptance_tests::RegistryServer;
use serde_json::{Value, json};

#[path = "common/load.rs"]
mod load;
use load::{load, load_paced, request};

/// Clients per org (the registry's default quota).
const PER_ORG: usize = 10;
/// Concurrent writers while seeding.
const WRITERS: usize = 16;
/// How many creates make one measured window of the create rate.
const WINDOW: usize = 1000;
/// How many windows at each end of the seeding the steadier create rate
/// takes the median of.
const ENDS: usize = 5;
/// Keep-alive connections of the introspection load.
const CONNS: usize = 16;

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn row(figure: &str, value: String, bound: String, ratio: f64) {
    println!("| {figure} | {value} | {bound} | {ratio:.2} |");
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let body: Value = response.json().await.expect("json");
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    async fn create_org(&self, name: &str, max_clients: usize) -> String {
        let mut body = acceptance_tests::bodies::org(name, "2999-12-31", &["read"]);
        body["max_clients"] = json!(max_clients);
        self.send(reqwest::Method::POST, "/v1/orgs", Some(body))
            .await["id"]
            .as_str()
            .expect("org id")
            .to_string()
    }

    async fn create_client(&self, org_id: &str, name: &str) -> Value {
        let body = json!({"org_id": org_id, "name": name, "purpose": "p",
            "owner": "o@b.example", "scopes": ["read"]});
        self.send(reqwest::Method::POST, "/v1/clients", Some(body))
            .await
    }

    /// The best of `tries` timings of `GET path`.
    async fn fastest_get(&self, path: &str, tries: usize) -> Duration {
        let mut best = Duration::MAX;
        for _ in 0..tries {
            let start = Instant::now();
            self.send(reqwest::Method::GET, path, None).await;
            best = best.min(start.elapsed());
        }
        best
    }
}

/// Creates `orgs` orgs, then `PER_ORG` clients in each, `WRITERS` at a
/// time; returns the org ids, one client (its create answer) and the time
/// each `WINDOW` of client creates took.
async fn seed(api: &Arc<Api>, orgs: usize) -> (Vec<String>, Value, Vec<Duration>) {
    let mut org_ids = Vec::with_capacity(orgs);
    for chunk in (0..orgs).collect::<Vec<_>>().chunks(WRITERS) {
        let made = chunk.iter().map(|&i| {
            let api = Arc::clone(api);
            tokio::spawn(async move { api.create_org(&format!("org-{i}"), PER_ORG).await })
        });
        for task in made.collect::<Vec<_>>() {
            org_ids.push(task.await.expect("org task"));
        }
    }
    let org_ids = Arc::new(org_ids);
    let mut windows = Vec::new();
    let mut sample = Value::Null;
    let total = orgs * PER_ORG;
    for first in (0..total).step_by(WINDOW) {
        let start = Instant::now();
        let tasks: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (api, org_ids) = (Arc::clone(api), Arc::clone(&org_ids));
                tokio::spawn(async move {
                    let mut last = Value::Null;
                    for n in (first + w..(first + WINDOW).min(total)).step_by(WRITERS) {
                        last = api
                            .create_client(&org_ids[n / PER_ORG], &format!("c-{n}"))
                            .await;
                    }
                    last
                })
            })
            .collect();
        for task in tasks {
            let last = task.await.expect("writer");
            if !last.is_null() {
                sample = last;
            }
        }
        windows.push(start.elapsed());
    }
    (Arc::unwrap_or_clone(org_ids), sample, windows)
}

/// The server's resident and peak resident memory (MB).
fn rss_mb(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn main() {
    let clients = env_num("BENCH_CLIENTS", 100_000).max(WINDOW * 2);
    let orgs = clients / PER_ORG;
    let registry = RegistryServer::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let api = Arc::new(Api {
            http: reqwest::Client::new(),
            base: registry.url.clone(),
            token: registry.admin_token.clone(),
        });
        let (org_ids, sample, windows) = seed(&api, orgs).await;
        let rate = |d: &Duration| WINDOW as f64 / d.as_secs_f64();
        let (first, last) = (rate(&windows[0]), rate(&windows[windows.len() - 1]));
        row(
            &format!("create rate at {clients} clients (through the API, {WRITERS} writers)"),
            format!("{last:.0}/s"),
            format!("floor: {:.0}/s (at 1,000) × 0.8", first),
            last / first,
        );
        // One window swings with the machine by more than most changes do:
        // the median of a few windows at each end is the steadier figure.
        let ends = (windows.len() / 2).min(ENDS);
        let median = |w: &[Duration]| {
            let mut rates: Vec<f64> = w.iter().map(rate).collect();
            rates.sort_by(f64::total_cmp);
            rates[rates.len() / 2]
        };
        let (first, last) = (
            median(&windows[..ends]),
            median(&windows[windows.len() - ends..]),
        );
        row(
            &format!("create rate, median of the last {ends} windows of {WINDOW}"),
            format!("{last:.0}/s"),
            format!("floor: median of the first {ends}, {first:.0}/s, × 0.8"),
            last / first,
        );
        // Before any read of everything: what the registry holds for its
        // records, apart from what the reads after it leave behind.
        let (seeded, _) = rss_mb(registry.pid());
        row(
            &format!("registry RSS after seeding {clients} clients"),
            format!("{seeded:.0} MB"),
            "ceiling 100 MB".into(),
            seeded / 100.0,
        );

        let review = api.fastest_get("/v1/reviews", 3).await;
        row(
            &format!("entitlement review at {clients} clients"),
            format!("{:.0} ms", review.as_secs_f64() * 1e3),
            "ceiling 1000 ms".into(),
            review.as_secs_f64(),
        );
        let middle = &org_ids[org_ids.len() / 2];
        for (what, path) in [
            (
                "client list page, status=active",
                "/v1/clients?status=active&limit=100".to_string(),
            ),
            (
                "client list page, one org's active",
                format!("/v1/clients?org_id={middle}&status=active&limit=100"),
            ),
        ] {
            let took = api.fastest_get(&path, 20).await;
            row(
                what,
                format!("{:.1} ms", took.as_secs_f64() * 1e3),
                "ceiling 50 ms".into(),
                took.as_secs_f64() * 1e3 / 50.0,
            );
        }

        let addr: SocketAddr = registry
            .url
            .trim_start_matches("http://")
            .parse()
            .expect("addr");
        let body =
            json!({"client_id": sample["client_id"], "client_secret": sample["client_secret"]})
                .to_string();
        let introspect = request(&registry.admin_token, &body);
        let per_conn = 2000;
        let active = "\"active\":true";
        load(&[addr], Arc::clone(&introspect), CONNS, 200, active).await;
        let (saturated, _) = load(&[addr], Arc::clone(&introspect), CONNS, per_conn, active).await;
        let half = Duration::from_secs_f64(2.0 * CONNS as f64 / saturated);
        let (_, p99) = load_paced(
            &[addr],
            Arc::clone(&introspect),
            CONNS,
            per_conn / 4,
            active,
            Some(half),
        )
        .await;
        row(
            &format!(
                "introspection p99 at half saturation ({:.0} req/s)",
                saturated / 2.0
            ),
            format!("{:.2} ms", p99.as_secs_f64() * 1e3),
            "ceiling 5 ms".into(),
            p99.as_secs_f64() * 1e3 / 5.0,
        );

        // Ten creates a second in the background, into an org of their own.
        let busy = api.create_org("background", 100_000).await;
        let writing = {
            let api = Arc::clone(&api);
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(Duration::from_millis(100));
                for n in 0.. {
                    ticks.tick().await;
                    api.create_client(&busy, &format!("bg-{n}")).await;
                }
            })
        };
        let (with_writes, _) =
            load(&[addr], Arc::clone(&introspect), CONNS, per_conn, active).await;
        writing.abort();
        row(
            &format!("introspection with 10 writes/s, at {clients} clients"),
            format!("{with_writes:.0} req/s"),
            format!("floor: {saturated:.0} req/s without writes × 0.9"),
            with_writes / saturated,
        );

        let (rss, peak) = rss_mb(registry.pid());
        row(
            &format!("registry RSS at {clients} clients (peak {peak:.0} MB)"),
            format!("{rss:.0} MB"),
            "ceiling 100 MB".into(),
            rss / 100.0,
        );
    });
}
