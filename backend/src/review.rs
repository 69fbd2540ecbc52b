//! The entitlement review: what a periodic access review must look at, as one
//! document served by `GET /v1/reviews` and printed by `partner-registry review`
//! (the same JSON in both), plus its markdown and plain-text forms.

use crate::db::Reader;
use crate::error::Result;
use crate::records::{Client, ClientStatus, Org, fmt_duration, fmt_ts};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

pub const DEFAULT_WITHIN: i64 = 720 * 3600;
pub const DEFAULT_ROTATION_AGE: i64 = 90 * 86_400;
pub const DEFAULT_UNUSED_FOR: i64 = 30 * 86_400;

/// Every kind of finding, in the order the document sorts them (by name).
pub const KINDS: &[(&str, &str)] = &[
    (
        "contract_ended",
        "Clients of orgs whose contract has ended (offboard the org or extend the contract)",
    ),
    (
        "expiring_soon",
        "Active clients expiring within the window (renew or let lapse)",
    ),
    (
        "no_commercial_sponsor",
        "Orgs without a commercial sponsor (someone on the business side must answer for the partnership)",
    ),
    (
        "review_overdue",
        "Clients still undecided in an access review after its due date (keep or revoke them)",
    ),
    (
        "secret_not_rotated",
        "Active clients whose secret has not rotated for longer than the threshold",
    ),
    (
        "unused",
        "Active clients unused for longer than the threshold (abandoned or shadow integrations)",
    ),
    (
        "usage_drift",
        "Clients whose use drifted (a factor of 5 against their baseline, or used again after 30 days unused) and wait for a review decision",
    ),
];

