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

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use rand::Rng;
use sha2::{Digest, Sha256};

use crate::client::{ApiClient, OrgStatus, OrgView};
use crate::report::report;
use tfplugin::{AttrPath, Diagnostics, Val};

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Characters of an org id after `org_`, as the registry makes them.
const ID_LENGTH: usize = 20;
/// Of those, how many the plan promises.
const PROMISED_LENGTH: usize = 8;
/// Who to ask when the plan does not know the approval authority yet.
pub const UNKNOWN_APPROVER: &str = "the org's approval authority";

/// An org's facts as far as they are known.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgFacts {
    /// The id, or for an org not yet created the promised start of it.
    pub id: String,
    pub name: String,
    pub approval_authority: String,
    pub allowed_scopes: Option<Vec<String>>,
    pub contract_end: Option<String>,
    pub status: Option<OrgStatus>,
    pub max_clients: Option<i64>,
    /// `warn` or `require`; `None` while unknown.
    pub approval_policy: Option<String>,
    /// Whether the registry has the org already.
    pub exists: bool,
    /// The registry's `contract_end` when this plan changes it: its clients
    /// that end with the contract (the default expiry) move with it.
    pub previous_contract_end: Option<String>,
}

impl From<&OrgView> for OrgFacts {
    fn from(org: &OrgView) -> Self {
        Self {
            id: org.id.clone(),
            name: org.profile.name.clone(),
            approval_authority: org.profile.approval_authority.clone(),
            allowed_scopes: Some(org.profile.allowed_scopes.clone()),
            contract_end: Some(org.profile.contract_end.clone()),
            status: Some(org.status),
            max_clients: Some(org.max_clients),
            approval_policy: Some(org.approval_policy.clone()),
            exists: true,
            previous_contract_end: None,
        }
    }
}

impl OrgFacts {
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
            self.previous_contract_end = self.contract_end.clone();
        }
        self.contract_end = planned.contract_end.or(self.contract_end);
        self.max_clients = planned.max_clients.or(self.max_clients);
        self.approval_policy = planned.approval_policy.or(self.approval_policy);
        self
    }
}

/// The orgs planned so far in this run of the provider, by id or, for an
/// org not yet created, by the promised start of its id; and the clients
/// planned for each of them. Terraform runs one provider process per
/// provider configuration and plans an org before the clients that refer to
/// it, so the configured provider's memo only ever holds the current run's
/// plans.
#[derive(Default)]
pub struct PlannedOrgs(
    Mutex<HashMap<String, OrgFacts>>,
    Mutex<HashMap<String, Vec<PlannedClient>>>,
    /// The ids of the existing clients this run plans (changed, unchanged
    /// or destroyed): the clients this configuration manages.
    Mutex<std::collections::HashSet<String>>,
);

/// A client planned in this run, as the other clients planned for its org
/// see it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedClient {
    pub name: String,
    /// The client's id when it exists already.
    pub prior_id: Option<String>,
    /// Its configuration's writable values, to tell a replacement's second
    /// plan (the same configuration without a prior state) from another
    /// client.
    pub fingerprint: String,
}

/// What a client's plan asks of the clients planned before it for its org.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ask<'a> {
    /// Whether one of them has this name.
    pub name_taken: Option<&'a str>,
    /// For the quota: how many of those not in the registry yet have a
    /// name outside this set (the org's clients the registry counts).
    pub new_outside: Option<&'a HashSet<&'a str>>,
}

/// The answers to an [`Ask`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlannedBefore {
    pub name_taken: bool,
    /// Distinct names: one name is one client among an org's live clients.
    pub new_outside: usize,
}

impl PlannedClient {
    /// Whether `self` and `other` are two plans of one resource: the same
    /// existing client, or a replacement planned for the existing client
    /// with the same configuration.
    fn same_resource(&self, other: &PlannedClient) -> bool {
        match (&self.prior_id, &other.prior_id) {
            (Some(a), Some(b)) => a == b,
            (None, None) => false,
            _ => self.fingerprint == other.fingerprint,
        }
    }
}

impl PlannedOrgs {
    /// Records an org's plan so that clients planned after it in this run
    /// are checked against it. Returns the id (or promised id) of another
    /// org planned in this run under the same name, which the registry
    /// would refuse.
    pub fn remember(&self, facts: OrgFacts) -> Option<String> {
        let mut planned = self.0.lock().ok()?;
        let taken = planned
            .iter()
            .find(|(key, other)| {
                !facts.name.is_empty()
                    && other.name == facts.name
                    && (**key != facts.id || (!other.exists && !facts.exists))
            })
            .map(|(key, _)| key.clone());
        planned.insert(facts.id.clone(), facts);
        taken
    }

    /// Drops the plan recorded for org `id`: a replacement of it plans the
    /// org anew, as a new one.
    pub fn forget(&self, id: &str) {
        if let Ok(mut planned) = self.0.lock() {
            planned.remove(id);
        }
    }

    /// Records that this run plans the existing client `id`.
    pub fn manage_client(&self, id: &str) {
        if let Ok(mut managed) = self.2.lock() {
            managed.insert(id.to_string());
        }
    }

    /// Whether this run planned the existing client `id` so far.
    pub fn manages_client(&self, id: &str) -> bool {
        self.2.lock().is_ok_and(|managed| managed.contains(id))
    }

