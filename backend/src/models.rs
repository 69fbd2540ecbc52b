//! Records, their JSON shapes, and the parsing and shape validation of request bodies.

use crate::error::{Error, FieldError};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use time::macros::format_description;
use time::{Date, OffsetDateTime};

pub const DEFAULT_MAX_CLIENTS: i64 = 10;
pub const MAX_BODY: u64 = 64 * 1024;

// ---------- time ----------

/// `2027-06-30T23:59:59Z` from unix seconds.
pub fn fmt_ts(unix: i64) -> String {
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

/// Parses an RFC 3339 timestamp with any offset into unix seconds.
pub fn parse_ts(s: &str) -> Option<i64> {
    partner_rules::parse_timestamp(s).map(OffsetDateTime::unix_timestamp)
}

pub use partner_rules::{is_email, is_scope, is_slug, parse_date};

pub fn fmt_date(d: Date) -> String {
    d.format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

/// Unix seconds of `<date>T23:59:59Z`.
pub fn end_of_day(date: &str) -> Option<i64> {
    partner_rules::end_of_day(date).map(OffsetDateTime::unix_timestamp)
}

/// A duration as Terraform users write them (`720h`, `90m`, `1h30m`), in seconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    partner_rules::parse_duration(s).and_then(|d| i64::try_from(d.as_secs()).ok())
}

// ---------- statuses ----------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgStatus {
    Active,
    Expired,
    Offboarded,
}

impl OrgStatus {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(OrgStatus::Active),
            "expired" => Some(OrgStatus::Expired),
            "offboarded" => Some(OrgStatus::Offboarded),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientStatus {
    Active,
    Expired,
    Revoked,
}

impl ClientStatus {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(ClientStatus::Active),
            "expired" => Some(ClientStatus::Expired),
            "revoked" => Some(ClientStatus::Revoked),
            _ => None,
        }
    }
}

// ---------- records ----------

/// An org as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub legal_entity: String,
    pub technical_owner: String,
    pub approval_authority: String,
    pub commercial_sponsor: Option<String>,
    pub contract_id: String,
    pub contract_start: Option<String>,
    pub contract_end: String,
    pub tenant: Option<String>,
    pub business_unit: Option<String>,
    pub allowed_scopes: Vec<String>,
    pub max_clients: i64,
    pub labels: BTreeMap<String, String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub offboarded_at: Option<i64>,
    pub version: i64,
}

/// The JSON form of an org.
#[derive(Debug, Clone, Serialize)]
pub struct OrgView {
    pub id: String,
    pub name: String,
    pub legal_entity: String,
    pub technical_owner: String,
    pub approval_authority: String,
    pub commercial_sponsor: Option<String>,
    pub contract_id: String,
    pub contract_start: Option<String>,
    pub contract_end: String,
    pub tenant: Option<String>,
    pub business_unit: Option<String>,
    pub allowed_scopes: Vec<String>,
    pub max_clients: i64,
    pub labels: BTreeMap<String, String>,
    pub status: OrgStatus,
    pub created_at: String,
    pub updated_at: String,
    pub offboarded_at: Option<String>,
    pub version: i64,
}

impl Org {
    /// End of the contract: `<contract_end>T23:59:59Z` in unix seconds.
    pub fn contract_end_ts(&self) -> i64 {
        end_of_day(&self.contract_end).unwrap_or(0)
    }

    pub fn status(&self, now: i64) -> OrgStatus {
        if self.offboarded_at.is_some() {
            OrgStatus::Offboarded
        } else if now > self.contract_end_ts() {
            OrgStatus::Expired
        } else {
            OrgStatus::Active
        }
    }

    pub fn view(&self, now: i64) -> OrgView {
        OrgView {
            id: self.id.clone(),
            name: self.name.clone(),
            legal_entity: self.legal_entity.clone(),
            technical_owner: self.technical_owner.clone(),
            approval_authority: self.approval_authority.clone(),
            commercial_sponsor: self.commercial_sponsor.clone(),
            contract_id: self.contract_id.clone(),
            contract_start: self.contract_start.clone(),
            contract_end: self.contract_end.clone(),
            tenant: self.tenant.clone(),
            business_unit: self.business_unit.clone(),
            allowed_scopes: self.allowed_scopes.clone(),
            max_clients: self.max_clients,
            labels: self.labels.clone(),
            status: self.status(now),
            created_at: fmt_ts(self.created_at),
            updated_at: fmt_ts(self.updated_at),
            offboarded_at: self.offboarded_at.map(fmt_ts),
            version: self.version,
        }
    }

