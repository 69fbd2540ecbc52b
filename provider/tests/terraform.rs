//! End-to-end tests with the real Terraform CLI against the built provider.
//! Terraform comes from $TERRAFORM, else `terraform` on PATH, else
//! tools/ensure-terraform.sh. Each test works in its own temp directory and
//! points Terraform at the binary with dev_overrides.
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

const BIN: &str = env!("CARGO_BIN_EXE_terraform-provider-partner");

fn terraform() -> &'static str {
    static TF: OnceLock<String> = OnceLock::new();
    TF.get_or_init(|| {
        if let Ok(t) = std::env::var("TERRAFORM") {
            if !t.is_empty() {
                return t;
            }
        }
        if Command::new("terraform")
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            return "terraform".to_string();
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let out = Command::new(root.join("tools/ensure-terraform.sh"))
            .current_dir(&root)
            .output()
            .expect("run tools/ensure-terraform.sh");
        assert!(
            out.status.success(),
            "ensure-terraform.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .lines()
            .last()
            .unwrap_or("")
            .to_string()
    })
}

struct Workdir {
    dir: tempfile::TempDir,
}

impl Workdir {
    fn new(main_tf: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let bin_dir = Path::new(BIN).parent().unwrap();
        std::fs::write(
            dir.path().join("cli.tfrc"),
            format!(
                "provider_installation {{\n  dev_overrides {{\n    \"partner-registry/partner\" = {:?}\n  }}\n  direct {{}}\n}}\n",
                bin_dir.display().to_string()
            ),
        )
        .unwrap();
        std::fs::write(dir.path().join("main.tf"), main_tf).unwrap();
        Workdir { dir }
    }
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(terraform());
        c.args(args)
            .current_dir(self.dir.path())
            .env("TF_CLI_CONFIG_FILE", self.dir.path().join("cli.tfrc"))
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env_remove("TF_LOG")
            .env_remove("TF_DISABLE_PLUGIN_TLS")
            .env_remove("TF_REATTACH_PROVIDERS");
        c
    }
    fn run(&self, args: &[&str], envs: &[(&str, &str)]) -> Output {
        let mut c = self.cmd(args);
        for (k, v) in envs {
            c.env(k, v);
        }
        c.output().expect("run terraform")
    }
}