    /// Records a client planned for the org `org` (its id or promised id)
    /// and tells what `ask` asks of the clients planned before it in this
    /// run for that org, other than itself. It counts, and copies nothing:
    /// a plan of thousands of new clients in one org stays cheap per client
    /// (copying and sorting their names for each one cost more than all the
    /// rest of the provider's work at 2,000).
    pub fn plan_client(&self, org: &str, client: PlannedClient, ask: Ask<'_>) -> PlannedBefore {
        let mut before = PlannedBefore::default();
        let Ok(mut planned) = self.1.lock() else {
            return before;
        };
        let clients = planned.entry(org.to_string()).or_default();
        clients.retain(|c| !c.same_resource(&client));
        if let Some(name) = ask.name_taken {
            before.name_taken = clients.iter().any(|c| c.name == name);
        }
        if let Some(counted) = ask.new_outside {
            let outside: HashSet<&str> = (clients.iter())
                .filter(|c| c.prior_id.is_none() && !counted.contains(c.name.as_str()))
                .map(|c| c.name.as_str())
                .collect();
            before.new_outside = outside.len();
        }
        clients.push(client);
        before
    }

    fn get(&self, id: &str) -> Option<OrgFacts> {
        self.0.lock().ok()?.get(id).cloned()
    }

    /// The org whose promised id starts with `prefix`. Terraform may pass
    /// on a shorter prefix than was promised (cty drops a trailing letter or
    /// digit), so this matches by start, and only when exactly one planned
    /// org does.
    fn by_prefix(&self, prefix: &str) -> Option<OrgFacts> {
        if prefix.len() < "org_".len() + PROMISED_LENGTH / 2 {
            return None;
        }
        let planned = self.0.lock().ok()?;
        let mut matching = planned
            .iter()
            .filter(|(key, facts)| !facts.exists && key.starts_with(prefix));
        match (matching.next(), matching.next()) {
            (Some((_, facts)), None) => Some(facts.clone()),
            _ => None,
        }
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

/// The org a planned client belongs to: the registry's record with this
/// run's planned changes laid over it, or, for an org this run creates,
/// its planned values. `None` when it cannot be known yet.
///
/// `org_id` is the client's configured `org_id`, `org_id_prefix` what is
/// known of it while it is unknown.
pub async fn org_for_client_plan(
    api: &ApiClient,
    planned_orgs: &PlannedOrgs,
    org_id: &Val<String>,
    org_id_prefix: Option<&str>,
    diags: &mut Diagnostics,
) -> Option<OrgFacts> {
    let Some(org_id) = org_id.known() else {
        return planned_orgs.by_prefix(org_id_prefix?);
    };
    match api.org_for_plan(org_id).await {
        Ok(Some(org)) => {
            let facts = OrgFacts::from(&org);
            Some(match planned_orgs.get(org_id) {
                Some(planned) => facts.with_planned_changes(planned),
                None => facts,
            })
        }
        Ok(None) => {
            diags.error_at(
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
            report(diags, "Cannot check the client against its org", &e, &[]);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_planned_before_answer_only_what_is_asked() {
        let planned = PlannedOrgs::default();
        let client = |name: &str, prior: Option<&str>, fingerprint: &str| PlannedClient {
            name: name.into(),
            prior_id: prior.map(str::to_string),
            fingerprint: fingerprint.into(),
        };
        let none_counted = HashSet::new();
        let everything = |name| Ask {
            name_taken: Some(name),
            new_outside: Some(&none_counted),
        };
        let first = planned.plan_client("org_a", client("shop", None, "f1"), everything("shop"));
        assert_eq!(first, PlannedBefore::default());
        planned.plan_client("org_a", client("old", Some("cli_1"), "f2"), Ask::default());
        let third = planned.plan_client("org_a", client("sync", None, "f3"), everything("shop"));
        assert!(third.name_taken);
        assert_eq!(third.new_outside, 1, "existing clients are not new");
        assert_eq!(
            planned.plan_client("org_b", client("x", None, "f4"), everything("shop")),
            PlannedBefore::default(),
            "another org's plans are its own"
        );
        // The second plan of a replacement (no prior state, the same
        // configuration) is the same resource as the first: not another client.
        let replacement =
            planned.plan_client("org_a", client("old", None, "f2"), everything("old"));
        assert!(!replacement.name_taken);
        assert_eq!(replacement.new_outside, 2, "shop and sync");
        // A planned client the registry counts already is not counted twice.
        let in_registry = HashSet::from(["shop"]);
        let counted = planned.plan_client(
            "org_a",
            client("z", None, "f6"),
            Ask {
                name_taken: None,
                new_outside: Some(&in_registry),
            },
        );
        assert_eq!(counted.new_outside, 2, "sync and old's replacement");
        let unasked = planned.plan_client("org_a", client("y", None, "f5"), Ask::default());
        assert_eq!(
            unasked,
            PlannedBefore::default(),
            "nothing asked, nothing copied"
        );
    }

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
            approval_policy: None,
            exists: false,
            previous_contract_end: None,
        };
        let planned_orgs = PlannedOrgs::default();
        planned_orgs.remember(facts.clone());
        assert_eq!(planned_orgs.by_prefix(&prefix), Some(facts.clone()));
        assert_eq!(
            planned_orgs.by_prefix(&prefix[..prefix.len() - 1]),
            Some(facts)
        );
        assert_eq!(
            planned_orgs.by_prefix("org_"),
            None,
            "too short to tell orgs apart"
        );
    }
}
