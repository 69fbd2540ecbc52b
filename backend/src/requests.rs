//! Request bodies: parsing, shape validation against the field rules of
//! `partner-rules`, and the drafts the use cases take.

use crate::error::{Error, FieldError};
use crate::records::*;
use partner_rules::fields::{self as rules, TextField};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

pub use partner_rules::{is_email, is_scope, is_slug};

/// The largest request body the API reads.
pub const MAX_BODY: u64 = 64 * 1024;

/// Why a body larger than [`MAX_BODY`] is refused: its size and, when it is
/// JSON, the field that makes it so large (`purpose`, `labels.team`,
/// `allowed_scopes[3]`).
pub fn too_large(body: &[u8]) -> String {
    let mut why = format!(
        "the request body is {} bytes; the API reads at most {MAX_BODY} bytes",
        body.len()
    );
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        if let Some((field, size)) = largest_part(&value, String::new()) {
            why.push_str(&format!(
                ": field `{field}` alone takes {size} bytes (see its limit in the API's schema)"
            ));
        }
    }
    why
}

/// The member of `value` (an object's field, an array's element) that holds
/// most of its size, followed down while one part holds most of it.
fn largest_part(value: &Value, path: String) -> Option<(String, usize)> {
    let size = |v: &Value| serde_json::to_vec(v).map_or(0, |b| b.len());
    let parts: Vec<(String, &Value)> = match value {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                let path = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                (path, v)
            })
            .collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("{path}[{i}]"), v))
            .collect(),
        _ => return None,
    };
    let (part_path, part) = parts.into_iter().max_by_key(|(_, v)| size(v))?;
    let part_size = size(part);
    if !path.is_empty() && part_size * 2 < size(value) {
        // No part holds most of it: the whole is the culprit.
        return None;
    }
    largest_part(part, part_path.clone()).or(Some((part_path, part_size)))
}

/// Parses a request body as a JSON object (400 otherwise).
pub fn parse_object(body: &[u8]) -> Result<Map<String, Value>, Error> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Error::BadRequest("the body must be a JSON object".into())),
        Err(e) => Err(Error::BadRequest(format!(
            "the body is not valid JSON: {e}"
        ))),
    }
}

