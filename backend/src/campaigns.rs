//! Access review campaigns (attestation): a campaign asks that each client of
//! one org be decided by a reviewer, *keep* (with a comment saying why) or
//! *revoke* (revoked at once), by a due date. It is opened by an admin, or by
//! the registry itself when an org's contract is renewed or extended, its
//! allowed scopes widen, or a client's use drifts ([`drift`]). Clients still undecided after the due date are
//! `review_overdue` findings of the entitlement review and, under the org's
//! `review_enforcement = "suspend"`, introspect inactive until decided (the
//! credential cache reads the earliest such due date with each credential).
//!
//! The use cases here are called by [`crate::service`] once it has authorised
//! the caller: this module never decides who may do what.

use crate::db::{CampaignSelect, DayCount, Reader, Tx};
use crate::error::{Error, FieldError, Result};
use crate::records::{Client, Org, ReviewEnforcement, end_of_day, fmt_ts};
use crate::review::{Finding, client_ref, org_ref};
use crate::service::{WriteCtx, record, revoke, view_json};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A campaign opened without a due date is due at the end of this many days.
pub const DEFAULT_DUE_DAYS: i64 = 14;
/// The furthest due date, in days from today.
pub const MAX_DUE_DAYS: i64 = 365;
/// The longest note of a campaign and comment of a decision.
pub const MAX_TEXT_CHARS: usize = 1000;

pub const OPEN_FIELDS: &[&str] = &["org_id", "due_date", "note"];
pub const DECISION_FIELDS: &[&str] = &["client_id", "decision", "comment"];

/// Why a campaign was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// By an admin (API or CLI).
    Manual,
    /// The org's contract was renewed (a new contract id) or extended.
    ContractRenewed,
    /// The org's allowed scopes gained a scope.
    ScopesWidened,
    /// One client's use drifted (see [`drift`]): its campaign holds it alone.
    UsageDrift,
}

impl Cause {
    pub fn parse(s: &str) -> Option<Cause> {
        match s {
            "manual" => Some(Cause::Manual),
            "contract_renewed" => Some(Cause::ContractRenewed),
            "scopes_widened" => Some(Cause::ScopesWidened),
            "usage_drift" => Some(Cause::UsageDrift),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Manual => "manual",
            Cause::ContractRenewed => "contract_renewed",
            Cause::ScopesWidened => "scopes_widened",
            Cause::UsageDrift => "usage_drift",
        }
    }
}

/// A reviewer's decision on one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Keep,
    Revoke,
}

impl Decision {
    pub fn parse(s: &str) -> Option<Decision> {
        match s {
            "keep" => Some(Decision::Keep),
            "revoke" => Some(Decision::Revoke),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Keep => "keep",
            Decision::Revoke => "revoke",
        }
    }
}

/// One client of a campaign, with the client's names as they are now.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewItem {
    /// The client's record id (`cli_…`).
    pub client_ref: String,
    pub client_id: String,
    pub client_name: String,
    pub owner: String,
    /// When the client was revoked, by this campaign or otherwise.
    pub client_revoked_at: Option<i64>,
    pub decision: Option<Decision>,
    pub comment: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
}

impl ReviewItem {
    /// Still waiting for a decision: a client revoked by other means needs none.
    pub fn undecided(&self) -> bool {
        self.decision.is_none() && self.client_revoked_at.is_none()
    }
}

/// A campaign as stored, with its items.
#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    pub id: String,
    pub org_id: String,
    pub cause: Cause,
    pub note: String,
    pub opened_by: String,
    pub opened_at: i64,
    /// The last second of the due date.
    pub due_at: i64,
    pub items: Vec<ReviewItem>,
}

/// Where a campaign stands at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    /// Clients wait for a decision; the due date has not passed.
    Open,
    /// Clients wait for a decision after the due date.
    Overdue,
    /// Every client is decided (or revoked).
    Complete,
}

