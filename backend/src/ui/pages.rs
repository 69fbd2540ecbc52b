//! The console's pages. Each reads and writes only through the use cases of
//! [`crate::service`], with the signed-in token's actor.

use super::html::{self, Cell, Mark, esc, facts, link, or_dash, seg, table, text};
use super::{Answer, Request, Visitor};
use crate::App;
use crate::campaigns::{Campaign, CampaignView, Decision};
use crate::db::{ClientFilter, OrgFilter, Reader};
use crate::error::{Error, Result};
use crate::handlers::ReqCtx;
use crate::records::{Actor, Client, ClientStatus, Org, OrgStatus, fmt_ts};
use crate::service;
use std::collections::BTreeMap;
use warp::http::StatusCode;

const DAY: i64 = 86_400;
/// The overview's windows.
const CONTRACTS_ENDING_WITHIN: i64 = 90 * DAY;
const UNUSED_FOR: i64 = 30 * DAY;

/// The page `req` asks for.
pub(crate) async fn page(app: &App, visitor: &Visitor, req: &Request) -> Answer {
    let parts: Vec<&str> = req.path.split('/').filter(|p| !p.is_empty()).collect();
    let actor = visitor.actor.clone();
    let now = app.clock.now().unix_timestamp();
    let answer = match (req.post, parts.as_slice()) {
        (false, [] | ["overview"]) => read(app, move |r| overview(r, &actor, now)).await,
        (false, ["timeline"]) => read(app, move |r| timeline(r, &actor, now)).await,
        (false, ["orgs", id]) => {
            let id = id.to_string();
            read(app, move |r| org_page(r, &actor, &id, now)).await
        }
        (false, ["clients", id]) => {
            let id = id.to_string();
            read(app, move |r| client_page(r, &actor, &id, now)).await
        }
        (false, ["audit"]) => {
            let filter = AuditFilter::from(&req.query);
            let key = app.key.clone();
            read(app, move |r| audit_page(r, &actor, &key, &filter)).await
        }
        (false, ["campaigns"]) => read(app, move |r| campaigns_page(r, &actor, now)).await,
        (false, ["campaigns", id]) => {
            let (id, csrf) = (id.to_string(), visitor.csrf.clone());
            read(app, move |r| campaign_page(r, &actor, &id, &csrf, now)).await
        }
        (true, ["campaigns", id, "decisions"]) => decide(app, visitor, id, req).await,
        _ => Ok(Answer::not_found()),
    };
    answer.unwrap_or_else(refused)
}

/// A refusal of the service layer as a page: 404 stays 404 (another org's
/// record is no record at all), 403 says what the token may not do.
fn refused(e: Error) -> Answer {
    let (status, title) = match &e {
        Error::NotFound(_) => return Answer::not_found(),
        Error::Forbidden(_) => (StatusCode::FORBIDDEN, "Not allowed"),
        Error::Validation(_) | Error::Conflict(_) | Error::BadRequest(_) => {
            (StatusCode::UNPROCESSABLE_ENTITY, "Refused")
        }
        _ => (StatusCode::SERVICE_UNAVAILABLE, "Unavailable"),
    };
    let message = match &e {
        Error::Validation(errs) => errs
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    };
    Answer::Page {
        status,
        title: title.into(),
        body: html::notice(&message),
    }
}

async fn read(
    app: &App,
    f: impl FnOnce(&mut dyn Reader) -> Result<(String, String)> + Send + 'static,
) -> Result<Answer> {
    let (title, body) = app.read(f).await?;
    Ok(Answer::page(title, body))
}

/// Every org the actor may see (all pages of the list).
fn orgs(r: &mut dyn Reader, actor: &Actor, now: i64) -> Result<Vec<Org>> {
    let mut out = Vec::new();
    let mut cursor = 0;
    loop {
        let f = OrgFilter {
            limit: 1000,
            cursor,
            ..OrgFilter::default()
        };
        let rows = service::list_orgs(r, actor, &f, now)?;
        out.extend(rows.items);
        match rows.next_cursor {
            Some(c) => cursor = c,
            None => return Ok(out),
        }
    }
}