/// The body as a JSON object holding only fields in `known`; 400 otherwise.
pub fn body_object(body: &[u8], known: &[&str]) -> Result<Map<String, Value>, Error> {
    let map = parse_object(body)?;
    reject_unknown(&map, known)?;
    Ok(map)
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

    /// An optional string (absent or null → None) of at most `max` characters
    /// that is not blank and has no control character.
    pub fn opt_str(&mut self, field: &str, max: usize) -> Option<String> {
        match self.map.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => match rules::check_text_max(s, max) {
                Ok(()) => Some(s.clone()),
                Err(why) => {
                    self.err(field, why.to_string());
                    None
                }
            },
            Some(_) => {
                self.err(field, "must be a string");
                None
            }
        }
    }

    /// An optional descriptive attribute under its declared rule.
    pub fn attribute(&mut self, spec: &partner_api::AttributeSpec) -> Option<String> {
        match self.map.get(spec.name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => match rules::check_attribute(spec.rule, s) {
                Ok(()) => Some(s.clone()),
                Err(why) => {
                    self.err(spec.name, why.to_string());
                    None
                }
            },
            Some(_) => {
                self.err(spec.name, "must be a string");
                None
            }
        }
    }

    /// An optional free-text field under its shared rule.
    pub fn opt_text(&mut self, field: TextField) -> Option<String> {
        self.opt_str(field.name, field.max_chars)
    }

    /// A required free-text field under its shared rule.
    pub fn req_text(&mut self, field: TextField) -> Option<String> {
        self.req_str(field.name, field.max_chars)
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
        let v = self.req_str(field, rules::EMAIL_MAX_CHARS);
        self.check(field, v, is_email, "an email address")
    }

    pub fn opt_email(&mut self, field: &str) -> Option<String> {
        let v = self.opt_str(field, rules::EMAIL_MAX_CHARS);
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
                let strings: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
                let Some(strings) = strings else {
                    self.err(field, "must be an array of scope strings");
                    return None;
                };
                match rules::check_scopes(&strings) {
                    Ok(()) => Some(
                        strings
                            .into_iter()
                            .map(String::from)
                            .collect::<BTreeSet<_>>()
                            .into_iter()
                            .collect(),
                    ),
                    Err(why) => {
                        self.err(field, why.to_string());
                        None
                    }
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

    /// `report` (the default, also for null) or `suspend`.
    pub fn review_enforcement(&mut self, field: &str) -> Option<partner_rules::ReviewEnforcement> {
        match self.map.get(field) {
            None | Some(Value::Null) => Some(partner_rules::ReviewEnforcement::default()),
            other => {
                let parsed = other
                    .and_then(Value::as_str)
                    .and_then(partner_rules::ReviewEnforcement::parse);
                if parsed.is_none() {
                    self.err(field, partner_rules::REVIEW_ENFORCEMENT_RULE);
                }
                parsed
            }
        }
    }

    pub fn labels(&mut self, field: &str) -> Option<BTreeMap<String, String>> {
        match self.map.get(field) {
            None | Some(Value::Null) => Some(BTreeMap::new()),
            Some(Value::Object(m)) => {
                let mut out = BTreeMap::new();
                for (k, v) in m {
                    match v {
                        Value::String(s) => {
                            out.insert(k.clone(), s.clone());
                        }
                        _ => self.err(&format!("{field}.{k}"), rules::LABEL_RULE),
                    }
                }
                let violations = rules::check_labels(&out);
                for v in &violations {
                    match v {
                        rules::LabelViolation::TooMany { .. } => self.err(field, v.to_string()),
                        rules::LabelViolation::Invalid { key } => {
                            self.err(&format!("{field}.{key}"), v.to_string())
                        }
                    }
                }
                (violations.is_empty() && out.len() == m.len()).then_some(out)
            }
            Some(_) => {
                self.err(field, "must be an object of strings");
                None
            }
        }
    }
}

pub use partner_api::{CLIENT_CREATE_FIELDS, CLIENT_PATCH_FIELDS, ORG_CREATE_FIELDS, ORG_FIELDS};

pub use partner_rules::is_org_id;

pub const ROTATE_FIELDS: &[&str] = &["grace_period", "client_secret"];

/// Default and maximum overlap of the previous secret after a rotation (seconds).
pub const DEFAULT_GRACE: i64 = partner_rules::DEFAULT_GRACE_PERIOD.as_secs() as i64;
pub const MAX_GRACE: i64 = partner_rules::MAX_GRACE_PERIOD.as_secs() as i64;

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
    pub review_enforcement: Option<partner_rules::ReviewEnforcement>,
    /// `None`: the default, `warn`.
    pub approval_policy: Option<String>,
    pub errors: Vec<FieldError>,
}

pub fn parse_org(map: &Map<String, Value>) -> OrgDraft {
    let mut f = Fields::new(map);
    let mut d = OrgDraft {
        id: None,
        name: f.req_slug("name"),
        legal_entity: f.req_text(rules::LEGAL_ENTITY),
        technical_owner: f.req_email("technical_owner"),
        approval_authority: f.req_email("approval_authority"),
        commercial_sponsor: f.opt_email("commercial_sponsor"),
        contract_id: f.req_text(rules::CONTRACT_ID),
        contract_start: f.date("contract_start", false),
        contract_end: f.date("contract_end", true),
        tenant: f.opt_text(rules::TENANT),
        business_unit: f.opt_text(rules::BUSINESS_UNIT),
        allowed_scopes: f.scopes("allowed_scopes", true),
        max_clients: f.int(
            "max_clients",
            DEFAULT_MAX_CLIENTS,
            *partner_rules::MAX_CLIENTS_RANGE.start(),
            *partner_rules::MAX_CLIENTS_RANGE.end(),
        ),
        labels: f.labels("labels"),
        review_enforcement: f.review_enforcement("review_enforcement"),
        approval_policy: None,
        errors: Vec::new(),
    };
    d.approval_policy = f.opt_str("approval_policy", 20).filter(|p| {
        partner_rules::approvals::is_approval_policy(p) || {
            f.err(
                "approval_policy",
                partner_rules::approvals::APPROVAL_POLICY_RULE,
            );
            false
        }
    });
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
    pub attributes: ClientAttributes,
    pub operated_by: Option<String>,
    /// `None`: the default, `client_secret`.
    pub auth_method: Option<String>,
    /// The public keys, as stored (compact JSON).
    pub jwks: Option<String>,
    /// Where the client publishes them instead.
    pub jwks_uri: Option<String>,
    pub scopes: Option<Vec<String>>,
    /// Ok(None): default to the end of the contract.
    pub expires_at: Result<Option<i64>, ()>,
    pub errors: Vec<FieldError>,
}

