//! How plan, apply and destroy scale with the number of clients, against
//! Terraform's own floor: the same steps over as many built-in
//! `terraform_data`, side by side in one run; and the provider's peak RSS
//! while it plans the largest configuration.
//!
//! `cargo bench -p acceptance-tests --bench plan_scale` after
//! `cargo build --workspace --bins --release`: a bench is built without debug
//! assertions, so the harness looks for the release binaries.
//! `BENCH_CLIENTS` sets the counts (default `500,2000`), `BENCH_ORGS` how many
//! orgs the spread layout uses (default 50). Prints rows of the table
//! `make bench` prints: figure, value, floor or ceiling, ratio.

use std::time::{Duration, Instant};

use acceptance_tests::{RegistryServer, Workspace};

/// The timed Terraform steps, in order.
const STEPS: [(&str, &[&str]); 4] = [
    (
        "plan (create)",
        &["plan", "-input=false", "-no-color", "-refresh=false"],
    ),
    (
        "apply",
        &["apply", "-auto-approve", "-input=false", "-no-color"],
    ),
    (
        "plan (refresh, no changes)",
        &["plan", "-input=false", "-no-color", "-detailed-exitcode"],
    ),
    (
        "destroy",
        &["destroy", "-auto-approve", "-input=false", "-no-color"],
    ),
];

/// The goal: each step at most this many times Terraform's floor.
const MAX_RATIO: f64 = 1.3;
/// The provider's peak RSS while planning, at most (MB).
const MAX_PROVIDER_RSS_MB: f64 = 30.0;

fn timed(workspace: &Workspace, args: &[&str]) -> Duration {
    let start = Instant::now();
    let run = workspace.terraform(args);
    let elapsed = start.elapsed();
    run.assert_success();
    elapsed
}

fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(name)
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

/// `orgs` orgs made through the API (not part of the timed configuration),
/// each taking `per_org` clients.
fn make_orgs(registry: &RegistryServer, orgs: usize, per_org: usize) -> Vec<String> {
    static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    (0..orgs)
        .map(|_| {
            let n = MADE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut body = acceptance_tests::bodies::org(
                &format!("bench-{n}"),
                "2030-12-31",
                &["a:read", "b:write"],
            );
            // Room to spare, so that the bench also runs against older
            // providers, which refused an org filled exactly in one apply.
            body["max_clients"] = serde_json::json!(per_org * 2);
            registry.create("/v1/orgs", body)["id"]
                .as_str()
                .expect("org id")
                .to_string()
        })
        .collect()
}

fn partner_clients(org_ids: &[String], count: usize) -> String {
    (0..count)
        .map(|i| {
            format!(
                r#"
resource "partner_client" "c{i}" {{
  org_id  = "{org}"
  name    = "bench-client-{i}"
  purpose = "Bench client {i}"
  owner   = "dev{i}@bench.example"
  scopes  = ["a:read"]
}}
"#,
                org = org_ids[i % org_ids.len()]
            )
        })
        .collect()
}

fn terraform_data(count: usize) -> String {
    (0..count)
        .map(|i| {
            format!(
                r#"
resource "terraform_data" "d{i}" {{
  input = {{
    org_id  = "org_bench"
    name    = "bench-client-{i}"
    purpose = "Bench client {i}"
    owner   = "dev{i}@bench.example"
    scopes  = ["a:read"]
  }}
}}
"#
            )
        })
        .collect()
}

/// The steps' times over `hcl` in a fresh directory.
fn run_steps(registry: &RegistryServer, hcl: &str) -> Vec<Duration> {
    let workspace = Workspace::new(registry);
    workspace.write_config(hcl);
    STEPS
        .iter()
        .map(|(_, args)| timed(&workspace, args))
        .collect()
}

/// The highest RSS (MB) of any `terraform-provider-partner` process while
/// `terraform plan` runs over `hcl` (applied first, so that it refreshes).
fn provider_peak_rss_mb(registry: &RegistryServer, hcl: &str) -> f64 {
    let workspace = Workspace::new(registry);
    workspace.write_config(hcl);
    workspace.apply();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = std::sync::Arc::clone(&done);
        std::thread::spawn(move || {
            let mut peak = 0u64;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                peak = peak.max(providers_rss_kb());
                std::thread::sleep(Duration::from_millis(20));
            }
            peak
        })
    };
    workspace.plan().assert_success();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let peak = sampler.join().expect("sampler");
    workspace.destroy();
    peak as f64 / 1024.0
}

/// The largest VmRSS (kB) among running provider processes.
fn providers_rss_kb() -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let dir = entry.path();
            let comm = std::fs::read_to_string(dir.join("comm")).ok()?;
            // comm holds the first 15 characters of the name (and so
            // Terraform's own `terraform` must not match as a prefix).
            if comm.trim() != &"terraform-provider-partner"[..15] {
                return None;
            }
            let status = std::fs::read_to_string(dir.join("status")).ok()?;
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()
        })
        .max()
        .unwrap_or(0)
}

fn row(figure: &str, value: String, bound: String, ratio: f64) {
    println!("| {figure} | {value} | {bound} | {ratio:.2} |");
}

fn main() {
    let counts = env_list("BENCH_CLIENTS", &[500, 2000]);
    let spread = env_list("BENCH_ORGS", &[50])[0].max(1);
    let registry = RegistryServer::start();
    for &count in &counts {
        let floor = run_steps(&registry, &terraform_data(count));
        for (layout, orgs) in [("one org", 1), (&*format!("{spread} orgs"), spread)] {
            let org_ids = make_orgs(&registry, orgs, count.div_ceil(orgs));
            let ours = run_steps(&registry, &partner_clients(&org_ids, count));
            for (i, (step, _)) in STEPS.iter().enumerate() {
                let (f, o) = (floor[i].as_secs_f64(), ours[i].as_secs_f64());
                row(
                    &format!("{step}, {count} partner_client on {layout}"),
                    format!("{o:.2} s"),
                    format!("terraform_data {f:.2} s × {MAX_RATIO}"),
                    o / f,
                );
            }
        }
    }
    let largest = counts.iter().copied().max().unwrap_or(0);
    let org_ids = make_orgs(&registry, spread, largest.div_ceil(spread));
    let rss = provider_peak_rss_mb(&registry, &partner_clients(&org_ids, largest));
    row(
        &format!("provider peak RSS, plan of {largest} partner_client"),
        format!("{rss:.1} MB"),
        format!("ceiling {MAX_PROVIDER_RSS_MB} MB"),
        rss / MAX_PROVIDER_RSS_MB,
    );
}
