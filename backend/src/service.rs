//! The use cases: every read and write the API and the CLI offer, each written
//! once over the storage traits ([`crate::db::Reader`], [`crate::db::Tx`]) of
//! either engine.
//!
//! This is the one layer that authorises: each use case first checks what the
//! caller's role and org allow, so that no handler, engine or second code path
//! can forget to. A write then goes: idempotency lookup, load, the shared rules
//! of `partner-rules`, write, one audit event per change; the caller
//! ([`crate::db::Database::write`]) commits it all at once.

use crate::audit::NewEvent;
use crate::crypto::SecretKey;
use crate::db::{ClientFilter, IdemRecord, NewTokenRow, OrgFilter, Reader, Rows, TokenRow, Tx};
use crate::error::{Error, FieldError, Result};
use crate::records::*;
use crate::requests::*;
use partner_rules::records::{self as rules, Narrowing, TransitionRefusal};
use serde::Serialize;
use serde_json::{Value, json};

/// Everything a write needs besides its payload.
#[derive(Debug, Clone)]
pub struct WriteCtx {
    /// The server key, for the audit chain.
    pub key: SecretKey,
    pub actor: Actor,
    pub request_id: String,
    pub change_ref: Option<String>,
    pub now: i64,
}

/// An `Idempotency-Key` and the fingerprint (hash of route and canonical body) it came with.
#[derive(Debug, Clone)]
pub struct Idem {
    pub key: String,
    pub fingerprint: String,
}

/// The result of a create (or the replay of one).
#[derive(Debug, Clone)]
pub struct Created {
    pub body: Value,
    pub location: String,
    pub version: i64,
    pub replayed: bool,
}

/// The actor of changes made with the CLI on the database directly.
pub const CLI_ACTOR: &str = "cli";

// ---------- authorisation ----------

fn forbid_reviewer(actor: &Actor) -> Result<()> {
    if matches!(actor.role, Role::Reviewer | Role::Approver) {
        return Err(Error::Forbidden(format!(
            "{} tokens are read-only",
            actor.role.as_str()
        )));
    }
    Ok(())
}

/// `what` (the audit trail, the review: they span every org) is for reviewer and
/// admin tokens: 403 for an org token.
pub fn forbid_org_token(actor: &Actor, what: &str) -> Result<()> {
    if actor.role == Role::Org {
        return Err(Error::Forbidden(format!(
            "{what} is for reviewer and admin tokens"
        )));
    }
    Ok(())
}

/// Org records change only with an admin token; an org token sees 403 on its own
/// org and 404 on any other.
fn org_write_allowed(actor: &Actor, id: &str) -> Result<()> {
    match actor.role {
        Role::Admin => Ok(()),
        Role::Reviewer | Role::Approver => Err(Error::Forbidden(format!(
            "{} tokens are read-only",
            actor.role.as_str()
        ))),
        Role::Org if actor.sees(id) => Err(Error::Forbidden(
            "org tokens cannot change org records".into(),
        )),
        Role::Org => Err(Error::NotFound(format!("no org {id}"))),
    }
}

fn admin_only(actor: &Actor, what: &str) -> Result<()> {
    if actor.role != Role::Admin {
        return Err(Error::Forbidden(format!("only admin tokens may {what}")));
    }
    Ok(())
}

/// The client `id` as `actor` may see it: an org token's view of another
/// org's client is "no such client", like a client that does not exist.
fn visible_client(r: &mut dyn Reader, actor: &Actor, id: &str) -> Result<Client> {
    r.client(id)?
        .filter(|c| actor.sees(&c.org_id))
        .ok_or_else(|| Error::NotFound(format!("no client {id}")))
}

// ---------- the audit event of a change ----------

pub(crate) fn view_json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Appends the event of one change made in `ctx`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn record(
    tx: &mut dyn Tx,
    ctx: &WriteCtx,
    action: &str,
    kind: &str,
    id: &str,
    org: Option<&str>,
    before: Option<Value>,
    after: Option<Value>,
) -> Result<i64> {
    crate::audit::append(
        tx,
        &ctx.key,
        NewEvent {
            at: ctx.now,
            actor: &ctx.actor.name,
            request_id: &ctx.request_id,
            change_ref: ctx.change_ref.as_deref(),
            action,
            entity_kind: kind,
            entity_id: id,
            org_id: org,
            before,
            after,
        },
    )
}

// ---------- idempotency ----------

fn replay(tx: &mut dyn Tx, ctx: &WriteCtx, idem: Option<&Idem>) -> Result<Option<Created>> {
    let Some(idem) = idem else { return Ok(None) };
    match tx.idempotency(ctx.actor.token_id, &idem.key)? {
        None => Ok(None),
        Some(rec) if rec.fingerprint != idem.fingerprint => Err(Error::field(
            "Idempotency-Key",
            "this key was already used with a different request body; use a new key for a different request",
        )),
        Some(rec) => {
            let body: Value = serde_json::from_str(&rec.response).unwrap_or(Value::Null);
            let version = body.get("version").and_then(Value::as_i64).unwrap_or(1);
            Ok(Some(Created {
                body,
                location: rec.location,
                version,
                replayed: true,
            }))
        }
    }
}

fn remember(tx: &mut dyn Tx, ctx: &WriteCtx, idem: Option<&Idem>, created: &Created) -> Result<()> {
    if let Some(idem) = idem {
        tx.save_idempotency(
            ctx.actor.token_id,
            &idem.key,
            &IdemRecord {
                fingerprint: idem.fingerprint.clone(),
                response: created.body.to_string(),
                location: created.location.clone(),
                created_at: ctx.now,
            },
        )?;
    }
    Ok(())
}