impl CampaignStatus {
    pub fn parse(s: &str) -> Option<CampaignStatus> {
        match s {
            "open" => Some(CampaignStatus::Open),
            "overdue" => Some(CampaignStatus::Overdue),
            "complete" => Some(CampaignStatus::Complete),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CampaignStatus::Open => "open",
            CampaignStatus::Overdue => "overdue",
            CampaignStatus::Complete => "complete",
        }
    }
}

impl Campaign {
    pub fn status(&self, now: i64) -> CampaignStatus {
        if !self.items.iter().any(ReviewItem::undecided) {
            CampaignStatus::Complete
        } else if now > self.due_at {
            CampaignStatus::Overdue
        } else {
            CampaignStatus::Open
        }
    }

    pub fn view(&self, org: &Org, now: i64) -> CampaignView {
        let overdue = now > self.due_at;
        let suspending = overdue && org.review_enforcement == ReviewEnforcement::Suspend;
        let items: Vec<ItemView> = self
            .items
            .iter()
            .map(|i| ItemView::of(i, overdue, suspending))
            .collect();
        let count = |state: &str| items.iter().filter(|i| i.state == state).count();
        CampaignView {
            id: self.id.clone(),
            org_id: self.org_id.clone(),
            org_name: org.profile.name.clone(),
            approval_authority: org.profile.approval_authority.clone(),
            review_enforcement: org.review_enforcement.as_str(),
            cause: self.cause,
            note: self.note.clone(),
            opened_by: self.opened_by.clone(),
            opened_at: fmt_ts(self.opened_at),
            due_at: fmt_ts(self.due_at),
            status: self.status(now),
            undecided: self.items.iter().filter(|i| i.undecided()).count(),
            kept: count("kept"),
            revoked: count("revoked") + count("revoked_elsewhere"),
            items,
        }
    }
}

/// The JSON form of a campaign.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignView {
    pub id: String,
    pub org_id: String,
    pub org_name: String,
    pub approval_authority: String,
    pub review_enforcement: &'static str,
    pub cause: Cause,
    pub note: String,
    pub opened_by: String,
    pub opened_at: String,
    pub due_at: String,
    pub status: CampaignStatus,
    pub undecided: usize,
    pub kept: usize,
    pub revoked: usize,
    pub items: Vec<ItemView>,
}

/// The JSON form of one client of a campaign.
#[derive(Debug, Clone, Serialize)]
pub struct ItemView {
    /// The client's record id.
    pub id: String,
    pub client_id: String,
    pub name: String,
    pub owner: String,
    /// `undecided`, `overdue` (undecided after the due date), `suspended`
    /// (overdue under `review_enforcement = "suspend"`: introspects inactive),
    /// `kept`, `revoked`, or `revoked_elsewhere` (revoked without a decision here).
    pub state: &'static str,
    pub decision: Option<Decision>,
    pub comment: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
}

impl ItemView {
    fn of(i: &ReviewItem, overdue: bool, suspending: bool) -> ItemView {
        let state = match (i.decision, i.client_revoked_at) {
            (Some(Decision::Keep), _) => "kept",
            (Some(Decision::Revoke), _) => "revoked",
            (None, Some(_)) => "revoked_elsewhere",
            (None, None) if suspending => "suspended",
            (None, None) if overdue => "overdue",
            (None, None) => "undecided",
        };
        ItemView {
            id: i.client_ref.clone(),
            client_id: i.client_id.clone(),
            name: i.client_name.clone(),
            owner: i.owner.clone(),
            state,
            decision: i.decision,
            comment: i.comment.clone(),
            decided_by: i.decided_by.clone(),
            decided_at: i.decided_at.map(fmt_ts),
        }
    }
}

// ---------- requests ----------

/// The body of `POST /v1/reviews/campaigns`; `errors` lists every failure.
#[derive(Debug, Default)]
pub struct OpenDraft {
    pub org_id: Option<String>,
    /// `YYYY-MM-DD`; `None`: [`DEFAULT_DUE_DAYS`] from today.
    pub due_date: Option<String>,
    pub note: String,
    pub errors: Vec<FieldError>,
}

