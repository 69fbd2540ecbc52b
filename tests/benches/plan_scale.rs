//! How plan, apply and destroy scale with the number of clients, against
//! Terraform's own floor: the same steps over as many built-in
//! `terraform_data`, side by side in one run; where the CPU of each step goes
//! (Terraform itself or the provider); the same steps over `terraform_data`
//! holding as many values as a `partner_client` (Terraform's cost for a
//! resource of that size); the same steps through a provider serving the
//! partner provider's schemas with none of its logic (Terraform's cost of
//! `partner_client` itself, the least any provider of it could cost); and
//! the provider's peak RSS while it plans the largest configuration.
//!
//! `cargo bench -p acceptance-tests --bench plan_scale` after
//! `cargo build --workspace --bins --release` and `cargo build --release -p
//! terraform-provider-partner --example schema_only`: a bench is built
//! without debug assertions, so the harness looks for the release binaries.
//! `BENCH_CLIENTS` sets the counts (default `500,2000`), `BENCH_ORGS` how many
//! orgs the spread layout uses (default 50). Prints rows of the table
//! `make bench` prints: figure, value, floor or ceiling, ratio.

use std::time::{Duration, Instant};

use acceptance_tests::{PROVIDER_BIN, RegistryServer, Workspace};

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

/// What one Terraform step cost.
#[derive(Clone, Copy)]
struct Cost {
    wall: Duration,
    /// CPU seconds of Terraform and every process it ran.
    cpu: f64,
    /// CPU seconds of the provider processes among them.
    provider_cpu: f64,
}

fn timed(workspace: &Workspace, args: &[&str]) -> Cost {
    let watch = ProviderWatch::start();
    let cpu_before = children_cpu_seconds();
    let start = Instant::now();
    let run = workspace.terraform(args);
    let wall = start.elapsed();
    let cpu = children_cpu_seconds() - cpu_before;
    let (_, provider_cpu) = watch.stop();
    run.assert_success();
    Cost {
        wall,
        cpu,
        provider_cpu,
    }
}

/// Clock ticks per second of `/proc`'s CPU times (`USER_HZ`: 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// The CPU seconds of this process's waited-for children and theirs
/// (`cutime` and `cstime` of `/proc/self/stat`): Terraform waits for its
/// provider, so its CPU counts too.
fn children_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses and may
    // hold spaces; cutime and cstime are fields 16 and 17 of the whole line.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<f64> = after_name
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    fields.get(12..14).map_or(0.0, |t| t.iter().sum::<f64>()) / TICKS_PER_SECOND
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

/// The values each `partner_client` of [`partner_clients`] is configured with.
const CONFIGURED_VALUES: usize = 5;

/// `count` `terraform_data` holding the values of [`partner_clients`]' clients
/// and, to reach `values` values a resource, as many more strings.
fn terraform_data(count: usize, values: usize) -> String {
    (0..count)
        .map(|i| {
            let more: String = (CONFIGURED_VALUES..values)
                .map(|k| format!("    value_{k} = \"value {k} of {i}\"\n"))
                .collect();
            format!(
                r#"
resource "terraform_data" "d{i}" {{
  input = {{
    org_id  = "org_bench"
    name    = "bench-client-{i}"
    purpose = "Bench client {i}"
    owner   = "dev{i}@bench.example"
    scopes  = ["a:read"]
{more}  }}
}}
"#
            )
        })
        .collect()
}

/// How many values a `partner_client` holds in its state: the attributes of
/// its schema (as `terraform providers schema -json` shows it) that are not
/// write-only.
fn partner_client_values(registry: &RegistryServer) -> usize {
    let workspace = Workspace::new(registry);
    workspace.write_config(&partner_clients(&["org_schema".to_string()], 1));
    let run = workspace.terraform(&["providers", "schema", "-json"]);
    run.assert_success();
    let schemas = run.json()["provider_schemas"].clone();
    let provider = schemas
        .as_object()
        .and_then(|p| p.values().next())
        .expect("the provider's schema");
    provider["resource_schemas"]["partner_client"]["block"]["attributes"]
        .as_object()
        .expect("partner_client's attributes")
        .values()
        .filter(|a| a["write_only"] != true)
        .count()
}

/// The steps' costs over `hcl` in `workspace`.
fn run_steps(workspace: &Workspace, hcl: &str) -> Vec<Cost> {
    workspace.write_config(hcl);
    STEPS
        .iter()
        .map(|(_, args)| timed(workspace, args))
        .collect()
}

/// `provider/examples/schema_only.rs`, built, copied into a folder of its own
/// as `terraform-provider-partner`: the name Terraform looks for there.
fn schema_only_provider() -> tempfile::TempDir {
    let built = acceptance_tests::profile_dir().join("examples/schema_only");
    assert!(
        built.is_file(),
        "{} is missing: run `cargo build --release -p terraform-provider-partner --example schema_only` first (make bench does)",
        built.display()
    );
    let folder = tempfile::tempdir().expect("temp dir");
    std::fs::copy(&built, folder.path().join(PROVIDER_BIN)).expect("copy schema_only");
    folder
}

/// The highest RSS (MB) of any `terraform-provider-partner` process while
/// `terraform plan` runs over `hcl` (applied first, so that it refreshes).
fn provider_peak_rss_mb(registry: &RegistryServer, hcl: &str) -> f64 {
    let workspace = Workspace::new(registry);
    workspace.write_config(hcl);
    workspace.apply();
    let watch = ProviderWatch::start();
    workspace.plan().assert_success();
    let (peak_kb, _) = watch.stop();
    workspace.destroy();
    peak_kb as f64 / 1024.0
}

