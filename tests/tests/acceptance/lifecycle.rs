//! Lifecycle governance: rotation with overlap, secrets kept out of state,
//! contract expiry, and warnings a reviewer must see.

use acceptance_tests::bodies;
use acceptance_tests::{RegistryServer, Workspace};
use serde_json::Value;

use crate::config::{acme_client, acme_org, acme_with_client, client, org, string};

/// The registry's clock at the start of these tests; contracts end in 2030.
const T0: &str = "2026-06-01T00:00:00Z";

fn active(registry: &RegistryServer, client_id: &str, secret: &str) -> bool {
    registry.introspect(client_id, secret)["active"] == true
}

#[test]
fn trigger_change_rotates_with_overlap_and_revocation_ends_both() {
    let registry = RegistryServer::start_at(T0);
    let workspace = Workspace::new(&registry);
    let config = |trigger: &str| {
        acme_with_client(
            "2030-12-31",
            "sync",
            &format!(
                "  rotation_triggers = {{ key = \"{trigger}\" }}\n  rotation_grace_period = \"1h\""
            ),
        )
    };
    workspace.write_config(&config("2026-q2"));
    workspace.apply();
    let first = workspace.resource("partner_client.sync");
    let client_id = string(&first, "client_id");
    let first_secret = string(&first, "client_secret");

    workspace.write_config(&config("2026-q3"));
    workspace.plan().assert_code(2).assert_mentions(&[
        "update in-place",
        "client_secret",
        "(sensitive value)",
    ]);
    workspace.apply();
    let second = workspace.resource("partner_client.sync");
    let second_secret = string(&second, "client_secret");
    assert_eq!(string(&second, "client_id"), client_id, "rotated in place");
    assert_ne!(second_secret, first_secret);
    assert!(
        active(&registry, &client_id, &first_secret),
        "overlap: the old secret still works"
    );
    assert!(active(&registry, &client_id, &second_secret));
    workspace.assert_no_changes();

    registry.set_clock("2026-06-01T01:00:01Z");
    assert!(
        !active(&registry, &client_id, &first_secret),
        "the grace period is over"
    );
    assert!(active(&registry, &client_id, &second_secret));

    workspace.write_config(&config("2026-q4"));
    workspace.apply();
    let third_secret = string(&workspace.resource("partner_client.sync"), "client_secret");
    assert!(active(&registry, &client_id, &second_secret));
    assert!(active(&registry, &client_id, &third_secret));

    workspace.destroy();
    assert!(
        !active(&registry, &client_id, &second_secret),
        "revocation ends both"
    );
    assert!(!active(&registry, &client_id, &third_secret));
}

#[test]
fn owner_change_rotates_and_warns() {
    let registry = RegistryServer::start_at(T0);
    let workspace = Workspace::new(&registry);
    let config = |owner: &str| {
        format!(
            "{}{}",
            acme_org("2030-12-31"),
            client("sync", "partner_org.acme.id", owner, &["a:read"], "")
        )
    };
    workspace.write_config(&config("alice@example.com"));
    workspace.apply();
    let before = workspace.resource("partner_client.sync");
    assert_eq!(
        before["rotation_grace_period"], "24h",
        "the default overlap"
    );

    workspace.write_config(&config("bob@example.com"));
    workspace.plan().assert_code(2).assert_mentions(&[
        "\"sync\": owner changes",
        "alice@example.com to bob@example.com",
        "rotated",
        "Ask approvals@example.com",
    ]);
    workspace.apply();
    let after = workspace.resource("partner_client.sync");
    let client_id = string(&after, "client_id");
    assert_ne!(after["client_secret"], before["client_secret"]);
    assert!(
        active(&registry, &client_id, &string(&before, "client_secret")),
        "24h overlap"
    );
    registry.set_clock("2026-06-02T00:00:01Z");
    assert!(!active(
        &registry,
        &client_id,
        &string(&before, "client_secret")
    ));
    assert!(active(
        &registry,
        &client_id,
        &string(&after, "client_secret")
    ));
}

/// A supplied secret of the registry's required strength.
const SUPPLIED: &str = "Wo-Secret_0123456789abcdefGHIJKLmnop";
const SUPPLIED_NEXT: &str = "Wo-Secret_9876543210zyxwvuTSRQPOnmlk";

fn write_only_config(version: u32) -> String {
    format!(
        r#"
variable "client_secret" {{
  type      = string
  sensitive = true
  ephemeral = true
}}
{}{}"#,
        acme_org("2030-12-31"),
        acme_client(
            "sync",
            &format!(
                "  client_secret_wo = var.client_secret\n  client_secret_wo_version = {version}\n  rotation_grace_period = \"0s\""
            )
        )
    )
}

