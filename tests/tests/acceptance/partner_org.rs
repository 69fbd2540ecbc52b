//! `partner_org`: create, read, no-op plan, update in place, drift, import,
//! destroy.

use acceptance_tests::bodies;
use acceptance_tests::{RegistryServer, Workspace};

use crate::config::org;

#[test]
fn org_lifecycle_create_noop_update_destroy() {
    let registry = RegistryServer::start();
    let workspace = Workspace::new(&registry);
    let extra = r#"  labels = { tier = "gold" }"#;
    workspace.write_config(&org("acme", "acme", "2030-12-31", &["orders:read"], extra));
    workspace.apply();

    let state = workspace.resource("partner_org.acme");
    let id = state["id"].as_str().expect("id in state").to_string();
    assert_eq!(state["status"], "active");
    assert!(
        state["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{state:#}"
    );
    assert_eq!(
        state["max_clients"], 10,
        "the server's default quota: {state:#}"
    );
    let stored = registry.get(&format!("/v1/orgs/{id}"));
    assert_eq!(stored["name"], "acme");
    assert_eq!(stored["labels"]["tier"], "gold");
    workspace.assert_no_changes();

    let updated = org(
        "acme",
        "acme",
        "2031-06-30",
        &["orders:write", "orders:read"],
        r#"  commercial_sponsor = "sponsor@example.com""#,
    )
    .replace("tech@acme.example", "new-tech@acme.example");
    workspace.write_config(&updated);
    workspace
        .plan()
        .assert_code(2)
        .assert_mentions(&["will be updated in-place", "1 to change, 0 to destroy"]);
    workspace.apply();
    let stored = registry.get(&format!("/v1/orgs/{id}"));
    assert_eq!(stored["technical_owner"], "new-tech@acme.example");
    assert_eq!(stored["contract_end"], "2031-06-30");
    assert_eq!(stored["commercial_sponsor"], "sponsor@example.com");
    assert_eq!(
        stored["allowed_scopes"],
        serde_json::json!(["orders:read", "orders:write"])
    );
    assert_eq!(workspace.resource("partner_org.acme")["id"], id.as_str());
    workspace.assert_no_changes();

    workspace.destroy();
    assert_eq!(
        registry.get(&format!("/v1/orgs/{id}"))["status"],
        "offboarded"
    );
}

#[test]
fn org_drift_is_planned_back_and_offboarding_recreates() {
    let registry = RegistryServer::start();
    let workspace = Workspace::new(&registry);
    workspace.write_config(&org("acme", "acme", "2030-12-31", &["orders:read"], ""));
    workspace.apply();
    let id = workspace.resource("partner_org.acme")["id"]
        .as_str()
        .expect("id")
        .to_string();

    let (status, body) = registry.request(
        "PATCH",
        &format!("/v1/orgs/{id}"),
        Some(serde_json::json!({"legal_entity": "Changed Behind Terraform's Back"})),
    );
    assert_eq!(status, 200, "{body:#}");
    workspace
        .plan()
        .assert_code(2)
        .assert_mentions(&["Changed Behind Terraform's Back", "update in-place"]);
    workspace.apply();
    assert_eq!(
        registry.get(&format!("/v1/orgs/{id}"))["legal_entity"],
        "acme Ltd"
    );

    let (status, body) = registry.request("DELETE", &format!("/v1/orgs/{id}"), None);
    assert_eq!(status, 200, "{body:#}");
    workspace
        .plan()
        .assert_code(2)
        .assert_mentions(&["will be created"]);
    workspace.apply();
    let new_id = workspace.resource("partner_org.acme")["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_ne!(new_id, id);
    assert_eq!(
        registry.get(&format!("/v1/orgs/{new_id}"))["status"],
        "active"
    );
    workspace.assert_no_changes();
}

#[test]
fn org_import_by_name_by_id_and_import_block() {
    let registry = RegistryServer::start();
    let first = registry.create("/v1/orgs", bodies::org("first", "2030-12-31", &["a:read"]));
    registry.create("/v1/orgs", bodies::org("second", "2030-12-31", &["a:read"]));

    let workspace = Workspace::new(&registry);
    workspace.write_config(&org("first", "first", "2030-12-31", &["a:read"], ""));
    workspace
        .terraform(&[
            "import",
            "-input=false",
            "-no-color",
            "partner_org.first",
            "first",
        ])
        .assert_success();
    assert_eq!(workspace.resource("partner_org.first")["id"], first["id"]);
    workspace.assert_no_changes();

    let by_id = Workspace::new(&registry);
    by_id.write_config(&org("first", "first", "2030-12-31", &["a:read"], ""));
    let id = first["id"].as_str().expect("id");
    by_id
        .terraform(&[
            "import",
            "-input=false",
            "-no-color",
            "partner_org.first",
            id,
        ])
        .assert_success();
    by_id.assert_no_changes();

    let with_block = Workspace::new(&registry);
    with_block.write_config(&format!(
        "{}\nimport {{\n  to = partner_org.second\n  id = \"second\"\n}}\n",
        org("second", "second", "2030-12-31", &["a:read"], "")
    ));
    with_block
        .plan()
        .assert_code(2)
        .assert_mentions(&["1 to import, 0 to add, 0 to change, 0 to destroy"]);
    with_block.apply();
    with_block.assert_no_changes();
}

#[test]
fn review_enforcement_is_set_in_place_and_checked_at_plan_time() {
    let registry = RegistryServer::start();
    let workspace = Workspace::new(&registry);
    let config = |extra: &str| org("acme", "acme", "2030-12-31", &["orders:read"], extra);
    workspace.write_config(&config(""));
    workspace.apply();
    let state = workspace.resource("partner_org.acme");
    assert_eq!(state["review_enforcement"], "report", "{state:#}");
    let id = state["id"].as_str().expect("id in state").to_string();

    workspace.write_config(&config(r#"  review_enforcement = "suspend""#));
    workspace
        .plan()
        .assert_code(2)
        .assert_mentions(&["review_enforcement", "1 to change, 0 to destroy"]);
    workspace.apply();
    assert_eq!(
        registry.get(&format!("/v1/orgs/{id}"))["review_enforcement"],
        "suspend"
    );
    workspace.assert_no_changes();

    workspace
        .plan_with_config(&config(r#"  review_enforcement = "block""#))
        .assert_failure_mentions(&[
            "Invalid review_enforcement",
            r#"must be "report" (overdue reviews are reported) or "suspend""#,
            r#"got "block""#,
        ]);
    assert_eq!(
        registry.get(&format!("/v1/orgs/{id}"))["review_enforcement"],
        "suspend"
    );
}
