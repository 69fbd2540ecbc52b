//! `partner_client`: create with a secret, update in place, replacement on a
//! move to another org, drift, import, and revocation on destroy.

use acceptance_tests::bodies;
use acceptance_tests::{RegistryServer, Workspace};
use serde_json::Value;

use crate::config::{acme_client, acme_org, client, org, string};

#[test]
fn client_lifecycle_secret_update_in_place_and_revoke_on_destroy() {
    let registry = RegistryServer::start();
    let workspace = Workspace::new(&registry);
    let scopes = &["orders:read", "orders:write", "stock:read"];
    let base = org("acme", "acme", "2030-12-31", scopes, "");
    workspace.write_config(&format!(
        "{base}{}",
        client(
            "sync",
            "partner_org.acme.id",
            "dev@acme.example",
            &["orders:read"],
            ""
        )
    ));
    workspace.apply();

    let state = workspace.resource("partner_client.sync");
    let client_id = string(&state, "client_id");
    let secret = string(&state, "client_secret");
    assert!(client_id.starts_with("pc_"), "{state:#}");
    assert!(secret.starts_with("pcs_"), "{state:#}");
    assert_eq!(state["status"], "active");
    assert_eq!(
        state["expires_at"], "2030-12-31T23:59:59Z",
        "defaults to the contract's end"
    );
    let live = registry.introspect(&client_id, &secret);
    assert_eq!(live["active"], true, "{live:#}");
    assert_eq!(live["scope"], "orders:read");
    workspace.assert_no_changes();

    workspace.write_config(&format!(
        "{base}{}",
        client(
            "sync",
            "partner_org.acme.id",
            "lead@acme.example",
            &["stock:read", "orders:write"],
            r#"  expires_at = "2030-06-30T12:00:00+02:00""#,
        )
    ));
    workspace
        .plan()
        .assert_code(2)
        .assert_mentions(&["update in-place", "0 to add, 1 to change, 0 to destroy"]);
    workspace.apply();
    let state = workspace.resource("partner_client.sync");
    assert_eq!(string(&state, "client_id"), client_id, "updated in place");
    let stored = registry.get(&format!("/v1/clients/{}", string(&state, "id")));
    assert_eq!(stored["owner"], "lead@acme.example");
    assert_eq!(
        stored["scopes"],
        serde_json::json!(["orders:write", "stock:read"])
    );
    assert_eq!(stored["expires_at"], "2030-06-30T10:00:00Z");
    workspace.assert_no_changes();

    workspace.write_config(&base);
    workspace.apply();
    let after = registry.introspect(&client_id, &secret);
    assert_eq!(after, serde_json::json!({"active": false}));
    assert_eq!(
        registry.get(&format!("/v1/clients/{client_id}"))["status"],
        "revoked"
    );
}

#[test]
fn moving_a_client_to_another_org_replaces_it() {
    let registry = RegistryServer::start();
    let workspace = Workspace::new(&registry);
    let orgs = format!(
        "{}{}",
        org("first", "first", "2030-12-31", &["a:read"], ""),
        org("second", "second", "2030-12-31", &["a:read"], "")
    );
    workspace.write_config(&format!(
        "{orgs}{}",
        client(
            "mover",
            "partner_org.first.id",
            "dev@example.com",
            &["a:read"],
            ""
        )
    ));
    workspace.apply();
    let before = workspace.resource("partner_client.mover");

    workspace.write_config(&format!(
        "{orgs}{}",
        client(
            "mover",
            "partner_org.second.id",
            "dev@example.com",
            &["a:read"],
            ""
        )
    ));
    workspace
        .plan()
        .assert_code(2)
        .assert_mentions(&["must be replaced", "forces replacement"]);
    workspace.apply();
    let after = workspace.resource("partner_client.mover");
    assert_ne!(after["client_id"], before["client_id"]);
    assert_eq!(
        after["org_id"],
        workspace.resource("partner_org.second")["id"]
    );
    let old = registry.introspect(
        &string(&before, "client_id"),
        &string(&before, "client_secret"),
    );
    assert_eq!(old, serde_json::json!({"active": false}));
    let new = registry.introspect(
        &string(&after, "client_id"),
        &string(&after, "client_secret"),
    );
    assert_eq!(new["active"], true, "{new:#}");
    workspace.assert_no_changes();
}