pub fn parse_open(map: &Map<String, Value>) -> OpenDraft {
    let mut f = crate::requests::Fields::new(map);
    let org_id = f.req_str("org_id", 100);
    let due_date = f.date("due_date", false);
    let note = f.opt_str("note", MAX_TEXT_CHARS).unwrap_or_default();
    OpenDraft {
        org_id,
        due_date,
        note,
        errors: f.errors,
    }
}

/// The body of `POST /v1/reviews/campaigns/{id}/decisions`.
#[derive(Debug, Default)]
pub struct DecisionDraft {
    /// The client's `client_id` or record id.
    pub client: Option<String>,
    pub decision: Option<Decision>,
    pub comment: Option<String>,
    pub errors: Vec<FieldError>,
}

pub fn parse_decision(map: &Map<String, Value>) -> DecisionDraft {
    let mut f = crate::requests::Fields::new(map);
    let client = f.req_str("client_id", 100);
    let decision = match map.get("decision").and_then(Value::as_str) {
        Some(s) => Decision::parse(s),
        None => None,
    };
    if decision.is_none() {
        f.err("decision", "must be \"keep\" or \"revoke\"");
    }
    let comment = f.opt_str("comment", MAX_TEXT_CHARS);
    if decision == Some(Decision::Keep) && matches!(map.get("comment"), None | Some(Value::Null)) {
        f.err(
            "comment",
            "is required to keep a client: say why its access is still needed",
        );
    }
    DecisionDraft {
        client,
        decision,
        comment,
        errors: f.errors,
    }
}

// ---------- use cases (authorised by crate::service) ----------

/// The due time of a campaign opened at `now`: the end of `due_date`, which
/// must be from today to [`MAX_DUE_DAYS`] ahead, or the end of the day
/// [`DEFAULT_DUE_DAYS`] ahead.
fn due_at(due_date: Option<&str>, now: i64) -> std::result::Result<i64, String> {
    let today_end = end_of_day(&fmt_ts(now)[..10]).unwrap_or(now);
    let Some(date) = due_date else {
        return Ok(today_end + DEFAULT_DUE_DAYS * 86_400);
    };
    let at = end_of_day(date).ok_or("must be a date YYYY-MM-DD")?;
    if at < today_end || at > today_end + MAX_DUE_DAYS * 86_400 {
        return Err(format!(
            "must be from today ({}) to {MAX_DUE_DAYS} days ahead, on the registry's clock",
            &fmt_ts(now)[..10]
        ));
    }
    Ok(at)
}

/// Stores a campaign for `clients` of `org` with its audit event. The event is
/// the org's (`review.open`), so the credential cache reloads the org's
/// clients and learns their new due date.
fn open_for(
    tx: &mut dyn Tx,
    ctx: &WriteCtx,
    org: &Org,
    cause: Cause,
    note: String,
    due_at: i64,
    clients: &[Client],
) -> Result<Campaign> {
    let campaign = Campaign {
        id: crate::crypto::new_id("rvc_")?,
        org_id: org.id.clone(),
        cause,
        note,
        opened_by: ctx.actor.name.clone(),
        opened_at: ctx.now,
        due_at,
        items: clients
            .iter()
            .map(|c| ReviewItem {
                client_ref: c.id.clone(),
                client_id: c.client_id.clone(),
                client_name: c.profile.name.clone(),
                owner: c.profile.owner.clone(),
                client_revoked_at: None,
                decision: None,
                comment: None,
                decided_by: None,
                decided_at: None,
            })
            .collect(),
    };
    tx.insert_campaign(&campaign)?;
    record(
        tx,
        ctx,
        "review.open",
        "org",
        &org.id,
        Some(&org.id),
        None,
        Some(view_json(&campaign.view(org, ctx.now))),
    )?;
    Ok(campaign)
}

