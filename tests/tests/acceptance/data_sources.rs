//! Data sources `partner_org` and `partner_clients`.

use acceptance_tests::{RegistryServer, Workspace};

use crate::config::{acme_client, acme_org, client, org};

#[test]
fn org_by_name_and_by_id() {
    let registry = RegistryServer::start();
    let workspace = Workspace::new(&registry);
    workspace.write_config(&format!(
        r#"{}
data "partner_org" "by_name" {{
  name = partner_org.acme.name
}}

data "partner_org" "by_id" {{
  id = partner_org.acme.id
}}

output "by_name" {{
  value = data.partner_org.by_name
}}

output "by_id" {{
  value = data.partner_org.by_id
}}
"#,
        org(
            "acme",
            "acme",
            "2030-12-31",
            &["b:read", "a:read"],
            r#"  tenant = "eu-1""#
        )
    ));
    workspace.apply();
    let by_name = workspace.output("by_name");
    let by_id = workspace.output("by_id");
    assert_eq!(by_name, by_id);
    assert_eq!(by_name["id"], workspace.resource("partner_org.acme")["id"]);
    assert_eq!(by_name["tenant"], "eu-1");
    assert_eq!(by_name["approval_authority"], "approvals@example.com");
    assert_eq!(
        by_name["allowed_scopes"],
        serde_json::json!(["a:read", "b:read"])
    );
    assert_eq!(by_name["status"], "active");
    workspace.assert_no_changes();
}

#[test]
fn clients_filtered_by_org_status_and_expiry() {
    let registry = RegistryServer::start_at("2026-06-01T00:00:00Z");
    let workspace = Workspace::new(&registry);
    let resources = format!(
        "{}{}{}{}",
        acme_org("2030-12-31"),
        org("other", "other", "2030-12-31", &["a:read"], ""),
        acme_client("soon", r#"  expires_at = "2026-06-20T00:00:00Z""#),
        acme_client("later", ""),
    ) + &client(
        "elsewhere",
        "partner_org.other.id",
        "dev@example.com",
        &["a:read"],
        "",
    );
    workspace.write_config(&format!(
        r#"{resources}
data "partner_clients" "acme" {{
  org_id     = partner_org.acme.id
  depends_on = [partner_client.soon, partner_client.later, partner_client.elsewhere]
}}

data "partner_clients" "expiring" {{
  expiring_within = "720h"
  depends_on      = [partner_client.soon, partner_client.later, partner_client.elsewhere]
}}

data "partner_clients" "revoked" {{
  status     = "revoked"
  depends_on = [partner_client.soon, partner_client.later, partner_client.elsewhere]
}}

output "acme" {{
  value = sort([for c in data.partner_clients.acme.clients : c.name])
}}

output "expiring" {{
  value = [for c in data.partner_clients.expiring.clients : c.name]
}}

output "revoked" {{
  value = length(data.partner_clients.revoked.clients)
}}

output "first" {{
  value = data.partner_clients.expiring.clients[0]
}}
"#
    ));
    workspace.apply();
    assert_eq!(
        workspace.output("acme"),
        serde_json::json!(["later", "soon"])
    );
    assert_eq!(workspace.output("expiring"), serde_json::json!(["soon"]));
    assert_eq!(workspace.output("revoked"), serde_json::json!(0));
    let first = workspace.output("first");
    assert_eq!(first["owner"], "dev@example.com");
    assert!(
        first["client_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("pc_")),
        "{first:#}"
    );
    assert!(
        first.get("client_secret").is_none(),
        "secrets are never listed: {first:#}"
    );
}
