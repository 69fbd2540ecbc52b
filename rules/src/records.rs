//! The rules between records: a client within its org's scopes, contract and
//! quota; an org that cannot be narrowed below the clients it has; which
//! status changes are allowed. Pure functions over the facts a caller has
//! loaded (the registry from its transaction, the provider from the
//! registry's API and the plan), returning typed violations.
//!
//! Times are Unix seconds; a contract ends at the last second of its
//! `contract_end` day ([`crate::end_of_day`]).

use std::fmt;

use crate::fields::quoted;

/// The scopes of `scopes` that `allowed` does not contain, in order.
pub fn scopes_outside<'a, S: AsRef<str>, A: AsRef<str>>(
    scopes: &'a [S],
    allowed: &[A],
) -> Vec<&'a str> {
    scopes
        .iter()
        .map(AsRef::as_ref)
        .filter(|s| !allowed.iter().any(|a| a.as_ref() == *s))
        .collect()
}

/// What is wrong with a client's expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryViolation {
    /// Later than the end of the org's contract (the instant given).
    AfterContract { contract_end: i64 },
    /// Not in the future.
    NotInFuture,
}

impl fmt::Display for ExpiryViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpiryViolation::AfterContract { contract_end } => write!(
                f,
                "must not be after the end of the org's contract ({})",
                crate::format_timestamp(*contract_end)
            ),
            ExpiryViolation::NotInFuture => f.write_str("must be in the future"),
        }
    }
}

/// Checks an expiry against the contract that bounds it and the current
/// time. An expiry that does not change (`unchanged`) may lie in the past:
/// an expired client can still be edited.
pub fn check_expiry(
    expires_at: i64,
    contract_end: i64,
    now: i64,
    unchanged: bool,
) -> Result<(), ExpiryViolation> {
    if expires_at > contract_end {
        Err(ExpiryViolation::AfterContract { contract_end })
    } else if expires_at <= now && !unchanged {
        Err(ExpiryViolation::NotInFuture)
    } else {
        Ok(())
    }
}

/// What a client's rules need to know about its org.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrgState {
    pub offboarded: bool,
    /// The last second of the contract.
    pub contract_end: i64,
    pub max_clients: i64,
}

/// Why an org cannot take one more active client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgRefusal {
    Offboarded,
    ContractEnded {
        contract_end: i64,
    },
    /// Already `max_clients` active clients (or more). Which ones is for the
    /// caller to say: counting them is cheap, naming them is not.
    QuotaReached {
        max_clients: i64,
    },
}

impl fmt::Display for OrgRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrgRefusal::Offboarded => f.write_str("the org is offboarded"),
            OrgRefusal::ContractEnded { contract_end } => write!(
                f,
                "the org's contract ended on {}",
                &crate::format_timestamp(*contract_end)[..10]
            ),
            OrgRefusal::QuotaReached { max_clients } => write!(
                f,
                "the org has reached its max_clients of {max_clients} active clients"
            ),
        }
    }
}

/// Whether an org takes a client that is new (`existing` false) or becomes
/// active again, given how many other active clients it has.
///
/// An org that is offboarded takes no client at all; one whose contract
/// has ended takes no new client (an existing one may still be edited);
/// the quota counts only clients that are or become active.
pub fn check_org_accepts(
    org: OrgState,
    now: i64,
    existing: bool,
    becomes_active: bool,
    active: usize,
) -> Result<(), OrgRefusal> {
    if org.offboarded {
        return Err(OrgRefusal::Offboarded);
    }
    if now > org.contract_end && !existing {
        return Err(OrgRefusal::ContractEnded {
            contract_end: org.contract_end,
        });
    }
    if becomes_active && i64::try_from(active).unwrap_or(i64::MAX) >= org.max_clients {
        return Err(OrgRefusal::QuotaReached {
            max_clients: org.max_clients,
        });
    }
    Ok(())
}

/// One client of an org, as the narrowing rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFacts {
    pub name: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub expires_at: i64,
    /// Active now (neither revoked nor expired).
    pub active: bool,
}

/// A change to an org that its live clients stand in the way of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NarrowingViolation {
    /// `allowed_scopes` would drop scopes these clients hold (name,
    /// client_id, the scopes).
    ScopesHeld {
        holders: Vec<(String, String, Vec<String>)>,
    },
    /// `contract_end` would end before these clients expire (name,
    /// client_id, expiry).
    ClientsOutlive { clients: Vec<(String, String, i64)> },
    /// `max_clients` would be below the number of active clients.
    QuotaBelowActive { active: Vec<String>, max: i64 },
    /// A later `contract_end` would make these clients, expired with the
    /// old contract, active again, which puts the org over `max_clients`
    /// (every client active after the change, and the quota).
    RevivedOverQuota {
        revived: Vec<String>,
        active: Vec<String>,
        max: i64,
    },
}