/// An org or a client as an audit event names it.
trait Audited: Served {
    /// Its kind, its id and the id of the org it belongs to.
    fn entity(&self) -> (&'static str, &str, &str);
}

impl Audited for Org {
    fn entity(&self) -> (&'static str, &str, &str) {
        ("org", &self.id, &self.id)
    }
}

impl Audited for Client {
    fn entity(&self) -> (&'static str, &str, &str) {
        ("client", &self.id, &self.org_id)
    }
}

/// The audit event of a change from `before` to `after`, each as the API
/// shows it at the time of the write.
fn record_change<R: Audited>(
    tx: &mut dyn Tx,
    ctx: &WriteCtx,
    action: &str,
    before: &R,
    after: &R,
) -> Result<i64> {
    let (kind, id, org) = after.entity();
    let was = Some(view_json(&before.view(ctx.now)));
    let is = Some(view_json(&after.view(ctx.now)));
    record(tx, ctx, action, kind, id, Some(org), was, is)
}

/// The end of every create: the audit event of the new record, and the
/// answer (its view, `location` and version), remembered under the
/// request's idempotency key so that a retry gets the same answer.
fn finish_create<R: Audited>(
    tx: &mut dyn Tx,
    ctx: &WriteCtx,
    idem: Option<&Idem>,
    action: &str,
    new: &R,
    location: String,
) -> Result<Created> {
    let body = view_json(&new.view(ctx.now));
    let (kind, id, org) = new.entity();
    let after = Some(body.clone());
    record(tx, ctx, action, kind, id, Some(org), None, after)?;
    let created = Created {
        body,
        location,
        version: new.version(),
        replayed: false,
    };
    remember(tx, ctx, idem, &created)?;
    Ok(created)
}

/// Refuses a write guarded by `If-Match` when the record moved on. Strong
/// comparison (RFC 9110 §13.1.1): `"3"` and `*` match version 3; `W/"3"` never does.
fn check_if_match(if_match: Option<&str>, version: i64) -> Result<()> {
    let Some(given) = if_match else { return Ok(()) };
    let current = format!("\"{version}\"");
    let ok = given
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag == current);
    if ok {
        Ok(())
    } else {
        Err(Error::PreconditionFailed {
            given: given.to_string(),
            current: version,
        })
    }
}

fn today(now: i64) -> String {
    fmt_ts(now)[..10].to_string()
}

// ---------- the caller ----------

/// `GET /v1/whoami`: any valid token may ask who it is.
pub fn whoami(actor: &Actor) -> WhoAmI {
    WhoAmI {
        name: actor.name.clone(),
        role: actor.role,
        org: actor.org.clone(),
    }
}

// ---------- orgs ----------

/// Adds to `draft.errors` every rule of the org against the other records:
/// its name is free, and (for an update of `current`) its live clients still
/// fit inside it.
fn org_rules(
    r: &mut dyn Reader,
    draft: &mut OrgDraft,
    current: Option<&Org>,
    now: i64,
) -> Result<()> {
    if let Some(name) = &draft.name {
        if let Some(other) = r
            .live_org_named(name)?
            .filter(|o| Some(o.id.as_str()) != current.map(|c| c.id.as_str()))
        {
            draft.errors.push(FieldError::taken(
                "name",
                format!("an org named {name:?} already exists ({})", other.id),
            ));
        }
    }
    let Some(current) = current else {
        return Ok(());
    };
    // Clients whose expiry is the contract's end (the default) follow it.
    let (old_end, new_end) = (
        current.contract_end_ts(),
        draft.contract_end.as_deref().and_then(end_of_day),
    );
    let clients: Vec<_> = r
        .live_clients(&current.id)?
        .iter()
        .map(|c| {
            let mut facts = c.facts(now);
            if let Some(end) = new_end.filter(|_| c.expires_at == old_end) {
                facts.expires_at = end;
            }
            facts
        })
        .collect();
    let change = Narrowing {
        allowed_scopes: draft.allowed_scopes.as_deref(),
        contract_end: draft.contract_end.as_deref().and_then(end_of_day),
        max_clients: Some(draft.max_clients.unwrap_or(DEFAULT_MAX_CLIENTS)),
        now,
    };
    for v in rules::check_narrowing(&clients, change) {
        draft.errors.push(FieldError::new(v.field(), v.to_string()));
    }
    Ok(())
}

fn draft_into_org(d: OrgDraft, base: Org) -> Org {
    Org {
        profile: OrgProfile {
            name: d.name.unwrap_or_default(),
            legal_entity: d.legal_entity.unwrap_or_default(),
            technical_owner: d.technical_owner.unwrap_or_default(),
            approval_authority: d.approval_authority.unwrap_or_default(),
            commercial_sponsor: d.commercial_sponsor,
            contract_id: d.contract_id.unwrap_or_default(),
            contract_start: d.contract_start,
            contract_end: d.contract_end.unwrap_or_default(),
            tenant: d.tenant,
            business_unit: d.business_unit,
            allowed_scopes: d.allowed_scopes.unwrap_or_default(),
            labels: d.labels.unwrap_or_default(),
        },
        max_clients: d.max_clients.unwrap_or(DEFAULT_MAX_CLIENTS),
        review_enforcement: d.review_enforcement.unwrap_or_default(),
        approval_policy: d
            .approval_policy
            .unwrap_or_else(|| partner_rules::approvals::WARN.to_string()),
        ..base
    }
}

/// `POST /v1/orgs`.
pub fn create_org(
    tx: &mut dyn Tx,
    ctx: &WriteCtx,
    mut draft: OrgDraft,
    idem: Option<&Idem>,
) -> Result<Created> {
    admin_only(&ctx.actor, "create orgs")?;
    if let Some(replay) = replay(tx, ctx, idem)? {
        return Ok(replay);
    }
    org_rules(tx, &mut draft, None, ctx.now)?;
    if let Some(id) = &draft.id {
        if let Some(holder) = tx.org_id_holder(id)? {
            draft.errors.push(FieldError::taken(
                "id",
                format!(
                    "{id} is already the id of org {:?}{}; ids are never reused",
                    holder.profile.name,
                    if holder.offboarded_at.is_some() {
                        " (offboarded)"
                    } else {
                        ""
                    }
                ),
            ));
        }
    }
    if !draft.errors.is_empty() {
        return Err(Error::Validation(draft.errors));
    }
    let id = match draft.id.take() {
        Some(id) => id,
        None => crate::crypto::new_id("org_")?,
    };
    let base = Org {
        id,
        profile: OrgProfile::default(),
        max_clients: DEFAULT_MAX_CLIENTS,
        approval_policy: partner_rules::approvals::WARN.to_string(),
        created_at: ctx.now,
        updated_at: ctx.now,
        offboarded_at: None,
        version: 1,
        review_enforcement: ReviewEnforcement::default(),
    };
    let org = draft_into_org(draft, base);
    tx.insert_org(&org)?;
    let location = format!("/v1/orgs/{}", org.id);
    finish_create(tx, ctx, idem, "org.create", &org, location)
}