impl ClientDraft {
    /// The client's own fields it holds, taken out of it: once it parsed
    /// without errors, each of them is there.
    pub fn profile(&mut self) -> ClientProfile {
        ClientProfile {
            name: self.name.take().unwrap_or_default(),
            purpose: self.purpose.take().unwrap_or_default(),
            owner: self.owner.take().unwrap_or_default(),
            operated_by: self.operated_by.take(),
            scopes: self.scopes.take().unwrap_or_default(),
            attributes: std::mem::take(&mut self.attributes),
        }
    }
}

pub fn parse_client(map: &Map<String, Value>) -> ClientDraft {
    let mut f = Fields::new(map);
    let mut d = ClientDraft {
        org_id: f.req_str("org_id", 100),
        name: f.req_slug("name"),
        purpose: f.req_text(rules::PURPOSE),
        owner: f.req_email("owner"),
        attributes: ClientAttributes::from_fn(|spec| f.attribute(spec)),
        operated_by: f.opt_str("operated_by", 100),
        auth_method: None,
        jwks: None,
        jwks_uri: f
            .opt_str("jwks_uri", partner_rules::keys::MAX_JWKS_URI_CHARS)
            .filter(|u| {
                partner_rules::keys::check_jwks_uri(u)
                    .map_err(|why| f.err("jwks_uri", why))
                    .is_ok()
            }),
        scopes: f.scopes("scopes", true),
        expires_at: f.opt_ts("expires_at"),
        errors: Vec::new(),
    };
    d.auth_method = f.opt_str("auth_method", 32).filter(|m| {
        partner_rules::keys::is_auth_method(m) || {
            f.err("auth_method", partner_rules::keys::AUTH_METHOD_RULE);
            false
        }
    });
    d.jwks = match map.get("jwks") {
        None | Some(Value::Null) => None,
        Some(keys @ Value::Object(_)) => {
            let text = keys.to_string();
            match partner_rules::keys::check_jwks(&text) {
                Ok(()) => Some(text),
                Err(why) => {
                    f.err("jwks", why);
                    None
                }
            }
        }
        Some(_) => {
            f.err(
                "jwks",
                format!("must be a JSON object: {}", partner_rules::keys::JWKS_RULE),
            );
            None
        }
    };
    let jwt = d.auth_method.as_deref() == Some(partner_rules::keys::PRIVATE_KEY_JWT);
    let given = |name: &str| !matches!(map.get(name), None | Some(Value::Null));
    for (field, why) in
        partner_rules::keys::key_source_violations(jwt, given("jwks"), given("jwks_uri"))
    {
        f.err(field, why);
    }
    if let (Some(owner), Some(custodian)) = (&d.owner, &d.attributes.custodian) {
        if !partner_rules::custodian_ok(owner, custodian) {
            f.err("custodian", partner_rules::CUSTODIAN_RULE);
        }
    }
    if let Some(by) = &d.operated_by {
        if !partner_rules::operated_by_ok(d.org_id.as_deref().unwrap_or_default(), by) {
            f.err("operated_by", partner_rules::OPERATED_BY_RULE);
        }
    }
    d.errors = f.errors;
    d
}