/// The supplied secret stays out of the plan, the state, the database and
/// both programs' logs, at trace level.
#[test]
fn write_only_secret_stays_out_of_plan_state_database_and_logs() {
    let registry = RegistryServer::start_with(&["--fake-clock", T0, "--log-level", "trace"]);
    let mut workspace = Workspace::new(&registry);
    workspace.env("TF_VAR_client_secret", SUPPLIED);
    workspace.env("TF_LOG_PROVIDER", "trace");
    workspace.write_config(&write_only_config(1));
    workspace
        .terraform(&["plan", "-out=first.tfplan", "-input=false", "-no-color"])
        .assert_success()
        .assert_not_mentions(SUPPLIED);
    let plan = workspace.terraform(&["show", "-json", "first.tfplan"]);
    plan.assert_success().assert_not_mentions(SUPPLIED);
    let applied = workspace.terraform(&["apply", "-input=false", "-no-color", "first.tfplan"]);
    applied.assert_success().assert_not_mentions(SUPPLIED);
    assert!(
        applied.stderr.contains("registry POST /v1/clients -> 201"),
        "the provider logged its requests: {}",
        applied.stderr
    );
    workspace.env("TF_LOG_PROVIDER", "");
    let registry_log = registry.log();
    assert!(
        registry_log.contains("/v1/clients"),
        "the registry logged the create: {registry_log}"
    );
    assert!(
        !registry_log.contains(SUPPLIED),
        "the supplied secret is in the registry's log"
    );

    let state = workspace.resource("partner_client.sync");
    assert_eq!(state["client_secret"], Value::Null, "{state:#}");
    assert_eq!(state["client_secret_wo"], Value::Null, "{state:#}");
    let raw_state =
        std::fs::read_to_string(workspace.path().join("terraform.tfstate")).expect("state");
    assert!(
        !raw_state.contains(SUPPLIED),
        "the supplied secret is in the state file"
    );
    for file in ["registry.db", "registry.db-wal"] {
        let bytes = std::fs::read(registry.db_path().with_file_name(file)).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(SUPPLIED), "the supplied secret is in {file}");
    }
    let client_id = string(&state, "client_id");
    assert!(active(&registry, &client_id, SUPPLIED));
    workspace.assert_no_changes();

    workspace.env("TF_VAR_client_secret", SUPPLIED_NEXT);
    workspace.write_config(&write_only_config(2));
    workspace.apply().assert_not_mentions(SUPPLIED_NEXT);
    assert!(
        active(&registry, &client_id, SUPPLIED_NEXT),
        "rotated to the new value"
    );
    assert!(
        !active(&registry, &client_id, SUPPLIED),
        "no overlap with a 0s grace period"
    );
    workspace.assert_no_changes();
}

#[test]
fn weak_supplied_secret_fails_the_plan_naming_the_rule() {
    let registry = RegistryServer::start_at(T0);
    let mut workspace = Workspace::new(&registry);
    workspace.env("TF_VAR_client_secret", "too-short");
    workspace.write_config(&write_only_config(1));
    workspace
        .plan()
        .assert_failure_mentions(&["client_secret_wo", "shorter than 32 characters"])
        .assert_not_mentions("too-short");
}

#[test]
fn ephemeral_secret_feeds_the_write_only_argument() {
    let registry = RegistryServer::start_at(T0);
    let workspace = Workspace::new(&registry);
    workspace.write_config(&format!(
        r#"
ephemeral "partner_client_secret" "sync" {{
  length = 40
}}
{}{}"#,
        acme_org("2030-12-31"),
        acme_client("sync", "  client_secret_wo = ephemeral.partner_client_secret.sync.value\n  client_secret_wo_version = 1")
    ));
    workspace.apply();
    let state = workspace.resource("partner_client.sync");
    assert_eq!(state["client_secret"], Value::Null, "{state:#}");
    let stored = registry.get(&format!("/v1/clients/{}", string(&state, "id")));
    assert_eq!(stored["status"], "active", "{stored:#}");
    workspace.assert_no_changes();
}

#[test]
fn ended_contract_makes_clients_inactive_and_the_plan_warns() {
    let registry = RegistryServer::start_at(T0);
    let workspace = Workspace::new(&registry);
    workspace.write_config(&acme_with_client("2026-07-31", "sync", ""));
    workspace.apply();
    let state = workspace.resource("partner_client.sync");
    let (client_id, secret) = (string(&state, "client_id"), string(&state, "client_secret"));
    assert!(active(&registry, &client_id, &secret));

    registry.set_clock("2026-08-01T00:00:00Z");
    assert!(!active(&registry, &client_id, &secret), "no apply needed");
    let org_id = string(&workspace.resource("partner_org.acme"), "id");
    assert_eq!(
        registry.get(&format!("/v1/orgs/{org_id}"))["status"],
        "expired"
    );
    assert_eq!(
        registry.get(&format!("/v1/clients/{client_id}"))["status"],
        "expired"
    );
    workspace.plan().assert_mentions(&[
        "contract has ended",
        "\"acme\"",
        "2026-07-31",
        "approvals@example.com",
    ]);
    workspace
        .terraform(&["apply", "-refresh-only", "-auto-approve", "-no-color"])
        .assert_success();
    assert_eq!(workspace.resource("partner_org.acme")["status"], "expired");
    assert_eq!(
        workspace.resource("partner_client.sync")["status"],
        "expired"
    );
}