/// `POST /v1/reviews/campaigns`: a campaign over every live client of the org.
pub(crate) fn open(tx: &mut dyn Tx, ctx: &WriteCtx, d: OpenDraft) -> Result<(Campaign, Org)> {
    let mut errors = d.errors;
    let due = due_at(d.due_date.as_deref(), ctx.now)
        .map_err(|why| errors.push(FieldError::new("due_date", why)))
        .ok();
    let org = match &d.org_id {
        Some(id) => match tx.org(id)? {
            None => {
                errors.push(FieldError::new("org_id", format!("no org {id}")));
                None
            }
            Some(o) if o.offboarded_at.is_some() => {
                errors.push(FieldError::new(
                    "org_id",
                    format!("org {id} is offboarded: it has no access left to review"),
                ));
                None
            }
            Some(o) => Some(o),
        },
        None => None,
    };
    let clients = match &org {
        Some(o) => tx.live_clients(&o.id)?,
        None => Vec::new(),
    };
    if let (Some(o), true) = (&org, clients.is_empty()) {
        errors.push(FieldError::new(
            "org_id",
            format!("org {} has no live client to review", o.id),
        ));
    }
    let (Some(org), Some(due), true) = (org, due, errors.is_empty()) else {
        return Err(Error::Validation(errors));
    };
    let campaign = open_for(tx, ctx, &org, Cause::Manual, d.note, due, &clients)?;
    Ok((campaign, org))
}

/// After an org changed from `before` to `after`: a renewed or extended
/// contract, or allowed scopes that gained a scope, open a campaign over its
/// live clients (unless one of the same cause is still open for it).
pub(crate) fn after_org_change(
    tx: &mut dyn Tx,
    ctx: &WriteCtx,
    before: &Org,
    after: &Org,
) -> Result<()> {
    let mut causes = Vec::new();
    if after.contract_end_ts() > before.contract_end_ts()
        || after.profile.contract_id != before.profile.contract_id
    {
        causes.push((
            Cause::ContractRenewed,
            format!(
                "contract {} ending {} became contract {} ending {}",
                before.profile.contract_id,
                before.profile.contract_end,
                after.profile.contract_id,
                after.profile.contract_end
            ),
        ));
    }
    let added: Vec<&str> = after
        .profile
        .allowed_scopes
        .iter()
        .filter(|s| !before.profile.allowed_scopes.contains(s))
        .map(String::as_str)
        .collect();
    if !added.is_empty() {
        causes.push((
            Cause::ScopesWidened,
            format!("allowed scopes gained {}", added.join(", ")),
        ));
    }
    if causes.is_empty() {
        return Ok(());
    }
    let clients = tx.live_clients(&after.id)?;
    if clients.is_empty() {
        return Ok(());
    }
    let existing = tx.campaigns(CampaignSelect {
        org: Some(&after.id),
        undecided_only: true,
        ..CampaignSelect::default()
    })?;
    let due = due_at(None, ctx.now).map_err(Error::Internal)?;
    for (cause, note) in causes {
        if existing.iter().any(|c| c.cause == cause) {
            continue;
        }
        open_for(tx, ctx, after, cause, note, due, &clients)?;
    }
    Ok(())
}

/// The campaign `id` with its org.
pub(crate) fn load(r: &mut dyn Reader, id: &str) -> Result<Option<(Campaign, Org)>> {
    let Some(campaign) = r
        .campaigns(CampaignSelect {
            id: Some(id),
            ..CampaignSelect::default()
        })?
        .pop()
    else {
        return Ok(None);
    };
    let org = r
        .org(&campaign.org_id)?
        .ok_or_else(|| Error::Internal(format!("campaign {id} without its org")))?;
    Ok(Some((campaign, org)))
}

/// Campaigns of `org` (every org: `None`), newest first, with their orgs,
/// in `status` at `now` when one is given.
pub(crate) fn list(
    r: &mut dyn Reader,
    org: Option<&str>,
    status: Option<CampaignStatus>,
    now: i64,
) -> Result<Vec<(Campaign, Org)>> {
    let mut campaigns = r.campaigns(CampaignSelect {
        org,
        ..CampaignSelect::default()
    })?;
    campaigns.retain(|c| status.is_none_or(|s| c.status(now) == s));
    campaigns.reverse();
    let mut orgs: HashMap<String, Org> = HashMap::new();
    let mut out = Vec::with_capacity(campaigns.len());
    for c in campaigns {
        if !orgs.contains_key(&c.org_id) {
            let o = r
                .org(&c.org_id)?
                .ok_or_else(|| Error::Internal(format!("campaign {} without its org", c.id)))?;
            orgs.insert(c.org_id.clone(), o);
        }
        let org = orgs[&c.org_id].clone();
        out.push((c, org));
    }
    Ok(out)
}