/// Fields of `POST /v1/tokens` (and of `token create`, whose flags are these
/// with hyphens: `--expires-in`).
pub const TOKEN_CREATE_FIELDS: &[&str] =
    &["name", "role", "org", "email", "expires_in", "expires_at"];

/// The longest lifetime a token may be given: a credential that should outlive
/// ten years is better made without an expiry, on purpose.
pub const MAX_TOKEN_LIFETIME: i64 = 87_600 * 3600;

/// The rule of `expires_in`.
pub const TOKEN_LIFETIME_RULE: &str = "must be a duration of hours, minutes and seconds such as 720h, 90m or 1h30m, \
     more than 0s and at most 87600h (10 years)";

/// How long a new token lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// It never expires.
    Unbounded,
    /// This many seconds after its creation.
    For(i64),
    /// Until this instant (unix seconds), checked against the time of creation.
    Until(i64),
}

/// A token as requested. Fields that failed validation are `None`; `errors`
/// lists every failure.
#[derive(Debug)]
pub struct TokenDraft {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub org: Option<String>,
    /// The person an approver token is bound to.
    pub email: Option<String>,
    pub lifetime: Lifetime,
    pub errors: Vec<FieldError>,
}

/// Parses a token's creation (the API's body, or the CLI's flags as one).
pub fn parse_token(map: &Map<String, Value>) -> TokenDraft {
    let mut f = Fields::new(map);
    let name = f.req_str("name", 100);
    let role = f.req_str("role", 20);
    let role = f
        .check(
            "role",
            role,
            |r| Role::parse(r).is_some(),
            "admin, reviewer, org or approver",
        )
        .as_deref()
        .and_then(Role::parse);
    let org = f.opt_str("org", 100);
    let email = f.opt_email("email");
    let expires_in = f.opt_str("expires_in", 32);
    let expires_at = f.opt_ts("expires_at");
    let lifetime = match (expires_in, expires_at) {
        (Some(_), Ok(Some(_))) => {
            f.err(
                "expires_at",
                "cannot be given with expires_in: give one of them, or neither for a token that never expires",
            );
            Lifetime::Unbounded
        }
        (Some(s), _) => match parse_duration(&s).filter(|d| (1..=MAX_TOKEN_LIFETIME).contains(d)) {
            Some(d) => Lifetime::For(d),
            None => {
                f.err("expires_in", TOKEN_LIFETIME_RULE);
                Lifetime::Unbounded
            }
        },
        (None, Ok(Some(t))) => Lifetime::Until(t),
        (None, _) => Lifetime::Unbounded,
    };
    TokenDraft {
        name,
        role,
        org,
        email,
        lifetime,
        errors: f.errors,
    }
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
    fn token_lifetimes() {
        let parse = |v: Value| parse_token(v.as_object().unwrap());
        let base = serde_json::json!({"name": "ci", "role": "admin"});
        assert_eq!(parse(base.clone()).lifetime, Lifetime::Unbounded);
        let mut b = base.clone();
        b["expires_in"] = "720h".into();
        assert_eq!(parse(b).lifetime, Lifetime::For(720 * 3600));
        for bad in ["0s", "87601h", "30d", "soon"] {
            let mut b = base.clone();
            b["expires_in"] = bad.into();
            let d = parse(b);
            assert_eq!(
                d.errors,
                [FieldError::new("expires_in", TOKEN_LIFETIME_RULE)],
                "{bad}"
            );
        }
        let mut b = base.clone();
        b["expires_at"] = "2027-06-30T00:00:00Z".into();
        assert_eq!(
            parse(b.clone()).lifetime,
            Lifetime::Until(parse_ts("2027-06-30T00:00:00Z").unwrap())
        );
        b["expires_in"] = "1h".into();
        let fields: Vec<String> = parse(b).errors.into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["expires_at"]);
        let d = parse(serde_json::json!({"role": "root"}));
        let fields: Vec<String> = d.errors.into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["name", "role"]);
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
