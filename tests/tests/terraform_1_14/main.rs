//! Acceptance tests of what Terraform 1.12 to 1.14 added: resource
//! identity, `terraform query` with list resources, and actions. Only for
//! a Terraform that has them: the Makefile runs this target with the
//! pinned Terraform 1.15.5 (`make test-pinned`), and every test fails,
//! rather than skips, on an older Terraform.

// Shared with the acceptance target, which uses every helper; this one
// does not.
#[allow(dead_code)]
#[path = "../acceptance/config.rs"]
mod config;

mod actions;
mod examples;
mod identity;
mod query;

use acceptance_tests::{Run, Workspace};

/// Fails the test unless the Terraform under test is 1.14 or later.
#[track_caller]
pub fn require_terraform_1_14() {
    let run = acceptance_tests::run(
        std::process::Command::new(acceptance_tests::terraform_binary()).args(["version", "-json"]),
    );
    run.assert_success();
    let version = run.json()["terraform_version"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    assert!(
        (major, minor) >= (1, 14),
        "these tests need Terraform 1.14 or later, and {} is {version}: run them with \
         TERRAFORM=$(tools/ensure-terraform.sh --pinned) (make test-pinned)",
        acceptance_tests::terraform_binary().display()
    );
}

/// `terraform query` of the workspace's `.tfquery.hcl` files, with `args`
/// added (no `init`: the provider comes from `dev_overrides`).
pub fn query(workspace: &Workspace, args: &[&str]) -> Run {
    let mut all = vec!["query", "-no-color"];
    all.extend(args);
    workspace.terraform(&all)
}

/// The `list` results of `terraform query -json` output: one JSON object
/// per line, those of type `list_resource_found`.
pub fn found(run: &Run) -> Vec<serde_json::Value> {
    run.stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "list_resource_found")
        .collect()
}
