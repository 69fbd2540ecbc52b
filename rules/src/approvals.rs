//! Changes that widen access or hand it to someone else, as both sides see
//! them: the plan warns about each one, naming the org's approval
//! authority, and under `approval_policy = "require"` the registry refuses
//! each one that nobody approved.
//!
//! An approval is for one exact change: the record, the attribute, the old
//! and the new value, in the canonical forms below (scopes sorted and
//! space-separated, instants as `2027-06-30T23:59:59Z`, public keys as their
//! sorted RFC 7638 thumbprints), so that the plan and the registry compute
//! the same one.
//!
//! A new client in an org is a grant of access too: under `"require"` its
//! creation needs an approval of the org's attribute `client`, from `""` to
//! the new client's canonical terms ([`client_grant`]). A client's move to
//! another org is, in Terraform, a new client there: that org's policy
//! decides.

use std::time::Duration;

/// The policy that only warns (the default).
pub const WARN: &str = "warn";
/// The policy under which the registry refuses an unapproved widening.
pub const REQUIRE: &str = "require";

/// The rule of an org's `approval_policy`.
pub const APPROVAL_POLICY_RULE: &str = "must be \"warn\" (a change that widens or hands over \
     access is warned about) or \"require\" (the registry refuses it unless the org's approval \
     authority approved it)";

/// Whether `s` is an approval policy.
pub fn is_approval_policy(s: &str) -> bool {
    s == WARN || s == REQUIRE
}

/// How long an approval is valid when its approver does not say.
pub const DEFAULT_APPROVAL_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// The longest an approval may be valid.
pub const MAX_APPROVAL_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

/// One change that needs approving: an attribute of one record, from its
/// old value to its new one (canonical forms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Widening {
    pub attribute: &'static str,
    pub old: String,
    pub new: String,
}

/// Scopes in their canonical form: sorted, space-separated.
pub fn scope_list<S: AsRef<str>>(scopes: &[S]) -> String {
    let mut v: Vec<&str> = scopes.iter().map(AsRef::as_ref).collect();
    v.sort_unstable();
    v.dedup();
    v.join(" ")
}

/// What of a client can widen its access or hand it over.
#[derive(Debug, Clone, Copy)]
pub struct ClientTerms<'a> {
    pub scopes: &'a [String],
    pub expires_at: i64,
    pub owner: &'a str,
    pub operated_by: Option<&'a str>,
    /// Its JSON Web Key Set as text (a `private_key_jwt` client).
    pub jwks: Option<&'a str>,
    /// Where it publishes its keys instead.
    pub jwks_uri: Option<&'a str>,
}

/// The widenings from `before` to `after`: scopes added, the expiry moved
/// later, another owner, another intermediary, a public key added (whoever
/// holds its private key can act as the client).
pub fn client_widenings(before: ClientTerms<'_>, after: ClientTerms<'_>) -> Vec<Widening> {
    let mut out = Vec::new();
    if after.scopes.iter().any(|s| !before.scopes.contains(s)) {
        out.push(Widening {
            attribute: "scopes",
            old: scope_list(before.scopes),
            new: scope_list(after.scopes),
        });
    }
    if after.expires_at > before.expires_at {
        out.push(Widening {
            attribute: "expires_at",
            old: crate::format_timestamp(before.expires_at),
            new: crate::format_timestamp(after.expires_at),
        });
    }
    if !after.owner.eq_ignore_ascii_case(before.owner) {
        out.push(Widening {
            attribute: "owner",
            old: before.owner.to_string(),
            new: after.owner.to_string(),
        });
    }
    if let Some(by) = after
        .operated_by
        .filter(|by| before.operated_by != Some(*by))
    {
        out.push(Widening {
            attribute: "operated_by",
            old: before.operated_by.unwrap_or_default().to_string(),
            new: by.to_string(),
        });
    }
    let (old_keys, new_keys) = (
        crate::keys::key_list(before.jwks),
        crate::keys::key_list(after.jwks),
    );
    if new_keys
        .split(' ')
        .any(|k| !k.is_empty() && !old_keys.split(' ').any(|o| o == k))
    {
        out.push(Widening {
            attribute: "jwks",
            old: old_keys,
            new: new_keys,
        });
    }
    // Whoever controls the new URI decides the client's keys from then on.
    if let Some(uri) = after.jwks_uri.filter(|u| before.jwks_uri != Some(*u)) {
        out.push(Widening {
            attribute: "jwks_uri",
            old: before.jwks_uri.unwrap_or_default().to_string(),
            new: uri.to_string(),
        });
    }
    out
}