/// `POST /v1/reviews/campaigns/{id}/decisions`: decides one client of the
/// campaign; a revocation revokes the client in the same transaction.
pub(crate) fn decide(
    tx: &mut dyn Tx,
    ctx: &WriteCtx,
    campaign: Campaign,
    org: Org,
    d: DecisionDraft,
) -> Result<(Campaign, Org)> {
    let (Some(client), Some(decision), true) = (d.client, d.decision, d.errors.is_empty()) else {
        return Err(Error::Validation(d.errors));
    };
    let Some(item) = campaign
        .items
        .iter()
        .find(|i| i.client_id == client || i.client_ref == client)
    else {
        return Err(Error::field(
            "client_id",
            format!("client {client} is not in campaign {}", campaign.id),
        ));
    };
    if let Some(done) = item.decision {
        return Err(Error::Conflict(format!(
            "client {} was already decided in campaign {} ({} by {})",
            item.client_id,
            campaign.id,
            done.as_str(),
            item.decided_by.as_deref().unwrap_or("?")
        )));
    }
    let current = tx
        .client(&item.client_ref)?
        .ok_or_else(|| Error::Internal(format!("campaign item without client {client}")))?;
    if decision == Decision::Keep && current.revoked_at.is_some() {
        return Err(Error::Conflict(format!(
            "client {} is revoked: there is no access left to keep",
            item.client_id
        )));
    }
    let decided = ReviewItem {
        decision: Some(decision),
        comment: d.comment,
        decided_by: Some(ctx.actor.name.clone()),
        decided_at: Some(ctx.now),
        ..item.clone()
    };
    tx.decide_review_item(&campaign.id, &decided)?;
    let overdue = ctx.now > campaign.due_at;
    let suspending = overdue && org.review_enforcement == ReviewEnforcement::Suspend;
    let mut after = view_json(&ItemView::of(&decided, overdue, suspending));
    after["campaign_id"] = Value::String(campaign.id.clone());
    let mut before = view_json(&ItemView::of(item, overdue, suspending));
    before["campaign_id"] = Value::String(campaign.id.clone());
    // The client's event, so that the credential cache reloads it: a kept
    // client that was suspended introspects active again at once.
    record(
        tx,
        ctx,
        &format!("review.{}", decision.as_str()),
        "client",
        &current.id,
        Some(&current.org_id),
        Some(before),
        Some(after),
    )?;
    if decision == Decision::Revoke {
        revoke(tx, ctx, current)?;
    }
    load(tx, &campaign.id)?.ok_or_else(|| Error::Internal("campaign vanished".into()))
}

// ---------- usage drift ----------

/// Recent use against its baseline: the mean of the last 7 days against the
/// mean of the 28 days before them.
pub const RECENT_DAYS: i64 = 7;
pub const BASELINE_DAYS: i64 = 28;
/// A recent mean this many times the baseline's, or this many times smaller, drifts.
pub const DRIFT_FACTOR: i64 = 5;
/// A client used again after this long unused (having been used before) drifts too.
pub const DORMANT_FOR: i64 = 30 * 86_400;

