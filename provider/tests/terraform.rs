//! End-to-end tests with the real Terraform CLI against the built provider,
//! on the shared acceptance-test harness (`tests/`): Terraform as the harness
//! finds it, one temp directory per test pointing Terraform at this package's
//! binary through dev_overrides, and every run printed when a test fails.
//!
//! Only the plan test needs a registry; the rest name an endpoint nothing
//! listens on, which validation never reaches.
use std::path::Path;
use std::process::Command;

use acceptance_tests::{Process, RegistryServer, Workspace, plugin_command, run};

/// The binary Cargo built for these tests.
const BIN: &str = env!("CARGO_BIN_EXE_terraform-provider-partner");

/// Nothing listens here; `terraform validate` never configures the provider.
const UNREACHABLE: &str = "http://127.0.0.1:9";

/// A workspace whose Terraform runs [`BIN`], with `config` as its `main.tf`
/// (after the `required_providers` block the harness writes).
fn workspace(config: &str) -> Workspace {
    let workspace = Workspace::for_provider(Path::new(BIN));
    workspace.write_config(config);
    workspace
}

fn valid_config(endpoint: &str) -> String {
    format!(
        r#"
provider "partner" {{
  endpoint = "{endpoint}"
}}

resource "partner_org" "acme" {{
  name               = "acme-logistics"
  legal_entity       = "Acme Logistics Ltd"
  technical_owner    = "tech@acme.example"
  approval_authority = "ciso@acme.example"
  contract_id        = "C-2026-001"
  contract_start     = "2026-01-01"
  contract_end       = "2027-12-31"
  allowed_scopes     = ["orders:read", "orders:write"]
  labels             = {{ team = "logistics" }}
}}

resource "partner_client" "app" {{
  org_id     = partner_org.acme.id
  name       = "shipping-app"
  purpose    = "Ships orders"
  owner      = "dev@acme.example"
  scopes     = ["orders:read"]
  expires_at = "2027-06-30T00:00:00Z"
}}
"#
    )
}

fn invalid_config() -> String {
    format!(
        r#"
provider "partner" {{
  endpoint = "{UNREACHABLE}"
}}

resource "partner_org" "acme" {{
  name               = "Acme Logistics"
  legal_entity       = "Acme Logistics Ltd"
  technical_owner    = "not-an-email"
  approval_authority = "ciso@acme.example"
  contract_id        = "C-2026-001"
  contract_end       = "31/12/2027"
  allowed_scopes     = ["orders read"]
}}

resource "partner_client" "app" {{
  org_id     = "org-123"
  name       = "shipping-app"
  purpose    = "Ships orders"
  owner      = "dev@acme.example"
  scopes     = ["orders:read"]
  expires_at = "tomorrow"
}}
"#
    )
}

#[test]
fn providers_schema_json_shows_the_schema() {
    let w = workspace(&valid_config(UNREACHABLE));
    let o = w.terraform(&["providers", "schema", "-json"]);
    o.assert_success();
    let j = o.json();
    let p = &j["provider_schemas"]["registry.terraform.io/partner-registry/partner"];
    let prov = &p["provider"]["block"]["attributes"];
    assert_eq!(prov["token"]["sensitive"], true, "{o}");
    assert_eq!(prov["endpoint"]["optional"], true, "{o}");
    assert!(prov["change_ref"].is_object(), "{o}");
    let org = &p["resource_schemas"]["partner_org"]["block"]["attributes"];
    // Every field of the API's org create (the writable ones and `id`), and
    // what only the registry sets.
    let computed = ["status", "created_at"];
    for a in partner_api::ORG_CREATE_FIELDS.iter().chain(&computed) {
        assert!(org[a].is_object(), "partner_org.{a} missing\n{o}");
        assert!(
            org[a]["description"].as_str().is_some_and(|d| d.len() > 10),
            "partner_org.{a} undocumented\n{o}"
        );
    }
    assert_eq!(
        org["allowed_scopes"]["type"],
        serde_json::json!(["set", "string"]),
        "{o}"
    );
    assert_eq!(
        org["labels"]["type"],
        serde_json::json!(["map", "string"]),
        "{o}"
    );
    assert_eq!(org["max_clients"]["type"], "number", "{o}");
    assert_eq!(org["id"]["computed"], true, "{o}");
    let cl = &p["resource_schemas"]["partner_client"]["block"]["attributes"];
    assert_eq!(cl["client_secret"]["sensitive"], true, "{o}");
    assert_eq!(cl["org_id"]["required"], true, "{o}");
}

#[test]
fn validate_passes_on_valid_config() {
    let w = workspace(&valid_config(UNREACHABLE));
    w.terraform(&["validate", "-no-color"])
        .assert_success()
        .assert_stdout_mentions(&["The configuration is valid"]);
}