/// `PATCH /v1/orgs/{id}`: a JSON merge patch of the org's fields.
pub fn update_org(
    tx: &mut dyn Tx,
    ctx: &WriteCtx,
    id: &str,
    patch: &serde_json::Map<String, Value>,
    if_match: Option<&str>,
) -> Result<Org> {
    org_write_allowed(&ctx.actor, id)?;
    let current = tx
        .org(id)?
        .ok_or_else(|| Error::NotFound(format!("no org {id}")))?;
    check_if_match(if_match, current.version)?;
    if current.offboarded_at.is_some() {
        return Err(Error::Conflict(format!(
            "org {id} {}",
            rules::TransitionRefusal::OrgOffboarded
        )));
    }
    let mut merged = current.editable_json();
    merge_patch(&mut merged, patch);
    let mut draft = parse_org(&merged);
    org_rules(tx, &mut draft, Some(&current), ctx.now)?;
    if !draft.errors.is_empty() {
        return Err(Error::Validation(draft.errors));
    }
    let mut next = draft_into_org(draft, current.clone());
    if next == current {
        return Ok(current);
    }
    check_approved(
        tx,
        ctx,
        &current,
        "org",
        id,
        &format!("org {}", current.profile.name),
        partner_rules::approvals::org_widenings(
            crate::approvals::org_terms(&current),
            crate::approvals::org_terms(&next),
        ),
    )?;
    next.updated_at = ctx.now;
    next.version = current.version + 1;
    tx.update_org(&next)?;
    record_change(tx, ctx, "org.update", &current, &next)?;
    follow_contract_end(tx, ctx, &current, &next)?;
    crate::campaigns::after_org_change(tx, ctx, &current, &next)?;
    Ok(next)
}

/// Moves the expiry of the org's live clients that end with its contract
/// (the default expiry) to the contract's new end, each with its audit
/// event: a client without an expiry of its own follows its org's contract.
fn follow_contract_end(tx: &mut dyn Tx, ctx: &WriteCtx, before: &Org, after: &Org) -> Result<()> {
    let (old_end, new_end) = (before.contract_end_ts(), after.contract_end_ts());
    if old_end == new_end {
        return Ok(());
    }
    for client in tx.live_clients(&after.id)? {
        if client.expires_at != old_end {
            continue;
        }
        let moved = Client {
            expires_at: new_end,
            org_contract_end: new_end,
            updated_at: ctx.now,
            version: client.version + 1,
            ..client.clone()
        };
        change_client(tx, ctx, "client.update", &client, &moved)?;
    }
    Ok(())
}

/// Writes `after` over `before` (the same client) with the audit event of
/// `action`.
fn change_client(
    tx: &mut dyn Tx,
    ctx: &WriteCtx,
    action: &str,
    before: &Client,
    after: &Client,
) -> Result<()> {
    tx.update_client(after)?;
    record_change(tx, ctx, action, before, after)?;
    Ok(())
}

/// Revokes `client` in `tx`, with its audit event; a revoked client is left as it is.
pub(crate) fn revoke(tx: &mut dyn Tx, ctx: &WriteCtx, client: Client) -> Result<Client> {
    if client.revoked_at.is_some() {
        return Ok(client);
    }
    let next = Client {
        revoked_at: Some(ctx.now),
        updated_at: ctx.now,
        version: client.version + 1,
        ..client.clone()
    };
    change_client(tx, ctx, "client.revoke", &client, &next)?;
    Ok(next)
}

/// `DELETE /v1/orgs/{id}`: offboards the org and revokes every client it still
/// has and every client it operates for other orgs, in one transaction.
pub fn offboard_org(tx: &mut dyn Tx, ctx: &WriteCtx, id: &str) -> Result<Org> {
    org_write_allowed(&ctx.actor, id)?;
    let current = tx
        .org(id)?
        .ok_or_else(|| Error::NotFound(format!("no org {id}")))?;
    if current.offboarded_at.is_some() {
        return Ok(current);
    }
    for client in tx.live_clients(id)? {
        revoke(tx, ctx, client)?;
    }
    // An intermediary that ends leaves no one operating the clients it held
    // for others: they end with it.
    for client in tx.live_clients_operated_by(id)? {
        revoke(tx, ctx, client)?;
    }
    let next = Org {
        offboarded_at: Some(ctx.now),
        updated_at: ctx.now,
        version: current.version + 1,
        ..current.clone()
    };
    tx.update_org(&next)?;
    record_change(tx, ctx, "org.offboard", &current, &next)?;
    Ok(next)
}

/// `GET /v1/orgs/{id}`.
pub fn get_org(r: &mut dyn Reader, actor: &Actor, id: &str) -> Result<Org> {
    if !actor.sees(id) {
        return Err(Error::NotFound(format!("no org {id}")));
    }
    r.org(id)?
        .ok_or_else(|| Error::NotFound(format!("no org {id}")))
}

/// `GET /v1/orgs`: an org token lists its own org only.
pub fn list_orgs(r: &mut dyn Reader, actor: &Actor, f: &OrgFilter, now: i64) -> Result<Rows<Org>> {
    let scoped = OrgFilter {
        scope: actor.list_scope(),
        ..f.clone()
    };
    r.list_orgs(&scoped, &today(now))
}

// ---------- clients ----------

