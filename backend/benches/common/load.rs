//! A keep-alive load generator on raw TCP for the registry's benches: no
//! HTTP client library in the measurement.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Sends `per_conn` keep-alive requests on each of `conns` connections, the
/// connections spread over `addrs`, each as soon as the last is answered;
/// returns req/s and the p99 latency.
pub async fn load(
    addrs: &[SocketAddr],
    request: Arc<Vec<u8>>,
    conns: usize,
    per_conn: usize,
    expect: &'static str,
) -> (f64, Duration) {
    load_paced(addrs, request, conns, per_conn, expect, None).await
}

/// [`load`], with each connection sending at most one request per `every`
/// (the total rate is `conns` per `every`).
pub async fn load_paced(
    addrs: &[SocketAddr],
    request: Arc<Vec<u8>>,
    conns: usize,
    per_conn: usize,
    expect: &'static str,
    every: Option<Duration>,
) -> (f64, Duration) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..conns {
        let request = Arc::clone(&request);
        let addr = addrs[i % addrs.len()];
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_conn);
            let stream = TcpStream::connect(addr).await.expect("connect");
            stream.set_nodelay(true).ok();
            let mut stream = BufReader::new(stream);
            let mut line = String::new();
            let mut ticks = every.map(tokio::time::interval);
            for _ in 0..per_conn {
                if let Some(ticks) = ticks.as_mut() {
                    ticks.tick().await;
                }
                let sent = Instant::now();
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
                latencies.push(sent.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.expect("load task"));
    }
    rate_and_p99(latencies, start.elapsed())
}

/// Requests per second of `latencies` answered in `elapsed`, and their p99.
pub fn rate_and_p99(mut latencies: Vec<Duration>, elapsed: Duration) -> (f64, Duration) {
    let rate = latencies.len() as f64 / elapsed.as_secs_f64();
    latencies.sort();
    let p99 = latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)];
    (rate, p99)
}

/// An introspection request for `body` with `token`, ready to send.
pub fn request(token: &str, body: &str) -> Arc<Vec<u8>> {
    Arc::new(
        format!(
            "POST /v1/introspect HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}
