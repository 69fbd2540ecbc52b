//! How plan and apply scale with the number of resources, against
//! Terraform's own floor: the same steps over built-in `terraform_data`.
//!
//! `cargo bench -p acceptance-tests --bench plan_scale` after
//! `cargo build --workspace --bins --release`: a bench is built without debug
//! assertions, so the harness looks for the release binaries.
//! `BENCH_RESOURCES` sets the count (default 300).

use std::time::{Duration, Instant};

use acceptance_tests::{RegistryServer, Workspace};

/// The timed Terraform steps, in order.
const STEPS: [(&str, &[&str]); 3] = [
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
];

fn timed(workspace: &Workspace, args: &[&str]) -> Duration {
    let start = Instant::now();
    let run = workspace.terraform(args);
    let elapsed = start.elapsed();
    run.assert_success();
    elapsed
}

fn partner_orgs(count: usize) -> String {
    (0..count)
        .map(|i| {
            format!(
                r#"
resource "partner_org" "o{i}" {{
  name               = "bench-org-{i}"
  legal_entity       = "Bench Org {i} Ltd"
  technical_owner    = "tech{i}@bench.example"
  approval_authority = "approvals@example.com"
  contract_id        = "CTR-{i}"
  contract_end       = "2030-12-31"
  allowed_scopes     = ["a:read", "b:write"]
  labels             = {{ index = "{i}" }}
}}
"#
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
    name           = "bench-org-{i}"
    contract_end   = "2030-12-31"
    allowed_scopes = ["a:read", "b:write"]
  }}
}}
"#
            )
        })
        .collect()
}

fn main() {
    let count: usize = std::env::var("BENCH_RESOURCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let registry = RegistryServer::start();
    let mut results = Vec::new();
    for (label, hcl) in [
        ("terraform_data", terraform_data(count)),
        ("partner_org", partner_orgs(count)),
    ] {
        let workspace = Workspace::new(&registry);
        workspace.write_config(&hcl);
        let times: Vec<Duration> = STEPS
            .iter()
            .map(|(_, args)| timed(&workspace, args))
            .collect();
        results.push((label, times));
    }
    println!("{count} resources each; wall-clock seconds");
    println!(
        "{:<28} {:>15} {:>15} {:>8}",
        "step", "terraform_data", "partner_org", "ratio"
    );
    for (i, (step, _)) in STEPS.iter().enumerate() {
        let floor = results[0].1[i].as_secs_f64();
        let ours = results[1].1[i].as_secs_f64();
        println!(
            "{step:<28} {floor:>15.2} {ours:>15.2} {:>8.2}",
            ours / floor
        );
    }
}