/// Why the daily counts `days` (day number, count) of a client drift on
/// `today`, if they do: the last [`RECENT_DAYS`] days (today included) against
/// the [`BASELINE_DAYS`] before them, by more than [`DRIFT_FACTOR`] either
/// way. A baseline without any use is no baseline (that is [`DORMANT_FOR`]'s
/// case).
pub fn drift(days: &[(i64, i64)], today: i64) -> Option<String> {
    let sum = |from: i64, to: i64| -> i64 {
        days.iter()
            .filter(|(d, _)| (from..=to).contains(d))
            .map(|(_, n)| n)
            .sum()
    };
    let recent = sum(today - RECENT_DAYS + 1, today);
    let baseline = sum(today - RECENT_DAYS - BASELINE_DAYS + 1, today - RECENT_DAYS);
    if baseline == 0 {
        return None;
    }
    // Means compared without division: recent/7 against baseline/28.
    let (r, b) = (recent * BASELINE_DAYS, baseline * RECENT_DAYS);
    let per_day = |n: i64, days: i64| format!("{:.1}", n as f64 / days as f64);
    let what = if r > DRIFT_FACTOR * b {
        "more"
    } else if r * DRIFT_FACTOR < b {
        "fewer"
    } else {
        return None;
    };
    Some(format!(
        "{} introspections a day over the last {RECENT_DAYS} days against {} a day over the {BASELINE_DAYS} days before: more than {DRIFT_FACTOR} times {what}",
        per_day(recent, RECENT_DAYS),
        per_day(baseline, BASELINE_DAYS),
    ))
}

/// The actor of what the registry does by itself.
fn registry_actor() -> crate::records::Actor {
    crate::records::Actor {
        token_id: 0,
        name: "registry".into(),
        role: crate::records::Role::Admin,
        org: None,
        email: None,
    }
}

/// In the transaction that writes introspection `counts` (before the
/// clients' last uses move): every client whose use drifts, or that is used
/// again after [`DORMANT_FOR`] unused, gets a campaign of its own, unless it
/// waits for a decision in one already.
pub fn after_usage(
    tx: &mut dyn Tx,
    key: &crate::crypto::SecretKey,
    counts: &[DayCount],
) -> Result<()> {
    let mut latest: HashMap<&str, &DayCount> = HashMap::new();
    for c in counts {
        let e = latest.entry(c.client_ref.as_str()).or_insert(c);
        if c.day > e.day {
            *e = c;
        }
    }
    for (client_ref, count) in latest {
        let Some(client) = tx.client(client_ref)?.filter(|c| c.revoked_at.is_none()) else {
            continue;
        };
        let now = count.last_at;
        // A client never used before is no wake-up: that is an `unused` finding.
        let dormant = client
            .last_used_at
            .filter(|previous| now.saturating_sub(*previous) > DORMANT_FOR);
        let reason = if let Some(previous) = dormant {
            Some(format!(
                "used again at {} after {} unused (since {})",
                fmt_ts(now),
                crate::records::fmt_duration(now - previous),
                fmt_ts(previous)
            ))
        } else {
            let from = count.day - RECENT_DAYS - BASELINE_DAYS + 1;
            drift(&tx.usage_days(client_ref, from)?, count.day)
        };
        let Some(reason) = reason else { continue };
        let waiting = tx
            .campaigns(CampaignSelect {
                org: Some(&client.org_id),
                undecided_only: true,
                ..CampaignSelect::default()
            })?
            .iter()
            .any(|c| {
                c.cause == Cause::UsageDrift
                    && c.items
                        .iter()
                        .any(|i| i.client_ref == client.id && i.undecided())
            });
        let org = tx.org(&client.org_id)?;
        let (false, Some(org)) = (waiting, org) else {
            continue;
        };
        let ctx = WriteCtx {
            key: key.clone(),
            actor: registry_actor(),
            request_id: crate::crypto::new_id("usage_")?,
            change_ref: None,
            now,
        };
        let due = due_at(None, now).map_err(Error::Internal)?;
        open_for(tx, &ctx, &org, Cause::UsageDrift, reason, due, &[client])?;
    }
    Ok(())
}