#[test]
fn renew_before_warns_in_every_plan_while_expiry_is_near() {
    // The warning follows the registry's clock, not the machine's.
    let registry = RegistryServer::start_at(T0);
    let workspace = Workspace::new(&registry);
    let near = "  renew_before = \"720h\"\n  expires_at = \"2026-06-20T00:00:00Z\"";
    let far = "  renew_before = \"720h\"\n  expires_at = \"2026-09-01T00:00:00Z\"";
    workspace.write_config(&format!(
        "{}{}{}",
        acme_org("2030-12-31"),
        client(
            "near",
            "partner_org.acme.id",
            "near@example.com",
            &["a:read"],
            near
        ),
        client(
            "far",
            "partner_org.acme.id",
            "far@example.com",
            &["a:read"],
            far
        ),
    ));
    workspace
        .apply()
        .assert_mentions(&[
            "expires soon",
            "\"near\"",
            "(owner near@example.com)",
            "2026-06-20T00:00:00Z",
        ])
        .assert_not_mentions("(owner far@example.com)");
    workspace
        .assert_no_changes()
        .assert_mentions(&["expires soon", "(owner near@example.com)"])
        .assert_not_mentions("(owner far@example.com)");
    registry.set_clock("2026-08-10T00:00:00Z");
    workspace
        .plan()
        .assert_mentions(&["(owner far@example.com)", "2026-09-01T00:00:00Z"]);
}

#[test]
fn risky_changes_warn_naming_the_approval_authority_and_plain_ones_do_not() {
    let registry = RegistryServer::start_at(T0);
    let workspace = Workspace::new(&registry);
    let config = |org_scopes: &[&str],
                  contract_end: &str,
                  client_extra: &str,
                  scopes: &[&str],
                  target: &str| {
        format!(
            "{}{}{}",
            org("acme", "acme", contract_end, org_scopes, ""),
            org("other", "other", "2030-12-31", &["a:read", "b:read"], "")
                .replace("approvals@example.com", "other-approvals@example.com"),
            client("sync", target, "dev@example.com", scopes, client_extra)
        )
    };
    let expiry = "  expires_at = \"2029-01-01T00:00:00Z\"";
    workspace.write_config(&config(
        &["a:read"],
        "2030-06-30",
        expiry,
        &["a:read"],
        "partner_org.acme.id",
    ));
    workspace.apply();

    let plain = config(
        &["a:read"],
        "2030-06-30",
        expiry,
        &["a:read"],
        "partner_org.acme.id",
    )
    .replace("Acceptance test client sync", "A clearer purpose");
    workspace.write_config(&plain);
    // Every warning about a risky change names whom to ask; none here.
    workspace.plan().assert_code(2).assert_not_mentions("Ask ");
    workspace.apply();

    let widened = config(
        &["a:read", "b:read"],
        "2030-12-31",
        expiry,
        &["a:read"],
        "partner_org.acme.id",
    )
    .replace("Acceptance test client sync", "A clearer purpose");
    workspace.write_config(&widened);
    workspace.plan().assert_code(2).assert_mentions(&[
        "allowed scopes widened",
        "\"b:read\"",
        "contract extended",
        "2030-12-31 instead of 2030-06-30",
        "Ask approvals@example.com",
    ]);
    workspace.apply();

    let client_wider = config(
        &["a:read", "b:read"],
        "2030-12-31",
        "  expires_at = \"2030-01-01T00:00:00Z\"",
        &["a:read", "b:read"],
        "partner_org.acme.id",
    )
    .replace("Acceptance test client sync", "A clearer purpose");
    workspace.write_config(&client_wider);
    workspace.plan().assert_code(2).assert_mentions(&[
        "Scope added to client \"sync\"",
        "\"b:read\"",
        "\"sync\": expiry extended",
        "2030-01-01T00:00:00Z instead of 2029-01-01T00:00:00Z",
        "Ask approvals@example.com",
    ]);
    workspace.apply();

    let moved = client_wider.replace(
        "org_id  = partner_org.acme.id",
        "org_id  = partner_org.other.id",
    );
    workspace.write_config(&moved);
    workspace.plan().assert_code(2).assert_mentions(&[
        "moves to another org",
        "\"other\"",
        "Ask other-approvals@example.com",
    ]);
}

