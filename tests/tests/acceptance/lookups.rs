//! Data sources `partner_client` (by id, client_id, org_id + name; never a
//! secret) and `partner_orgs` (by status and contract end).

use acceptance_tests::bodies;
use acceptance_tests::{RegistryServer, Workspace};

#[test]
fn partner_client_and_partner_orgs_data_sources() {
    let registry = RegistryServer::start_at("2026-03-01T00:00:00Z");
    let acme = registry.create("/v1/orgs", bodies::org("acme", "2030-12-31", &["a:read"]));
    let soon = registry.create("/v1/orgs", bodies::org("soon", "2026-04-30", &["a:read"]));
    let acme_id = acme["id"].as_str().unwrap();
    let made = registry.create("/v1/clients", bodies::client(acme_id, "sync", &["a:read"]));
    let workspace = Workspace::new(&registry);
    workspace.write_config(&format!(
        r#"
data "partner_client" "by_id" {{
  id = "{id}"
}}
data "partner_client" "by_client_id" {{
  client_id = "{client_id}"
}}
data "partner_client" "by_name" {{
  org_id = "{acme_id}"
  name   = "sync"
}}
data "partner_orgs" "ending" {{
  contract_ending_within = "2160h"
}}
data "partner_orgs" "active" {{
  status = "active"
}}
output "ids" {{
  value = [for c in [data.partner_client.by_id, data.partner_client.by_client_id, data.partner_client.by_name] : c.id]
}}
output "owner" {{
  value = data.partner_client.by_name.owner
}}
output "ending" {{
  value = [for o in data.partner_orgs.ending.orgs : o.name]
}}
output "active" {{
  value = sort([for o in data.partner_orgs.active.orgs : o.name])
}}
"#,
        id = made["id"].as_str().unwrap(),
        client_id = made["client_id"].as_str().unwrap(),
    ));
    workspace.apply();
    let id = made["id"].clone();
    assert_eq!(workspace.output("ids"), serde_json::json!([id, id, id]));
    assert_eq!(workspace.output("owner"), "outside@example.com");
    assert_eq!(workspace.output("ending"), serde_json::json!(["soon"]));
    assert_eq!(
        workspace.output("active"),
        serde_json::json!(["acme", "soon"])
    );
    let state = workspace.state().to_string();
    assert!(!state.contains("pcs_"), "a secret in state: {state}");
    let _ = soon;

    workspace
        .plan_with_config("data \"partner_client\" \"x\" {\n  name = \"sync\"\n}\n")
        .assert_failure_mentions(&["Invalid client lookup", "org_id"]);
}