/// What a new client is given.
#[derive(Debug, Clone, Copy)]
pub struct ClientGrant<'a> {
    pub name: &'a str,
    pub owner: &'a str,
    pub scopes: &'a [String],
    pub operated_by: Option<&'a str>,
    pub jwks: Option<&'a str>,
    pub jwks_uri: Option<&'a str>,
}

/// The attribute of an org whose approval lets one new client be created.
pub const NEW_CLIENT: &str = "client";

/// A new client as a change of its org: the attribute [`NEW_CLIENT`], from
/// `""` to `name=…; owner=…; scopes=…` (and `operated_by=…`, `keys=…`,
/// `jwks_uri=…` when it has them). Its expiry is left out: the org's contract bounds it.
pub fn client_grant(g: ClientGrant<'_>) -> Widening {
    let mut new = format!(
        "name={}; owner={}; scopes={}",
        g.name,
        g.owner.to_ascii_lowercase(),
        scope_list(g.scopes)
    );
    if let Some(by) = g.operated_by {
        new.push_str(&format!("; operated_by={by}"));
    }
    let keys = crate::keys::key_list(g.jwks);
    if !keys.is_empty() {
        new.push_str(&format!("; keys={keys}"));
    }
    if let Some(uri) = g.jwks_uri {
        new.push_str(&format!("; jwks_uri={uri}"));
    }
    Widening {
        attribute: NEW_CLIENT,
        old: String::new(),
        new,
    }
}

/// What of an org can widen what its clients may be given.
#[derive(Debug, Clone, Copy)]
pub struct OrgTerms<'a> {
    pub allowed_scopes: &'a [String],
    /// `YYYY-MM-DD`.
    pub contract_end: &'a str,
    pub approval_policy: &'a str,
    pub max_clients: i64,
}

/// The widenings from `before` to `after`: scopes allowed, the contract
/// extended, approvals no longer required (which would let every later
/// widening through unapproved), room for more clients.
pub fn org_widenings(before: OrgTerms<'_>, after: OrgTerms<'_>) -> Vec<Widening> {
    let mut out = Vec::new();
    if after
        .allowed_scopes
        .iter()
        .any(|s| !before.allowed_scopes.contains(s))
    {
        out.push(Widening {
            attribute: "allowed_scopes",
            old: scope_list(before.allowed_scopes),
            new: scope_list(after.allowed_scopes),
        });
    }
    // `YYYY-MM-DD` orders as the dates do.
    if after.contract_end > before.contract_end {
        out.push(Widening {
            attribute: "contract_end",
            old: before.contract_end.to_string(),
            new: after.contract_end.to_string(),
        });
    }
    if before.approval_policy == REQUIRE && after.approval_policy != REQUIRE {
        out.push(Widening {
            attribute: "approval_policy",
            old: before.approval_policy.to_string(),
            new: after.approval_policy.to_string(),
        });
    }
    if after.max_clients > before.max_clients {
        out.push(Widening {
            attribute: "max_clients",
            old: before.max_clients.to_string(),
            new: after.max_clients.to_string(),
        });
    }
    out
}

/// The command the approval authority runs to approve `w` of the record
/// `resource` for `change_ref`, as the plan and the registry's refusal show it.
pub fn approve_command(change_ref: &str, resource: &str, w: &Widening) -> String {
    format!(
        "partner-registry approve --change-ref '{change_ref}' --resource {resource} --attribute {} --old '{}' --new '{}'",
        w.attribute, w.old, w.new
    )
}