/// The `usage_drift` findings: every client waiting for a decision in a
/// campaign its drifting use opened, among the live `orgs` and `clients`.
pub fn drift_findings(campaigns: &[Campaign], orgs: &[Org], clients: &[Client]) -> Vec<Finding> {
    let orgs: HashMap<&str, &Org> = orgs.iter().map(|o| (o.id.as_str(), o)).collect();
    let clients: HashMap<&str, &Client> = clients.iter().map(|c| (c.id.as_str(), c)).collect();
    let mut out = Vec::new();
    for campaign in campaigns.iter().filter(|c| c.cause == Cause::UsageDrift) {
        let Some(org) = orgs.get(campaign.org_id.as_str()) else {
            continue;
        };
        for item in campaign.items.iter().filter(|i| i.undecided()) {
            let Some(client) = clients.get(item.client_ref.as_str()) else {
                continue;
            };
            out.push(Finding {
                kind: "usage_drift",
                client: Some(Box::new(client_ref(client))),
                org: org_ref(org),
                detail: format!(
                    "Client {} ({}) of org {}, owner {}: {}; access review {} asks a reviewer or {} to keep or revoke it by {}.",
                    client.profile.name,
                    client.client_id,
                    org.profile.name,
                    client.profile.owner,
                    campaign.note,
                    campaign.id,
                    org.profile.approval_authority,
                    fmt_ts(campaign.due_at)
                ),
            });
        }
    }
    out
}

/// The `review_overdue` findings at `now`: every undecided client of a
/// campaign past its due date, among the live `orgs` and `clients`.
pub fn overdue_findings(
    campaigns: &[Campaign],
    orgs: &[Org],
    clients: &[Client],
    now: i64,
) -> Vec<Finding> {
    let orgs: HashMap<&str, &Org> = orgs.iter().map(|o| (o.id.as_str(), o)).collect();
    let clients: HashMap<&str, &Client> = clients.iter().map(|c| (c.id.as_str(), c)).collect();
    let mut out = Vec::new();
    for campaign in campaigns.iter().filter(|c| now > c.due_at) {
        let Some(org) = orgs.get(campaign.org_id.as_str()) else {
            continue;
        };
        for item in campaign.items.iter().filter(|i| i.undecided()) {
            let Some(client) = clients.get(item.client_ref.as_str()) else {
                continue;
            };
            let consequence = match org.review_enforcement {
                ReviewEnforcement::Suspend => {
                    "it is suspended (introspection answers inactive) until decided"
                }
                ReviewEnforcement::Report => "it stays active (review_enforcement = \"report\")",
            };
            out.push(Finding {
                kind: "review_overdue",
                client: Some(Box::new(client_ref(client))),
                org: org_ref(org),
                detail: format!(
                    "Client {} ({}) of org {}, owner {}, is undecided in access review {} ({}), due {}; {consequence}. A reviewer or {} must keep or revoke it.",
                    client.profile.name,
                    client.client_id,
                    org.profile.name,
                    client.profile.owner,
                    campaign.id,
                    campaign.cause.as_str(),
                    fmt_ts(campaign.due_at),
                    org.profile.approval_authority
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `per_day` uses a day on each of the `days` days ending on `last`.
    fn series(last: i64, days: i64, per_day: i64) -> Vec<(i64, i64)> {
        (last - days + 1..=last).map(|d| (d, per_day)).collect()
    }

    #[test]
    fn drift_compares_the_last_week_with_the_four_weeks_before() {
        let today = 20_000;
        let mut days = series(today - 7, 28, 10);
        assert_eq!(
            drift(&series(today, 35, 10), today),
            None,
            "steady use does not drift"
        );
        days.extend(series(today, 7, 50));
        assert_eq!(drift(&days, today), None, "five times exactly is within");
        days.retain(|(d, _)| *d <= today - 7);
        days.extend(series(today, 7, 51));
        let why = drift(&days, today).expect("more than five times");
        assert!(why.contains("51.0 introspections a day"), "{why}");
        assert!(why.contains("10.0 a day"), "{why}");
        assert!(why.ends_with("times more"), "{why}");
        days.retain(|(d, _)| *d <= today - 7);
        days.push((today, 1));
        assert!(drift(&days, today).unwrap().ends_with("times fewer"));
        assert_eq!(drift(&series(today, 7, 1000), today), None, "no baseline");
        // Days older than the baseline do not count.
        assert_eq!(drift(&[(today - 35, 1_000_000), (today, 5)], today), None);
    }
}
