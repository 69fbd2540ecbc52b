//! The registry's HTTP API as types: what `GET /v1/orgs/{id}` and
//! `GET /v1/clients/{id}` answer, the fields a caller writes, the statuses
//! and roles, a page of a list. The registry serialises these, the provider
//! deserialises them, and a test of the registry checks its OpenAPI document
//! against them, so each field of the API is declared here once.
//!
//! Instants are RFC 3339 strings in UTC (`2027-06-30T23:59:59Z`), dates
//! `2027-06-30`, as the registry formats them (`partner-rules`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

mod attributes;
mod fields;
pub use attributes::{AttributeSpec, ClientAttributes};
pub use fields::{
    CLIENT_CREATE_FIELDS, CLIENT_PATCH_FIELDS, ClientFields, ClientProfile, ORG_CREATE_FIELDS,
    ORG_FIELDS, OrgFields, OrgProfile,
};

/// Whether an org's partners may still use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgStatus {
    Active,
    /// Its contract has ended.
    Expired,
    Offboarded,
}

/// Whether a client's credentials work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientStatus {
    Active,
    /// Its own expiry or its org's contract end has passed.
    Expired,
    Revoked,
}

/// What an API token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything.
    Admin,
    /// Reads everything, changes nothing (reviews decide campaigns).
    Reviewer,
    /// Reads and writes the clients of one org.
    Org,
    /// Reads like a reviewer and records approvals as one person.
    Approver,
}

/// One name per status and role, as the API spells it.
macro_rules! spelled {
    ($ty:ident { $($variant:ident = $name:literal),* $(,)? }) => {
        impl $ty {
            /// Every value, in the order the API lists them.
            pub const ALL: &[$ty] = &[$($ty::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name,)*
                }
            }

            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

spelled!(OrgStatus { Active = "active", Expired = "expired", Offboarded = "offboarded" });
spelled!(ClientStatus { Active = "active", Expired = "expired", Revoked = "revoked" });
spelled!(Role { Admin = "admin", Reviewer = "reviewer", Org = "org", Approver = "approver" });

/// An org as the registry answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgView {
    pub id: String,
    /// Its own fields, as fields of the same object.
    #[serde(flatten)]
    pub profile: OrgProfile,
    pub max_clients: i64,
    /// `report` or `suspend`: what an overdue access review does.
    pub review_enforcement: String,
    /// `warn` or `require`: whether a widening nobody approved is refused.
    pub approval_policy: String,
    pub status: OrgStatus,
    pub created_at: String,
    pub updated_at: String,
    pub offboarded_at: Option<String>,
    /// Sent back as `If-Match` by a write that must not overwrite another's.
    pub version: i64,
}

/// A client as the registry answers it: never a secret, except
/// `client_secret` in the answer that created or rotated a registry-made one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientView {
    pub id: String,
    pub client_id: String,
    pub org_id: String,
    /// Its own fields, as fields of the same object.
    #[serde(flatten)]
    pub profile: ClientProfile,
    /// `client_secret` or `private_key_jwt`.
    pub auth_method: String,
    /// The public keys of a `private_key_jwt` client (a JSON Web Key Set).
    pub jwks: Option<Value>,
    /// Where a `private_key_jwt` client publishes its keys (the registry
    /// fetches them), instead of `jwks`.
    pub jwks_uri: Option<String>,
    pub expires_at: String,
    pub status: ClientStatus,
    pub created_at: String,
    pub updated_at: String,
    pub revoked_at: Option<String>,
    pub version: i64,
    /// When the current secret was made (creation or the last rotation).
    pub secret_rotated_at: String,
    /// When the previous secret stops working; null when none works.
    pub previous_secret_expires_at: Option<String>,
    /// The last successful introspection, coarse (at most once a minute).
    pub last_used_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

/// Who the caller's token is (`GET /v1/whoami`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhoAmI {
    pub name: String,
    pub role: Role,
    /// The org an `org` token is bound to.
    pub org: Option<String>,
}

/// A page of a list: its items and, when there are more, the cursor of the next page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl From<&OrgView> for OrgFields {
    /// The org's writable fields as they stand: the base of an update that
    /// changes some of them.
    fn from(org: &OrgView) -> Self {
        Self {
            profile: org.profile.clone(),
            max_clients: Some(org.max_clients),
            review_enforcement: Some(org.review_enforcement.clone()),
            approval_policy: Some(org.approval_policy.clone()),
        }
    }
}

impl From<&ClientView> for ClientFields {
    /// The client's writable fields as they stand.
    fn from(client: &ClientView) -> Self {
        Self {
            profile: client.profile.clone(),
            auth_method: Some(client.auth_method.clone()),
            jwks: client.jwks.clone(),
            jwks_uri: client.jwks_uri.clone(),
            expires_at: Some(client.expires_at.clone()),
        }
    }
}
