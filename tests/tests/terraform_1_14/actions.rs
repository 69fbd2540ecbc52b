//! Actions through `terraform apply -invoke` and through `action_trigger`,
//! checked against introspection and the audit trail.

use acceptance_tests::bodies;
use acceptance_tests::{RegistryServer, Run, Workspace};
use serde_json::Value;

use crate::config::{client, org};
use crate::require_terraform_1_14;

const CHANGE_REF: &str = "https://git.example/pr/77";
const SUPPLIED: &str = "Supplied-Secret-0123456789-abcdefXYZ";
const SUPPLIED_TOO: &str = "Another-Secret-9876543210-zyxwvuQRS";

fn invoke(workspace: &Workspace, action: &str) -> Run {
    let run = workspace.terraform(&[
        "apply",
        "-auto-approve",
        "-input=false",
        "-no-color",
        &format!("-invoke=action.{action}"),
    ]);
    run.assert_success();
    run
}

fn active(registry: &RegistryServer, client: &Value, secret: &str) -> bool {
    registry.introspect(client["client_id"].as_str().unwrap(), secret)["active"] == true
}

/// The audit events of `action` on `entity`, each with its change_ref.
fn audited(registry: &RegistryServer, action: &str, entity: &str) -> Vec<Value> {
    let audit = registry.get("/v1/audit?limit=500");
    audit["items"]
        .as_array()
        .or(audit.as_array())
        .into_iter()
        .flatten()
        .filter(|e| e["action"] == action && e["entity_id"] == entity)
        .map(|e| e["change_ref"].clone())
        .collect()
}

#[test]
fn rotate_secret_by_invoke_and_by_action_trigger() {
    require_terraform_1_14();
    let registry = RegistryServer::start_at("2026-03-01T00:00:00Z");
    let mut workspace = Workspace::new(&registry);
    workspace.env("PARTNER_CHANGE_REF", CHANGE_REF);
    let config = |purpose: &str, secret: &str| {
        format!(
            r#"{}{}
action "partner_client_rotate_secret" "sync" {{
  config {{
    client        = partner_client.sync.id
    grace_period  = "1h"
    client_secret = "{secret}"
  }}
}}
"#,
            org("acme", "acme", "2030-12-31", &["a:read"], ""),
            client(
                "sync",
                "partner_org.acme.id",
                "team@acme.example",
                &["a:read"],
                r#"  lifecycle {
    action_trigger {
      events  = [after_update]
      actions = [action.partner_client_rotate_secret.sync]
    }
  }"#
            )
            .replace("Acceptance test client sync", purpose)
        )
    };
    workspace.write_config(&config("Nightly sync", SUPPLIED));
    workspace.apply();
    let state = workspace.resource("partner_client.sync");
    let first = state["client_secret"].as_str().unwrap().to_string();
    let id = state["id"].as_str().unwrap().to_string();

    let run = invoke(&workspace, "partner_client_rotate_secret.sync");
    run.assert_mentions(&["rotating the secret of client sync"]);
    assert!(
        active(&registry, &state, &first),
        "old secret within the grace period"
    );
    assert!(active(&registry, &state, SUPPLIED), "new secret");
    let after = workspace.state().to_string();
    assert!(!after.contains(SUPPLIED), "the action's secret is in state");
    registry.set_clock("2026-03-01T02:00:00Z");
    assert!(
        !active(&registry, &state, &first),
        "old secret after the grace period"
    );
    assert!(active(&registry, &state, SUPPLIED));
    assert_eq!(
        audited(&registry, "client.rotate_secret", &id),
        vec![Value::from(CHANGE_REF)]
    );

    // An update of the client triggers the action.
    workspace.write_config(&config("Hourly sync", SUPPLIED_TOO));
    workspace.apply();
    assert!(active(&registry, &state, SUPPLIED_TOO));
    assert!(
        active(&registry, &state, SUPPLIED),
        "within the grace period"
    );
    registry.set_clock("2026-03-01T04:00:00Z");
    assert!(!active(&registry, &state, SUPPLIED));
    assert_eq!(audited(&registry, "client.rotate_secret", &id).len(), 2);
    workspace.assert_no_changes();
}

#[test]
fn revoke_and_offboard_by_invoke() {
    require_terraform_1_14();
    let registry = RegistryServer::start();
    let acme = registry.create("/v1/orgs", bodies::org("acme", "2030-12-31", &["a:read"]));
    let acme_id = acme["id"].as_str().unwrap().to_string();
    let shadow = registry.create(
        "/v1/clients",
        bodies::client(&acme_id, "shadow", &["a:read"]),
    );
    let globex = registry.create("/v1/orgs", bodies::org("globex", "2030-12-31", &["g:read"]));
    let globex_id = globex["id"].as_str().unwrap().to_string();
    let clients: Vec<Value> = (1..=3)
        .map(|n| {
            registry.create(
                "/v1/clients",
                bodies::client(&globex_id, &format!("c{n}"), &["g:read"]),
            )
        })
        .collect();

    let mut workspace = Workspace::new(&registry);
    workspace.env("PARTNER_CHANGE_REF", CHANGE_REF);
    workspace.write_config(
        r#"
action "partner_client_revoke" "shadow" {
  config {
    client = "acme/shadow"
  }
}
action "partner_org_offboard" "globex" {
  config {
    org = "globex"
  }
}
"#,
    );
    let secret = shadow["client_secret"].as_str().unwrap();
    assert!(active(&registry, &shadow, secret));
    invoke(&workspace, "partner_client_revoke.shadow");
    assert!(!active(&registry, &shadow, secret));
    let shadow_id = shadow["id"].as_str().unwrap();
    assert_eq!(
        registry.get(&format!("/v1/clients/{shadow_id}"))["status"],
        "revoked"
    );
    assert_eq!(
        audited(&registry, "client.revoke", shadow_id),
        vec![Value::from(CHANGE_REF)]
    );

    let run = invoke(&workspace, "partner_org_offboard.globex");
    run.assert_mentions(&["revoked client 3/3", "org globex offboarded"]);
    for c in &clients {
        assert!(!active(&registry, c, c["client_secret"].as_str().unwrap()));
    }
    assert_eq!(
        registry.get(&format!("/v1/orgs/{globex_id}"))["status"],
        "offboarded"
    );
    assert_eq!(
        audited(&registry, "org.offboard", &globex_id),
        vec![Value::from(CHANGE_REF)]
    );

    // Planning an action on something that is not there fails the plan.
    workspace.write_config(
        "action \"partner_client_revoke\" \"x\" {\n  config {\n    client = \"acme/nobody\"\n  }\n}\n",
    );
    workspace
        .terraform(&[
            "plan",
            "-no-color",
            "-invoke=action.partner_client_revoke.x",
        ])
        .assert_failure_mentions(&["Cannot revoke the partner client", "acme/nobody"]);
}