impl NarrowingViolation {
    /// The org field the violation is about.
    pub fn field(&self) -> &'static str {
        match self {
            NarrowingViolation::ScopesHeld { .. } => "allowed_scopes",
            NarrowingViolation::ClientsOutlive { .. }
            | NarrowingViolation::RevivedOverQuota { .. } => "contract_end",
            NarrowingViolation::QuotaBelowActive { .. } => "max_clients",
        }
    }
}

impl fmt::Display for NarrowingViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NarrowingViolation::ScopesHeld { holders } => write!(
                f,
                "cannot remove scopes that existing clients hold: {}",
                holders
                    .iter()
                    .map(|(name, id, scopes)| format!("{name} ({id}) uses {}", scopes.join(", ")))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            NarrowingViolation::ClientsOutlive { clients } => write!(
                f,
                "cannot end the contract before existing clients expire: {}",
                clients
                    .iter()
                    .map(|(name, id, at)| format!(
                        "{name} ({id}) expires {}",
                        crate::format_timestamp(*at)
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            NarrowingViolation::QuotaBelowActive { active, max } => write!(
                f,
                "the org has {} active clients, more than {max}: {}",
                active.len(),
                active.join(", ")
            ),
            NarrowingViolation::RevivedOverQuota {
                revived,
                active,
                max,
            } => write!(
                f,
                "the new contract end makes {} active again ({} expired with the old \
                 contract), which gives the org {} active clients, more than its max_clients of \
                 {max}: raise max_clients or revoke clients in the same change",
                revived.join(", "),
                if revived.len() == 1 { "it" } else { "they" },
                active.len()
            ),
        }
    }
}

/// What an org would become, for [`check_narrowing`]; `None` leaves a
/// field as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct Narrowing<'a> {
    pub allowed_scopes: Option<&'a [String]>,
    /// The new last second of the contract.
    pub contract_end: Option<i64>,
    pub max_clients: Option<i64>,
    /// The moment of the change (a client is active after it when it has
    /// not expired by then and the contract has not ended).
    pub now: i64,
}

/// Every way the org's live (not revoked) `clients` stand in the way of
/// `change`.
pub fn check_narrowing(clients: &[ClientFacts], change: Narrowing<'_>) -> Vec<NarrowingViolation> {
    let mut out = Vec::new();
    if let Some(allowed) = change.allowed_scopes {
        let holders: Vec<(String, String, Vec<String>)> = clients
            .iter()
            .filter_map(|c| {
                let missing: Vec<String> = scopes_outside(&c.scopes, allowed)
                    .into_iter()
                    .map(String::from)
                    .collect();
                (!missing.is_empty()).then(|| (c.name.clone(), c.client_id.clone(), missing))
            })
            .collect();
        if !holders.is_empty() {
            out.push(NarrowingViolation::ScopesHeld { holders });
        }
    }
    if let Some(end) = change.contract_end {
        let outliving: Vec<(String, String, i64)> = clients
            .iter()
            .filter(|c| c.expires_at > end)
            .map(|c| (c.name.clone(), c.client_id.clone(), c.expires_at))
            .collect();
        if !outliving.is_empty() {
            out.push(NarrowingViolation::ClientsOutlive { clients: outliving });
        }
    }
    if let Some(max) = change.max_clients {
        // Active after the change: a new contract end revives the clients
        // that expired with the old one (their expiry moved with it).
        let active_after = |c: &ClientFacts| match change.contract_end {
            Some(end) => c.expires_at >= change.now && change.now <= end,
            None => c.active,
        };
        // Sorted, so that the message reads the same on every plan.
        let names = |keep: &dyn Fn(&ClientFacts) -> bool| -> Vec<String> {
            let mut names: Vec<String> = clients
                .iter()
                .filter(|c| keep(c))
                .map(|c| c.name.clone())
                .collect();
            names.sort();
            names
        };
        let active = names(&active_after);
        let revived = names(&|c| active_after(c) && !c.active);
        if active.len() as i64 > max {
            out.push(if revived.is_empty() {
                NarrowingViolation::QuotaBelowActive { active, max }
            } else {
                NarrowingViolation::RevivedOverQuota {
                    revived,
                    active,
                    max,
                }
            });
        }
    }
    out
}