/// The attributes whose widenings need approving, for a `client` or an `org`.
pub fn approvable(kind: &str) -> &'static [&'static str] {
    match kind {
        "client" => &[
            "scopes",
            "expires_at",
            "owner",
            "operated_by",
            "jwks",
            "jwks_uri",
        ],
        "org" => &[
            "allowed_scopes",
            "contract_end",
            "approval_policy",
            "max_clients",
            NEW_CLIENT,
        ],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms<'a>(scopes: &'a [String], expires_at: i64, owner: &'a str) -> ClientTerms<'a> {
        ClientTerms {
            scopes,
            expires_at,
            owner,
            operated_by: None,
            jwks: None,
            jwks_uri: None,
        }
    }

    #[test]
    fn only_widenings_count() {
        let (a, ab) = (
            vec!["a".to_string()],
            vec!["b".to_string(), "a".to_string()],
        );
        assert_eq!(
            client_widenings(terms(&a, 10, "x@e.x"), terms(&ab, 10, "x@e.x")),
            vec![Widening {
                attribute: "scopes",
                old: "a".into(),
                new: "a b".into()
            }]
        );
        assert!(
            client_widenings(terms(&ab, 10, "x@e.x"), terms(&a, 5, "X@e.x")).is_empty(),
            "narrowing, an earlier expiry, the same owner in other case"
        );
        let w = client_widenings(terms(&a, 0, "x@e.x"), terms(&a, 86_400, "y@e.x"));
        assert_eq!(w[0].new, "1970-01-02T00:00:00Z");
        assert_eq!(w[1].attribute, "owner");
        let end = |d| OrgTerms {
            allowed_scopes: &a,
            contract_end: d,
            approval_policy: WARN,
            max_clients: 10,
        };
        assert_eq!(org_widenings(end("2027-06-30"), end("2028-01-01")).len(), 1);
        assert!(org_widenings(end("2027-06-30"), end("2027-01-01")).is_empty());
        assert!(is_approval_policy("require") && !is_approval_policy("Require"));
        let policy = |p| OrgTerms {
            allowed_scopes: &a,
            contract_end: "2027-06-30",
            approval_policy: p,
            max_clients: 10,
        };
        assert_eq!(
            org_widenings(policy(REQUIRE), policy(WARN))[0].attribute,
            "approval_policy"
        );
        assert!(org_widenings(policy(WARN), policy(REQUIRE)).is_empty());
        let most = |max_clients| OrgTerms {
            allowed_scopes: &a,
            contract_end: "2027-06-30",
            approval_policy: REQUIRE,
            max_clients,
        };
        assert_eq!(
            org_widenings(most(10), most(11)),
            vec![Widening {
                attribute: "max_clients",
                old: "10".into(),
                new: "11".into()
            }]
        );
        assert!(org_widenings(most(10), most(3)).is_empty());
    }

    #[test]
    fn keys_added_and_new_clients_need_approving() {
        let key = |x: &str| format!(r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"B"}}"#);
        let set = |keys: &[&str]| format!(r#"{{"keys":[{}]}}"#, keys.join(","));
        let (one, two) = (set(&[&key("A")]), set(&[&key("A"), &key("C")]));
        let with = |jwks| ClientTerms {
            jwks: Some(jwks),
            ..terms(&[], 10, "x@e.x")
        };
        let w = client_widenings(with(&one), with(&two));
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].attribute, "jwks");
        assert_eq!(w[0].old, crate::keys::key_list(Some(&one)));
        assert_eq!(w[0].new.split(' ').count(), 2);
        assert!(
            client_widenings(with(&two), with(&one)).is_empty(),
            "a key removed"
        );
        // The same key under another kid, members reordered: the same key.
        let same = r#"{"keys":[{"y":"B","x":"A","kid":"new","crv":"P-256","kty":"EC"}]}"#;
        assert!(client_widenings(with(&one), with(same)).is_empty());

        let scopes = vec!["b".to_string(), "a".to_string()];
        let g = client_grant(ClientGrant {
            name: "shop",
            owner: "Dev@E.x",
            scopes: &scopes,
            operated_by: Some("org_msp"),
            jwks: Some(&one),
            jwks_uri: None,
        });
        assert_eq!(g.attribute, NEW_CLIENT);
        assert_eq!(g.old, "");
        assert_eq!(
            g.new,
            format!(
                "name=shop; owner=dev@e.x; scopes=a b; operated_by=org_msp; keys={}",
                crate::keys::key_list(Some(&one))
            )
        );
        assert!(approvable("org").contains(&NEW_CLIENT));
        let at = |uri| ClientTerms {
            jwks_uri: Some(uri),
            ..terms(&[], 10, "x@e.x")
        };
        let w = client_widenings(at("https://a.example/k"), at("https://b.example/k"));
        assert_eq!(
            (w[0].attribute, w[0].old.as_str(), w[0].new.as_str()),
            ("jwks_uri", "https://a.example/k", "https://b.example/k")
        );
        assert!(client_widenings(at("https://a.example/k"), at("https://a.example/k")).is_empty());
    }
}