/// Every client the actor may see, of `org` when given.
fn clients(r: &mut dyn Reader, actor: &Actor, org: Option<&str>, now: i64) -> Result<Vec<Client>> {
    let mut out = Vec::new();
    let mut cursor = 0;
    loop {
        let f = ClientFilter {
            org_id: org.map(str::to_string),
            limit: 1000,
            cursor,
            ..ClientFilter::default()
        };
        let rows = service::list_clients(r, actor, &f, now)?;
        out.extend(rows.items);
        match rows.next_cursor {
            Some(c) => cursor = c,
            None => return Ok(out),
        }
    }
}

fn unused(c: &Client, now: i64) -> bool {
    c.status(now) == ClientStatus::Active
        && now - c.last_used_at.unwrap_or(c.created_at) > UNUSED_FOR
}

fn org_link(o: &Org) -> Cell {
    link(&format!("/ui/orgs/{}", seg(&o.id)), &o.profile.name)
}

fn client_link(c: &Client) -> Cell {
    link(&format!("/ui/clients/{}", seg(&c.id)), &c.profile.name)
}

fn status_of(c: &Client, now: i64) -> &'static str {
    match c.status(now) {
        ClientStatus::Active => "active",
        ClientStatus::Expired => "expired",
        ClientStatus::Revoked => "revoked",
    }
}