/// A status change the registry never makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransitionRefusal {
    /// An offboarded org never changes again.
    OrgOffboarded,
    /// A revoked client never changes again.
    ClientRevoked,
    /// A revoked client's secret never rotates.
    RotateRevoked,
}

impl fmt::Display for TransitionRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransitionRefusal::OrgOffboarded => "is offboarded and can no longer change",
            TransitionRefusal::ClientRevoked => "is revoked and can no longer change",
            TransitionRefusal::RotateRevoked => {
                "is revoked; a revoked client's secret never rotates"
            }
        })
    }
}

/// A name already held by another live record of the same kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameTaken {
    pub name: String,
    /// The holder's identifier (org id or client_id).
    pub holder: String,
}

impl fmt::Display for NameTaken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is already taken by {}",
            quoted(&[&self.name]),
            self.holder
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(name: &str, scopes: &[&str], expires_at: i64, active: bool) -> ClientFacts {
        ClientFacts {
            name: name.into(),
            client_id: format!("pc_{name}"),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            expires_at,
            active,
        }
    }

    #[test]
    fn expiry_within_the_contract_and_in_the_future() {
        assert_eq!(check_expiry(50, 100, 10, false), Ok(()));
        assert_eq!(
            check_expiry(101, 100, 10, false),
            Err(ExpiryViolation::AfterContract { contract_end: 100 })
        );
        assert_eq!(
            check_expiry(5, 100, 10, false),
            Err(ExpiryViolation::NotInFuture)
        );
        assert_eq!(check_expiry(5, 100, 10, true), Ok(()), "unchanged");
    }

    #[test]
    fn an_org_takes_clients_while_live_and_below_quota() {
        let org = OrgState {
            offboarded: false,
            contract_end: 100,
            max_clients: 2,
        };
        let (one, two) = (1, 2);
        assert_eq!(check_org_accepts(org, 10, false, true, one), Ok(()));
        assert!(matches!(
            check_org_accepts(org, 10, false, true, two),
            Err(OrgRefusal::QuotaReached { max_clients: 2 })
        ));
        assert_eq!(
            check_org_accepts(org, 10, true, false, two),
            Ok(()),
            "an edit that does not activate is not counted"
        );
        assert_eq!(
            check_org_accepts(org, 200, false, false, one),
            Err(OrgRefusal::ContractEnded { contract_end: 100 })
        );
        let gone = OrgState {
            offboarded: true,
            ..org
        };
        assert_eq!(
            check_org_accepts(gone, 10, true, false, one),
            Err(OrgRefusal::Offboarded)
        );
    }

    #[test]
    fn narrowing_names_the_clients_in_the_way() {
        let clients = vec![
            client("a", &["x", "y"], 90, true),
            client("b", &["x"], 50, true),
        ];
        let allowed = vec!["x".to_string()];
        let v = check_narrowing(
            &clients,
            Narrowing {
                allowed_scopes: Some(&allowed),
                contract_end: Some(60),
                max_clients: Some(1),
                now: 10,
            },
        );
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].field(), "allowed_scopes");
        assert!(v[0].to_string().contains("a (pc_a) uses y"), "{}", v[0]);
        assert!(v[1].to_string().contains("a (pc_a) expires"), "{}", v[1]);
        assert!(v[2].to_string().contains("2 active clients"), "{}", v[2]);
        assert!(check_narrowing(&clients, Narrowing::default()).is_empty());
    }

    #[test]
    fn a_renewal_that_revives_clients_over_the_quota_names_them() {
        // Two clients expired with the old contract (their expiry moved to
        // the new end, 300) and one active: at 200, all three would be active.
        let clients = vec![
            client("old-1", &[], 300, false),
            client("old-2", &[], 300, false),
            client("live", &[], 250, true),
            client("lapsed", &[], 150, false),
        ];
        let renewal = |max| Narrowing {
            contract_end: Some(300),
            max_clients: Some(max),
            now: 200,
            ..Narrowing::default()
        };
        let v = check_narrowing(&clients, renewal(2));
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].field(), "contract_end");
        let text = v[0].to_string();
        assert!(text.contains("makes old-1, old-2 active again"), "{text}");
        assert!(
            text.contains("3 active clients, more than its max_clients of 2"),
            "{text}"
        );
        assert!(check_narrowing(&clients, renewal(3)).is_empty());
    }
}