    /// The editable fields as JSON: the base a merge patch applies to.
    pub fn editable_json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("name".into(), self.name.clone().into());
        m.insert("legal_entity".into(), self.legal_entity.clone().into());
        m.insert(
            "technical_owner".into(),
            self.technical_owner.clone().into(),
        );
        m.insert(
            "approval_authority".into(),
            self.approval_authority.clone().into(),
        );
        if let Some(s) = &self.commercial_sponsor {
            m.insert("commercial_sponsor".into(), s.clone().into());
        }
        m.insert("contract_id".into(), self.contract_id.clone().into());
        if let Some(s) = &self.contract_start {
            m.insert("contract_start".into(), s.clone().into());
        }
        m.insert("contract_end".into(), self.contract_end.clone().into());
        if let Some(s) = &self.tenant {
            m.insert("tenant".into(), s.clone().into());
        }
        if let Some(s) = &self.business_unit {
            m.insert("business_unit".into(), s.clone().into());
        }
        m.insert("allowed_scopes".into(), self.allowed_scopes.clone().into());
        m.insert("max_clients".into(), self.max_clients.into());
        m.insert(
            "labels".into(),
            Value::Object(
                self.labels
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            ),
        );
        m
    }
}

/// A client as stored (without any secret material).
#[derive(Debug, Clone, PartialEq)]
pub struct Client {
    pub id: String,
    pub client_id: String,
    pub org_id: String,
    pub name: String,
    pub purpose: String,
    pub owner: String,
    pub scopes: Vec<String>,
    pub expires_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub revoked_at: Option<i64>,
    pub version: i64,
    /// When the current secret was made (creation or the last rotation).
    pub secret_rotated_at: i64,
    /// Last successful introspection, written coarsely (at most once a minute).
    pub last_used_at: Option<i64>,
    /// End of the grace period of the previous secret, if one was kept at the last rotation.
    pub previous_secret_not_after: Option<i64>,
}

/// The JSON form of a client. `client_secret` is present only in the create response.
#[derive(Debug, Clone, Serialize)]
pub struct ClientView {
    pub id: String,
    pub client_id: String,
    pub org_id: String,
    pub name: String,
    pub purpose: String,
    pub owner: String,
    pub scopes: Vec<String>,
    pub expires_at: String,
    pub status: ClientStatus,
    pub created_at: String,
    pub updated_at: String,
    pub revoked_at: Option<String>,
    pub version: i64,
    pub secret_rotated_at: String,
    /// Null when no previous secret is valid (none kept, grace over, or revoked).
    pub previous_secret_expires_at: Option<String>,
    pub last_used_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl Client {
    /// Status at `now`; `org_end` is the end of the org's contract (clients of an
    /// ended contract read back expired even if their own expiry were later).
    pub fn status(&self, now: i64, org_end: i64) -> ClientStatus {
        if self.revoked_at.is_some() {
            ClientStatus::Revoked
        } else if now > self.expires_at || now > org_end {
            ClientStatus::Expired
        } else {
            ClientStatus::Active
        }
    }

    /// When the previous secret stops working, while it still works.
    pub fn previous_secret_expires_at(&self, now: i64) -> Option<String> {
        self.previous_secret_not_after
            .filter(|t| self.revoked_at.is_none() && now <= *t)
            .map(fmt_ts)
    }

    pub fn view(&self, now: i64, org_end: i64) -> ClientView {
        ClientView {
            id: self.id.clone(),
            client_id: self.client_id.clone(),
            org_id: self.org_id.clone(),
            name: self.name.clone(),
            purpose: self.purpose.clone(),
            owner: self.owner.clone(),
            scopes: self.scopes.clone(),
            expires_at: fmt_ts(self.expires_at),
            status: self.status(now, org_end),
            created_at: fmt_ts(self.created_at),
            updated_at: fmt_ts(self.updated_at),
            revoked_at: self.revoked_at.map(fmt_ts),
            version: self.version,
            secret_rotated_at: fmt_ts(self.secret_rotated_at),
            previous_secret_expires_at: self.previous_secret_expires_at(now),
            last_used_at: self.last_used_at.map(fmt_ts),
            client_secret: None,
        }
    }

    pub fn editable_json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("org_id".into(), self.org_id.clone().into());
        m.insert("name".into(), self.name.clone().into());
        m.insert("purpose".into(), self.purpose.clone().into());
        m.insert("owner".into(), self.owner.clone().into());
        m.insert("scopes".into(), self.scopes.clone().into());
        m.insert("expires_at".into(), fmt_ts(self.expires_at).into());
        m
    }
}