/// Adds to `d.errors` every rule of a client against its org and the org's other
/// clients; returns the expiry it gets. `current` is the client being updated.
fn client_rules(
    r: &mut dyn Reader,
    now: i64,
    d: &mut ClientDraft,
    org: &Org,
    current: Option<&Client>,
) -> Result<i64> {
    let end = org.contract_end_ts();
    if let Some(scopes) = &d.scopes {
        let outside = rules::scopes_outside(scopes, &org.profile.allowed_scopes);
        if !outside.is_empty() {
            d.errors.push(FieldError::new(
                "scopes",
                format!(
                    "not in the allowed_scopes of org {}: {}",
                    org.id,
                    outside.join(", ")
                ),
            ));
        }
    }
    let expires_at = match d.expires_at {
        Ok(Some(t)) => {
            let unchanged = current.map(|c| c.expires_at) == Some(t);
            if let Err(why) = rules::check_expiry(t, end, now, unchanged) {
                d.errors
                    .push(FieldError::new("expires_at", why.to_string()));
            }
            t
        }
        Ok(None) | Err(()) => end,
    };
    if let Some(name) = &d.name {
        if let Some(other) = r
            .live_client_named(&org.id, name)?
            .filter(|o| Some(o.id.as_str()) != current.map(|c| c.id.as_str()))
        {
            d.errors.push(FieldError::taken(
                "name",
                format!(
                    "org {} already has a client named {name:?} ({})",
                    org.id, other.client_id
                ),
            ));
        }
    }
    if let Some(by) = d
        .operated_by
        .as_deref()
        .filter(|by| current.and_then(|c| c.profile.operated_by.as_deref()) != Some(*by))
    {
        match r.org(by)? {
            Some(o) if o.offboarded_at.is_none() => {}
            Some(_) => d.errors.push(FieldError::new(
                "operated_by",
                format!("org {by} is offboarded: it can no longer operate clients"),
            )),
            None => d
                .errors
                .push(FieldError::new("operated_by", format!("no org {by}"))),
        }
    }
    let becomes_active = expires_at >= now && now <= end;
    let was_active = current.is_some_and(|c| c.status(now) == ClientStatus::Active);
    // Counted on every create; the names are read only to word a refusal.
    let active = if becomes_active && !was_active && org.offboarded_at.is_none() {
        r.active_client_count(&org.id, now, &today(now))?
    } else {
        0
    };
    let accepts = rules::check_org_accepts(
        org.state(),
        now,
        current.is_some(),
        becomes_active && !was_active,
        usize::try_from(active).unwrap_or(usize::MAX),
    );
    if let Err(refusal) = accepts {
        let message = match &refusal {
            rules::OrgRefusal::Offboarded => format!("org {} is offboarded", org.id),
            rules::OrgRefusal::ContractEnded { .. } => format!(
                "the contract of org {} ended on {}",
                org.id, org.profile.contract_end
            ),
            rules::OrgRefusal::QuotaReached { .. } => {
                let names: Vec<String> = r
                    .live_clients(&org.id)?
                    .into_iter()
                    .filter(|c| c.status(now) == ClientStatus::Active)
                    .map(|c| c.profile.name)
                    .collect();
                format!("org {}: {refusal}: {}", org.id, names.join(", "))
            }
        };
        d.errors.push(FieldError::new("org_id", message));
    }
    Ok(expires_at)
}

/// Refuses a supplied secret that is valid for another client: a secret
/// shared across partners makes one partner's leak every sharer's, and no
/// revocation can then tell their uses apart. The keyed hash makes this a
/// lookup. The other client is named only to a caller that may see it: to
/// anyone else, the refusal must not reveal whose secret it is.
fn unshared_secret(
    r: &mut dyn Reader,
    actor: &Actor,
    secret: &NewSecret,
    own: Option<&str>,
    now: i64,
) -> Result<Option<FieldError>> {
    if secret.source != SUPPLIED {
        return Ok(None);
    }
    let Some(other) = r
        .client_holding_secret(&secret.hmac, now)?
        .filter(|c| Some(c.id.as_str()) != own)
    else {
        return Ok(None);
    };
    let whose = if actor.sees(&other.org_id) {
        format!(" ({} of org {})", other.client_id, other.org_id)
    } else {
        String::new()
    };
    Ok(Some(FieldError::new(
        "client_secret",
        format!(
            "is already valid for another client{whose}: a secret is never shared between clients; supply a secret of this client's own or let the registry generate one"
        ),
    )))
}

/// `POST /v1/clients`.
pub fn create_client(
    tx: &mut dyn Tx,
    ctx: &WriteCtx,
    mut d: ClientDraft,
    secret: Option<&NewSecret>,
    idem: Option<&Idem>,
) -> Result<Created> {
    forbid_reviewer(&ctx.actor)?;
    if let Some(replay) = replay(tx, ctx, idem)? {
        return Ok(replay);
    }
    let org = match &d.org_id {
        Some(org_id) => {
            if !ctx.actor.sees(org_id) {
                return Err(Error::NotFound(format!("no org {org_id}")));
            }
            let org = tx.org(org_id)?;
            if org.is_none() {
                d.errors
                    .push(FieldError::new("org_id", format!("no org {org_id}")));
            }
            org
        }
        None => None,
    };
    let expires_at = match &org {
        Some(org) => client_rules(tx, ctx.now, &mut d, org, None)?,
        None => 0,
    };
    let auth_method = d
        .auth_method
        .take()
        .unwrap_or_else(|| partner_rules::keys::CLIENT_SECRET.to_string());
    // A client with its own key has no secret at all; any other has one.
    match (auth_method == partner_rules::keys::PRIVATE_KEY_JWT, secret) {
        (true, Some(_)) => d.errors.push(FieldError::new(
            "client_secret",
            "a private_key_jwt client has no secret: it proves itself with its own private key",
        )),
        (false, None) => {
            return Err(Error::Internal(
                "a client_secret client without a secret".into(),
            ));
        }
        (_, Some(secret)) => d
            .errors
            .extend(unshared_secret(tx, &ctx.actor, secret, None, ctx.now)?),
        (true, None) => {}
    }
    if !d.errors.is_empty() {
        return Err(Error::Validation(d.errors));
    }
    let org = org.ok_or_else(|| Error::Internal("org vanished".into()))?;
    // A new client is a grant of access: under "require" it is approved
    // like any widening (a client moved to this org in Terraform is a new
    // client here).
    check_approved(
        tx,
        ctx,
        &org,
        "org",
        &org.id,
        &format!("org {}", org.profile.name),
        vec![crate::approvals::client_grant(&d)],
    )?;
    let client = Client {
        id: crate::crypto::new_id("cli_")?,
        client_id: format!(
            "{}{}",
            crate::crypto::CLIENT_ID_PREFIX,
            crate::crypto::random_base62(24)?
        ),
        org_id: org.id.clone(),
        profile: d.profile(),
        auth_method,
        jwks: d.jwks,
        jwks_uri: d.jwks_uri,
        expires_at,
        created_at: ctx.now,
        updated_at: ctx.now,
        revoked_at: None,
        version: 1,
        secret_rotated_at: ctx.now,
        last_used_at: None,
        previous_secret_not_after: None,
        org_contract_end: org.contract_end_ts(),
    };
    tx.insert_client(&client)?;
    if let Some(secret) = secret {
        tx.add_secret(&client.id, secret, ctx.now)?;
    }
    let location = format!("/v1/clients/{}", client.id);
    finish_create(tx, ctx, idem, "client.create", &client, location)
}

