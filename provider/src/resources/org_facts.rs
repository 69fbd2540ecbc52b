//! What a client's plan needs to know about its org, from the registry or
//! from this very plan.
//!
//! An org created in the same plan as its clients has no id yet, so a
//! client's `org_id` is unknown while planning. To still check the client
//! against that org before anything is applied, the org's plan promises the
//! start of its id (`org_` and eight characters derived from its name) as a
//! refinement of the unknown value; Terraform carries that refinement into
//! every reference to the id, and the client's plan looks the org's planned
//! values up by it. The org is then created with an id that starts so.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use rand::Rng;
use sha2::{Digest, Sha256};

use super::partner_client::ClientModel;
use super::partner_org::OrgModel;
use crate::client::{ApiClient, Org};
use crate::report::report;
use tfplugin::{AttrPath, PlanRequest};

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Characters of an org id after `org_`, as the registry makes them.
const ID_LENGTH: usize = 20;
/// Of those, how many the plan promises.
const PROMISED_LENGTH: usize = 8;
/// Who to ask when the plan does not know the approval authority yet.
const UNKNOWN_APPROVER: &str = "the org's approval authority";

/// An org's facts as far as they are known.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgFacts {
    /// The id, or for an org not yet created the promised start of it.
    pub id: String,
    pub name: String,
    pub approval_authority: String,
    pub allowed_scopes: Option<Vec<String>>,
    pub contract_end: Option<String>,
    pub status: Option<String>,
    pub max_clients: Option<i64>,
    /// Whether the registry has the org already.
    pub exists: bool,
}

impl From<&Org> for OrgFacts {
    fn from(org: &Org) -> Self {
        Self {
            id: org.id.clone(),
            name: org.name.clone(),
            approval_authority: org.approval_authority.clone(),
            allowed_scopes: Some(org.allowed_scopes.clone()),
            contract_end: Some(org.contract_end.clone()),
            status: Some(org.status.clone()),
            max_clients: Some(org.max_clients),
            exists: true,
        }
    }
}

impl OrgFacts {
    /// The org as this plan will leave it.
    fn planned(id: String, planned: &OrgModel, exists: bool) -> Self {
        Self {
            id,
            name: planned.name.known().cloned().unwrap_or_default(),
            approval_authority: planned
                .approval_authority
                .known()
                .cloned()
                .unwrap_or_else(|| UNKNOWN_APPROVER.to_string()),
            allowed_scopes: planned.allowed_scopes.known().cloned(),
            contract_end: planned.contract_end.known().cloned(),
            status: planned.status.known().cloned(),
            max_clients: planned.max_clients.known().copied(),
            exists,
        }
    }

    /// These facts with what this plan changes laid over them.
    fn with_planned_changes(mut self, planned: OrgFacts) -> Self {
        if planned.approval_authority != UNKNOWN_APPROVER {
            self.approval_authority = planned.approval_authority;
        }
        self.allowed_scopes = planned.allowed_scopes.or(self.allowed_scopes);
        if planned.contract_end.is_some() && planned.contract_end != self.contract_end {
            // A new contract end decides the status anew (an expired org
            // renewed in this plan accepts clients again).
            self.status = None;
        }
        self.contract_end = planned.contract_end.or(self.contract_end);
        self.max_clients = planned.max_clients.or(self.max_clients);
        self
    }
}

/// Orgs planned by this provider process. Terraform runs one process per
/// provider configuration and plans an org before the clients that refer
/// to it, so this memo only ever holds the current run's orgs.
fn planned_orgs() -> &'static Mutex<HashMap<String, OrgFacts>> {
    static PLANNED: OnceLock<Mutex<HashMap<String, OrgFacts>>> = OnceLock::new();
    PLANNED.get_or_init(|| Mutex::new(HashMap::new()))
}

fn planned_org(key: &str) -> Option<OrgFacts> {
    planned_orgs().lock().ok()?.get(key).cloned()
}

/// The org whose promised id starts with `prefix`. Terraform may pass on a
/// shorter prefix than was promised (cty drops a trailing letter or digit),
/// so this matches by start, and only when exactly one planned org does.
fn planned_org_by_prefix(prefix: &str) -> Option<OrgFacts> {
    if prefix.len() < "org_".len() + PROMISED_LENGTH / 2 {
        return None;
    }
    let planned = planned_orgs().lock().ok()?;
    let mut matching = planned
        .iter()
        .filter(|(key, facts)| !facts.exists && key.starts_with(prefix));
    match (matching.next(), matching.next()) {
        (Some((_, facts)), None) => Some(facts.clone()),
        _ => None,
    }
}

