//! Measures process start → handshake line of the provider binary with
//! AutoMTLS on (PLUGIN_CLIENT_CERT set, as Terraform does by default).
//!
//!     cargo build --release -p terraform-provider-partner
//!     cargo run --release -p terraform-provider-partner --example handshake_timing -- \
//!         [path/to/terraform-provider-partner] [runs]
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bin = args.first().cloned().unwrap_or_else(|| {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../target");
        let rel = format!("{root}/release/terraform-provider-partner");
        if std::path::Path::new(&rel).exists() {
            rel
        } else {
            format!("{root}/debug/terraform-provider-partner")
        }
    });
    let runs: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(50);
    let pem = include_str!("../tests/data/client-cert.pem");
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs + 3 {
        let start = Instant::now();
        let mut child = Command::new(&bin)
            .env(
                "TF_PLUGIN_MAGIC_COOKIE",
                "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2",
            )
            .env("PLUGIN_PROTOCOL_VERSIONS", "6")
            .env("PLUGIN_MIN_PORT", "10000")
            .env("PLUGIN_MAX_PORT", "25000")
            .env("PLUGIN_CLIENT_CERT", pem)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the provider");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let t = start.elapsed();
        assert!(
            line.starts_with("1|6|unix|") && line.trim_end().split('|').count() == 6,
            "bad line {line:?}"
        );
        let _ = child.kill();
        let _ = child.wait();
        if i >= 3 {
            times.push(t); // first runs warm the page cache
        }
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{bin}\nhandshake over {runs} runs (AutoMTLS on): median {:.2} ms, p90 {:.2} ms, min {:.2} ms, max {:.2} ms",
        ms(times[runs / 2]),
        ms(times[runs * 9 / 10]),
        ms(times[0]),
        ms(times[runs - 1])
    );
}
