//! The records the registry keeps (orgs, clients), their statuses and their JSON
//! shapes, and the time formats they use.

use serde::Serialize;
use serde_json::{Map, Value};
use time::macros::format_description;
use time::{Date, OffsetDateTime};

pub use partner_api::{
    ClientAttributes, ClientFields, ClientProfile, ClientStatus, ClientView, OrgFields, OrgProfile,
    OrgStatus, OrgView, Page, Role, WhoAmI,
};
pub use partner_rules::{DEFAULT_MAX_CLIENTS, ReviewEnforcement};

// ---------- time ----------

/// `2027-06-30T23:59:59Z` from unix seconds.
pub fn fmt_ts(unix: i64) -> String {
    partner_rules::format_timestamp(unix)
}

/// Parses an RFC 3339 timestamp with any offset into unix seconds.
pub fn parse_ts(s: &str) -> Option<i64> {
    partner_rules::parse_timestamp(s).map(OffsetDateTime::unix_timestamp)
}

pub use partner_rules::parse_date;

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

// ---------- statuses ----------

/// Whether an API token still authenticates, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenStatus {
    Active,
    Expired,
    Revoked,
    /// An org token whose org is offboarded.
    OrgOffboarded,
}

impl TokenStatus {
    /// The status at `now`; a revocation names itself first, being the
    /// explicit act, then the end of the org, then the token's own expiry.
    pub fn at(
        revoked_at: Option<i64>,
        org_offboarded_at: Option<i64>,
        expires_at: Option<i64>,
        now: i64,
    ) -> TokenStatus {
        if revoked_at.is_some() {
            TokenStatus::Revoked
        } else if org_offboarded_at.is_some() {
            TokenStatus::OrgOffboarded
        } else if expires_at.is_some_and(|t| now > t) {
            TokenStatus::Expired
        } else {
            TokenStatus::Active
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Active => "active",
            TokenStatus::Expired => "expired",
            TokenStatus::Revoked => "revoked",
            TokenStatus::OrgOffboarded => "org_offboarded",
        }
    }
}

// ---------- records ----------

/// An org as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Org {
    pub id: String,
    /// Its own fields, as a caller writes them.
    pub profile: OrgProfile,
    pub max_clients: i64,
    /// `warn` or `require`: whether the registry refuses a widening nobody approved.
    pub approval_policy: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub offboarded_at: Option<i64>,
    pub version: i64,
    pub review_enforcement: ReviewEnforcement,
}

impl Org {
    /// End of the contract: `<contract_end>T23:59:59Z` in unix seconds.
    pub fn contract_end_ts(&self) -> i64 {
        end_of_day(&self.profile.contract_end).unwrap_or(0)
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
            profile: self.profile.clone(),
            max_clients: self.max_clients,
            review_enforcement: self.review_enforcement.as_str().to_string(),
            approval_policy: self.approval_policy.clone(),
            status: self.status(now),
            created_at: fmt_ts(self.created_at),
            updated_at: fmt_ts(self.updated_at),
            offboarded_at: self.offboarded_at.map(fmt_ts),
            version: self.version,
        }
    }

    /// The editable fields as JSON, unset ones left out: the base a merge
    /// patch applies to.
    pub fn editable_json(&self) -> Map<String, Value> {
        let fields = OrgFields {
            profile: self.profile.clone(),
            max_clients: Some(self.max_clients),
            review_enforcement: Some(self.review_enforcement.as_str().to_string()),
            approval_policy: Some(self.approval_policy.clone()),
        };
        without_nulls(fields)
    }
}

/// `fields` as a JSON object, without its null fields: what a JSON merge
/// patch is applied to.
fn without_nulls(fields: impl Serialize) -> Map<String, Value> {
    let mut m = match serde_json::to_value(fields) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    m.retain(|_, v| !v.is_null());
    m
}

/// A client as stored (without any secret material).
#[derive(Debug, Clone, PartialEq)]
pub struct Client {
    pub id: String,
    pub client_id: String,
    pub org_id: String,
    /// Its own fields, as the API answers them: the intermediary org that
    /// operates it (reseller, MSP, marketplace) among them, while its org
    /// stays the one whose contract, scopes and approval authority apply.
    pub profile: ClientProfile,
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
    /// `client_secret` or `private_key_jwt`.
    pub auth_method: String,
    /// The public keys (a JSON Web Key Set) of a `private_key_jwt` client.
    pub jwks: Option<String>,
    /// Where a `private_key_jwt` client publishes its keys, instead of `jwks`.
    pub jwks_uri: Option<String>,
    /// The last second of its org's contract, as loaded with the client (not
    /// a field of the client: it decides the client's status).
    pub org_contract_end: i64,
}