/// `PATCH /v1/clients/{id}`: a JSON merge patch of the client's fields.
pub fn update_client(
    tx: &mut dyn Tx,
    ctx: &WriteCtx,
    id: &str,
    patch: &serde_json::Map<String, Value>,
    if_match: Option<&str>,
) -> Result<Client> {
    let current = client_to_change(tx, ctx, id, if_match, TransitionRefusal::ClientRevoked)?;
    let org = tx
        .org(&current.org_id)?
        .ok_or_else(|| Error::Internal("client without org".into()))?;
    let mut merged = current.editable_json();
    merge_patch(&mut merged, patch);
    let mut d = parse_client(&merged);
    if let Some(other) = patch
        .get("org_id")
        .filter(|v| v.as_str() != Some(current.org_id.as_str()))
    {
        d.errors.retain(|e| e.field != "org_id");
        d.errors.push(FieldError::new(
            "org_id",
            format!(
                "a client never changes org (it belongs to {}, not {other}); create a new client under the other org instead",
                current.org_id
            ),
        ));
    }
    if d.auth_method
        .as_deref()
        .is_some_and(|m| m != current.auth_method)
    {
        d.errors.push(FieldError::new(
            "auth_method",
            format!(
                "a client's auth_method never changes (it is {:?}); create a new client with the other method instead",
                current.auth_method
            ),
        ));
    }
    let expires_at = client_rules(tx, ctx.now, &mut d, &org, Some(&current))?;
    if !d.errors.is_empty() {
        return Err(Error::Validation(d.errors));
    }
    let mut next = Client {
        profile: d.profile(),
        jwks: d.jwks,
        jwks_uri: d.jwks_uri,
        expires_at,
        ..current.clone()
    };
    if next == current {
        return Ok(current);
    }
    check_approved(
        tx,
        ctx,
        &org,
        "client",
        &current.id,
        &format!("client {}", current.profile.name),
        partner_rules::approvals::client_widenings(
            crate::approvals::client_terms(&current),
            crate::approvals::client_terms(&next),
        ),
    )?;
    next.updated_at = ctx.now;
    next.version = current.version + 1;
    change_client(tx, ctx, "client.update", &current, &next)?;
    Ok(next)
}

/// The client `id` as a change of it finds it: visible to the caller (not a
/// reviewer), still at the version `If-Match` names, and not revoked
/// (else a conflict saying `revoked`).
fn client_to_change(
    tx: &mut dyn Tx,
    ctx: &WriteCtx,
    id: &str,
    if_match: Option<&str>,
    revoked: TransitionRefusal,
) -> Result<Client> {
    forbid_reviewer(&ctx.actor)?;
    let current = visible_client(tx, &ctx.actor, id)?;
    check_if_match(if_match, current.version)?;
    if current.revoked_at.is_some() {
        return Err(Error::Conflict(format!("client {id} {revoked}")));
    }
    Ok(current)
}

/// `DELETE /v1/clients/{id}`: revokes the client (and every secret it has).
pub fn revoke_client(tx: &mut dyn Tx, ctx: &WriteCtx, id: &str) -> Result<Client> {
    forbid_reviewer(&ctx.actor)?;
    let current = visible_client(tx, &ctx.actor, id)?;
    revoke(tx, ctx, current)
}

/// `POST /v1/clients/{id}/rotate`: replaces the client's secret. The current
/// one stays valid until `now + grace` (dropped at once for a grace of 0); any
/// older previous secret is dropped, so at most two are ever valid.
pub fn rotate_secret(
    tx: &mut dyn Tx,
    ctx: &WriteCtx,
    id: &str,
    secret: &NewSecret,
    grace: i64,
    if_match: Option<&str>,
) -> Result<Client> {
    let current = client_to_change(tx, ctx, id, if_match, TransitionRefusal::RotateRevoked)?;
    if current.auth_method == partner_rules::keys::PRIVATE_KEY_JWT {
        return Err(Error::Conflict(format!(
            "client {id} uses private_key_jwt and has no secret to rotate: rotate its key by adding the new public key to its jwks, then removing the old one"
        )));
    }
    // A rotation to a secret the client already has would leave whoever
    // holds it (a previous owner, say) with a working secret.
    if tx.secret_held(&current.id, &secret.hmac)? {
        return Err(Error::field(
            "client_secret",
            "must differ from the client's current and previous secrets: a rotation replaces the secret",
        ));
    }
    if let Some(shared) = unshared_secret(tx, &ctx.actor, secret, Some(&current.id), ctx.now)? {
        return Err(Error::Validation(vec![shared]));
    }
    tx.drop_previous_secrets(&current.id)?;
    let grace_end = (grace > 0).then(|| ctx.now.saturating_add(grace));
    tx.retire_current_secret(&current.id, grace_end)?;
    tx.add_secret(&current.id, secret, ctx.now)?;
    let next = Client {
        secret_rotated_at: ctx.now,
        updated_at: ctx.now,
        version: current.version + 1,
        previous_secret_not_after: grace_end,
        ..current.clone()
    };
    change_client(tx, ctx, "client.rotate_secret", &current, &next)?;
    Ok(next)
}

/// `GET /v1/clients/{id}` (`id` is the id or the client_id).
pub fn get_client(r: &mut dyn Reader, actor: &Actor, id: &str) -> Result<Client> {
    visible_client(r, actor, id)
}

/// `GET /v1/clients`: an org token lists its own org's clients only.
pub fn list_clients(
    r: &mut dyn Reader,
    actor: &Actor,
    f: &ClientFilter,
    now: i64,
) -> Result<Rows<Client>> {
    let scoped = ClientFilter {
        scope: actor.list_scope(),
        ..f.clone()
    };
    r.list_clients(&scoped, now, &today(now))
}

// ---------- audit, review, clock ----------

/// `GET /v1/audit`.
///
/// `range` (`after`, `limit`) is parsed by the caller and refused only once the
/// caller is known to be allowed to read the trail at all.
pub fn audit_page(
    r: &mut dyn Reader,
    actor: &Actor,
    range: Result<(i64, i64)>,
) -> Result<Rows<crate::audit::AuditRow>> {
    forbid_org_token(actor, "the audit trail")?;
    let (after, limit) = range?;
    let items = r
        .audit_after(after, limit + 1)?
        .into_iter()
        .map(|e| {
            let seq = e.seq;
            (e, seq)
        })
        .collect();
    Ok(Rows::page(items, limit))
}

/// `GET /v1/reviews`.
///
/// `params` is parsed by the caller and refused only once the caller is known
/// to be allowed to read the review at all.
pub fn review(
    r: &mut dyn Reader,
    actor: &Actor,
    now: i64,
    params: Result<crate::review::Params>,
) -> Result<crate::review::Review> {
    forbid_org_token(actor, "the entitlement review")?;
    crate::review::review(r, now, params?)
}

// ---------- approvals ----------

