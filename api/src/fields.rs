//! The fields API callers write, declared once: the structs a caller sends
//! and the lists of names the registry accepts in a body (and names in its
//! refusals).

use crate::ClientAttributes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A struct of writable fields and `NAMES`, its fields' names as the API
/// spells them, from one declaration. A last `..name: Type` is flattened
/// into the JSON object, its fields' names (`Type::NAMES`) among `NAMES`.
macro_rules! writable {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$field_meta:meta])* pub $field:ident: $ty:ty, )*
            $( ..$flat:ident: $flat_ty:ty, )?
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $( $(#[$field_meta])* pub $field: $ty, )*
            $( #[serde(flatten)] pub $flat: $flat_ty, )?
        }

        impl $name {
            /// The fields' names, as the API (and so its errors) names them.
            pub const NAMES: &[&str] = &joined::<{ $name::OWN.len() + $name::FLAT.len() }>(
                $name::OWN,
                $name::FLAT,
                &[],
            );
            const OWN: &[&str] = &[$(stringify!($field)),*];
            const FLAT: &[&str] = {
                // Shadowed by the flattened type's names when there is one.
                #[allow(unused_variables)]
                let flat: &[&str] = &[];
                $( let flat = <$flat_ty>::NAMES; )?
                flat
            };
        }
    };
}

writable! {
    /// An org's own fields: who the partner is, who answers for it, its
    /// contract and the scopes its clients may hold. A caller writes them as
    /// the registry answers them, and the registry stores them so.
    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    pub struct OrgProfile {
        pub name: String,
        pub legal_entity: String,
        pub technical_owner: String,
        pub approval_authority: String,
        pub commercial_sponsor: Option<String>,
        pub contract_id: String,
        pub contract_start: Option<String>,
        /// A date: the contract's last day.
        pub contract_end: String,
        pub tenant: Option<String>,
        pub business_unit: Option<String>,
        pub allowed_scopes: Vec<String>,
        #[serde(default)]
        pub labels: BTreeMap<String, String>,
    }
}

writable! {
    /// The writable fields of an org: its profile and the settings the
    /// registry defaults. Sent in full for updates, where a `null` clears an
    /// optional field (JSON merge patch).
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct OrgFields {
        /// `None`: the registry's default on create, unchanged on update.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub max_clients: Option<i64>,
        /// `None`: the registry's default (`report`).
        pub review_enforcement: Option<String>,
        /// `None`: the registry's default on create, unchanged on update.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub approval_policy: Option<String>,
        ..profile: OrgProfile,
    }
}

writable! {
    /// A client's own fields: what it is, what it is for, who answers for it
    /// and who operates it, and the scopes it holds. A caller writes them as
    /// the registry answers them, and the registry stores them so.
    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    pub struct ClientProfile {
        pub name: String,
        pub purpose: String,
        pub owner: String,
        /// The intermediary org (reseller, MSP, marketplace) operating it.
        pub operated_by: Option<String>,
        pub scopes: Vec<String>,
        ..attributes: ClientAttributes,
    }
}

writable! {
    /// The writable fields of a client: its profile, how it authenticates
    /// and its expiry (`org_id` only on create: a client never changes org).
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct ClientFields {
        /// `None`: the registry's default on create (a client's method never changes).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub auth_method: Option<String>,
        pub jwks: Option<Value>,
        /// Where a `private_key_jwt` client publishes its keys, instead of `jwks`.
        pub jwks_uri: Option<String>,
        /// `None`: the end of the org's contract on create, unchanged on update.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub expires_at: Option<String>,
        ..profile: ClientProfile,
    }
}

/// The fields of an org update: its writable fields.
pub const ORG_FIELDS: &[&str] = OrgFields::NAMES;

/// The fields of `POST /v1/orgs`: the writable ones and an optional
/// caller-chosen `id`.
pub const ORG_CREATE_FIELDS: &[&str] =
    &joined::<{ OrgFields::NAMES.len() + 1 }>(&["id"], OrgFields::NAMES, &[]);

/// The fields of a client update: its writable fields and `org_id`, which
/// an update may repeat but never change (so that a change is refused with
/// that rule rather than as an unknown field).
pub const CLIENT_PATCH_FIELDS: &[&str] =
    &joined::<{ ClientFields::NAMES.len() + 1 }>(&["org_id"], ClientFields::NAMES, &[]);

/// The fields of `POST /v1/clients`: the writable ones, `org_id`, and an
/// optional caller-supplied `client_secret`.
pub const CLIENT_CREATE_FIELDS: &[&str] = &joined::<{ ClientFields::NAMES.len() + 2 }>(
    &["org_id"],
    ClientFields::NAMES,
    &["client_secret"],
);

/// `before`, `fields` and `after` as one array of `N` names.
const fn joined<const N: usize>(
    before: &[&'static str],
    fields: &[&'static str],
    after: &[&'static str],
) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < N {
        out[i] = if i < before.len() {
            before[i]
        } else if i < before.len() + fields.len() {
            fields[i - before.len()]
        } else {
            after[i - before.len() - fields.len()]
        };
        i += 1;
    }
    assert!(before.len() + fields.len() + after.len() == N);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names are the keys the structs serialise to (no field renamed
    /// behind the list's back).
    #[test]
    fn names_are_the_serialised_keys() {
        let org = OrgFields {
            profile: OrgProfile {
                name: "n".into(),
                legal_entity: "l".into(),
                technical_owner: "t@x.com".into(),
                approval_authority: "a@x.com".into(),
                commercial_sponsor: Some("s@x.com".into()),
                contract_id: "c".into(),
                contract_start: Some("2026-01-01".into()),
                contract_end: "2027-01-01".into(),
                tenant: Some("t".into()),
                business_unit: Some("b".into()),
                allowed_scopes: vec!["read".into()],
                labels: BTreeMap::new(),
            },
            max_clients: Some(3),
            review_enforcement: Some("report".into()),
            approval_policy: Some("warn".into()),
        };
        let client = ClientFields {
            profile: ClientProfile {
                name: "n".into(),
                purpose: "p".into(),
                owner: "o@x.com".into(),
                operated_by: Some("org_x".into()),
                scopes: vec![],
                attributes: ClientAttributes::from_fn(|_| Some("c@x.com".into())),
            },
            auth_method: Some("client_secret".into()),
            jwks: Some(Value::Null),
            jwks_uri: None,
            expires_at: Some("2027-01-01T00:00:00Z".into()),
        };
        let keys = |v: Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
        let sorted = |names: &[&str]| {
            let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
            v.sort();
            v
        };
        assert_eq!(
            keys(serde_json::to_value(org).unwrap()),
            sorted(OrgFields::NAMES)
        );
        assert_eq!(
            keys(serde_json::to_value(client).unwrap()),
            sorted(ClientFields::NAMES)
        );
    }

    #[test]
    fn create_and_patch_lists_add_their_extra_fields() {
        assert_eq!(ORG_CREATE_FIELDS[0], "id");
        assert_eq!(&ORG_CREATE_FIELDS[1..], ORG_FIELDS);
        assert_eq!(CLIENT_PATCH_FIELDS[0], "org_id");
        assert_eq!(&CLIENT_PATCH_FIELDS[1..], ClientFields::NAMES);
        assert_eq!(CLIENT_CREATE_FIELDS.last(), Some(&"client_secret"));
        assert_eq!(
            &CLIENT_CREATE_FIELDS[..CLIENT_PATCH_FIELDS.len()],
            CLIENT_PATCH_FIELDS
        );
    }
}