// ---------- request bodies ----------

/// Parses a request body as a JSON object (400 otherwise).
pub fn parse_object(body: &[u8]) -> Result<Map<String, Value>, Error> {
    if body.len() as u64 > MAX_BODY {
        return Err(Error::PayloadTooLarge);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Error::BadRequest("the body must be a JSON object".into())),
        Err(e) => Err(Error::BadRequest(format!(
            "the body is not valid JSON: {e}"
        ))),
    }
}

/// 400 naming every field the endpoint does not know.
pub fn reject_unknown(map: &Map<String, Value>, known: &[&str]) -> Result<(), Error> {
    let unknown: Vec<&str> = map
        .keys()
        .filter(|k| !known.contains(&k.as_str()))
        .map(|k| k.as_str())
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(Error::BadRequest(format!(
            "unknown field(s): {}",
            unknown.join(", ")
        )))
    }
}

/// RFC 7396 JSON merge patch.
pub fn merge_patch(base: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (k, v) in patch {
        match v {
            Value::Null => {
                base.remove(k);
            }
            Value::Object(p) => {
                let entry = base
                    .entry(k.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(b) = entry {
                    merge_patch(b, p);
                } else {
                    let mut fresh = Map::new();
                    merge_patch(&mut fresh, p);
                    *entry = Value::Object(fresh);
                }
            }
            other => {
                base.insert(k.clone(), other.clone());
            }
        }
    }
}

fn is_label_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._/-".contains(&b))
}