#[test]
fn validate_reports_invalid_attributes_by_name() {
    let w = workspace(&invalid_config());
    let o = w.terraform(&["validate", "-json"]);
    o.assert_failure_mentions(&[]);
    let j = o.json();
    let diags = j["diagnostics"].as_array().cloned().unwrap_or_default();
    let text = |d: &serde_json::Value| {
        format!("{} {} {}", d["summary"], d["detail"], d["snippet"]["code"])
    };
    for (attr, summary) in [
        ("name", "Invalid name"),
        ("technical_owner", "Invalid email address"),
        ("contract_end", "Invalid date"),
        ("allowed_scopes", "Invalid scope"),
        ("expires_at", "Invalid timestamp"),
    ] {
        assert!(
            diags.iter().any(|d| d["severity"] == "error"
                && d["summary"] == summary
                && text(d).contains(attr)),
            "no {summary:?} diagnostic naming {attr}\n{o}"
        );
    }
}

#[test]
fn works_without_plugin_tls() {
    let mut w = workspace(&valid_config(UNREACHABLE));
    w.env("TF_DISABLE_PLUGIN_TLS", "1");
    w.terraform(&["validate", "-no-color"]).assert_success();
    w.terraform(&["validate", "-no-color"]).assert_success();
    let mut w = workspace(&invalid_config());
    w.env("TF_DISABLE_PLUGIN_TLS", "1");
    w.terraform(&["validate", "-no-color"])
        .assert_failure_mentions(&[])
        .assert_stderr_mentions(&["Invalid email address"]);
}

#[test]
fn plan_with_provider_logs_at_debug() {
    // A plan exercises ConfigureProvider, which reaches the registry, and
    // PlanResourceChange; the provider's JSON log lines come through
    // Terraform's log with TF_LOG.
    let registry = RegistryServer::start();
    let mut w = workspace(&valid_config(&registry.url));
    w.env("PARTNER_REGISTRY_TOKEN", &registry.admin_token)
        .env("TF_LOG", "debug");
    w.terraform(&["plan", "-no-color", "-input=false", "-refresh=false"])
        .assert_success()
        .assert_stdout_mentions(&["2 to add", "client_secret", "(sensitive value)"])
        .assert_stderr_mentions(&[&format!("provider configured for {}", registry.url)]);
}

#[test]
fn debug_mode_with_reattach() {
    // The server's output is printed if the test fails (see `Process`).
    let mut server = Process::spawn(Command::new(BIN).arg("--debug"));
    let reattach = (0..20).map_while(|_| server.next_line()).find_map(|line| {
        line.trim()
            .strip_prefix("TF_REATTACH_PROVIDERS='")
            .map(|rest| rest.trim_end_matches('\'').to_string())
    });
    let reattach = reattach.expect("a TF_REATTACH_PROVIDERS line in the first 20");
    let mut w = workspace(&valid_config(UNREACHABLE));
    w.env("TF_REATTACH_PROVIDERS", &reattach);
    let o1 = w.terraform(&["validate", "-no-color"]);
    let mut w2 = workspace(&invalid_config());
    w2.env("TF_REATTACH_PROVIDERS", &reattach);
    let o2 = w2.terraform(&["validate", "-no-color"]);
    let still_running = server.is_running();
    o1.assert_success();
    assert!(!o1.stderr.contains("overrides"), "{o1}");
    o2.assert_failure_mentions(&[])
        .assert_stderr_mentions(&["Invalid name"]);
    assert!(
        still_running,
        "debug server exited after Terraform detached"
    );
}

#[test]
fn running_by_hand_prints_friendly_message_and_exits_1() {
    let o = run(Command::new(BIN).env_remove("TF_PLUGIN_MAGIC_COOKIE"));
    o.assert_code(1);
    assert!(o.stdout.is_empty(), "nothing may be written to stdout\n{o}");
    o.assert_stderr_mentions(&["This binary is a plugin", "Terraform"]);
}

#[test]
fn refuses_protocol_without_6() {
    let o = run(&mut plugin_command(Path::new(BIN), "4,5", None));
    o.assert_code(1);
    assert!(o.stdout.is_empty(), "{o}");
    o.assert_stderr_mentions(&["version 6"]);
}

#[test]
fn handshake_line_shape_with_automtls() {
    // A client certificate as Terraform would pass it (any valid PEM cert).
    let pem = include_str!("data/client-cert.pem");
    let mut plugin = Process::spawn(&mut plugin_command(Path::new(BIN), "6", Some(pem)));
    // Stays running until the end, so that a failure shows its stderr too.
    let line = plugin.next_line().unwrap_or_default();
    let parts: Vec<&str> = line.split('|').collect();
    assert_eq!(parts.len(), 6, "{line}");
    assert_eq!(&parts[..3], &["1", "6", "unix"], "{line}");
    assert!(Path::new(parts[3]).is_absolute(), "{line}");
    assert_eq!(parts[4], "grpc", "{line}");
    assert!(!parts[5].contains('=') && parts[5].len() > 200, "{line}");
}