impl Client {
    /// Status at `now` (clients of an ended contract read back expired even if
    /// their own expiry were later).
    pub fn status(&self, now: i64) -> ClientStatus {
        if self.revoked_at.is_some() {
            ClientStatus::Revoked
        } else if now > self.expires_at || now > self.org_contract_end {
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

    pub fn view(&self, now: i64) -> ClientView {
        ClientView {
            id: self.id.clone(),
            client_id: self.client_id.clone(),
            org_id: self.org_id.clone(),
            profile: self.profile.clone(),
            auth_method: self.auth_method.clone(),
            jwks: self.jwks_value(),
            jwks_uri: self.jwks_uri.clone(),
            expires_at: fmt_ts(self.expires_at),
            status: self.status(now),
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
        let mut m = without_nulls(ClientFields {
            profile: self.profile.clone(),
            auth_method: Some(self.auth_method.clone()),
            jwks: self.jwks_value(),
            jwks_uri: self.jwks_uri.clone(),
            expires_at: Some(fmt_ts(self.expires_at)),
        });
        m.insert("org_id".into(), self.org_id.clone().into());
        m
    }

    /// The stored key set as JSON.
    fn jwks_value(&self) -> Option<Value> {
        self.jwks
            .as_deref()
            .and_then(|j| serde_json::from_str(j).ok())
    }
}

impl Org {
    /// What a client's rules need to know about this org.
    pub fn state(&self) -> partner_rules::records::OrgState {
        partner_rules::records::OrgState {
            offboarded: self.offboarded_at.is_some(),
            contract_end: self.contract_end_ts(),
            max_clients: self.max_clients,
        }
    }
}

impl Client {
    /// This client as the narrowing rules of its org see it at `now`.
    pub fn facts(&self, now: i64) -> partner_rules::records::ClientFacts {
        partner_rules::records::ClientFacts {
            name: self.profile.name.clone(),
            client_id: self.client_id.clone(),
            scopes: self.profile.scopes.clone(),
            expires_at: self.expires_at,
            active: self.status(now) == ClientStatus::Active,
        }
    }
}

/// A stored record that the API serves as its view.
pub trait Served {
    type View: Serialize;
    /// The record as the API shows it at `now` (its status depends on time).
    fn view(&self, now: i64) -> Self::View;
    /// What an `ETag` carries and an `If-Match` must name.
    fn version(&self) -> i64;
}

impl Served for Org {
    type View = OrgView;
    fn view(&self, now: i64) -> OrgView {
        Org::view(self, now)
    }
    fn version(&self) -> i64 {
        self.version
    }
}

impl Served for Client {
    type View = ClientView;
    fn view(&self, now: i64) -> ClientView {
        Client::view(self, now)
    }
    fn version(&self) -> i64 {
        self.version
    }
}

// ---------- callers ----------

/// Who is making a request: the API token's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub token_id: i64,
    pub name: String,
    pub role: Role,
    /// The org an `org` token is bound to.
    pub org: Option<String>,
    /// The person an `approver` token is bound to.
    pub email: Option<String>,
}

impl Actor {
    /// The org a list is restricted to: an org token's own (none matches when it
    /// has none); `None` (every org) for the other roles.
    pub fn list_scope(&self) -> Option<String> {
        (self.role == Role::Org).then(|| self.org.clone().unwrap_or_default())
    }

    /// Whether this actor may see records of `org_id`.
    pub fn sees(&self, org_id: &str) -> bool {
        self.role != Role::Org || self.org.as_deref() == Some(org_id)
    }
}

/// A secret for a client: the HMAC to store and where the plaintext came from.
#[derive(Debug, Clone)]
pub struct NewSecret {
    pub hmac: [u8; 32],
    /// [`GENERATED`] or [`SUPPLIED`].
    pub source: &'static str,
}

/// The source of a secret the registry made.
pub const GENERATED: &str = "generated";
/// The source of a secret the caller chose.
pub const SUPPLIED: &str = "supplied";