#[test]
fn last_use_shows_in_the_clients_data_source() {
    let registry = RegistryServer::start_at(T0);
    let workspace = Workspace::new(&registry);
    let resources = acme_with_client("2030-12-31", "sync", "");
    workspace.write_config(&resources);
    workspace.apply();
    let state = workspace.resource("partner_client.sync");
    assert!(active(
        &registry,
        &string(&state, "client_id"),
        &string(&state, "client_secret")
    ));

    workspace.write_config(&format!(
        r#"{resources}
data "partner_clients" "acme" {{
  org_id = partner_org.acme.id
}}

output "last_used_at" {{
  value = data.partner_clients.acme.clients[0].last_used_at
}}
"#
    ));
    // The registry writes last use coarsely, in the background.
    let mut last_used = Value::Null;
    for _ in 0..50 {
        workspace.apply();
        last_used = workspace.output("last_used_at");
        if !last_used.is_null() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        last_used, T0,
        "last use is recorded to the registry's clock"
    );
}

#[test]
fn a_secret_version_without_a_supplied_secret_fails_the_plan() {
    let registry = RegistryServer::start_at(T0);
    let workspace = Workspace::new(&registry);
    workspace.write_config(&acme_with_client(
        "2030-12-31",
        "sync",
        "  client_secret_wo_version = 1",
    ));
    workspace
        .plan()
        .assert_failure_mentions(&["client_secret_wo", "Missing supplied secret"]);
    assert_eq!(
        registry.get("/v1/orgs")["items"],
        serde_json::json!([]),
        "nothing created"
    );
}

#[test]
fn triggers_added_after_an_import_are_adopted_without_rotating() {
    let registry = RegistryServer::start_at(T0);
    let acme = registry.create("/v1/orgs", bodies::org("acme", "2030-12-31", &["a:read"]));
    let org_id = string(&acme, "id");
    let made = registry.create("/v1/clients", bodies::client(&org_id, "sync", &["a:read"]));
    let (client_id, secret) = (string(&made, "client_id"), string(&made, "client_secret"));

    let workspace = Workspace::new(&registry);
    workspace.write_config(&format!(
        r#"
import {{
  to = partner_client.sync
  id = "{client_id}"
}}
{}"#,
        crate::config::outside_client(
            &org_id,
            "sync",
            r#"  rotation_triggers = { quarter = "2026-q2" }"#
        )
    ));
    workspace.apply();
    assert_eq!(
        workspace.resource("partner_client.sync")["client_secret"],
        Value::Null
    );
    registry.set_clock("2026-06-03T00:00:00Z");
    assert!(
        active(&registry, &client_id, &secret),
        "the imported secret was not rotated away"
    );
    workspace.assert_no_changes();
}

#[test]
fn triggers_known_only_at_apply_rotate_without_an_inconsistent_result() {
    let registry = RegistryServer::start_at(T0);
    let mut workspace = Workspace::new(&registry);
    workspace.write_config(&format!(
        r#"
variable "period" {{
  type = string
}}

resource "terraform_data" "rotation" {{
  triggers_replace = var.period
}}
{}{}"#,
        acme_org("2030-12-31"),
        acme_client(
            "sync",
            "  rotation_triggers = { period = terraform_data.rotation.id }"
        )
    ));
    workspace.env("TF_VAR_period", "2026-q2");
    workspace.apply();
    let before = string(&workspace.resource("partner_client.sync"), "client_secret");
    workspace.env("TF_VAR_period", "2026-q3");
    workspace.apply();
    let state = workspace.resource("partner_client.sync");
    let after = string(&state, "client_secret");
    assert_ne!(after, before, "rotated");
    assert!(active(&registry, &string(&state, "client_id"), &after));
    workspace.assert_no_changes();
}

#[test]
fn an_owner_change_with_a_supplied_secret_needs_a_new_one() {
    let registry = RegistryServer::start_at(T0);
    let mut workspace = Workspace::new(&registry);
    workspace.env("TF_VAR_client_secret", SUPPLIED);
    workspace.write_config(&write_only_config(1));
    workspace.apply();
    workspace
        .write_config(&write_only_config(1).replace("dev@example.com", "new-owner@example.com"));
    workspace.plan().assert_failure_mentions(&[
        "client_secret_wo_version",
        "Rotation needs a new supplied secret",
    ]);
    workspace.env("TF_VAR_client_secret", SUPPLIED_NEXT);
    workspace
        .write_config(&write_only_config(2).replace("dev@example.com", "new-owner@example.com"));
    workspace.apply();
    let client_id = string(&workspace.resource("partner_client.sync"), "client_id");
    assert!(
        !active(&registry, &client_id, SUPPLIED),
        "the previous owner's secret stops"
    );
    assert!(active(&registry, &client_id, SUPPLIED_NEXT));
}