/// Refuses the widenings from `before` to `after` of the record `id` (a
/// `kind`, shown as `what`) that its org's policy requires approved and
/// nobody approved for this request's change reference; marks the
/// approvals it uses used, each with its audit event.
#[allow(clippy::too_many_arguments)]
fn check_approved(
    tx: &mut dyn Tx,
    ctx: &WriteCtx,
    org: &Org,
    kind: &str,
    id: &str,
    what: &str,
    widenings: Vec<partner_rules::approvals::Widening>,
) -> Result<()> {
    if org.approval_policy != partner_rules::approvals::REQUIRE || widenings.is_empty() {
        return Ok(());
    }
    let approvals = match &ctx.change_ref {
        Some(change_ref) => tx.approvals_for(change_ref, id)?,
        None => Vec::new(),
    };
    let mut using = Vec::new();
    let mut missing = Vec::new();
    for w in widenings {
        match approvals
            .iter()
            .find(|a| a.entity_kind == kind && a.usable(ctx.now) && a.approves(&w))
        {
            Some(a) => using.push(a.clone()),
            None => missing.push(w),
        }
    }
    if !missing.is_empty() {
        return Err(crate::approvals::refusal(
            org,
            what,
            id,
            ctx.change_ref.as_deref(),
            &missing,
        ));
    }
    for a in using {
        tx.use_approval(&a.id, ctx.now, &ctx.request_id)?;
        let used = crate::approvals::Approval {
            used_at: Some(ctx.now),
            used_by: Some(ctx.request_id.clone()),
            ..a.clone()
        };
        record(
            tx,
            ctx,
            "approval.use",
            "approval",
            &a.id,
            Some(&a.org_id),
            Some(view_json(&a.view(ctx.now))),
            Some(view_json(&used.view(ctx.now))),
        )?;
    }
    Ok(())
}

/// `POST /v1/approvals` and `approve`: the org's approval authority, with an
/// approver token bound to their email, approves one exact change for the
/// request's change reference. Never the client's owner nor the org's
/// technical owner: who makes or holds a change does not approve it.
pub fn create_approval(
    tx: &mut dyn Tx,
    ctx: &WriteCtx,
    d: crate::approvals::ApprovalDraft,
) -> Result<crate::approvals::Approval> {
    let Some(email) = ctx
        .actor
        .email
        .clone()
        .filter(|_| ctx.actor.role == Role::Approver)
    else {
        return Err(Error::Forbidden(
            "only approver tokens record approvals: an approval is the act of the org's approval authority".into(),
        ));
    };
    let Some(change_ref) = ctx.change_ref.clone() else {
        return Err(Error::field(
            "X-Change-Ref",
            "is required: the change reference (the pull request URL, say) the approval is for",
        ));
    };
    let gone = || {
        Error::field(
            "resource",
            format!(
                "no client or org {} that is not revoked or offboarded",
                d.resource
            ),
        )
    };
    let (kind, id, org, owner) = if is_org_id(&d.resource) {
        let org = tx
            .org(&d.resource)?
            .filter(|o| o.offboarded_at.is_none())
            .ok_or_else(gone)?;
        // Whoever a new client would be owned by does not approve it either.
        let owner = (d.attribute == partner_rules::approvals::NEW_CLIENT)
            .then(|| crate::approvals::granted_owner(&d.new).map(str::to_string))
            .flatten();
        ("org", org.id.clone(), org, owner)
    } else {
        let client = tx
            .client(&d.resource)?
            .filter(|c| c.revoked_at.is_none())
            .ok_or_else(gone)?;
        let org = tx
            .org(&client.org_id)?
            .ok_or_else(|| Error::Internal("client without org".into()))?;
        ("client", client.id, org, Some(client.profile.owner))
    };
    let approvable = partner_rules::approvals::approvable(kind);
    if !approvable.contains(&d.attribute.as_str()) {
        return Err(Error::field(
            "attribute",
            format!(
                "must be one of {} for a {kind}: the changes that widen or hand over access",
                approvable.join(", ")
            ),
        ));
    }
    if !email.eq_ignore_ascii_case(&org.profile.approval_authority) {
        return Err(Error::Forbidden(format!(
            "{email} is not the approval authority of org {} ({}): only they approve its changes",
            org.profile.name, org.profile.approval_authority
        )));
    }
    let role = if email.eq_ignore_ascii_case(&org.profile.technical_owner) {
        Some("the org's technical owner")
    } else if owner.is_some_and(|o| email.eq_ignore_ascii_case(&o)) {
        Some("the client's owner")
    } else {
        None
    };
    if let Some(role) = role {
        return Err(Error::Forbidden(format!(
            "{email} is {role}: separation of duties forbids approving a change to what one makes or holds"
        )));
    }
    let approval = crate::approvals::Approval {
        id: crate::crypto::new_id("apr_")?,
        change_ref,
        entity_kind: kind.to_string(),
        entity_id: id,
        org_id: org.id.clone(),
        attribute: d.attribute,
        old: d.old,
        new: d.new,
        approver: email,
        token_name: ctx.actor.name.clone(),
        created_at: ctx.now,
        expires_at: ctx.now.saturating_add(d.lifetime),
        used_at: None,
        used_by: None,
    };
    tx.insert_approval(&approval)?;
    record(
        tx,
        ctx,
        "approval.create",
        "approval",
        &approval.id,
        Some(&org.id),
        None,
        Some(view_json(&approval.view(ctx.now))),
    )?;
    Ok(approval)
}

/// `GET /v1/approvals`: the approvals of one change reference on one record
/// (any token; an org token only for its own org's records).
pub fn list_approvals(
    r: &mut dyn Reader,
    actor: &Actor,
    change_ref: &str,
    resource: &str,
) -> Result<Vec<crate::approvals::Approval>> {
    let id = if is_org_id(resource) {
        resource.to_string()
    } else {
        match r.client(resource)? {
            Some(c) => c.id,
            None => resource.to_string(),
        }
    };
    Ok(r.approvals_for(change_ref, &id)?
        .into_iter()
        .filter(|a| actor.sees(&a.org_id))
        .collect())
}

/// `GET /v1/blast-radius` and `blast-radius`: what a person, an
/// intermediary or a scope reaches, across orgs (so not for org tokens).
///
/// `query` is parsed by the caller and refused only once the caller is
/// known to be allowed to ask at all.
pub fn blast_radius(
    r: &mut dyn Reader,
    actor: &Actor,
    now: i64,
    query: Result<crate::blast_radius::Query>,
) -> Result<crate::blast_radius::BlastRadius> {
    forbid_org_token(actor, "the blast radius")?;
    let query = query?;
    let (orgs, clients) = r.review_data()?;
    Ok(crate::blast_radius::compute(&orgs, &clients, &query, now).0)
}