/// The start of the id a new org named `name` will have: stable across the
/// plan and apply of one run, so Terraform can check the promise.
pub fn promised_id_prefix(name: &str) -> String {
    let digest = Sha256::digest(name.as_bytes());
    let promised: String = digest
        .iter()
        .take(PROMISED_LENGTH)
        .map(|b| BASE62[usize::from(*b) % BASE62.len()] as char)
        .collect();
    format!("org_{promised}")
}

/// A fresh id keeping the promise made for an org named `name`.
pub fn new_org_id(name: &str) -> String {
    let mut rng = rand::rng();
    let rest: String = (0..ID_LENGTH - PROMISED_LENGTH)
        .map(|_| BASE62[rng.random_range(0..BASE62.len())] as char)
        .collect();
    format!("{}{rest}", promised_id_prefix(name))
}

/// Records an org's plan (and, for a new org, promises its id's start) so
/// that clients planned after it in this run are checked against it.
pub fn remember_org_plan(req: &mut PlanRequest<OrgModel>) {
    let (key, exists) = match req.planned.id.known() {
        Some(id) => (id.clone(), true),
        None => {
            let Some(name) = req.planned.name.known() else {
                return;
            };
            let prefix = promised_id_prefix(name);
            req.promise_prefix("id", prefix.clone());
            (prefix, false)
        }
    };
    let facts = OrgFacts::planned(key.clone(), &req.planned, exists);
    if let Ok(mut planned) = planned_orgs().lock() {
        planned.insert(key, facts);
    }
}

/// The org a planned client belongs to: the registry's record with this
/// run's planned changes laid over it, or, for an org this run creates,
/// its planned values. `None` when it cannot be known yet.
pub async fn org_for_client_plan(
    api: &ApiClient,
    req: &mut PlanRequest<ClientModel>,
) -> Option<OrgFacts> {
    let Some(org_id) = req.config.org_id.known().cloned() else {
        let prefix = req.config_unknown_prefix("org_id")?;
        return planned_org_by_prefix(prefix);
    };
    match api.get_org(&org_id).await {
        Ok(Some(org)) => {
            let facts = OrgFacts::from(&org);
            Some(match planned_org(&org_id) {
                Some(planned) => facts.with_planned_changes(planned),
                None => facts,
            })
        }
        Ok(None) => {
            req.diags.error_at(
                AttrPath::attr("org_id"),
                "Unknown partner org",
                format!(
                    "The registry at {} has no org with id {org_id:?}.",
                    api.endpoint()
                ),
            );
            None
        }
        Err(e) => {
            report(
                &mut req.diags,
                "Cannot check the client against its org",
                &e,
                &[],
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_keep_the_promise_and_have_the_registry_shape() {
        let prefix = promised_id_prefix("acme");
        assert_eq!(
            prefix,
            promised_id_prefix("acme"),
            "stable across plan and apply"
        );
        assert_ne!(prefix, promised_id_prefix("globex"));
        let id = new_org_id("acme");
        assert!(id.starts_with(&prefix), "{id}");
        assert_eq!(id.len(), "org_".len() + ID_LENGTH);
        assert!(
            id["org_".len()..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric()),
            "{id}"
        );
        assert_ne!(id, new_org_id("acme"), "the rest is random");
    }

    #[test]
    fn planned_orgs_are_found_by_a_shortened_prefix() {
        let name = "prefix-lookup-test";
        let prefix = promised_id_prefix(name);
        let facts = OrgFacts {
            id: prefix.clone(),
            name: name.into(),
            approval_authority: "a@example.com".into(),
            allowed_scopes: Some(vec!["x".into()]),
            contract_end: Some("2030-01-01".into()),
            status: None,
            max_clients: None,
            exists: false,
        };
        planned_orgs()
            .lock()
            .expect("memo")
            .insert(prefix.clone(), facts.clone());
        assert_eq!(planned_org_by_prefix(&prefix), Some(facts.clone()));
        assert_eq!(
            planned_org_by_prefix(&prefix[..prefix.len() - 1]),
            Some(facts)
        );
        assert_eq!(
            planned_org_by_prefix("org_"),
            None,
            "too short to tell orgs apart"
        );
    }
}