/// Samples the running provider processes every 20 ms, for their peak RSS
/// and the CPU each used (its last sample: a process's final 20 ms may be
/// missed, so the provider's share is if anything low).
struct ProviderWatch {
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    sampler: std::thread::JoinHandle<(u64, f64)>,
}

impl ProviderWatch {
    fn start() -> Self {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sampler = {
            let done = std::sync::Arc::clone(&done);
            std::thread::spawn(move || {
                let mut peak_kb = 0u64;
                let mut cpu_ticks = std::collections::HashMap::new();
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    for provider in providers() {
                        peak_kb = peak_kb.max(provider.rss_kb);
                        cpu_ticks.insert(provider.pid, provider.cpu_ticks);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                (
                    peak_kb,
                    cpu_ticks.values().sum::<u64>() as f64 / TICKS_PER_SECOND,
                )
            })
        };
        Self { done, sampler }
    }

    /// The peak RSS (kB) and the CPU seconds of the providers seen.
    fn stop(self) -> (u64, f64) {
        self.done.store(true, std::sync::atomic::Ordering::SeqCst);
        self.sampler.join().expect("sampler")
    }
}

struct ProviderSample {
    pid: u32,
    rss_kb: u64,
    cpu_ticks: u64,
}

/// The running `terraform-provider-partner` processes.
fn providers() -> Vec<ProviderSample> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse().ok()?;
            let dir = entry.path();
            let comm = std::fs::read_to_string(dir.join("comm")).ok()?;
            // comm holds the first 15 characters of the name (and so
            // Terraform's own `terraform` must not match as a prefix).
            if comm.trim() != &"terraform-provider-partner"[..15] {
                return None;
            }
            let status = std::fs::read_to_string(dir.join("status")).ok()?;
            let rss_kb = status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()?;
            // utime and stime: fields 14 and 15 of the line, 12 and 13 after
            // the parenthesised name.
            let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
            let after_name = stat.rsplit_once(')')?.1;
            let times: Vec<u64> = after_name
                .split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|t| t.parse().ok())
                .collect();
            Some(ProviderSample {
                pid,
                rss_kb,
                cpu_ticks: times.iter().sum(),
            })
        })
        .collect()
}

fn row(figure: &str, value: String, bound: String, ratio: f64) {
    println!("| {figure} | {value} | {bound} | {ratio:.2} |");
}

fn main() {
    let counts = env_list("BENCH_CLIENTS", &[500, 2000]);
    let spread = env_list("BENCH_ORGS", &[50])[0].max(1);
    let registry = RegistryServer::start();
    let values = partner_client_values(&registry);
    let schema_only = schema_only_provider();
    for &count in &counts {
        let floor = run_steps(
            &Workspace::new(&registry),
            &terraform_data(count, CONFIGURED_VALUES),
        );
        let shaped = run_steps(&Workspace::new(&registry), &terraform_data(count, values));
        // The org is never asked for: this provider reads no registry.
        let schema_only_steps = run_steps(
            &Workspace::for_provider(&schema_only.path().join(PROVIDER_BIN)),
            &partner_clients(&["org_schema_only".to_string()], count),
        );
        for (layout, orgs) in [("one org", 1), (&*format!("{spread} orgs"), spread)] {
            let org_ids = make_orgs(&registry, orgs, count.div_ceil(orgs));
            let ours = run_steps(
                &Workspace::new(&registry),
                &partner_clients(&org_ids, count),
            );
            for (i, (step, _)) in STEPS.iter().enumerate() {
                let (f, o) = (floor[i], ours[i]);
                let (f_wall, o_wall) = (f.wall.as_secs_f64(), o.wall.as_secs_f64());
                row(
                    &format!("{step}, {count} partner_client on {layout}"),
                    format!("{o_wall:.2} s"),
                    format!("terraform_data {f_wall:.2} s × {MAX_RATIO}"),
                    o_wall / f_wall,
                );
                // Where the time goes: Terraform's own CPU beside the
                // floor's, and the provider's. Not a goal, an explanation.
                let terraform_cpu = o.cpu - o.provider_cpu;
                row(
                    "  its CPU: Terraform's own + the provider's",
                    format!("{terraform_cpu:.2} s + {:.2} s", o.provider_cpu),
                    format!("terraform_data {:.2} s", f.cpu),
                    terraform_cpu / f.cpu,
                );
                // Terraform's cost grows with the values a resource holds,
                // built-in resource or not: the same step over terraform_data
                // holding as many values as a partner_client.
                let s_wall = shaped[i].wall.as_secs_f64();
                row(
                    &format!("  against terraform_data holding {values} values each"),
                    format!("{o_wall:.2} s"),
                    format!("terraform_data {s_wall:.2} s"),
                    o_wall / s_wall,
                );
                // Terraform's cost of partner_client's schema itself: the
                // same step through a provider that does nothing else.
                let u_wall = schema_only_steps[i].wall.as_secs_f64();
                row(
                    "  against partner_client's schema with no provider logic",
                    format!("{o_wall:.2} s"),
                    format!("schema only {u_wall:.2} s"),
                    o_wall / u_wall,
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