fn show(o: &Output) -> String {
    format!(
        "exit: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const HEADER: &str = r#"
terraform {
  required_providers {
    partner = { source = "partner-registry/partner" }
  }
}
provider "partner" {
  endpoint = "http://127.0.0.1:9"
}
"#;

fn valid_config() -> String {
    format!(
        r#"{HEADER}
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
        r#"{HEADER}
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
    let w = Workdir::new(&valid_config());
    let o = w.run(&["providers", "schema", "-json"], &[]);
    assert!(o.status.success(), "{}", show(&o));
    let j: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{}", show(&o)));
    let p = &j["provider_schemas"]["registry.terraform.io/partner-registry/partner"];
    let prov = &p["provider"]["block"]["attributes"];
    assert_eq!(prov["token"]["sensitive"], true, "{}", show(&o));
    assert_eq!(prov["endpoint"]["optional"], true);
    assert!(prov["change_ref"].is_object());
    let org = &p["resource_schemas"]["partner_org"]["block"]["attributes"];
    for a in [
        "id",
        "name",
        "legal_entity",
        "technical_owner",
        "approval_authority",
        "commercial_sponsor",
        "contract_id",
        "contract_start",
        "contract_end",
        "tenant",
        "business_unit",
        "allowed_scopes",
        "max_clients",
        "labels",
        "status",
        "created_at",
    ] {
        assert!(org[a].is_object(), "partner_org.{a} missing\n{}", show(&o));
        assert!(
            org[a]["description"].as_str().is_some_and(|d| d.len() > 10),
            "partner_org.{a} undocumented"
        );
    }
    assert_eq!(
        org["allowed_scopes"]["type"],
        serde_json::json!(["set", "string"])
    );
    assert_eq!(org["labels"]["type"], serde_json::json!(["map", "string"]));
    assert_eq!(org["max_clients"]["type"], "number");
    assert_eq!(org["id"]["computed"], true);
    let cl = &p["resource_schemas"]["partner_client"]["block"]["attributes"];
    assert_eq!(cl["client_secret"]["sensitive"], true);
    assert_eq!(cl["org_id"]["required"], true);
}

#[test]
fn validate_passes_on_valid_config() {
    let w = Workdir::new(&valid_config());
    let o = w.run(&["validate", "-no-color"], &[]);
    assert!(o.status.success(), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("The configuration is valid"),
        "{}",
        show(&o)
    );
}

#[test]
fn validate_reports_invalid_attributes_by_name() {
    let w = Workdir::new(&invalid_config());
    let o = w.run(&["validate", "-json"], &[]);
    assert!(!o.status.success(), "{}", show(&o));
    let j: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{}", show(&o)));
    let diags = j["diagnostics"].as_array().cloned().unwrap_or_default();
    let text = |d: &serde_json::Value| {
        format!("{} {} {}", d["summary"], d["detail"], d["snippet"]["code"])
    };
    for (attr, summary) in [
        ("name", "Invalid slug"),
        ("technical_owner", "Invalid email address"),
        ("contract_end", "Invalid date"),
        ("allowed_scopes", "Invalid scope"),
        ("expires_at", "Invalid timestamp"),
    ] {
        assert!(
            diags.iter().any(|d| d["severity"] == "error"
                && d["summary"] == summary
                && text(d).contains(attr)),
            "no {summary:?} diagnostic naming {attr}\n{}",
            show(&o)
        );
    }
}

#[test]
fn works_without_plugin_tls() {
    let w = Workdir::new(&valid_config());
    let o = w.run(
        &["validate", "-no-color"],
        &[("TF_DISABLE_PLUGIN_TLS", "1")],
    );
    assert!(o.status.success(), "{}", show(&o));
    let o = w.run(
        &["validate", "-no-color"],
        &[("TF_DISABLE_PLUGIN_TLS", "1")],
    );
    assert!(o.status.success(), "{}", show(&o));
    let w = Workdir::new(&invalid_config());
    let o = w.run(
        &["validate", "-no-color"],
        &[("TF_DISABLE_PLUGIN_TLS", "1")],
    );
    assert!(
        !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("Invalid email address"),
        "{}",
        show(&o)
    );
}

#[test]
fn plan_with_provider_logs_at_debug() {
    // A plan exercises ConfigureProvider and PlanResourceChange; logs from
    // the provider come through Terraform's log with TF_LOG.
    let w = Workdir::new(&valid_config());
    let o = w.run(
        &["plan", "-no-color", "-input=false", "-refresh=false"],
        &[("TF_LOG", "debug")],
    );
    assert!(o.status.success(), "{}", show(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("2 to add"), "{}", show(&o));
    assert!(
        out.contains("client_secret") && out.contains("(sensitive value)"),
        "{}",
        show(&o)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("provider configured for http://127.0.0.1:9"),
        "provider log line missing\n{}",
        show(&o)
    );
}

#[test]
fn debug_mode_with_reattach() {
    let mut child = Command::new(BIN)
        .arg("--debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut reader = BufReader::new(stdout);
    let mut reattach = None;
    let mut all = String::new();
    for _ in 0..20 {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        all.push_str(&line);
        if let Some(rest) = line.trim().strip_prefix("TF_REATTACH_PROVIDERS='") {
            reattach = Some(rest.trim_end_matches('\'').to_string());
            break;
        }
    }
    let Some(reattach) = reattach else {
        let _ = child.kill();
        panic!("no TF_REATTACH_PROVIDERS line in:\n{all}");
    };
    let w = Workdir::new(&valid_config());
    let o1 = w.run(
        &["validate", "-no-color"],
        &[("TF_REATTACH_PROVIDERS", &reattach)],
    );
    let w2 = Workdir::new(&invalid_config());
    let o2 = w2.run(
        &["validate", "-no-color"],
        &[("TF_REATTACH_PROVIDERS", &reattach)],
    );
    let still_running = child.try_wait().ok().flatten().is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert!(o1.status.success(), "{}", show(&o1));
    assert!(
        !String::from_utf8_lossy(&o1.stderr).contains("overrides"),
        "{}",
        show(&o1)
    );
    assert!(
        !o2.status.success() && String::from_utf8_lossy(&o2.stderr).contains("Invalid slug"),
        "{}",
        show(&o2)
    );
    assert!(
        still_running,
        "debug server exited after Terraform detached"
    );
}

#[test]
fn running_by_hand_prints_friendly_message_and_exits_1() {
    let o = Command::new(BIN)
        .env_remove("TF_PLUGIN_MAGIC_COOKIE")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(
        o.stdout.is_empty(),
        "nothing may be written to stdout\n{}",
        show(&o)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("This binary is a plugin") && err.contains("Terraform"),
        "{}",
        show(&o)
    );
}

#[test]
fn refuses_protocol_without_6() {
    let o = Command::new(BIN)
        .env(
            "TF_PLUGIN_MAGIC_COOKIE",
            "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2",
        )
        .env("PLUGIN_PROTOCOL_VERSIONS", "4,5")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(o.stdout.is_empty(), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("version 6"),
        "{}",
        show(&o)
    );
}

#[test]
fn handshake_line_shape_with_automtls() {
    // A client certificate as Terraform would pass it (any valid PEM cert).
    let pem = include_str!("data/client-cert.pem");
    let mut child = Command::new(BIN)
        .env(
            "TF_PLUGIN_MAGIC_COOKIE",
            "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2",
        )
        .env("PLUGIN_PROTOCOL_VERSIONS", "6")
        .env("PLUGIN_CLIENT_CERT", pem)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let parts: Vec<&str> = line.trim_end().split('|').collect();
    assert_eq!(parts.len(), 6, "{line}");
    assert_eq!(&parts[..3], &["1", "6", "unix"], "{line}");
    assert!(Path::new(parts[3]).is_absolute(), "{line}");
    assert_eq!(parts[4], "grpc");
    assert!(!parts[5].contains('=') && parts[5].len() > 200, "{line}");
}
