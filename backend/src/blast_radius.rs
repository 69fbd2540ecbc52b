//! The blast radius: every active client and every org that a departing
//! person, a compromised intermediary or a leaked scope reaches, with the
//! people to call. The offboarding and incident runbook
//! (`docs/guides/offboarding-and-incidents.md`) starts here.
//!
//! What is reached is computed from the records alone; who may ask, and the
//! revocation of what is reached, are use cases of [`crate::service`].

use crate::error::{Error, FieldError, Result};
use crate::records::{Client, ClientStatus, Org, fmt_ts};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The filters a blast radius is asked with (at least one; all that are
/// given must hold for a client to be reached).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Query {
    /// A person (email): the clients they own or hold as custodian, or hold
    /// as the technical owner of the intermediary that operates them; the
    /// orgs where they hold a role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The clients of this org.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    /// The clients this intermediary org operates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operated_by: Option<String>,
    /// The clients holding this scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// The filters, as the query string and the revocation's body name them.
pub const FIELDS: &[&str] = &["owner", "org_id", "operated_by", "scope"];

impl Query {
    /// Parses the filters from a JSON object of strings (a query string as
    /// one, or a request body); every malformed one is named.
    pub fn parse(map: &Map<String, Value>) -> Result<Query> {
        let mut f = crate::requests::Fields::new(map);
        let owner = f.opt_email("owner");
        let org_id = f.opt_str("org_id", 100);
        let org_id = f.check(
            "org_id",
            org_id,
            crate::requests::is_org_id,
            "an org id (org_…)",
        );
        let operated_by = f.opt_str("operated_by", 100);
        let operated_by = f.check(
            "operated_by",
            operated_by,
            crate::requests::is_org_id,
            "an org id (org_…)",
        );
        let scope = f.opt_str("scope", 128);
        let scope = f.check("scope", scope, crate::requests::is_scope, "a scope");
        let mut errors = f.errors;
        let q = Query {
            owner,
            org_id,
            operated_by,
            scope,
        };
        if errors.is_empty() && q == Query::default() {
            errors.push(FieldError::new(
                "owner",
                "give at least one of owner, org_id, operated_by or scope: the blast radius of nothing is everything",
            ));
        }
        if errors.is_empty() {
            Ok(q)
        } else {
            Err(Error::Validation(errors))
        }
    }

    /// Parses the filters of a query string.
    pub fn from_query(q: &std::collections::HashMap<String, String>) -> Result<Query> {
        let map = q
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        Query::parse(&map)
    }

    /// Why `client` (of `org`, operated by `intermediary`) is reached, or
    /// `None` when a filter excludes it.
    fn reaches(&self, client: &Client, intermediary: Option<&Org>) -> Option<Vec<&'static str>> {
        let mut why = Vec::new();
        if let Some(person) = &self.owner {
            let is = |v: &str| v.eq_ignore_ascii_case(person);
            if is(&client.profile.owner) {
                why.push("owner");
            }
            if client
                .profile
                .attributes
                .custodian
                .as_deref()
                .is_some_and(is)
            {
                why.push("custodian");
            }
            if intermediary.is_some_and(|o| is(&o.profile.technical_owner)) {
                why.push("technical owner of its intermediary");
            }
            if why.is_empty() {
                return None;
            }
        }
        let holds = |want: &Option<String>, has: Option<&str>| {
            want.as_deref().is_none_or(|w| has == Some(w))
        };
        if !holds(&self.org_id, Some(&client.org_id))
            || !holds(&self.operated_by, client.profile.operated_by.as_deref())
            || !self
                .scope
                .as_ref()
                .is_none_or(|s| client.profile.scopes.contains(s))
        {
            return None;
        }
        if self.org_id.is_some() {
            why.push("client of the org");
        }
        if self.operated_by.is_some() {
            why.push("operated by the intermediary");
        }
        if self.scope.is_some() {
            why.push("holds the scope");
        }
        Some(why)
    }
}

