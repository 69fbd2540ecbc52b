//! Resource identity: import by identity, then an empty plan; identity in
//! state stable through updates.

use acceptance_tests::bodies;
use acceptance_tests::{RegistryServer, Workspace};

use crate::config::{client, org};
use crate::require_terraform_1_14;

/// Org `acme` and its client `sync` (scope `orders:read`), made through the
/// registry's API rather than by Terraform.
fn made_outside(registry: &RegistryServer) -> (serde_json::Value, serde_json::Value) {
    let org = registry.create(
        "/v1/orgs",
        bodies::org("acme", "2030-12-31", &["orders:read"]),
    );
    let org_id = org["id"].as_str().unwrap();
    let client = registry.create(
        "/v1/clients",
        bodies::client(org_id, "sync", &["orders:read"]),
    );
    (org, client)
}

/// The `partner_client` block of the client [`made_outside`] made, its
/// `org_id` the HCL expression `org_id`.
fn sync_as_made_outside(org_id: &str) -> String {
    client("sync", org_id, "outside@example.com", &["orders:read"], "").replace(
        "Acceptance test client sync",
        "Client sync made outside Terraform",
    )
}

#[test]
fn import_by_identity_then_empty_plan() {
    require_terraform_1_14();
    let registry = RegistryServer::start();
    let (made_org, made) = made_outside(&registry);
    let org_id = made_org["id"].as_str().unwrap().to_string();
    let client_id = made["id"].as_str().unwrap().to_string();

    let workspace = Workspace::new(&registry);
    let config = format!(
        "{}{}\nimport {{\n  to = partner_org.acme\n  identity = {{ id = \"{org_id}\" }}\n}}\nimport {{\n  to = partner_client.sync\n  identity = {{ id = \"{client_id}\" }}\n}}\n",
        org("acme", "acme", "2030-12-31", &["orders:read"], ""),
        sync_as_made_outside("partner_org.acme.id"),
    );
    workspace.write_config(&config);
    let apply = workspace.apply();
    apply.assert_mentions(&["2 imported, 0 added, 0 changed, 0 destroyed"]);
    workspace.assert_no_changes();

    let state = workspace.state();
    let show = workspace.terraform(&["state", "pull"]);
    show.assert_success();
    let raw = show.json();
    let identities: Vec<_> = raw["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["instances"][0]["identity"].clone())
        .collect();
    assert!(
        identities.contains(&serde_json::json!({ "id": org_id }))
            && identities.contains(&serde_json::json!({ "id": client_id })),
        "identities in state: {identities:?}\n{state:#}"
    );

    // An update keeps the identity.
    workspace.write_config(&config.replace("Client sync made outside Terraform", "Nightly sync"));
    workspace
        .apply()
        .assert_mentions(&["0 added, 1 changed, 0 destroyed"]);
    workspace.assert_no_changes();
    let pulled = workspace.terraform(&["state", "pull"]);
    pulled.assert_success();
    let after: Vec<_> = pulled.json()["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["instances"][0]["identity"].clone())
        .collect();
    assert_eq!(after, identities, "the identity changed in an update");
}

#[test]
fn plan_generates_configuration_for_an_import_by_identity() {
    require_terraform_1_14();
    let registry = RegistryServer::start();
    let (_, made) = made_outside(&registry);
    let workspace = Workspace::new(&registry);
    workspace.write_config(&format!(
        "import {{\n  to = partner_client.sync\n  identity = {{ id = \"{}\" }}\n}}\n",
        made["id"].as_str().unwrap()
    ));
    workspace
        .terraform(&["plan", "-no-color", "-generate-config-out=generated.tf"])
        .assert_success();
    let generated = std::fs::read_to_string(workspace.path().join("generated.tf")).unwrap();
    for computed in ["client_id ", "status ", "created_at ", "expires_at "] {
        assert!(
            !generated.contains(computed),
            "{computed:?} in\n{generated}"
        );
    }
    workspace.apply().assert_mentions(&["1 imported"]);
    workspace.assert_no_changes();
}

#[test]
fn identity_of_an_unknown_object_fails_the_import() {
    require_terraform_1_14();
    let registry = RegistryServer::start();
    let workspace = Workspace::new(&registry);
    workspace.write_config(&format!(
        "{}\nimport {{\n  to = partner_org.acme\n  identity = {{ id = \"org_missing\" }}\n}}\n",
        org("acme", "acme", "2030-12-31", &["orders:read"], "")
    ));
    workspace
        .plan()
        .assert_failure_mentions(&["Cannot import the partner org", "org_missing"]);
}

#[test]
fn clients_import_as_org_name_slash_client_name() {
    require_terraform_1_14();
    let registry = RegistryServer::start();
    let (made_org, made) = made_outside(&registry);
    let org_id = made_org["id"].as_str().unwrap();
    let workspace = Workspace::new(&registry);
    workspace.write_config(&format!(
        "{}\nimport {{\n  to = partner_client.sync\n  id = \"acme/sync\"\n}}\n",
        sync_as_made_outside(&format!("\"{org_id}\"")),
    ));
    workspace.apply().assert_mentions(&["1 imported"]);
    assert_eq!(workspace.resource("partner_client.sync")["id"], made["id"]);
    workspace.assert_no_changes();
}