/// Collects every field error of one body.
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    pub errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    pub fn new(map: &'a Map<String, Value>) -> Self {
        Fields {
            map,
            errors: Vec::new(),
        }
    }

    pub fn err(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// An optional string (absent or null → None), trimmed length limits applied.
    pub fn opt_str(&mut self, field: &str, max: usize) -> Option<String> {
        match self.map.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => {
                self.err(field, "must not be empty");
                None
            }
            Some(Value::String(s)) if s.chars().count() > max => {
                self.err(field, format!("must be at most {max} characters"));
                None
            }
            Some(Value::String(s)) if s.chars().any(char::is_control) => {
                self.err(field, "must not contain control characters");
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.err(field, "must be a string");
                None
            }
        }
    }

    pub fn req_str(&mut self, field: &str, max: usize) -> Option<String> {
        if matches!(self.map.get(field), None | Some(Value::Null)) {
            self.err(field, "is required");
            return None;
        }
        self.opt_str(field, max)
    }

    pub fn check(
        &mut self,
        field: &str,
        v: Option<String>,
        ok: fn(&str) -> bool,
        what: &str,
    ) -> Option<String> {
        match v {
            Some(s) if ok(&s) => Some(s),
            Some(_) => {
                self.err(field, format!("must be {what}"));
                None
            }
            None => None,
        }
    }

    pub fn req_email(&mut self, field: &str) -> Option<String> {
        let v = self.req_str(field, 254);
        self.check(field, v, is_email, "an email address")
    }

    pub fn opt_email(&mut self, field: &str) -> Option<String> {
        let v = self.opt_str(field, 254);
        self.check(field, v, is_email, "an email address")
    }

    pub fn req_slug(&mut self, field: &str) -> Option<String> {
        let v = self.req_str(field, 63);
        self.check(
            field,
            v,
            is_slug,
            "a slug: 1 to 63 lowercase letters, digits and hyphens, not starting or ending with a hyphen",
        )
    }

    pub fn date(&mut self, field: &str, required: bool) -> Option<String> {
        let v = if required {
            self.req_str(field, 10)
        } else {
            self.opt_str(field, 10)
        };
        match v {
            Some(s) => match parse_date(&s) {
                Some(d) => Some(fmt_date(d)),
                None => {
                    self.err(field, "must be a date YYYY-MM-DD");
                    None
                }
            },
            None => None,
        }
    }

    /// Ok(None) absent/null; Err(()) invalid (error recorded).
    #[allow(clippy::result_unit_err)]
    pub fn opt_ts(&mut self, field: &str) -> Result<Option<i64>, ()> {
        match self.opt_str(field, 64) {
            Some(s) => match parse_ts(&s) {
                Some(t) => Ok(Some(t)),
                None => {
                    self.err(
                        field,
                        "must be an RFC 3339 timestamp such as 2027-06-30T23:59:59Z",
                    );
                    Err(())
                }
            },
            None if matches!(self.map.get(field), None | Some(Value::Null)) => Ok(None),
            None => Err(()),
        }
    }

    /// A set of scope strings, sorted and unique. `None` when invalid or absent-and-required.
    pub fn scopes(&mut self, field: &str, required: bool) -> Option<Vec<String>> {
        match self.map.get(field) {
            None | Some(Value::Null) => {
                if required {
                    self.err(field, "is required");
                    None
                } else {
                    Some(Vec::new())
                }
            }
            Some(Value::Array(items)) => {
                let mut set = BTreeSet::new();
                let mut bad = Vec::new();
                for it in items {
                    match it {
                        Value::String(s) if is_scope(s) => {
                            set.insert(s.clone());
                        }
                        Value::String(s) => bad.push(format!("{s:?}")),
                        other => bad.push(other.to_string()),
                    }
                }
                if items.len() > 256 {
                    self.err(field, "must hold at most 256 scopes");
                    None
                } else if bad.is_empty() {
                    Some(set.into_iter().collect())
                } else {
                    self.err(
                        field,
                        format!(
                            "scopes must be non-empty strings of printable ASCII without spaces, quotes or backslashes; invalid: {}",
                            bad.join(", ")
                        ),
                    );
                    None
                }
            }
            Some(_) => {
                self.err(field, "must be an array of scope strings");
                None
            }
        }
    }

    pub fn int(&mut self, field: &str, default: i64, min: i64, max: i64) -> Option<i64> {
        match self.map.get(field) {
            None | Some(Value::Null) => Some(default),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(v) if (min..=max).contains(&v) => Some(v),
                _ => {
                    self.err(field, format!("must be an integer from {min} to {max}"));
                    None
                }
            },
            Some(_) => {
                self.err(field, format!("must be an integer from {min} to {max}"));
                None
            }
        }
    }

    pub fn labels(&mut self, field: &str) -> Option<BTreeMap<String, String>> {
        match self.map.get(field) {
            None | Some(Value::Null) => Some(BTreeMap::new()),
            Some(Value::Object(m)) => {
                let mut out = BTreeMap::new();
                let mut ok = true;
                if m.len() > 64 {
                    self.err(field, "must hold at most 64 labels");
                    return None;
                }
                for (k, v) in m {
                    match v {
                        Value::String(s) if is_label_key(k) && s.chars().count() <= 256 => {
                            out.insert(k.clone(), s.clone());
                        }
                        _ => {
                            ok = false;
                            self.err(
                                &format!("{field}.{k}"),
                                "label keys are 1 to 63 of [A-Za-z0-9._/-] and values strings of at most 256 characters",
                            );
                        }
                    }
                }
                ok.then_some(out)
            }
            Some(_) => {
                self.err(field, "must be an object of strings");
                None
            }
        }
    }
}

pub use partner_rules::ORG_FIELDS;

/// Fields of `POST /v1/orgs`: the editable ones plus an optional client-chosen `id`.
pub const ORG_CREATE_FIELDS: &[&str] = &[
    "id",
    "name",
    "legal_entity",
    "technical_owner",
    "approval_authority",
    "commercial_sponsor",
    "contract_id",
    "contract_start",
    "contract_end",
    "tenant",
    "business_unit",
    "allowed_scopes",
    "max_clients",
    "labels",
];