/// Windows and thresholds, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    pub within: i64,
    pub rotation_age: i64,
    pub unused_for: i64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            within: DEFAULT_WITHIN,
            rotation_age: DEFAULT_ROTATION_AGE,
            unused_for: DEFAULT_UNUSED_FOR,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReviewClient {
    pub id: String,
    pub client_id: String,
    pub name: String,
    pub owner: String,
    /// Only when the client names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custodian: Option<String>,
    /// The intermediary org that operates the client, beside the client's
    /// own org; only when one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operated_by: Option<String>,
    pub expires_at: String,
    pub secret_rotated_at: String,
    pub last_used_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReviewOrg {
    pub id: String,
    pub name: String,
    pub approval_authority: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Finding {
    pub kind: &'static str,
    /// Boxed: most findings of a large registry are about orgs (no
    /// commercial sponsor), and each would keep room for a client.
    pub client: Option<Box<ReviewClient>>,
    pub org: ReviewOrg,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Review {
    pub generated_at: String,
    pub within: String,
    pub rotation_age: String,
    pub unused_for: String,
    pub findings: Vec<Finding>,
}

/// `29 days`, `5 hours`, `12 minutes`.
fn span(secs: i64) -> String {
    let secs = secs.max(0);
    let (n, unit) = if secs >= 2 * 86_400 {
        (secs / 86_400, "day")
    } else if secs >= 2 * 3600 {
        (secs / 3600, "hour")
    } else if secs >= 120 {
        (secs / 60, "minute")
    } else {
        (secs, "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

pub(crate) fn org_ref(o: &Org) -> ReviewOrg {
    ReviewOrg {
        id: o.id.clone(),
        name: o.profile.name.clone(),
        approval_authority: o.profile.approval_authority.clone(),
    }
}

pub(crate) fn client_ref(c: &Client) -> ReviewClient {
    ReviewClient {
        id: c.id.clone(),
        client_id: c.client_id.clone(),
        name: c.profile.name.clone(),
        owner: c.profile.owner.clone(),
        custodian: c.profile.attributes.custodian.clone(),
        operated_by: c.profile.operated_by.clone(),
        expires_at: fmt_ts(c.expires_at),
        secret_rotated_at: fmt_ts(c.secret_rotated_at),
        last_used_at: c.last_used_at.map(fmt_ts),
    }
}

/// The findings about orgs that are not offboarded and their clients that
/// are not revoked, made as the clients are read one by one
/// ([`Reader::each_live_client`]): the review holds its findings, never
/// every client.
struct Findings<'a> {
    now: i64,
    p: Params,
    by_id: HashMap<&'a str, &'a Org>,
    /// The orgs whose contract has ended, and whether a client of theirs was seen.
    ended: HashMap<&'a str, bool>,
    findings: Vec<Finding>,
}

impl<'a> Findings<'a> {
    /// The findings about the orgs themselves.
    fn new(orgs: &'a [Org], now: i64, p: Params) -> Self {
        let mut f = Findings {
            now,
            p,
            by_id: orgs.iter().map(|o| (o.id.as_str(), o)).collect(),
            ended: HashMap::new(),
            findings: Vec::new(),
        };
        for o in orgs.iter().filter(|o| o.offboarded_at.is_none()) {
            if o.profile.commercial_sponsor.is_none() {
                f.push(
                    "no_commercial_sponsor",
                    None,
                    o,
                    format!(
                        "Org {} ({}) has no commercial sponsor; {} should name one.",
                        o.profile.name, o.id, o.profile.approval_authority
                    ),
                );
            }
            if now > o.contract_end_ts() {
                f.ended.insert(o.id.as_str(), false);
            }
        }
        f
    }

    fn push(&mut self, kind: &'static str, c: Option<&Client>, o: &Org, detail: String) {
        self.findings.push(Finding {
            kind,
            client: c.map(|c| Box::new(client_ref(c))),
            org: org_ref(o),
            detail,
        });
    }

    /// The findings about one client.
    fn client(&mut self, c: &Client) {
        let (now, p) = (self.now, self.p);
        let Some(&o) = self.by_id.get(c.org_id.as_str()) else {
            return;
        };
        if let Some(seen) = self.ended.get_mut(c.org_id.as_str()) {
            *seen = true;
            self.push(
                "contract_ended",
                Some(c),
                o,
                format!(
                    "The contract of org {} ended on {} ({} ago) but client {} ({}, owner {}) is not revoked; {} must offboard the org or extend the contract.",
                    o.profile.name,
                    o.profile.contract_end,
                    span(now - o.contract_end_ts()),
                    c.profile.name,
                    c.client_id,
                    c.profile.owner,
                    o.profile.approval_authority
                ),
            );
        }
        if c.revoked_at.is_some() || c.status(now) != ClientStatus::Active {
            return;
        }
        let who = format!(
            "Client {} ({}) of org {}, owner {},",
            c.profile.name, c.client_id, o.profile.name, c.profile.owner
        );
        if c.expires_at <= now.saturating_add(p.within) {
            self.push(
                "expiring_soon",
                Some(c),
                o,
                format!(
                    "{who} expires at {} (in {}); a renewal needs the approval of {}.",
                    fmt_ts(c.expires_at),
                    span(c.expires_at - now),
                    o.profile.approval_authority
                ),
            );
        }
        if now - c.secret_rotated_at > p.rotation_age {
            self.push(
                "secret_not_rotated",
                Some(c),
                o,
                format!(
                    "{who} has had the same secret since {} ({} ago, threshold {}); rotate it.",
                    fmt_ts(c.secret_rotated_at),
                    span(now - c.secret_rotated_at),
                    fmt_duration(p.rotation_age)
                ),
            );
        }
        let unused = match c.last_used_at {
            Some(t) => (now - t > p.unused_for).then(|| {
                format!(
                    "was last used at {} ({} ago, threshold {})",
                    fmt_ts(t),
                    span(now - t),
                    fmt_duration(p.unused_for)
                )
            }),
            None => (now - c.created_at > p.unused_for).then(|| {
                format!(
                    "has never been used since its creation at {} ({} ago, threshold {})",
                    fmt_ts(c.created_at),
                    span(now - c.created_at),
                    fmt_duration(p.unused_for)
                )
            }),
        };
        if let Some(what) = unused {
            self.push(
                "unused",
                Some(c),
                o,
                format!(
                    "{who} {what}; revoke it unless {} confirms it is still needed.",
                    o.profile.approval_authority
                ),
            );
        }
    }

    /// All the findings: with those about orgs whose contract ended and
    /// that have no client left.
    fn finish(mut self) -> Vec<Finding> {
        let now = self.now;
        let idle: Vec<&Org> = (self.ended.iter())
            .filter(|(_, seen)| !**seen)
            .map(|(id, _)| self.by_id[id])
            .collect();
        for o in idle {
            self.push(
                "contract_ended",
                None,
                o,
                format!(
                    "The contract of org {} ended on {} ({} ago) and the org is not offboarded; {} must offboard it or extend the contract.",
                    o.profile.name,
                    o.profile.contract_end,
                    span(now - o.contract_end_ts()),
                    o.profile.approval_authority
                ),
            );
        }
        self.findings
    }
}

/// Findings by kind, org and client: the order of the document.
fn sort(findings: &mut [Finding]) {
    // Borrowed keys: a copy per comparison would be millions of strings
    // made and dropped for a review of 100,000 clients.
    fn key(f: &Finding) -> (&str, &str, &str, Option<(&str, &str)>) {
        (
            f.kind,
            &f.org.name,
            &f.org.id,
            f.client
                .as_ref()
                .map(|c| (c.name.as_str(), c.client_id.as_str())),
        )
    }
    findings.sort_by(|a, b| key(a).cmp(&key(b)));
}

/// Reads the database and builds the review, with the access reviews that
/// are overdue or were opened by drifting use.
pub fn review(r: &mut dyn Reader, now: i64, p: Params) -> Result<Review> {
    let orgs = r.live_orgs()?;
    let campaigns = r.campaigns(crate::db::CampaignSelect {
        undecided_only: true,
        ..Default::default()
    })?;
    // Of the clients, the campaigns' findings need only their own.
    let in_campaigns: HashSet<&str> = (campaigns.iter())
        .flat_map(|c| c.items.iter().map(|i| i.client_ref.as_str()))
        .collect();
    let mut findings = Findings::new(&orgs, now, p);
    let mut campaign_clients = Vec::new();
    r.each_live_client(&mut |c| {
        findings.client(&c);
        if in_campaigns.contains(c.id.as_str()) {
            campaign_clients.push(c);
        }
        Ok(())
    })?;
    let mut findings = findings.finish();
    findings.extend(crate::campaigns::overdue_findings(
        &campaigns,
        &orgs,
        &campaign_clients,
        now,
    ));
    findings.extend(crate::campaigns::drift_findings(
        &campaigns,
        &orgs,
        &campaign_clients,
    ));
    sort(&mut findings);
    Ok(Review {
        generated_at: fmt_ts(now),
        within: fmt_duration(p.within),
        rotation_age: fmt_duration(p.rotation_age),
        unused_for: fmt_duration(p.unused_for),
        findings,
    })
}

fn summary(r: &Review) -> String {
    format!(
        "generated at {}; expiry window {}, rotation threshold {}, unused threshold {}; {} finding{}",
        r.generated_at,
        r.within,
        r.rotation_age,
        r.unused_for,
        r.findings.len(),
        if r.findings.len() == 1 { "" } else { "s" }
    )
}

/// Plain lines: a summary, then one line per finding.
pub fn text(r: &Review) -> String {
    let mut out = format!("Entitlement review: {}\n", summary(r));
    for f in &r.findings {
        let client = f
            .client
            .as_ref()
            .map(|c| format!(" client={} ({}) owner={}", c.name, c.client_id, c.owner))
            .unwrap_or_default();
        out.push_str(&format!(
            "{} org={} ({}){} approval_authority={}: {}\n",
            f.kind, f.org.name, f.org.id, client, f.org.approval_authority, f.detail
        ));
    }
    out
}

fn cell(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

/// Markdown fit for a ticket or a pull request: one table per kind.
pub fn markdown(r: &Review) -> String {
    let mut out = format!("# Entitlement review\n\n{}.\n", summary(r));
    for (kind, title) in KINDS {
        let rows: Vec<&Finding> = r.findings.iter().filter(|f| f.kind == *kind).collect();
        out.push_str(&format!("\n## {title}: `{kind}` ({})\n\n", rows.len()));
        if rows.is_empty() {
            out.push_str("None.\n");
            continue;
        }
        out.push_str("| Org | Client | Owner | Approval authority | Finding |\n");
        out.push_str("|---|---|---|---|---|\n");
        for f in rows {
            let (client, owner) = match &f.client {
                Some(c) => (
                    format!("{} (`{}`)", cell(&c.name), cell(&c.client_id)),
                    cell(&c.owner),
                ),
                None => ("-".to_string(), "-".to_string()),
            };
            out.push_str(&format!(
                "| {} (`{}`) | {client} | {owner} | {} | {} |\n",
                cell(&f.org.name),
                cell(&f.org.id),
                cell(&f.org.approval_authority),
                cell(&f.detail)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_cells() {
        assert_eq!(span(86_400 * 29 + 5), "29 days");
        assert_eq!(span(3600), "60 minutes");
        assert_eq!(span(1), "1 second");
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }
}