#[test]
fn client_drift_is_planned_back_and_revocation_recreates() {
    let registry = RegistryServer::start();
    let workspace = Workspace::new(&registry);
    workspace.write_config(&format!(
        "{}{}",
        org("acme", "acme", "2030-12-31", &["a:read", "b:read"], ""),
        acme_client("sync", "")
    ));
    workspace.apply();
    let id = string(&workspace.resource("partner_client.sync"), "id");

    let (status, body) = registry.request(
        "PATCH",
        &format!("/v1/clients/{id}"),
        Some(serde_json::json!({"scopes": ["a:read", "b:read"]})),
    );
    assert_eq!(status, 200, "{body:#}");
    workspace
        .plan()
        .assert_code(2)
        .assert_mentions(&["\"b:read\"", "update in-place"]);
    workspace.apply();
    assert_eq!(
        registry.get(&format!("/v1/clients/{id}"))["scopes"],
        serde_json::json!(["a:read"])
    );

    let (status, body) = registry.request("DELETE", &format!("/v1/clients/{id}"), None);
    assert_eq!(status, 200, "{body:#}");
    workspace
        .plan()
        .assert_code(2)
        .assert_mentions(&["partner_client.sync will be created"]);
    workspace.apply();
    let recreated = workspace.resource("partner_client.sync");
    assert_ne!(string(&recreated, "id"), id);
    assert_eq!(recreated["status"], "active");
    workspace.assert_no_changes();
}

#[test]
fn client_import_by_client_id_by_id_and_import_block_without_secret() {
    let registry = RegistryServer::start();
    let acme = registry.create("/v1/orgs", bodies::org("acme", "2030-12-31", &["a:read"]));
    let org_id = string(&acme, "id");
    let first = registry.create("/v1/clients", bodies::client(&org_id, "first", &["a:read"]));
    let second = registry.create(
        "/v1/clients",
        bodies::client(&org_id, "second", &["a:read"]),
    );
    let client_config = |name: &str| crate::config::outside_client(&org_id, name, "");

    let by_client_id = Workspace::new(&registry);
    by_client_id.write_config(&client_config("first"));
    by_client_id
        .terraform(&[
            "import",
            "-input=false",
            "-no-color",
            "partner_client.first",
            &string(&first, "client_id"),
        ])
        .assert_success();
    let imported = by_client_id.resource("partner_client.first");
    assert_eq!(imported["id"], first["id"]);
    assert_eq!(
        imported["client_secret"],
        Value::Null,
        "a secret cannot be recovered"
    );
    by_client_id.assert_no_changes();

    let by_id = Workspace::new(&registry);
    by_id.write_config(&client_config("first"));
    by_id
        .terraform(&[
            "import",
            "-input=false",
            "-no-color",
            "partner_client.first",
            &string(&first, "id"),
        ])
        .assert_success();
    by_id.assert_no_changes();

    let with_block = Workspace::new(&registry);
    with_block.write_config(&format!(
        "{}\nimport {{\n  to = partner_client.second\n  id = \"{}\"\n}}\n",
        client_config("second"),
        string(&second, "client_id")
    ));
    with_block.apply();
    assert_eq!(
        with_block.resource("partner_client.second")["id"],
        second["id"]
    );
    with_block.assert_no_changes();
}

#[test]
fn destroying_an_org_revokes_clients_of_other_configurations() {
    let registry = RegistryServer::start();
    let orgs = Workspace::new(&registry);
    orgs.write_config(&acme_org("2030-12-31"));
    orgs.apply();

    let clients = Workspace::new(&registry);
    clients.write_config(
        r#"
data "partner_org" "acme" {
  name = "acme"
}

resource "partner_client" "other" {
  org_id  = data.partner_org.acme.id
  name    = "other"
  purpose = "Managed by another team's configuration"
  owner   = "other-team@example.com"
  scopes  = ["a:read"]
}
"#,
    );
    clients.apply();
    let other = clients.resource("partner_client.other");
    let live = registry.introspect(
        &string(&other, "client_id"),
        &string(&other, "client_secret"),
    );
    assert_eq!(live["active"], true, "{live:#}");

    orgs.destroy();
    let after = registry.introspect(
        &string(&other, "client_id"),
        &string(&other, "client_secret"),
    );
    assert_eq!(after, serde_json::json!({"active": false}));
    assert_eq!(
        registry.get(&format!("/v1/clients/{}", string(&other, "id")))["status"],
        "revoked"
    );
}