/// Whether `s` has the shape of a server-made org id: `org_` and 20 of `[A-Za-z0-9]`.
pub fn is_org_id(s: &str) -> bool {
    s.strip_prefix("org_")
        .is_some_and(|r| r.len() == 20 && r.bytes().all(|b| b.is_ascii_alphanumeric()))
}

pub const CLIENT_CREATE_FIELDS: &[&str] = &[
    "org_id",
    "name",
    "purpose",
    "owner",
    "scopes",
    "expires_at",
    "client_secret",
];
pub const CLIENT_PATCH_FIELDS: &[&str] = partner_rules::CLIENT_FIELDS;
pub const ROTATE_FIELDS: &[&str] = &["grace_period", "client_secret"];

/// Default and maximum overlap of the previous secret after a rotation (seconds).
pub const DEFAULT_GRACE: i64 = partner_rules::DEFAULT_GRACE_PERIOD.as_secs() as i64;
pub const MAX_GRACE: i64 = partner_rules::MAX_GRACE_PERIOD.as_secs() as i64;

/// A secret for a client: the HMAC to store and where the plaintext came from.
#[derive(Debug, Clone)]
pub struct NewSecret {
    pub hmac: [u8; 32],
    /// `generated` or `supplied`.
    pub source: &'static str,
}

/// `720h`, `90m`, `45s`: the shortest exact form of a number of seconds.
pub fn fmt_duration(secs: i64) -> String {
    if secs != 0 && secs % 3600 == 0 {
        format!("{}h", secs / 3600)
    } else if secs != 0 && secs % 60 == 0 {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

/// The optional `client_secret` of a create or rotate body: `Ok(None)` when absent,
/// the plaintext when it meets the rule; every refusal is recorded on `client_secret`
/// without the value.
pub fn supplied_secret(map: &Map<String, Value>, errors: &mut Vec<FieldError>) -> Option<String> {
    match map.get("client_secret") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match crate::crypto::check_supplied_secret(s) {
            Ok(()) => Some(s.clone()),
            Err(why) => {
                errors.push(FieldError::new("client_secret", why));
                None
            }
        },
        Some(_) => {
            errors.push(FieldError::new(
                "client_secret",
                format!("must be a string; {}", crate::crypto::SUPPLIED_SECRET_RULE),
            ));
            None
        }
    }
}

/// A complete org as requested (create, or current record with a patch merged in).
/// Fields that failed validation are `None`; `errors` lists every failure.
#[derive(Debug, Default)]
pub struct OrgDraft {
    /// A client-chosen id (create only).
    pub id: Option<String>,
    pub name: Option<String>,
    pub legal_entity: Option<String>,
    pub technical_owner: Option<String>,
    pub approval_authority: Option<String>,
    pub commercial_sponsor: Option<String>,
    pub contract_id: Option<String>,
    pub contract_start: Option<String>,
    pub contract_end: Option<String>,
    pub tenant: Option<String>,
    pub business_unit: Option<String>,
    pub allowed_scopes: Option<Vec<String>>,
    pub max_clients: Option<i64>,
    pub labels: Option<BTreeMap<String, String>>,
    pub errors: Vec<FieldError>,
}

pub fn parse_org(map: &Map<String, Value>) -> OrgDraft {
    let mut f = Fields::new(map);
    let mut d = OrgDraft {
        id: None,
        name: f.req_slug("name"),
        legal_entity: f.req_str("legal_entity", 300),
        technical_owner: f.req_email("technical_owner"),
        approval_authority: f.req_email("approval_authority"),
        commercial_sponsor: f.opt_email("commercial_sponsor"),
        contract_id: f.req_str("contract_id", 200),
        contract_start: f.date("contract_start", false),
        contract_end: f.date("contract_end", true),
        tenant: f.opt_str("tenant", 200),
        business_unit: f.opt_str("business_unit", 200),
        allowed_scopes: f.scopes("allowed_scopes", true),
        max_clients: f.int("max_clients", DEFAULT_MAX_CLIENTS, 0, 100_000),
        labels: f.labels("labels"),
        errors: Vec::new(),
    };
    if let (Some(s), Some(e)) = (&d.contract_start, &d.contract_end) {
        if s > e {
            f.err("contract_end", "must not be before contract_start");
        }
    }
    d.errors = f.errors;
    d
}

/// Parses the body of `POST /v1/orgs`, including the optional client-chosen `id`.
pub fn parse_org_create(map: &Map<String, Value>) -> OrgDraft {
    let mut d = parse_org(map);
    match map.get("id") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if is_org_id(s) => d.id = Some(s.clone()),
        Some(_) => d.errors.push(FieldError::new(
            "id",
            "must match ^org_[A-Za-z0-9]{20}$ (the shape of the ids the server makes), or be left out",
        )),
    }
    d
}