/// One active client reached.
#[derive(Debug, Clone, Serialize)]
pub struct ReachedClient {
    pub id: String,
    pub client_id: String,
    pub name: String,
    pub org_id: String,
    pub org_name: String,
    pub owner: String,
    /// The client's custodian; else the technical owner of its intermediary.
    pub custodian: Option<String>,
    pub operated_by: Option<String>,
    pub scopes: Vec<String>,
    pub expires_at: String,
    /// Why it is reached: `owner`, `custodian`, `holds the scope`, ….
    pub why: Vec<&'static str>,
}

/// One org reached: it owns or operates a reached client, or the person
/// asked about holds a role in it.
#[derive(Debug, Clone, Serialize)]
pub struct ReachedOrg {
    pub id: String,
    pub name: String,
    pub technical_owner: String,
    pub approval_authority: String,
    pub commercial_sponsor: Option<String>,
    pub contract_end: String,
    /// Why it is reached: `owns reached clients`, `technical_owner`, ….
    pub why: Vec<&'static str>,
}

/// Someone to call, and in which roles.
#[derive(Debug, Clone, Serialize)]
pub struct Contact {
    pub email: String,
    pub roles: Vec<String>,
}

/// The answer of `GET /v1/blast-radius` and `partner-registry blast-radius`.
#[derive(Debug, Clone, Serialize)]
pub struct BlastRadius {
    pub query: Query,
    pub at: String,
    pub clients: Vec<ReachedClient>,
    pub orgs: Vec<ReachedOrg>,
    /// The people to call: accountable for what is reached, except the
    /// person asked about.
    pub contacts: Vec<Contact>,
    /// The client ids revoked, when the blast radius was revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked: Option<Vec<String>>,
}

/// The blast radius of `q` at `now` over the live orgs and their clients
/// that are not revoked (as [`crate::db::Reader::review_data`] reads them);
/// also the reached clients themselves, for a revocation.
pub fn compute(
    orgs: &[Org],
    clients: &[Client],
    q: &Query,
    now: i64,
) -> (BlastRadius, Vec<Client>) {
    let by_id: BTreeMap<&str, &Org> = orgs.iter().map(|o| (o.id.as_str(), o)).collect();
    let mut reached_orgs: BTreeMap<&str, BTreeSet<&'static str>> = BTreeMap::new();
    let mut found = Vec::new();
    for c in clients
        .iter()
        .filter(|c| c.status(now) == ClientStatus::Active)
    {
        let (Some(org), intermediary) = (
            by_id.get(c.org_id.as_str()),
            c.profile
                .operated_by
                .as_deref()
                .and_then(|i| by_id.get(i))
                .copied(),
        ) else {
            continue;
        };
        let Some(why) = q.reaches(c, intermediary) else {
            continue;
        };
        reached_orgs
            .entry(&org.id)
            .or_default()
            .insert("owns reached clients");
        if let Some(i) = intermediary {
            reached_orgs
                .entry(&i.id)
                .or_default()
                .insert("operates reached clients");
        }
        found.push((
            ReachedClient {
                id: c.id.clone(),
                client_id: c.client_id.clone(),
                name: c.profile.name.clone(),
                org_id: c.org_id.clone(),
                org_name: org.profile.name.clone(),
                owner: c.profile.owner.clone(),
                custodian: c
                    .profile
                    .attributes
                    .custodian
                    .clone()
                    .or_else(|| intermediary.map(|i| i.profile.technical_owner.clone())),
                operated_by: c.profile.operated_by.clone(),
                scopes: c.profile.scopes.clone(),
                expires_at: fmt_ts(c.expires_at),
                why,
            },
            c.clone(),
        ));
    }
    // By org, then by name: the order people read a list of whom to call in.
    found.sort_by(|(a, _), (b, _)| (&a.org_name, &a.name).cmp(&(&b.org_name, &b.name)));
    let (out, reached): (Vec<ReachedClient>, Vec<Client>) = found.into_iter().unzip();
    if let Some(person) = &q.owner {
        for o in orgs {
            let is = |v: &str| v.eq_ignore_ascii_case(person);
            for (role, holds) in [
                ("technical_owner", is(&o.profile.technical_owner)),
                ("approval_authority", is(&o.profile.approval_authority)),
                (
                    "commercial_sponsor",
                    o.profile.commercial_sponsor.as_deref().is_some_and(is),
                ),
            ] {
                if holds {
                    reached_orgs.entry(&o.id).or_default().insert(role);
                }
            }
        }
    }
    let orgs_out: Vec<ReachedOrg> = reached_orgs
        .into_iter()
        .filter_map(|(id, why)| {
            let o = by_id.get(id)?;
            Some(ReachedOrg {
                id: o.id.clone(),
                name: o.profile.name.clone(),
                technical_owner: o.profile.technical_owner.clone(),
                approval_authority: o.profile.approval_authority.clone(),
                commercial_sponsor: o.profile.commercial_sponsor.clone(),
                contract_end: o.profile.contract_end.clone(),
                why: why.into_iter().collect(),
            })
        })
        .collect();
    let contacts = contacts(&out, &orgs_out, q.owner.as_deref());
    (
        BlastRadius {
            query: q.clone(),
            at: fmt_ts(now),
            clients: out,
            orgs: orgs_out,
            contacts,
            revoked: None,
        },
        reached,
    )
}