/// `POST /v1/blast-radius/revoke` and `blast-radius --revoke`: revokes every
/// client the blast radius reaches, in this one transaction, each with its
/// audit event, and one event recording the revocation as a whole (the
/// query, and the clients it revoked).
pub fn revoke_blast_radius(
    tx: &mut dyn Tx,
    ctx: &WriteCtx,
    query: crate::blast_radius::Query,
) -> Result<crate::blast_radius::BlastRadius> {
    admin_only(&ctx.actor, "revoke a blast radius")?;
    let (orgs, clients) = tx.review_data()?;
    let (mut radius, reached) = crate::blast_radius::compute(&orgs, &clients, &query, ctx.now);
    let mut revoked = Vec::new();
    for client in reached {
        revoked.push(client.client_id.clone());
        revoke(tx, ctx, client)?;
    }
    radius.revoked = Some(revoked);
    record(
        tx,
        ctx,
        "blast_radius.revoke",
        "blast_radius",
        &serde_json::to_string(&query).unwrap_or_default(),
        None,
        None,
        Some(view_json(&radius)),
    )?;
    Ok(radius)
}

/// `PUT /v1/clock` (only with `serve --fake-clock`): appends the event of a move
/// of the clock from `ctx.now` to `to`; the caller moves the clock once this has
/// committed.
pub fn record_clock_set(tx: &mut dyn Tx, ctx: &WriteCtx, to: i64) -> Result<()> {
    admin_only(&ctx.actor, "move the clock")?;
    record(
        tx,
        ctx,
        "clock.set",
        "clock",
        "clock",
        None,
        Some(json!({"now": fmt_ts(ctx.now)})),
        Some(json!({"now": fmt_ts(to)})),
    )?;
    Ok(())
}

// ---------- API tokens ----------

/// A token as listed (never the token itself, except in the answer of its creation).
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub name: String,
    pub role: Role,
    pub org_id: Option<String>,
    /// The person an approver token is bound to.
    pub email: Option<String>,
    pub status: TokenStatus,
    pub created_at: String,
    /// Who made it: `cli`, or the name of the admin token that did.
    pub created_by: String,
    /// Null: it never expires.
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    /// The token: only in the answer of its creation, the one time it is shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl TokenInfo {
    fn of(t: &TokenRow, now: i64) -> TokenInfo {
        TokenInfo {
            name: t.name.clone(),
            role: t.role,
            org_id: t.org_id.clone(),
            email: t.email.clone(),
            status: TokenStatus::at(t.revoked_at, t.org_offboarded_at, t.expires_at, now),
            created_at: fmt_ts(t.created_at),
            created_by: t.created_by.clone(),
            expires_at: t.expires_at.map(fmt_ts),
            last_used_at: t.last_used_at.map(fmt_ts),
            revoked_at: t.revoked_at.map(fmt_ts),
            token: None,
        }
    }
}

/// A token just made: the token itself (returned once, stored only as its
/// keyed hash) and its listing.
#[derive(Debug)]
pub struct NewToken {
    pub token: String,
    pub info: TokenInfo,
}