#[derive(Debug)]
pub struct ClientDraft {
    pub org_id: Option<String>,
    pub name: Option<String>,
    pub purpose: Option<String>,
    pub owner: Option<String>,
    pub scopes: Option<Vec<String>>,
    /// Ok(None): default to the end of the contract.
    pub expires_at: Result<Option<i64>, ()>,
    pub errors: Vec<FieldError>,
}

pub fn parse_client(map: &Map<String, Value>) -> ClientDraft {
    let mut f = Fields::new(map);
    let mut d = ClientDraft {
        org_id: f.req_str("org_id", 100),
        name: f.req_slug("name"),
        purpose: f.req_str("purpose", 2000),
        owner: f.req_email("owner"),
        scopes: f.scopes("scopes", true),
        expires_at: f.opt_ts("expires_at"),
        errors: Vec::new(),
    };
    d.errors = f.errors;
    d
}

/// Canonical hash of a JSON body (keys sorted), for Idempotency-Key comparison.
pub fn canonical_hash(map: &Map<String, Value>) -> String {
    // serde_json's Map is a BTreeMap here: serialisation is key-sorted at every level.
    let text = serde_json::to_string(&Value::Object(map.clone())).unwrap_or_default();
    crate::crypto::sha256_hex(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_normalise_to_utc_seconds() {
        assert_eq!(
            fmt_ts(parse_ts("2027-07-01T01:59:59+02:00").unwrap()),
            "2027-06-30T23:59:59Z"
        );
        assert_eq!(
            fmt_ts(parse_ts("2027-06-30T23:59:59.75Z").unwrap()),
            "2027-06-30T23:59:59Z"
        );
        assert!(parse_ts("2027-06-30").is_none());
        assert_eq!(
            fmt_ts(end_of_day("2027-06-30").unwrap()),
            "2027-06-30T23:59:59Z"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("720h"), Some(720 * 3600));
        assert_eq!(parse_duration("1h30m"), Some(5400));
        assert_eq!(parse_duration("12"), None);
        assert_eq!(parse_duration("x"), None);
    }

    #[test]
    fn validators() {
        assert!(is_slug("acme-1"));
        assert!(!is_slug("-acme") && !is_slug("Acme") && !is_slug(""));
        assert!(is_email("a.b@example.com"));
        assert!(!is_email("a@b") && !is_email("a b@c.d") && !is_email("@c.d"));
        assert!(is_scope("orders:read") && !is_scope("a b") && !is_scope(""));
    }

    #[test]
    fn merge_patch_semantics() {
        let mut base: Map<String, Value> =
            serde_json::from_str(r#"{"a":1,"b":{"x":"1","y":"2"},"c":"keep"}"#).unwrap();
        let patch: Map<String, Value> =
            serde_json::from_str(r#"{"a":null,"b":{"x":null,"z":"3"}}"#).unwrap();
        merge_patch(&mut base, &patch);
        assert_eq!(
            Value::Object(base),
            serde_json::json!({"b":{"y":"2","z":"3"},"c":"keep"})
        );
    }

    #[test]
    fn org_parse_lists_every_failing_field() {
        let m: Map<String, Value> = serde_json::from_str(
            r#"{"name":"Bad Name","technical_owner":"nope","allowed_scopes":["a b"]}"#,
        )
        .unwrap();
        let d = parse_org(&m);
        let fields: Vec<&str> = d.errors.iter().map(|e| e.field.as_str()).collect();
        for f in [
            "name",
            "legal_entity",
            "technical_owner",
            "approval_authority",
            "contract_id",
            "contract_end",
            "allowed_scopes",
        ] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
    }
}
