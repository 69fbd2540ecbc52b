//! Approvals: an org's approval authority approves one exact change (a
//! record, an attribute, its old and new value) for one change reference
//! (a pull request, say), for a limited time, to be used once. Under an
//! org's `approval_policy = "require"` the registry refuses a change that
//! widens or hands over access ([`partner_rules::approvals`]) unless such an
//! approval exists; who may approve is decided in [`crate::service`].

use crate::error::{Error, FieldError, Result};
use crate::records::{Client, Org, fmt_ts, parse_duration};
use partner_rules::approvals::{self as rules, ClientGrant, ClientTerms, OrgTerms, Widening};
use serde::Serialize;
use serde_json::{Map, Value};

/// An approval as stored, and (with its status, timestamps in RFC 3339) as
/// served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Approval {
    /// `apr_…`.
    pub id: String,
    pub change_ref: String,
    /// `client` or `org`.
    pub entity_kind: String,
    /// The record id (`cli_…`, `org_…`).
    pub entity_id: String,
    /// The org whose approval authority approved.
    pub org_id: String,
    pub attribute: String,
    pub old: String,
    pub new: String,
    /// The approver's email (the org's approval authority).
    pub approver: String,
    /// The approver token's name.
    pub token_name: String,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: i64,
    #[serde(serialize_with = "rfc3339")]
    pub expires_at: i64,
    #[serde(serialize_with = "rfc3339_if_any")]
    pub used_at: Option<i64>,
    /// The request id of the change that used it.
    pub used_by: Option<String>,
}

/// The JSON form of an approval: its fields and its status at the time of
/// the answer.
#[derive(Debug, Clone, Serialize)]
pub struct ApprovalView<'a> {
    #[serde(flatten)]
    approval: &'a Approval,
    /// `valid`, `used` or `expired`.
    status: &'static str,
}

fn rfc3339<S: serde::Serializer>(t: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&fmt_ts(*t))
}

fn rfc3339_if_any<S: serde::Serializer>(t: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    t.map(fmt_ts).serialize(s)
}

impl Approval {
    /// Whether it may still be used at `now`.
    pub fn usable(&self, now: i64) -> bool {
        self.used_at.is_none() && now <= self.expires_at
    }

    /// Whether it approves exactly `w`.
    pub fn approves(&self, w: &Widening) -> bool {
        self.attribute == w.attribute && self.old == w.old && self.new == w.new
    }

    pub fn view(&self, now: i64) -> ApprovalView<'_> {
        ApprovalView {
            approval: self,
            status: if self.used_at.is_some() {
                "used"
            } else if now > self.expires_at {
                "expired"
            } else {
                "valid"
            },
        }
    }
}

/// The fields of `POST /v1/approvals` (and the flags of `approve`).
pub const FIELDS: &[&str] = &["resource", "attribute", "old", "new", "expires_in"];

/// An approval as requested: the change and how long it may wait.
#[derive(Debug, Clone)]
pub struct ApprovalDraft {
    /// A client's id or client_id, or an org's id.
    pub resource: String,
    pub attribute: String,
    pub old: String,
    pub new: String,
    /// Seconds.
    pub lifetime: i64,
}

/// The rule of `expires_in`.
pub const LIFETIME_RULE: &str =
    "must be a duration such as 168h (the default: 7 days), more than 0s and at most 720h";