fn overview(r: &mut dyn Reader, actor: &Actor, now: i64) -> Result<(String, String)> {
    let orgs = orgs(r, actor, now)?;
    let clients = clients(r, actor, None, now)?;
    let live_orgs: Vec<&Org> = orgs
        .iter()
        .filter(|o| o.status(now) == OrgStatus::Active)
        .collect();
    let active = clients
        .iter()
        .filter(|c| c.status(now) == ClientStatus::Active)
        .count();
    let mut body = format!(
        r#"<ul class="counts">
<li><span class="count" id="count-orgs">{}</span> active orgs</li>
<li><span class="count" id="count-clients">{active}</span> active clients</li>
</ul>"#,
        live_orgs.len()
    );
    match service::review(r, actor, now, Ok(crate::review::Params::default())) {
        Ok(review) => {
            let mut by_kind: BTreeMap<&str, usize> =
                crate::review::KINDS.iter().map(|(k, _)| (*k, 0)).collect();
            for f in &review.findings {
                *by_kind.entry(f.kind).or_default() += 1;
            }
            let rows: Vec<Vec<Cell>> = by_kind
                .iter()
                .map(|(k, n)| {
                    vec![
                        Cell::Html(format!(r#"<code id="findings-{k}">{}</code>"#, esc(k))),
                        text(n.to_string()),
                    ]
                })
                .collect();
            body.push_str(&table("Findings by kind", &["Kind", "Findings"], &rows));
        }
        Err(Error::Forbidden(why)) => body.push_str(&format!(
            "<section><h2>Findings by kind</h2><p>{}</p></section>",
            esc(&why)
        )),
        Err(e) => return Err(e),
    }
    let ending: Vec<Vec<Cell>> = live_orgs
        .iter()
        .filter(|o| o.contract_end_ts() <= now + CONTRACTS_ENDING_WITHIN)
        .map(|o| {
            vec![
                org_link(o),
                text(&o.profile.contract_id),
                text(&o.profile.contract_end),
                text(&o.profile.approval_authority),
            ]
        })
        .collect();
    body.push_str(&table(
        "Contracts ending in the next 90 days",
        &["Org", "Contract", "Ends", "Approval authority"],
        &ending,
    ));
    let by_id: BTreeMap<&str, &Org> = orgs.iter().map(|o| (o.id.as_str(), o)).collect();
    let idle: Vec<Vec<Cell>> = clients
        .iter()
        .filter(|c| unused(c, now))
        .map(|c| {
            vec![
                client_link(c),
                by_id
                    .get(c.org_id.as_str())
                    .map_or_else(|| text(&c.org_id), |o| org_link(o)),
                text(&c.profile.owner),
                or_dash(c.last_used_at.map(fmt_ts)),
            ]
        })
        .collect();
    body.push_str(&table(
        "Clients unused for 30 days",
        &["Client", "Org", "Owner", "Last used"],
        &idle,
    ));
    Ok(("Overview".into(), body))
}

fn timeline(r: &mut dyn Reader, actor: &Actor, now: i64) -> Result<(String, String)> {
    let orgs = orgs(r, actor, now)?;
    let clients = clients(r, actor, None, now)?;
    let horizon = now + 365 * DAY;
    let within = |t: i64| t >= now && t <= horizon;
    let rows: Vec<(&Org, Vec<Mark>)> = orgs
        .iter()
        .filter(|o| o.offboarded_at.is_none())
        .map(|o| {
            let mut marks: Vec<Mark> = clients
                .iter()
                .filter(|c| c.org_id == o.id && c.status(now) == ClientStatus::Active)
                .filter(|c| within(c.expires_at))
                .map(|c| Mark {
                    at: c.expires_at,
                    label: format!("client {} expires {}", c.profile.name, fmt_ts(c.expires_at)),
                    contract: false,
                })
                .collect();
            if within(o.contract_end_ts()) {
                marks.push(Mark {
                    at: o.contract_end_ts(),
                    label: format!(
                        "contract {} of {} ends {}",
                        o.profile.contract_id, o.profile.name, o.profile.contract_end
                    ),
                    contract: true,
                });
            }
            (o, marks)
        })
        .collect();
    let mut listed: Vec<(i64, Vec<Cell>)> = Vec::new();
    for (o, marks) in &rows {
        for m in marks {
            listed.push((
                m.at,
                vec![org_link(o), text(&m.label), text(html::day(m.at))],
            ));
        }
    }
    listed.sort_by_key(|(at, _)| *at);
    let mut body = html::timeline(&rows, now);
    body.push_str(&table(
        "In the next 12 months",
        &["Org", "What", "Day"],
        &listed.into_iter().map(|(_, row)| row).collect::<Vec<_>>(),
    ));
    Ok(("Expiry timeline".into(), body))
}

fn org_page(r: &mut dyn Reader, actor: &Actor, id: &str, now: i64) -> Result<(String, String)> {
    let org = service::get_org(r, actor, id)?;
    let clients = clients(r, actor, Some(&org.id), now)?;
    let active = clients
        .iter()
        .filter(|c| c.status(now) == ClientStatus::Active)
        .count();
    let mut body = facts(&[
        ("Status", format!("{:?}", org.status(now)).to_lowercase()),
        ("Legal entity", org.profile.legal_entity.clone()),
        ("Technical owner", org.profile.technical_owner.clone()),
        ("Approval authority", org.profile.approval_authority.clone()),
        (
            "Commercial sponsor",
            org.profile
                .commercial_sponsor
                .clone()
                .unwrap_or_else(|| "none".into()),
        ),
        ("Contract", org.profile.contract_id.clone()),
        (
            "Contract period",
            format!(
                "{} to {}",
                org.profile.contract_start.as_deref().unwrap_or("?"),
                org.profile.contract_end
            ),
        ),
        ("Allowed scopes", org.profile.allowed_scopes.join(" ")),
        (
            "Quota",
            format!("{active} of {} active clients", org.max_clients),
        ),
        (
            "Review enforcement",
            org.review_enforcement.as_str().to_string(),
        ),
    ]);
    let rows: Vec<Vec<Cell>> = clients
        .iter()
        .map(|c| {
            vec![
                client_link(c),
                text(&c.client_id),
                text(status_of(c, now)),
                text(c.profile.scopes.join(" ")),
                text(html::day(c.expires_at)),
                or_dash(c.last_used_at.map(fmt_ts)),
                text(format!("{} days", (now - c.secret_rotated_at) / DAY)),
            ]
        })
        .collect();
    body.push_str(&table(
        "Clients",
        &[
            "Client",
            "client_id",
            "Status",
            "Scopes",
            "Expires",
            "Last used",
            "Secret age",
        ],
        &rows,
    ));
    let campaigns = service::list_campaigns(r, actor, Some(&org.id), None, now)?;
    body.push_str(&campaign_table(&campaigns, now));
    Ok((format!("Org {}", org.profile.name), body))
}

fn client_page(r: &mut dyn Reader, actor: &Actor, id: &str, now: i64) -> Result<(String, String)> {
    let client = service::get_client(r, actor, id)?;
    let org = service::get_org(r, actor, &client.org_id)?;
    let suspension = service::list_campaigns(r, actor, Some(&org.id), None, now)?
        .into_iter()
        .map(|(c, o)| c.view(&o, now))
        .find_map(|v| {
            v.items
                .iter()
                .find(|i| i.id == client.id && i.state == "suspended")
                .map(|_| v.id.clone())
        });
    let mut body = String::new();
    if let Some(campaign) = &suspension {
        body.push_str(&format!(
            r#"<p class="notice" role="alert">Suspended: undecided in access review <a href="/ui/campaigns/{}">{}</a> after its due date; introspection answers inactive until it is decided.</p>"#,
            seg(campaign),
            esc(campaign)
        ));
    }
    body.push_str(&format!(
        r#"<p>Org: <a href="/ui/orgs/{}">{}</a></p>"#,
        seg(&org.id),
        esc(&org.profile.name)
    ));
    body.push_str(&facts(&[
        ("client_id", client.client_id.clone()),
        ("Status", status_of(&client, now).to_string()),
        ("Purpose", client.profile.purpose.clone()),
        ("Owner", client.profile.owner.clone()),
        ("Scopes", client.profile.scopes.join(" ")),
        ("Expires", fmt_ts(client.expires_at)),
        (
            "Last used",
            client
                .last_used_at
                .map(fmt_ts)
                .unwrap_or_else(|| "never".into()),
        ),
        ("Secret rotated", fmt_ts(client.secret_rotated_at)),
    ]));
    let of_client =
        |e: &crate::audit::AuditRow| e.entity_kind == "client" && e.entity_id == client.id;
    match matching_audit(r, actor, &of_client) {
        Ok(events) => {
            let rows: Vec<Vec<Cell>> = events.iter().map(audit_row).collect();
            body.push_str(&table("Audit events", AUDIT_HEAD, &rows));
        }
        Err(Error::Forbidden(why)) => body.push_str(&format!(
            "<section><h2>Audit events</h2><p>{}</p></section>",
            esc(&why)
        )),
        Err(e) => return Err(e),
    }
    Ok((format!("Client {}", client.profile.name), body))
}

/// The most events a page of the console shows.
const AUDIT_WINDOW: usize = 1000;

/// The newest events of the whole trail that `keeps` keeps, at most
/// [`AUDIT_WINDOW`], newest first: a filter finds old events too. The page
/// reads the whole trail anyway to verify the chain.
fn matching_audit(
    r: &mut dyn Reader,
    actor: &Actor,
    keeps: &dyn Fn(&crate::audit::AuditRow) -> bool,
) -> Result<Vec<crate::audit::AuditRow>> {
    // Authorised first: nothing of the trail is read for an org token.
    service::audit_page(r, actor, Ok((0, 1)))?;
    let mut kept = std::collections::VecDeque::new();
    r.walk_audit(&mut |e| {
        if keeps(&e) {
            if kept.len() == AUDIT_WINDOW {
                kept.pop_front();
            }
            kept.push_back(e);
        }
        Ok(true)
    })?;
    Ok(kept.into_iter().rev().collect())
}

const AUDIT_HEAD: &[&str] = &[
    "#",
    "At",
    "Actor",
    "Action",
    "Entity",
    "Org",
    "Change reference",
];

fn audit_row(e: &crate::audit::AuditRow) -> Vec<Cell> {
    let change = match e.change_ref.as_deref() {
        Some(c) if c.starts_with("https://") || c.starts_with("http://") => link(c, c),
        other => or_dash(other.map(str::to_string)),
    };
    vec![
        text(e.seq.to_string()),
        text(fmt_ts(e.at)),
        text(&e.actor),
        text(&e.action),
        text(format!("{} {}", e.entity_kind, e.entity_id)),
        or_dash(e.org_id.clone()),
        change,
    ]
}

/// The audit trail's filters, from the query.
struct AuditFilter {
    fields: [(&'static str, String); 5],
}

impl AuditFilter {
    fn from(q: &std::collections::HashMap<String, String>) -> AuditFilter {
        let get = |k: &str| q.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
        AuditFilter {
            fields: [
                ("org", get("org")),
                ("client", get("client")),
                ("actor", get("actor")),
                ("action", get("action")),
                ("change_ref", get("change_ref")),
            ],
        }
    }

    fn keeps(&self, e: &crate::audit::AuditRow) -> bool {
        self.fields.iter().all(|(k, v)| {
            v.is_empty()
                || match *k {
                    "org" => e.org_id.as_deref() == Some(v.as_str()),
                    "client" => e.entity_kind == "client" && e.entity_id == *v,
                    "actor" => e.actor == *v,
                    "action" => e.action == *v,
                    _ => e
                        .change_ref
                        .as_deref()
                        .is_some_and(|c| c.contains(v.as_str())),
                }
        })
    }

    fn form(&self) -> String {
        let mut out = String::from(r#"<form method="get" action="/ui/audit" class="filters">"#);
        for (k, v) in &self.fields {
            out.push_str(&format!(
                r#"<label for="f-{k}">{label}</label><input id="f-{k}" name="{k}" value="{}">"#,
                esc(v),
                label = k.replace('_', " "),
            ));
        }
        out.push_str(r#"<button type="submit">Filter</button></form>"#);
        out
    }
}

fn audit_page(
    r: &mut dyn Reader,
    actor: &Actor,
    key: &crate::crypto::SecretKey,
    filter: &AuditFilter,
) -> Result<(String, String)> {
    let events = matching_audit(r, actor, &|e| filter.keeps(e))?;
    let chain = match crate::audit::verify(r, key, &crate::audit::AnchorRead::NotKept)? {
        crate::audit::AuditCheck::Intact(n) => {
            format!(
                r#"<p class="ok" id="chain">Chain verified: {n} events intact under the server key.</p>"#
            )
        }
        crate::audit::AuditCheck::Broken { seq, reason } => format!(
            r#"<p class="notice" id="chain" role="alert">Chain broken at sequence number {seq}: {}</p>"#,
            esc(&reason)
        ),
    };
    let rows: Vec<Vec<Cell>> = events.iter().map(audit_row).collect();
    let body = format!(
        "{chain}{}{}",
        filter.form(),
        table(
            &format!("Events (newest first, at most {AUDIT_WINDOW})"),
            AUDIT_HEAD,
            &rows
        )
    );
    Ok(("Audit trail".into(), body))
}

fn campaign_link(v: &CampaignView) -> Cell {
    link(&format!("/ui/campaigns/{}", seg(&v.id)), &v.id)
}

fn campaigns_page(r: &mut dyn Reader, actor: &Actor, now: i64) -> Result<(String, String)> {
    let found = service::list_campaigns(r, actor, None, None, now)?;
    Ok(("Access reviews".into(), campaign_table(&found, now)))
}

/// Campaigns, newest first, with their decisions so far.
fn campaign_table(found: &[(Campaign, Org)], now: i64) -> String {
    let rows: Vec<Vec<Cell>> = found
        .iter()
        .map(|(c, o)| {
            let v = c.view(o, now);
            vec![
                campaign_link(&v),
                link(&format!("/ui/orgs/{}", seg(&v.org_id)), &v.org_name),
                text(v.cause.as_str()),
                text(html::day(c.due_at)),
                text(v.status.as_str()),
                text(format!(
                    "{} undecided, {} kept, {} revoked",
                    v.undecided, v.kept, v.revoked
                )),
            ]
        })
        .collect();
    table(
        "Campaigns",
        &["Campaign", "Org", "Cause", "Due", "Status", "Decisions"],
        &rows,
    )
}

fn campaign_page(
    r: &mut dyn Reader,
    actor: &Actor,
    id: &str,
    csrf: &str,
    now: i64,
) -> Result<(String, String)> {
    let (campaign, org): (Campaign, Org) = service::get_campaign(r, actor, id)?;
    let v = campaign.view(&org, now);
    let mut body = facts(&[
        ("Org", format!("{} ({})", v.org_name, v.org_id)),
        ("Approval authority", v.approval_authority.clone()),
        ("Cause", v.cause.as_str().to_string()),
        ("Note", v.note.clone()),
        ("Opened", format!("{} by {}", v.opened_at, v.opened_by)),
        ("Due", v.due_at.clone()),
        ("Status", v.status.as_str().to_string()),
        ("Review enforcement", v.review_enforcement.to_string()),
    ]);
    let may_decide = actor.role != crate::records::Role::Org;
    let rows: Vec<Vec<Cell>> = v
        .items
        .iter()
        .map(|i| {
            let action = if i.decision.is_none() && i.state != "revoked_elsewhere" && may_decide {
                Cell::Html(decision_form(&v.id, &i.id, &i.name, csrf))
            } else {
                or_dash(i.comment.clone())
            };
            vec![
                link(&format!("/ui/clients/{}", seg(&i.id)), &i.name),
                text(&i.client_id),
                text(&i.owner),
                Cell::Html(format!(
                    r#"<span class="state state-{0}">{0}</span>"#,
                    i.state
                )),
                or_dash(i.decided_by.clone()),
                action,
            ]
        })
        .collect();
    body.push_str(&table(
        "Clients",
        &[
            "Client",
            "client_id",
            "Owner",
            "State",
            "Decided by",
            "Decision",
        ],
        &rows,
    ));
    Ok((format!("Access review {}", v.id), body))
}

fn decision_form(campaign: &str, client: &str, name: &str, csrf: &str) -> String {
    let field = format!("comment-{}", seg(client));
    format!(
        r#"<form method="post" action="/ui/campaigns/{c}/decisions" class="decide">{csrf}
<input type="hidden" name="client_id" value="{id}">
<label for="{field}">Comment on {name}</label>
<input id="{field}" name="comment" maxlength="1000">
<button type="submit" name="decision" value="keep">Keep</button>
<button type="submit" name="decision" value="revoke" class="danger">Revoke</button>
</form>"#,
        c = seg(campaign),
        csrf = html::csrf_field(csrf),
        id = esc(client),
        name = esc(name),
    )
}

/// `POST /ui/campaigns/{id}/decisions`: the API's decision, then back to the campaign.
async fn decide(app: &App, visitor: &Visitor, id: &str, req: &Request) -> Result<Answer> {
    let mut body = serde_json::Map::new();
    for k in crate::campaigns::DECISION_FIELDS {
        if let Some(v) = req.form.get(*k).filter(|v| !v.trim().is_empty()) {
            body.insert((*k).to_string(), v.trim().into());
        }
    }
    if body
        .get("decision")
        .and_then(|d| d.as_str())
        .and_then(Decision::parse)
        .is_none()
    {
        return Err(Error::field("decision", "must be keep or revoke"));
    }
    let draft = crate::campaigns::parse_decision(&body);
    let rc = ReqCtx {
        request_id: crate::crypto::new_id("ui_").unwrap_or_else(|_| "ui".into()),
        change_ref: None,
    };
    let ctx = crate::handlers::write_ctx(app, &visitor.actor, &rc);
    let campaign = id.to_string();
    app.write(move |tx| service::decide_campaign(tx, &ctx, &campaign, draft))
        .await?;
    Ok(Answer::Redirect(format!("/ui/campaigns/{}", seg(id))))
}
