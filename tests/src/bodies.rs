//! Request bodies of the registry's API, shared by the registry's API tests,
//! the acceptance tests and the benchmarks: an org and a client that every
//! rule accepts, named after `name`, to which a test adds what it is about.
//! The acceptance tests' HCL blocks (`config::org`, `config::outside_client`)
//! describe the same records, so that adopting them plans no change.

use serde_json::{Value, json};

/// `POST /v1/orgs`: org `name`, its contract ending on `contract_end`,
/// allowing `scopes`.
pub fn org(name: &str, contract_end: &str, scopes: &[&str]) -> Value {
    json!({
        "name": name,
        "legal_entity": format!("{name} Ltd"),
        "technical_owner": format!("tech@{name}.example"),
        "approval_authority": "approvals@example.com",
        "contract_id": format!("CTR-{name}"),
        "contract_end": contract_end,
        "allowed_scopes": scopes,
    })
}

/// `POST /v1/clients`: client `name` of org `org_id` holding `scopes`.
pub fn client(org_id: &str, name: &str, scopes: &[&str]) -> Value {
    json!({
        "org_id": org_id,
        "name": name,
        "purpose": format!("Client {name} made outside Terraform"),
        "owner": "outside@example.com",
        "scopes": scopes,
    })
}