impl ApprovalDraft {
    /// Parses a request body; every malformed field is named.
    pub fn parse(map: &Map<String, Value>) -> Result<ApprovalDraft> {
        let mut f = crate::requests::Fields::new(map);
        let resource = f.req_str("resource", 100);
        let attribute = f.req_str("attribute", 50);
        // An old value may be empty (no intermediary before), never absent.
        let text = |f: &mut crate::requests::Fields<'_>, name: &str| match map.get(name) {
            Some(Value::String(s)) if s.len() <= 100_000 => Some(s.clone()),
            _ => {
                f.err(
                    name,
                    "is required: a string, the value exactly as the plan's warning shows it",
                );
                None
            }
        };
        let old = text(&mut f, "old");
        let new = text(&mut f, "new");
        let most = rules::MAX_APPROVAL_LIFETIME.as_secs() as i64;
        let lifetime = match f.opt_str("expires_in", 32) {
            None => Some(rules::DEFAULT_APPROVAL_LIFETIME.as_secs() as i64),
            Some(s) => match parse_duration(&s).filter(|d| (1..=most).contains(d)) {
                Some(d) => Some(d),
                None => {
                    f.err("expires_in", LIFETIME_RULE);
                    None
                }
            },
        };
        match (resource, attribute, old, new, lifetime, f.errors.is_empty()) {
            (Some(resource), Some(attribute), Some(old), Some(new), Some(lifetime), true) => {
                Ok(ApprovalDraft {
                    resource,
                    attribute,
                    old,
                    new,
                    lifetime,
                })
            }
            _ => Err(Error::Validation(f.errors)),
        }
    }
}

/// What of `c` can widen its access.
pub fn client_terms(c: &Client) -> ClientTerms<'_> {
    ClientTerms {
        scopes: &c.profile.scopes,
        expires_at: c.expires_at,
        owner: &c.profile.owner,
        operated_by: c.profile.operated_by.as_deref(),
        jwks: c.jwks.as_deref(),
        jwks_uri: c.jwks_uri.as_deref(),
    }
}

/// What the client `d` would be given if created.
pub fn client_grant(d: &crate::requests::ClientDraft) -> Widening {
    rules::client_grant(ClientGrant {
        name: d.name.as_deref().unwrap_or_default(),
        owner: d.owner.as_deref().unwrap_or_default(),
        scopes: d.scopes.as_deref().unwrap_or_default(),
        operated_by: d.operated_by.as_deref(),
        jwks: d.jwks.as_deref(),
        jwks_uri: d.jwks_uri.as_deref(),
    })
}

/// The owner named in an approval of a new client (its `owner=…` term).
pub fn granted_owner(new: &str) -> Option<&str> {
    new.split("; ").find_map(|term| term.strip_prefix("owner="))
}

/// What of `o` can widen what its clients may be given.
pub fn org_terms(o: &Org) -> OrgTerms<'_> {
    OrgTerms {
        allowed_scopes: &o.profile.allowed_scopes,
        contract_end: &o.profile.contract_end,
        approval_policy: &o.approval_policy,
        max_clients: o.max_clients,
    }
}

/// The refusal of widenings nobody approved, on each attribute: what the
/// change is, why it needs an approval, who approves and the command to run.
pub fn refusal(
    org: &Org,
    what: &str,
    resource: &str,
    change_ref: Option<&str>,
    missing: &[Widening],
) -> Error {
    Error::Validation(
        missing
            .iter()
            .map(|w| {
                let why = match change_ref {
                    Some(r) => format!("no valid, unused approval of it is recorded for change reference {r:?}"),
                    None => "the request carries no change reference (X-Change-Ref; the provider's change_ref or PARTNER_CHANGE_REF) to look an approval up by".to_string(),
                };
                // A new client is a change of its org, but the request's
                // field at fault is the client's org_id.
                let (field, change) = if w.attribute == rules::NEW_CLIENT {
                    (
                        "org_id",
                        format!("creating a client in {what} ({}) grants access and", w.new),
                    )
                } else {
                    (
                        w.attribute,
                        format!(
                            "changing {} of {what} from {:?} to {:?}",
                            w.attribute, w.old, w.new
                        ),
                    )
                };
                FieldError::new(
                    field,
                    format!(
                        "{change} needs an approval: org {} has approval_policy \"require\" and {why}. Ask {} (its approval authority) to approve it with an approver token: {} (or POST /v1/approvals)",
                        org.profile.name,
                        org.profile.approval_authority,
                        rules::approve_command(change_ref.unwrap_or("CHANGE_REF"), resource, w),
                    ),
                )
            })
            .collect(),
    )
}