/// Everyone accountable for what is reached, with their roles, except the
/// person asked about (who is leaving, or whose account is the incident).
fn contacts(clients: &[ReachedClient], orgs: &[ReachedOrg], except: Option<&str>) -> Vec<Contact> {
    let mut roles: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut add = |email: &str, role: String| {
        if except.is_none_or(|e| !e.eq_ignore_ascii_case(email)) {
            roles
                .entry(email.to_ascii_lowercase())
                .or_default()
                .insert(role);
        }
    };
    for o in orgs {
        add(&o.technical_owner, format!("technical owner of {}", o.name));
        add(
            &o.approval_authority,
            format!("approval authority of {}", o.name),
        );
        if let Some(s) = &o.commercial_sponsor {
            add(s, format!("commercial sponsor of {}", o.name));
        }
    }
    for c in clients {
        add(
            &c.owner,
            format!("owner of client {}/{}", c.org_name, c.name),
        );
        if let Some(s) = &c.custodian {
            add(s, format!("custodian of client {}/{}", c.org_name, c.name));
        }
    }
    roles
        .into_iter()
        .map(|(email, roles)| Contact {
            email,
            roles: roles.into_iter().collect(),
        })
        .collect()
}

/// The blast radius as text for a terminal.
pub fn text(b: &BlastRadius) -> String {
    let mut out = String::new();
    let query: Vec<String> = serde_json::to_value(&b.query)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    out.push_str(&format!(
        "Blast radius of {} at {}: {} active client(s), {} org(s)\n",
        query.join(" "),
        b.at,
        b.clients.len(),
        b.orgs.len()
    ));
    out.push_str("\nClients:\n");
    for c in &b.clients {
        out.push_str(&format!(
            "  {}/{} ({}), owner {}{}{}, scopes {}, until {}: {}\n",
            c.org_name,
            c.name,
            c.client_id,
            c.owner,
            c.custodian
                .as_ref()
                .map(|s| format!(", custodian {s}"))
                .unwrap_or_default(),
            c.operated_by
                .as_ref()
                .map(|s| format!(", operated by {s}"))
                .unwrap_or_default(),
            c.scopes.join(" "),
            c.expires_at,
            c.why.join(", ")
        ));
    }
    out.push_str("\nOrgs:\n");
    for o in &b.orgs {
        out.push_str(&format!(
            "  {} ({}), contract until {}: {}\n",
            o.name,
            o.id,
            o.contract_end,
            o.why.join(", ")
        ));
    }
    out.push_str("\nContacts to call:\n");
    for c in &b.contacts {
        out.push_str(&format!("  {}: {}\n", c.email, c.roles.join("; ")));
    }
    if let Some(revoked) = &b.revoked {
        out.push_str(&format!(
            "\nRevoked {} client(s) in one transaction: {}\n",
            revoked.len(),
            revoked.join(", ")
        ));
    }
    out
}
