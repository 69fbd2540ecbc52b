//! Throughput of `POST /v1/introspect` against a bare warp handler, on loopback.
//!
//! `cargo bench -p partner-registry --bench introspect` (optionally
//! `BENCH_REQUESTS=N BENCH_CONNECTIONS=C`). Bounded: N requests per target, then it stops.

use partner_registry::records::Role;
use partner_registry::service::{self, WriteCtx};
use partner_registry::{Config, SystemClock};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use warp::Filter;

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Sends `per_conn` keep-alive requests on each of `conns` connections; returns req/s.
async fn load(
    addr: SocketAddr,
    request: Arc<Vec<u8>>,
    conns: usize,
    per_conn: usize,
    expect: &'static str,
) -> f64 {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let request = Arc::clone(&request);
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(addr).await.expect("connect");
            stream.set_nodelay(true).ok();
            let mut stream = BufReader::new(stream);
            let mut line = String::new();
            for _ in 0..per_conn {
                stream.get_mut().write_all(&request).await.expect("write");
                let mut len = 0usize;
                line.clear();
                stream.read_line(&mut line).await.expect("status line");
                assert!(
                    line.starts_with("HTTP/1.1 200"),
                    "unexpected answer: {line}"
                );
                loop {
                    line.clear();
                    stream.read_line(&mut line).await.expect("header");
                    if line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().expect("length");
                    }
                }
                let mut body = vec![0u8; len];
                stream.read_exact(&mut body).await.expect("body");
                assert!(
                    std::str::from_utf8(&body).unwrap_or("").contains(expect),
                    "body: {:?}",
                    String::from_utf8_lossy(&body)
                );
            }
        }));
    }
    for t in tasks {
        t.await.expect("load task");
    }
    (conns * per_conn) as f64 / start.elapsed().as_secs_f64()
}

fn request(token: &str, body: &str) -> Arc<Vec<u8>> {
    Arc::new(
        format!(
            "POST /v1/introspect HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
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
            .map(|_b: warp::hyper::body::Bytes| warp::reply::json(&serde_json::json!({"active": false})));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let bare_addr = listener.local_addr().expect("addr");
        tokio::spawn(warp::serve(bare).incoming(listener).run());

        // The registry with one client.
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("bench.db");
        let key_file = dir.path().join("bench.key");
        let target = partner_registry::db::Target::Sqlite(db);
        let admin = {
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
                .write(move |tx| service::create_token(tx, &ctx, "bench", Role::Admin, None))
                .expect("token")
                .0
        };
        let running = partner_registry::start(
            Config {
                listen: "127.0.0.1:0".parse().expect("addr"),
                db: target,
                key_file: Some(key_file),
                audit_anchor: None,
                access_log: true,
                write_batch: partner_registry::db::MAX_BATCH,
            },
            Arc::new(SystemClock),
        )
        .await
        .expect("start");
        let http = reqwest::Client::new();
        let base = format!("http://{}", running.addr);
        let org: serde_json::Value = http
            .post(format!("{base}/v1/orgs"))
            .bearer_auth(&admin)
            .json(&serde_json::json!({"name": "bench", "legal_entity": "B", "technical_owner": "t@b.example",
                "approval_authority": "a@b.example", "contract_id": "C", "contract_end": "2999-12-31", "allowed_scopes": ["read"]}))
            .send().await.expect("org").json().await.expect("org json");
        let client: serde_json::Value = http
            .post(format!("{base}/v1/clients"))
            .bearer_auth(&admin)
            .json(&serde_json::json!({"org_id": org["id"], "name": "bench", "purpose": "p", "owner": "o@b.example", "scopes": ["read"]}))
            .send().await.expect("client").json().await.expect("client json");
        let body = serde_json::json!({"client_id": client["client_id"], "client_secret": client["client_secret"]}).to_string();
        let req = request(&admin, &body);

        // Warm up both, then measure.
        load(bare_addr, Arc::clone(&req), conns, 200, "active").await;
        load(running.addr, Arc::clone(&req), conns, 200, "\"active\":true").await;
        let bare_rps = load(bare_addr, Arc::clone(&req), conns, per_conn, "active").await;
        let reg_rps = load(running.addr, Arc::clone(&req), conns, per_conn, "\"active\":true").await;
        println!("requests per target: {}  connections: {conns}", conns * per_conn);
        println!("bare warp handler:      {bare_rps:>10.0} req/s");
        println!("registry introspection: {reg_rps:>10.0} req/s");
        println!("ratio: {:.2}", reg_rps / bare_rps);
        running.shutdown().await;
    });
}