/// Checks that `org` can have a token bound to it: an org token needs a live org,
/// and only org tokens are bound to one.
fn token_org_rules(
    r: &mut dyn Reader,
    role: Option<Role>,
    org: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Result<()> {
    match (role, org) {
        (Some(Role::Org), None) => errors.push(FieldError::new(
            "org",
            "an org token needs the id of its org",
        )),
        (Some(Role::Admin | Role::Reviewer | Role::Approver), Some(_)) => errors.push(
            FieldError::new("org", "only org tokens are bound to an org"),
        ),
        (_, Some(org)) => match r.org(org)? {
            None => errors.push(FieldError::new("org", format!("no org {org}"))),
            Some(o) if o.offboarded_at.is_some() => errors.push(FieldError::new(
                "org",
                format!("org {org} is offboarded: its tokens can no longer authenticate"),
            )),
            Some(_) => {}
        },
        _ => {}
    }
    Ok(())
}

/// `POST /v1/tokens` and `token create`: creates an API token made by the
/// caller and returns it (the only time it is seen).
pub fn create_token(tx: &mut dyn Tx, ctx: &WriteCtx, d: TokenDraft) -> Result<NewToken> {
    admin_only(&ctx.actor, "create API tokens")?;
    let mut errors = d.errors;
    token_org_rules(tx, d.role, d.org.as_deref(), &mut errors)?;
    // An approval is a person's act: the token says whose.
    match (d.role, &d.email) {
        (Some(Role::Approver), None) => errors.push(FieldError::new(
            "email",
            "an approver token needs the email of the person who approves with it",
        )),
        (Some(role), Some(_)) if role != Role::Approver => errors.push(FieldError::new(
            "email",
            "only approver tokens are bound to a person's email",
        )),
        _ => {}
    }
    let expires_at = match d.lifetime {
        Lifetime::Unbounded => None,
        Lifetime::For(secs) => Some(ctx.now.saturating_add(secs)),
        Lifetime::Until(t) => {
            if t <= ctx.now || t - ctx.now > MAX_TOKEN_LIFETIME {
                errors.push(FieldError::new(
                    "expires_at",
                    format!(
                        "must be after the registry's current time ({}) and at most 87600h (10 years) after it",
                        fmt_ts(ctx.now)
                    ),
                ));
            }
            Some(t)
        }
    };
    if let Some(name) = &d.name {
        if tx.live_token_named(name)?.is_some() {
            errors.push(FieldError::taken(
                "name",
                format!("a live token named {name:?} exists; revoke it or choose another name"),
            ));
        }
    }
    let (Some(name), Some(role), true) = (d.name, d.role, errors.is_empty()) else {
        return Err(Error::Validation(errors));
    };
    let token = crate::crypto::new_api_token()?;
    let hmac = ctx.key.hash_token(&token);
    let id = tx.insert_token(&NewTokenRow {
        name: &name,
        role,
        org_id: d.org.as_deref(),
        hmac: &hmac,
        created_at: ctx.now,
        created_by: &ctx.actor.name,
        expires_at,
        email: d.email.as_deref(),
    })?;
    let row = TokenRow {
        id,
        name,
        role,
        org_id: d.org,
        hmac,
        created_at: ctx.now,
        revoked_at: None,
        created_by: ctx.actor.name.clone(),
        expires_at,
        last_used_at: None,
        org_offboarded_at: None,
        email: d.email,
    };
    let info = TokenInfo::of(&row, ctx.now);
    record(
        tx,
        ctx,
        "token.create",
        "token",
        &row.name,
        row.org_id.as_deref(),
        None,
        Some(view_json(&info)),
    )?;
    Ok(NewToken { token, info })
}

/// `DELETE /v1/tokens/{name}` and `token revoke`: revokes the live token named `name`.
pub fn revoke_token(tx: &mut dyn Tx, ctx: &WriteCtx, name: &str) -> Result<TokenInfo> {
    admin_only(&ctx.actor, "revoke API tokens")?;
    let t = tx
        .live_token_named(name)?
        .ok_or_else(|| Error::NotFound(format!("no live token named {name:?}")))?;
    tx.revoke_token(t.id, ctx.now)?;
    let before = TokenInfo::of(&t, ctx.now);
    let after = TokenInfo::of(
        &TokenRow {
            revoked_at: Some(ctx.now),
            ..t.clone()
        },
        ctx.now,
    );
    record(
        tx,
        ctx,
        "token.revoke",
        "token",
        name,
        t.org_id.as_deref(),
        Some(view_json(&before)),
        Some(view_json(&after)),
    )?;
    Ok(after)
}

/// `GET /v1/tokens` and `token list`: every token, live or revoked, with its
/// status at `now` (never the tokens themselves).
pub fn list_tokens(r: &mut dyn Reader, actor: &Actor, now: i64) -> Result<Vec<TokenInfo>> {
    admin_only(actor, "list API tokens")?;
    Ok(r.tokens()?.iter().map(|t| TokenInfo::of(t, now)).collect())
}

// ---------- access review campaigns ----------

/// `POST /v1/reviews/campaigns` and `review open`: admin tokens only.
pub fn open_campaign(
    tx: &mut dyn Tx,
    ctx: &WriteCtx,
    draft: crate::campaigns::OpenDraft,
) -> Result<(crate::campaigns::Campaign, Org)> {
    admin_only(&ctx.actor, "open access reviews")?;
    crate::campaigns::open(tx, ctx, draft)
}

/// `GET /v1/reviews/campaigns`: an org token lists its own org's campaigns only.
pub fn list_campaigns(
    r: &mut dyn Reader,
    actor: &Actor,
    org: Option<&str>,
    status: Option<crate::campaigns::CampaignStatus>,
    now: i64,
) -> Result<Vec<(crate::campaigns::Campaign, Org)>> {
    let scope = actor.list_scope();
    if let (Some(scope), Some(org)) = (&scope, org) {
        if scope != org {
            return Ok(Vec::new());
        }
    }
    crate::campaigns::list(r, scope.as_deref().or(org), status, now)
}

/// `GET /v1/reviews/campaigns/{id}`: another org's campaign is "no such
/// campaign" to an org token.
pub fn get_campaign(
    r: &mut dyn Reader,
    actor: &Actor,
    id: &str,
) -> Result<(crate::campaigns::Campaign, Org)> {
    crate::campaigns::load(r, id)?
        .filter(|(c, _)| actor.sees(&c.org_id))
        .ok_or_else(|| Error::NotFound(format!("no review campaign {id}")))
}

/// `POST /v1/reviews/campaigns/{id}/decisions` and `review decide`: reviewer
/// and admin tokens, and an approver token bound to the org's approval
/// authority. An org token never attests its own access (403 on its org's
/// campaign, 404 on another's).
pub fn decide_campaign(
    tx: &mut dyn Tx,
    ctx: &WriteCtx,
    id: &str,
    draft: crate::campaigns::DecisionDraft,
) -> Result<(crate::campaigns::Campaign, Org)> {
    let (campaign, org) = get_campaign(tx, &ctx.actor, id)?;
    match (ctx.actor.role, ctx.actor.email.as_deref()) {
        (Role::Org, _) => {
            return Err(Error::Forbidden(
                "review decisions are for reviewer and admin tokens and the org's approval \
                 authority: an org does not attest its own access"
                    .into(),
            ));
        }
        (Role::Approver, email)
            if !email.is_some_and(|e| e.eq_ignore_ascii_case(&org.profile.approval_authority)) =>
        {
            return Err(Error::Forbidden(format!(
                "{} is not the approval authority of org {} ({}): an approver token decides \
                 the access reviews of the orgs it approves for only",
                email.unwrap_or("this approver token"),
                org.profile.name,
                org.profile.approval_authority
            )));
        }
        _ => {}
    }
    crate::campaigns::decide(tx, ctx, campaign, org, draft)
}

/// The actor of an API token presented to the CLI, authenticated as the
/// API does: a live token, of a live org if any, not expired at `now`. The
/// CLI acts as that person (an approver, say), not as the operator.
pub fn authenticate(r: &mut dyn Reader, key: &SecretKey, token: &str, now: i64) -> Result<Actor> {
    let hmac = key.hash_token(token);
    r.live_tokens(crate::db::TokenSelect::All)?
        .into_iter()
        .find(|t| {
            crate::crypto::ct_eq(&t.hmac, &hmac)
                && TokenStatus::at(t.revoked_at, t.org_offboarded_at, t.expires_at, now)
                    == TokenStatus::Active
        })
        .map(|t| t.actor())
        .ok_or(Error::Unauthorized)
}

/// The caller of CLI commands: the operator with the database and key in hand.
pub fn cli_actor() -> Actor {
    Actor {
        token_id: 0,
        name: CLI_ACTOR.to_string(),
        role: Role::Admin,
        org: None,
        email: None,
    }
}

#[cfg(test)]
mod tests {
    use super::check_if_match;

    #[test]
    fn if_match_compares_strongly() {
        assert!(check_if_match(Some("\"3\""), 3).is_ok());
        assert!(check_if_match(Some("\"1\", \"3\""), 3).is_ok());
        assert!(check_if_match(Some("*"), 3).is_ok());
        assert!(check_if_match(None, 3).is_ok());
        assert!(
            check_if_match(Some("W/\"3\""), 3).is_err(),
            "weak tags never match"
        );
        assert!(
            check_if_match(Some("3"), 3).is_err(),
            "an unquoted tag is no entity tag"
        );
        assert!(check_if_match(Some("\"2\""), 3).is_err());
    }
}
