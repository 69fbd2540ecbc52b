//! Measures process start → handshake line of the provider binary with
//! AutoMTLS on (PLUGIN_CLIENT_CERT set, as Terraform does by default).
//!
//!     cargo build --release -p terraform-provider-partner
//!     cargo run --release -p terraform-provider-partner --example handshake_timing -- \
//!         [path/to/terraform-provider-partner] [runs]
//!
//! Without a path it times the binary of its own profile in the target
//! folder, as the acceptance-test harness finds it (release with --release).
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use acceptance_tests::{PROVIDER_BIN, plugin_command, workspace_binary};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bin = args
        .first()
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_binary(PROVIDER_BIN));
    let runs: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(50);
    let pem = include_str!("../tests/data/client-cert.pem");
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs + 3 {
        let start = Instant::now();
        // Stderr is not kept (no harness `Process`): a file per run would
        // be timed along with the handshake.
        let mut child = plugin_command(&bin, "6", Some(pem))
            .env("PLUGIN_MIN_PORT", "10000")
            .env("PLUGIN_MAX_PORT", "25000")
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
        "{}\nhandshake over {runs} runs (AutoMTLS on): median {:.2} ms, p90 {:.2} ms, min {:.2} ms, max {:.2} ms",
        bin.display(),
        ms(times[runs / 2]),
        ms(times[runs * 9 / 10]),
        ms(times[0]),
        ms(times[runs - 1])
    );
}
