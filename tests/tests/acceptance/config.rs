//! HCL fragments shared by the acceptance tests.

/// A `partner_org` resource block with every required argument; `extra`
/// lines are added inside the block.
pub fn org(resource: &str, name: &str, contract_end: &str, scopes: &[&str], extra: &str) -> String {
    format!(
        r#"
resource "partner_org" "{resource}" {{
  name               = "{name}"
  legal_entity       = "{name} Ltd"
  technical_owner    = "tech@{name}.example"
  approval_authority = "approvals@example.com"
  contract_id        = "CTR-{name}"
  contract_end       = "{contract_end}"
  allowed_scopes     = {scopes}
{extra}
}}
"#,
        scopes = hcl_list(scopes)
    )
}

/// A `partner_client` resource block; `org_id` is an HCL expression.
pub fn client(resource: &str, org_id: &str, owner: &str, scopes: &[&str], extra: &str) -> String {
    format!(
        r#"
resource "partner_client" "{resource}" {{
  org_id  = {org_id}
  name    = "{resource}"
  purpose = "Acceptance test client {resource}"
  owner   = "{owner}"
  scopes  = {scopes}
{extra}
}}
"#,
        scopes = hcl_list(scopes)
    )
}

/// Org `acme` allowing `a:read`, its contract ending on `contract_end`.
pub fn acme_org(contract_end: &str) -> String {
    org("acme", "acme", contract_end, &["a:read"], "")
}

/// Client `name` of org `acme`, owned by dev@example.com and holding
/// `a:read`, with `extra` lines inside.
pub fn acme_client(name: &str, extra: &str) -> String {
    client(
        name,
        "partner_org.acme.id",
        "dev@example.com",
        &["a:read"],
        extra,
    )
}

/// [`acme_org`] and its [`acme_client`] `name`.
pub fn acme_with_client(contract_end: &str, name: &str, extra: &str) -> String {
    format!("{}{}", acme_org(contract_end), acme_client(name, extra))
}

/// The `partner_client` block matching the client `acceptance_tests::bodies::client` made for
/// `org_id` under `name`, as a configuration adopting it would write it,
/// with `extra` lines inside.
pub fn outside_client(org_id: &str, name: &str, extra: &str) -> String {
    format!(
        r#"
resource "partner_client" "{name}" {{
  org_id  = "{org_id}"
  name    = "{name}"
  purpose = "Client {name} made outside Terraform"
  owner   = "outside@example.com"
  scopes  = ["a:read"]
{extra}
}}
"#
    )
}

/// The string `key` of a JSON object (a resource's state, say).
pub fn string(value: &serde_json::Value, key: &str) -> String {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {value:#}"))
        .to_string()
}

/// An HCL list of strings.
pub fn hcl_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| format!("\"{item}\"")).collect();
    format!("[{}]", quoted.join(", "))
}
