//! `partner_client`: an OAuth client of a partner org, with its owner,
//! purpose, scopes, expiry and secret lifecycle.
use super::org_facts::{Ask, OrgFacts, PlannedClient, PlannedOrgs, org_for_client_plan};
use super::{
    Record, added_scopes, imported, keep_timestamp_form, known_string, planned_version, refreshed,
    remember_version, same_instant, unchanged_since_plan, update_since_plan, written,
};
use crate::attributes::Attributes;
use crate::client::{ApiClient, ClientFields, ClientProfile, ClientStatus, ClientView, OrgStatus};
use crate::configured::{Configured, Context};
use crate::report::{gone, report};
use crate::validate;
use partner_rules::records::{self as rules, ExpiryViolation, NameTaken, OrgRefusal, OrgState};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use tfplugin::model;
use tfplugin::{
    AttrPath, Attribute, CreateRequest, Declaration, Diagnostics, PlanRequest, Resource, Schema,
    UpdateRequest, Val,
};

pub const TYPE_NAME: &str = "partner_client";

impl Record for ClientView {
    const KIND: &'static str = "client";
    const TYPE_NAME: &'static str = TYPE_NAME;
    const ENDED: &'static str = "revoked";
    const IMPORT_IDS: &'static str = "id, client_id or ORG_NAME/CLIENT_NAME";
    const IMPORT_HINT: &'static str = "id (cli_…), its client_id (pc_…) or ORG_NAME/CLIENT_NAME";
    const WRITABLE: &'static [&'static str] = WRITABLE;
    fn version(&self) -> i64 {
        self.version
    }
    fn ended(&self) -> bool {
        self.status == ClientStatus::Revoked
    }
}

/// How long a rotated-out secret keeps working when the configuration does
/// not say ([`partner_rules::DEFAULT_GRACE_PERIOD`], as users write it).
const DEFAULT_GRACE_PERIOD: &str = "24h";

model! {
    /// Typed value of a `partner_client`.
    pub struct ClientModel {
        ..attributes: Attributes,
        id: String,
        org_id: String,
        name: String,
        purpose: String,
        owner: String,
        operated_by: String,
        auth_method: String,
        jwks: String,
        jwks_uri: String,
        scopes: Vec<String>,
        expires_at: String,
        renew_before: String,
        rotation_triggers: BTreeMap<String, String>,
        rotation_grace_period: String,
        client_secret_wo: String,
        client_secret_wo_version: i64,
        client_id: String,
        client_secret: String,
        status: String,
        created_at: String,
    }
}

pub fn schema() -> Schema {
    let schema = Schema::new(
        "An API client bound to exactly one partner org: its documented business purpose, its \
         accountable owner, the scopes it may use (a subset of the org's `allowed_scopes`) and \
         when it expires (at most the end of the org's contract). The registry generates the \
         client's secret; gateways and authorization servers check credentials with the \
         registry's introspection endpoint.\n\nDestroying a `partner_client` **revokes** it: its \
         secret stops working at once, and the registry keeps the record with status `revoked` \
         for audit.",
    )
    .attr(Attribute::string("id").computed().use_state_for_unknown().description(
        "Identifier the registry assigned to the client, and the client's identity. \
         `terraform import` accepts it, the `client_id`, or `ORG_NAME/CLIENT_NAME`.",
    ))
    .attr(Attribute::string("org_id").required().requires_replace().description(
        "ID of the `partner_org` this client belongs to. A client never changes org: changing \
         this replaces the client (a new `client_id` and secret are issued and the old client is \
         revoked).",
    ))
    .attr(Attribute::string("name").required().description(
        "Name of the client, unique within its org: 1 to 63 lower-case letters, digits and \
         hyphens.",
    ))
    .attr(Attribute::string("purpose").required().description(
        "The documented business purpose of the client, for reviewers and audits.",
    ))
    .attr(Attribute::string("owner").required().description(
        "Email address of the client's accountable technical owner. Changing it rotates the \
         secret: a new owner never inherits a secret the previous owner held.",
    ));
    Attributes::schema()
    .fold(schema, Schema::attr)
    .attr(Attribute::string("operated_by").optional().description(
        "ID of another `partner_org`, the intermediary (reseller, MSP, marketplace) that \
         operates this client for its org. The client's own org (`org_id`) stays the one whose \
         contract, scopes and approval authority apply. Offboarding the intermediary revokes \
         every client it operates (its destroy plan warns, listing them); introspection names \
         it as `operated_by`.",
    ))
    .attr(Attribute::string("auth_method").optional().computed().requires_replace().description(
        "How the client proves itself at introspection: `\"client_secret\"` (the default: a \
         secret whose keyed hash the registry keeps) or `\"private_key_jwt\"`: RFC 7523 client \
         assertions signed with the client's own private key, checked against the public keys in \
         `jwks` or published at `jwks_uri`. A `private_key_jwt` client has no secret at all (`client_secret` stays null, \
         `client_secret_wo` is refused): nothing shared can leak. Changing it replaces the client.",
    ))
    .attr(Attribute::string("jwks").optional().description(
        "The public keys of a `private_key_jwt` client, as a JSON Web Key Set (for example \
         `jsonencode({ keys = [ ... ] })`): 1 to 10 RSA or EC P-256 signing keys, without \
         private members, with unique `kid`s when given. Rotate a key by adding the new one, \
         then removing the old one once the client signs with the new one; the plan warns on \
         each change, naming the approval authority.",
    ))
    .attr(Attribute::string("jwks_uri").optional().description(
        "Where a `private_key_jwt` client publishes its public keys (a JSON Web Key Set), \
         instead of `jwks`: exactly one of the two. An `https://` URL (plain `http://` only to a \
         loopback host such as `127.0.0.1`), without user info or fragment, never to a \
         link-local address (a cloud's metadata endpoint). The registry fetches \
         it itself (3 s timeout, size limit, no redirects), keeps the set for its \
         `Cache-Control: max-age` (5 minutes by default, at most an hour) and fetches it again \
         when an assertion names an unknown `kid` (at most every 30 s): keys rotate at the URI \
         without a Terraform change. When the fetch fails, the client's assertions are \
         inactive. Changing it hands the client's keys to whoever controls the new URI: the \
         plan warns, naming the approval authority.",
    ))
    .attr(Attribute::set_of_strings("scopes").required().description(
        "OAuth scopes granted to the client; each must be among the org's `allowed_scopes`.",
    ))
    .attr(Attribute::string("expires_at").optional().computed().use_state_for_unknown().description(
        "When the client's access ends, as an RFC 3339 timestamp (for example \
         `2027-06-30T00:00:00Z`). At most, and by default, the end of the org's `contract_end` \
         day (`23:59:59Z`); when unset, the client follows `contract_end` whenever it moves. After it, the client introspects inactive and reads back as \
         `expired`, without any apply.",
    ))
    .attr(Attribute::string("renew_before").optional().description(
        "A duration such as `\"720h\"`: while the client expires sooner than this, every plan \
         warns, naming the client, its owner and its expiry.",
    ))
    .attr(Attribute::map_of_strings("rotation_triggers").optional().description(
        "Arbitrary values; any change of a value rotates the client's secret in place (the plan \
         shows `client_secret` as known after apply). Setting triggers where there were none \
         (the first time, or after `terraform import`) rotates nothing: the values are only \
         recorded, and the next change of one of them rotates.",
    ))
    .attr(Attribute::string("rotation_grace_period").optional().computed().description(
        "How long the previous secret keeps working after a rotation: a duration, `\"24h\"` by \
         default, at most `\"168h\"`, `\"0s\"` for no overlap. At most two secrets are ever valid \
         for a client; revocation ends both at once.",
    ))
    .attr(Attribute::string("client_secret_wo").optional().sensitive().write_only().description(
        "A secret you supply instead of one the registry makes, for example from the \
         `partner_client_secret` ephemeral resource. Write-only: never stored in the plan or the \
         state; the registry keeps only its keyed hash. It must be at least 32 printable \
         characters without spaces, mixing at least 3 of lower-case letters, upper-case letters, \
         digits and symbols, with at least 12 different characters. Requires Terraform 1.11 or \
         later and `client_secret_wo_version`. While it is set, `client_secret` stays null.",
    ))
    .attr(Attribute::number("client_secret_wo_version").optional().description(
        "Version of `client_secret_wo`: raise it to rotate to the newly supplied value, with the \
         same overlap as any rotation.",
    ))
    .attr(Attribute::string("client_id").computed().use_state_for_unknown().description(
        "The public OAuth client_id the client presents at runtime (`pc_…`), issued by the \
         registry.",
    ))
    .attr(Attribute::string("client_secret").computed().sensitive().use_state_for_unknown().description(
        "The client's secret (`pcs_…`), made by the registry from a CSPRNG with a checksum that \
         leak scanners recognise. Known only from the apply that created or rotated it and kept \
         in state from then on; the registry stores only a keyed hash and can never show it \
         again. Null after `terraform import` (a secret cannot be recovered) and while \
         `client_secret_wo` is used.",
    ))
    .attr(Attribute::string("status").computed().use_state_for_unknown().description(
        "Lifecycle status of the client: `active`, `expired` or `revoked`.",
    ))
    .attr(Attribute::string("created_at").computed().use_state_for_unknown().description(
        "When the client was registered, as an RFC 3339 timestamp (UTC).",
    ))
}

/// Offline checks of a configuration; each diagnostic names its attribute.
pub fn validate_config(c: &ClientModel, d: &mut Diagnostics) {
    validate::non_empty(&c.org_id, "org_id", d);
    validate::slug(&c.name, "name", d);
    validate::text(&c.purpose, partner_rules::fields::PURPOSE, d);
    validate::email(&c.owner, "owner", d);
    c.attributes.validate(d);
    if let (Some(owner), Some(custodian)) = (c.owner.known(), &c.attributes.to_api().custodian) {
        if !partner_rules::custodian_ok(owner, custodian) {
            d.error_at(
                AttrPath::attr("custodian"),
                "Custodian is the owner",
                format!("custodian {}.", partner_rules::CUSTODIAN_RULE),
            );
        }
    }
    if let Some(by) = c.operated_by.known() {
        let org_id = c.org_id.known().map_or("", String::as_str);
        if !partner_rules::operated_by_ok(org_id, by) {
            d.error_at(
                AttrPath::attr("operated_by"),
                "Invalid intermediary",
                format!("operated_by {}.", partner_rules::OPERATED_BY_RULE),
            );
        }
    }
    validate_keys(c, d);
    validate::scopes(&c.scopes, "scopes", d);
    validate::timestamp(&c.expires_at, "expires_at", d);
    validate::duration(&c.renew_before, "renew_before", None, d);
    validate::duration(
        &c.rotation_grace_period,
        "rotation_grace_period",
        Some(partner_rules::MAX_GRACE_PERIOD),
        d,
    );
    validate::supplied_secret(&c.client_secret_wo, "client_secret_wo", d);
    if !c.client_secret_wo.is_null() && c.client_secret_wo_version.is_null() {
        d.error_at(
            AttrPath::attr("client_secret_wo_version"),
            "Missing secret version",
            "client_secret_wo needs client_secret_wo_version: Terraform never stores a write-only \
             value, so raising the version is how a new secret is rolled out.",
        );
    }
    if c.client_secret_wo.is_null() && c.client_secret_wo_version.is_known() {
        d.error_at(
            AttrPath::attr("client_secret_wo"),
            "Missing supplied secret",
            "client_secret_wo_version is set but client_secret_wo is not: set the secret it \
             versions, or remove the version to let the registry make the secret.",
        );
    }
}

/// Whether the client proves itself with its own key (and has no secret).
fn uses_own_key(c: &ClientModel) -> bool {
    c.auth_method.as_deref() == Some(partner_rules::keys::PRIVATE_KEY_JWT)
}

/// The rules of `auth_method` and `jwks`, the registry's own.
fn validate_keys(c: &ClientModel, d: &mut Diagnostics) {
    if let Some(m) = c.auth_method.known() {
        if !partner_rules::keys::is_auth_method(m) {
            d.error_at(
                AttrPath::attr("auth_method"),
                "Invalid auth_method",
                format!(
                    "auth_method {}; got {m:?}.",
                    partner_rules::keys::AUTH_METHOD_RULE
                ),
            );
        }
    }
    if let Some(Err(why)) = c.jwks.known().map(|j| partner_rules::keys::check_jwks(j)) {
        d.error_at(
            AttrPath::attr("jwks"),
            "Invalid jwks",
            format!("jwks {why}."),
        );
    }
    if let Some(Err(why)) = c
        .jwks_uri
        .known()
        .map(|u| partner_rules::keys::check_jwks_uri(u))
    {
        d.error_at(
            AttrPath::attr("jwks_uri"),
            "Invalid jwks_uri",
            format!("jwks_uri {why}."),
        );
    }
    let own_key = uses_own_key(c);
    // An unknown value may turn out either way: only what is known counts.
    if c.auth_method.is_known() && !c.jwks.is_unknown() && !c.jwks_uri.is_unknown() {
        for (field, why) in partner_rules::keys::key_source_violations(
            own_key,
            !c.jwks.is_null(),
            !c.jwks_uri.is_null(),
        ) {
            d.error_at(
                AttrPath::attr(field),
                format!("Where the keys come from: {field}"),
                format!("{field} {why}."),
            );
        }
    }
    if own_key && !c.client_secret_wo.is_null() {
        d.error_at(
            AttrPath::attr("client_secret_wo"),
            "No secret for private_key_jwt",
            "A private_key_jwt client has no secret: it proves itself with its own private key. \
             Remove client_secret_wo.",
        );
    }
}

/// The `partner_client` resource.
pub struct PartnerClient;

impl Declaration for PartnerClient {
    type Model = ClientModel;

    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }
    fn schema(&self) -> Schema {
        schema()
    }
    fn validate(&self, config: &ClientModel, diags: &mut Diagnostics) {
        validate_config(config, diags);
    }
}

impl Resource<Configured> for PartnerClient {
    fn identity_attributes(&self) -> &'static [&'static str] {
        &["id"]
    }

    async fn plan(&self, ctx: &Context, req: &mut PlanRequest<ClientModel>) {
        if req.config.rotation_grace_period.is_null() {
            req.planned.rotation_grace_period = Val::Known(DEFAULT_GRACE_PERIOD.to_string());
        }
        if req.config.auth_method.is_null() {
            req.planned.auth_method = Val::Known(partner_rules::keys::CLIENT_SECRET.to_string());
        }
        if supplies_secret(&req.config) || uses_own_key(&req.planned) {
            req.planned.client_secret = Val::Null;
        }
        if let Some(prior) = &req.prior {
            // A new expiry can move the client between active and expired.
            if prior.expires_at != req.planned.expires_at {
                req.planned.status = Val::Unknown;
            }
            // Triggers only known at apply (a time_rotating id, say) may
            // rotate then: the secret cannot be promised to stay.
            let may_rotate = needs_rotation(prior, &req.config)
                || (prior.rotation_triggers.is_known()
                    && req.config.rotation_triggers.is_unknown());
            if may_rotate && !supplies_secret(&req.config) && !uses_own_key(&req.planned) {
                req.planned.client_secret = Val::Unknown;
            }
            note_terraform_only_changes(prior, &req.planned, &mut req.diags, may_rotate);
            if supplies_secret(&req.config)
                && prior.client_secret_wo_version == req.config.client_secret_wo_version
                && (prior.owner != req.config.owner || may_rotate)
            {
                req.diags.error_at(
                    AttrPath::attr("client_secret_wo_version"),
                    "Rotation needs a new supplied secret",
                    "This change rotates the client's secret (its owner or rotation_triggers \
                     change), but the secret is supplied through client_secret_wo: supply a new \
                     secret and raise client_secret_wo_version in the same change, so that the \
                     previous holder's secret stops working.",
                );
            }
        }
        let Some(Configured { api, planned_orgs }) = ctx.data() else {
            return;
        };
        if let Some(id) = req.prior.as_ref().and_then(|p| p.id.known()) {
            planned_orgs.manage_client(id);
        }
        if req.diags.has_errors() {
            return;
        }
        let org_id_prefix = req.config_unknown_prefix("org_id").map(str::to_owned);
        let org = org_for_client_plan(
            api,
            planned_orgs,
            &req.config.org_id,
            org_id_prefix.as_deref(),
            &mut req.diags,
        )
        .await;
        if let Some(org) = &org {
            // The registry's default expiry is the end of the contract's
            // last day: show it in the plan rather than "known after apply".
            // A client without an expiry of its own that ends with its
            // org's contract follows it when this plan moves the contract.
            // (In the apply, after the org's own update moved it, the
            // registry already holds the client at the new end.)
            let follows = match (&req.prior, &org.previous_contract_end) {
                (None, _) => true,
                (Some(prior), Some(before)) => prior
                    .expires_at
                    .known()
                    .is_some_and(|at| same_instant(at, &format!("{before}T23:59:59Z"))),
                (Some(prior), None) => {
                    let end = org.contract_end.as_deref().unwrap_or_default();
                    let at_end = |at: &str| same_instant(at, &format!("{end}T23:59:59Z"));
                    req.config.expires_at.is_null()
                        && !prior.expires_at.known().is_some_and(|at| at_end(at))
                        && match prior.id.known() {
                            Some(id) => api
                                .get_client(id)
                                .await
                                .ok()
                                .flatten()
                                .is_some_and(|c| at_end(&c.expires_at)),
                            None => false,
                        }
                }
            };
            if follows && req.config.expires_at.is_null() {
                if let Some(end) = org
                    .contract_end
                    .as_deref()
                    .filter(|d| validate::parse_date(d).is_some())
                {
                    req.planned.expires_at = Val::Known(format!("{end}T23:59:59Z"));
                    if req.prior.is_some() {
                        req.planned.status = Val::Unknown;
                    }
                }
            }
            check_against_org(api, planned_orgs, org, req).await;
            match req.prior.clone() {
                // A move to another org replaces the client: what the
                // registry sees is a new client there.
                Some(prior) if prior.org_id != req.config.org_id => {
                    warn_risky_changes(&prior, org, req);
                    note_new_client_approval(api, org, req).await;
                }
                Some(prior) => {
                    warn_risky_changes(&prior, org, req);
                    note_approvals(api, &prior, org, req).await;
                }
                None => note_new_client_approval(api, org, req).await,
            }
        } else if !req.diags.has_errors() {
            check_expiry(api.now().unix_timestamp(), None, None, req);
        }
        warn_expiry(api, org.as_ref(), req);
    }

    async fn plan_destroy(&self, ctx: &Context, prior: &ClientModel, _diags: &mut Diagnostics) {
        if let (Some(Configured { planned_orgs, .. }), Some(id)) = (ctx.data(), prior.id.known()) {
            planned_orgs.manage_client(id);
        }
    }

    async fn create(
        &self,
        ctx: &Context,
        req: CreateRequest<ClientModel>,
        diags: &mut Diagnostics,
    ) -> Option<ClientModel> {
        let api = &ctx.require_data(diags)?.api;
        let org_id = known_string(&req.planned.org_id);
        let supplied = req.config.client_secret_wo.as_deref();
        let created = api
            .create_client(&org_id, &fields(&req.planned), supplied)
            .await;
        let client = match created {
            // A retried create whose first answer was lost is answered
            // without the secret; a rotation without overlap issues one.
            // A client with its own key has none to issue.
            Ok(client)
                if client.client_secret.is_none()
                    && supplied.is_none()
                    && client.auth_method != partner_rules::keys::PRIVATE_KEY_JWT =>
            {
                api.rotate_client_secret(&client, "0s", None).await
            }
            other => other,
        };
        let model = |client: ClientView| {
            let secret = Val::from_option(client.client_secret.clone());
            model_from(client, &req.planned, secret)
        };
        written(ctx, "create", client, model, diags)
    }

    async fn read(
        &self,
        ctx: &Context,
        state: ClientModel,
        diags: &mut Diagnostics,
    ) -> Option<ClientModel> {
        let api = &ctx.require_data(diags)?.api;
        let id = known_string(&state.id);
        let org_id = known_string(&state.org_id);
        let read = api.client_for_refresh(&org_id, &id).await;
        let name = known_string(&state.name);
        let at = (name.as_str(), id.as_str(), org_id.as_str());
        let model =
            |client, state: &ClientModel| model_from(client, state, state.client_secret.clone());
        refreshed(ctx, api, read, state, at, model, diags).await
    }

    async fn update(
        &self,
        ctx: &Context,
        req: UpdateRequest<ClientModel>,
        diags: &mut Diagnostics,
    ) -> Option<ClientModel> {
        let api = &ctx.require_data(diags)?.api;
        let id = known_string(&req.prior.id);
        let rotate = needs_rotation(&req.prior, &req.config) && !uses_own_key(&req.prior);
        let supplied = req.config.client_secret_wo.as_deref();
        let (prior, planned, id) = (&fields(&req.prior), &fields(&req.planned), &id);
        let result = async {
            let updated = update_since_plan(
                planned_version(ctx),
                |version| api.patch_client(id, version, prior, planned),
                || async {
                    let current = api.get_client(id).await?.ok_or_else(|| gone(id))?;
                    let now_held = model_from(current.clone(), &req.prior, Val::Null);
                    unchanged_since_plan(
                        &format!(
                            "partner_client {:?} ({})",
                            current.profile.name, current.client_id
                        ),
                        &fields(&now_held),
                        prior,
                        planned,
                    )?;
                    let base = ClientFields::from(&current);
                    let patched = api
                        .patch_client(id, current.version, &base, planned)
                        .await?;
                    Ok(patched.unwrap_or(current))
                },
            )
            .await?;
            if !rotate {
                return Ok((updated, req.prior.client_secret.clone()));
            }
            let grace = known_string(&req.planned.rotation_grace_period);
            let rotated = api.rotate_client_secret(&updated, &grace, supplied).await?;
            let secret = Val::from_option(rotated.client_secret.clone());
            Ok((rotated, secret))
        }
        .await;
        match result {
            Ok((client, secret)) => {
                remember_version(ctx, client.version);
                let secret = if supplies_secret(&req.config) {
                    Val::Null
                } else {
                    secret
                };
                Some(model_from(client, &req.planned, secret))
            }
            Err(e) => {
                report(diags, "Cannot update the partner client", &e, WRITABLE);
                None
            }
        }
    }

    async fn delete(&self, ctx: &Context, state: ClientModel, diags: &mut Diagnostics) {
        let Some(Configured { api, .. }) = ctx.require_data(diags) else {
            return;
        };
        if let Err(e) = api.revoke_client(&known_string(&state.id)).await {
            report(diags, "Cannot revoke the partner client", &e, &[]);
        }
    }

    async fn import(
        &self,
        ctx: &Context,
        id: &str,
        diags: &mut Diagnostics,
    ) -> Option<ClientModel> {
        let api = &ctx.require_data(diags)?.api;
        let find = || crate::lookup::find_client(api, id);
        let model = |client| model_from(client, &ClientModel::default(), Val::Null);
        imported(api, id, find, model, diags).await
    }
}

/// Attributes the registry may name in a refusal of a client write.
const WRITABLE: &[&str] = partner_api::CLIENT_PATCH_FIELDS;

fn fields(m: &ClientModel) -> ClientFields {
    ClientFields {
        profile: ClientProfile {
            name: known_string(&m.name),
            purpose: known_string(&m.purpose),
            owner: known_string(&m.owner),
            operated_by: m.operated_by.known().cloned(),
            scopes: m.scopes.known().cloned().unwrap_or_default(),
            attributes: m.attributes.to_api(),
        },
        auth_method: m.auth_method.known().cloned(),
        jwks: m.jwks.known().and_then(|j| serde_json::from_str(j).ok()),
        jwks_uri: m.jwks_uri.known().cloned(),
        expires_at: m.expires_at.known().cloned(),
    }
}

/// The arguments only Terraform holds: the registry never sees them.
const TERRAFORM_ONLY: &[&str] = &["renew_before", "rotation_triggers", "rotation_grace_period"];

/// A plan that changes only arguments the registry does not hold (after an
/// import, say, where they take their defaults) says so: the apply records
/// them in Terraform's state and sends nothing to the registry.
fn note_terraform_only_changes(
    prior: &ClientModel,
    planned: &ClientModel,
    diags: &mut Diagnostics,
    rotates: bool,
) {
    if rotates || fields(prior) != fields(planned) || prior.org_id != planned.org_id {
        return;
    }
    let changed: Vec<&str> = TERRAFORM_ONLY
        .iter()
        .copied()
        .filter(|attr| match *attr {
            "renew_before" => prior.renew_before != planned.renew_before,
            "rotation_triggers" => prior.rotation_triggers != planned.rotation_triggers,
            _ => prior.rotation_grace_period != planned.rotation_grace_period,
        })
        .collect();
    if !changed.is_empty() {
        diags.warn(
            format!(
                "Client {:?}: only Terraform's state changes",
                known_string(&prior.name)
            ),
            format!(
                "{} {} held by Terraform alone, not by the registry: this change records the \
                 configured value in the state and sends nothing to the registry (no rotation, \
                 no audit event).",
                changed.join(", "),
                if changed.len() == 1 { "is" } else { "are" }
            ),
        );
    }
}

/// Whether the configuration supplies the secret (write-only) rather than
/// letting the registry make it.
fn supplies_secret(config: &ClientModel) -> bool {
    !config.client_secret_wo.is_null()
}

/// Whether an update must give the client a new secret: a trigger value
/// changed, the supplied secret's version changed, or the owner did.
/// Triggers set where there were none (after an import, say) are adopted
/// without a rotation: no value changed.
fn needs_rotation(prior: &ClientModel, config: &ClientModel) -> bool {
    let triggers_changed = prior.rotation_triggers.is_known()
        && config.rotation_triggers.is_known()
        && prior.rotation_triggers != config.rotation_triggers;
    triggers_changed
        || prior.owner != config.owner
        || prior.client_secret_wo_version != config.client_secret_wo_version
}

/// The client as Terraform stores it: the registry's record, the settings
/// only Terraform has (from `desired`), and the secret as the caller knows
/// it (the registry never shows a secret twice).
pub fn model_from(
    client: ClientView,
    desired: &ClientModel,
    client_secret: Val<String>,
) -> ClientModel {
    ClientModel {
        id: Val::Known(client.id),
        org_id: Val::Known(client.org_id),
        name: Val::Known(client.profile.name),
        purpose: Val::Known(client.profile.purpose),
        owner: Val::Known(client.profile.owner),
        operated_by: Val::from_option(client.profile.operated_by),
        auth_method: Val::Known(client.auth_method),
        jwks: keep_json_form(client.jwks, &desired.jwks),
        jwks_uri: Val::from_option(client.jwks_uri),
        scopes: Val::Known(client.profile.scopes),
        expires_at: keep_timestamp_form(client.expires_at, &desired.expires_at),
        renew_before: desired.renew_before.clone(),
        rotation_triggers: desired.rotation_triggers.clone(),
        rotation_grace_period: match &desired.rotation_grace_period {
            Val::Known(grace) => Val::Known(grace.clone()),
            _ => Val::Known(DEFAULT_GRACE_PERIOD.to_string()),
        },
        client_secret_wo: Val::Null,
        client_secret_wo_version: desired.client_secret_wo_version.clone(),
        client_id: Val::Known(client.client_id),
        client_secret,
        status: Val::Known(client.status.to_string()),
        created_at: Val::Known(client.created_at),
        attributes: Attributes::from_api(&client.profile.attributes),
    }
}

/// The registry's JSON as text, unless `desired` already holds the same
/// JSON written another way (as the user configured it).
fn keep_json_form(from_registry: Option<serde_json::Value>, desired: &Val<String>) -> Val<String> {
    match (from_registry, desired.known()) {
        (None, _) => Val::Null,
        (Some(v), Some(text))
            if serde_json::from_str::<serde_json::Value>(text).ok() == Some(v.clone()) =>
        {
            Val::Known(text.clone())
        }
        (Some(v), _) => Val::Known(v.to_string()),
    }
}

/// Checks a planned client against its org, its org's other clients (in
/// the registry and planned in this run) and the registry's clock, with the
/// registry's own rules (`partner_rules::records`), so that a change the
/// registry would refuse fails the plan, on the attribute at fault, before
/// anything is applied.
async fn check_against_org(
    api: &ApiClient,
    planned_orgs: &PlannedOrgs,
    org: &OrgFacts,
    req: &mut PlanRequest<ClientModel>,
) {
    let now = api.now().unix_timestamp();
    let contract_end = org
        .contract_end
        .as_deref()
        .and_then(validate::end_of_day)
        .map(|t| t.unix_timestamp());
    if let (Some(scopes), Some(allowed)) = (req.config.scopes.known(), &org.allowed_scopes) {
        let outside = rules::scopes_outside(scopes, allowed);
        if !outside.is_empty() {
            req.diags.error_at(
                AttrPath::attr("scopes"),
                "Scope not allowed for this org",
                format!(
                    "scopes {outside:?} are not in the allowed_scopes of org {:?} ({}): a \
                     client's scopes must be among its org's allowed_scopes. Ask {} to widen the \
                     org's allowed_scopes, or remove them.",
                    org.name,
                    allowed.join(", "),
                    org.approval_authority
                ),
            );
        }
    }
    check_expiry(now, contract_end, Some(org), req);

    // The org's clients in the registry, when the checks below need them.
    let prior = req.prior.as_ref();
    let name = req.config.name.known().cloned();
    let new_name = name.is_some()
        && prior.is_none_or(|p| p.name != req.config.name || p.org_id != req.config.org_id);
    let was_active =
        prior.is_some_and(|p| p.status.as_deref() == Some(ClientStatus::Active.as_str()));
    let expiry = req
        .planned
        .expires_at
        .as_deref()
        .and_then(validate::parse_timestamp)
        .map(|t| t.unix_timestamp())
        .or(contract_end);
    let becomes_active = !was_active
        && expiry.is_some_and(|e| e >= now)
        && contract_end.is_none_or(|end| now <= end);
    let offboarded = org.status == Some(OrgStatus::Offboarded);
    let registry_clients = if org.exists && (new_name || (becomes_active && !offboarded)) {
        match api.clients_for_plan(&org.id).await {
            Ok(clients) => clients,
            Err(e) => {
                report(&mut req.diags, "Cannot check the org's clients", &e, &[]);
                return;
            }
        }
    } else {
        Arc::default()
    };
    let prior_id = prior.and_then(|p| p.id.known().cloned());
    // The org's active clients in the registry, this one aside.
    let active: HashSet<&str> = registry_clients
        .iter()
        .filter(|c| c.status == ClientStatus::Active && Some(&c.id) != prior_id.as_ref())
        .map(|c| c.profile.name.as_str())
        .collect();
    let planned_here = planned_orgs.plan_client(
        &org.id,
        PlannedClient {
            name: name.clone().unwrap_or_default(),
            prior_id: prior_id.clone(),
            fingerprint: format!("{:?}", fields(&req.config)),
        },
        Ask {
            name_taken: name.as_deref().filter(|_| new_name),
            new_outside: becomes_active.then_some(&active),
        },
    );

    if let Some(name) = name.filter(|_| new_name) {
        let taken = registry_clients
            .iter()
            .find(|c| {
                c.status != ClientStatus::Revoked
                    && c.profile.name == name
                    && Some(&c.id) != prior_id.as_ref()
            })
            .map(|c| format!("client {} of org {}", c.client_id, org.id))
            .or_else(|| {
                planned_here.name_taken.then(|| {
                    format!(
                        "another partner_client planned for org {:?} in this run",
                        org.name
                    )
                })
            });
        if let Some(holder) = taken {
            req.diags.error_at(
                AttrPath::attr("name"),
                "Client name already taken",
                format!(
                    "name {}: a client's name is unique among the live clients of its org. \
                     Choose another name, or import the existing client.",
                    NameTaken { name, holder }
                ),
            );
        }
    }

    // A client planned in this run may already be in the registry (during
    // the apply, the plan of a later client sees the earlier ones created):
    // names are unique among an org's live clients, so one name is one
    // client, and those are counted once.
    let active_clients = active.len() + planned_here.new_outside;
    let state = OrgState {
        offboarded,
        contract_end: contract_end.unwrap_or(i64::MAX),
        max_clients: org.max_clients.unwrap_or(i64::MAX),
    };
    if let Err(refusal) =
        rules::check_org_accepts(state, now, prior.is_some(), becomes_active, active_clients)
    {
        let (summary, advice) = match refusal {
            OrgRefusal::Offboarded => ("Org is offboarded", "It cannot have clients.".to_string()),
            OrgRefusal::ContractEnded { .. } => (
                "Org's contract has expired",
                format!(
                    "It cannot have new clients: extend contract_end (ask {}) first.",
                    org.approval_authority
                ),
            ),
            OrgRefusal::QuotaReached { .. } => {
                let mut names: Vec<&str> = active.iter().copied().collect();
                names.sort_unstable();
                let planned = match planned_here.new_outside {
                    0 => String::new(),
                    n => format!(", and {n} more planned in this run"),
                };
                (
                    "Org is at its client quota",
                    format!(
                        "Its active clients: {}{planned}. Raise max_clients (ask {}) or remove a \
                         client first.",
                        names.join(", "),
                        org.approval_authority
                    ),
                )
            }
        };
        req.diags.error_at(
            AttrPath::attr("org_id"),
            summary,
            format!("Org {:?} ({}): {refusal}. {advice}", org.name, org.id),
        );
    }
}

/// A configured expiry within the org's contract (when known) and, unless
/// it stays as it is, in the future by the registry's clock.
fn check_expiry(
    now: i64,
    contract_end: Option<i64>,
    org: Option<&OrgFacts>,
    req: &mut PlanRequest<ClientModel>,
) {
    let Some(configured) = req.config.expires_at.known() else {
        return;
    };
    let Some(expires_at) = validate::parse_timestamp(configured) else {
        return;
    };
    let unchanged = req
        .prior
        .as_ref()
        .and_then(|p| p.expires_at.known())
        .is_some_and(|before| same_instant(before, configured));
    let Err(why) = rules::check_expiry(
        expires_at.unix_timestamp(),
        contract_end.unwrap_or(i64::MAX),
        now,
        unchanged,
    ) else {
        return;
    };
    let (summary, context) = match why {
        ExpiryViolation::AfterContract { .. } => (
            "Client would outlive its org's contract",
            format!(
                "A client cannot outlive the contract of org {:?} that bounds it.",
                org.map_or("", |o| o.name.as_str())
            ),
        ),
        ExpiryViolation::NotInFuture => (
            "Client expiry is in the past",
            format!(
                "The registry's clock reads {}.",
                partner_rules::format_timestamp(now)
            ),
        ),
    };
    req.diags.error_at(
        AttrPath::attr("expires_at"),
        summary,
        format!("expires_at ({configured}) {why}. {context}"),
    );
}

/// Warnings a reviewer must see: changes that widen access or hand it to
/// someone else, each naming who has to approve it.
fn warn_risky_changes(prior: &ClientModel, org: &OrgFacts, req: &mut PlanRequest<ClientModel>) {
    let client = known_string(&prior.name);
    let approver = &org.approval_authority;
    if prior.org_id.known() != req.config.org_id.known() {
        req.diags.warn_at(
            AttrPath::attr("org_id"),
            format!("Client {client:?} moves to another org"),
            format!(
                "Client {client:?} is replaced by a new client of org {:?}: a new client_id and \
                 secret, the old client revoked. Ask {approver} to approve.",
                org.name
            ),
        );
    }
    if let (Some(before), Some(after)) = (prior.scopes.known(), req.config.scopes.known()) {
        let added = added_scopes(before, after);
        if !added.is_empty() {
            req.diags.warn_at(
                AttrPath::attr("scopes"),
                format!("Scope added to client {client:?}"),
                format!("Client {client:?} gains scopes {added:?}. Ask {approver} to approve."),
            );
        }
    }
    let parse = |v: &Val<String>| v.as_deref().and_then(validate::parse_timestamp);
    if let (Some(before), Some(after)) = (parse(&prior.expires_at), parse(&req.config.expires_at)) {
        if after > before {
            req.diags.warn_at(
                AttrPath::attr("expires_at"),
                format!("Client {client:?}: expiry extended"),
                format!(
                    "Client {client:?} would work until {} instead of {}. Ask {approver} to approve.",
                    known_string(&req.config.expires_at),
                    known_string(&prior.expires_at)
                ),
            );
        }
    }
    let same_keys = |a: &Val<String>, b: &Val<String>| {
        let parse = |v: &Val<String>| {
            v.known()
                .and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok())
        };
        parse(a) == parse(b)
    };
    if prior.jwks.is_known()
        && req.config.jwks.is_known()
        && !same_keys(&prior.jwks, &req.config.jwks)
    {
        req.diags.warn_at(
            AttrPath::attr("jwks"),
            format!("Client {client:?}: its keys change"),
            format!(
                "Client {client:?} is to be proven by another set of public keys: whoever holds \
                 a private key added here can act as the client. Ask {approver} to approve."
            ),
        );
    }
    // A value set in the configuration that the prior state does not hold.
    let changed = |now: &Val<String>, before: &Val<String>| {
        now.known().filter(|v| before.known() != Some(*v)).cloned()
    };
    if let Some(uri) = changed(&req.config.jwks_uri, &prior.jwks_uri) {
        req.diags.warn_at(
            AttrPath::attr("jwks_uri"),
            format!("Client {client:?}: its keys move to another URI"),
            format!(
                "Client {client:?} is to be proven by the keys published at {uri}: whoever \
                 controls that URI decides who can act as the client. Ask {approver} to approve."
            ),
        );
    }
    if let Some(by) = changed(&req.config.operated_by, &prior.operated_by) {
        req.diags.warn_at(
            AttrPath::attr("operated_by"),
            format!("Client {client:?} is handed to an intermediary"),
            format!(
                "Client {client:?} is operated by org {by} from now on: its people hold the \
                 credential. Ask {approver} to approve."
            ),
        );
    }
    if let (Some(before), Some(after)) = (prior.owner.known(), req.config.owner.known()) {
        if before != after {
            req.diags.warn_at(
                AttrPath::attr("owner"),
                format!("Client {client:?}: owner changes"),
                format!(
                    "Client {client:?} passes from {before} to {after}, so its secret is \
                     rotated. Ask {approver} to approve."
                ),
            );
        }
    }
}

/// What of a client in a plan can widen its access.
fn terms<'a>(
    scopes: &'a [String],
    expires_at: i64,
    m: &'a ClientModel,
) -> partner_rules::approvals::ClientTerms<'a> {
    partner_rules::approvals::ClientTerms {
        scopes,
        expires_at,
        owner: m.owner.as_deref().unwrap_or_default(),
        operated_by: m.operated_by.as_deref(),
        jwks: m.jwks.as_deref(),
        jwks_uri: m.jwks_uri.as_deref(),
    }
}

/// Under the org's `approval_policy = "require"`, each change that widens or
/// hands over access (computed as the registry computes it) says whether an
/// approval of it exists for this run's change reference, and if not, who
/// approves it and with which command: the apply fails without one.
async fn note_approvals(
    api: &ApiClient,
    prior: &ClientModel,
    org: &OrgFacts,
    req: &mut PlanRequest<ClientModel>,
) {
    if org.approval_policy.as_deref() != Some(partner_rules::approvals::REQUIRE) {
        return;
    }
    let (Some(id), Some(before_scopes), Some(after_scopes)) = (
        prior.id.known(),
        prior.scopes.known(),
        req.planned.scopes.known(),
    ) else {
        return;
    };
    let at = |v: &Val<String>| {
        v.as_deref()
            .and_then(validate::parse_timestamp)
            .map(|t| t.unix_timestamp())
    };
    let before_expiry = at(&prior.expires_at).unwrap_or(i64::MAX);
    let widenings = partner_rules::approvals::client_widenings(
        terms(before_scopes, before_expiry, prior),
        terms(
            after_scopes,
            // An expiry that follows the contract moves with an org change
            // (the org's own approval), not with this client's.
            at(&req.config.expires_at).unwrap_or(before_expiry),
            &req.planned,
        ),
    );
    if widenings.is_empty() {
        return;
    }
    let what = format!("Client {:?}", known_string(&prior.name));
    super::approvals::note_approvals(
        api,
        &mut req.diags,
        &what,
        &org.name,
        &org.approval_authority,
        id,
        widenings,
    )
    .await;
}

/// Under the org's `approval_policy = "require"`, a new client (a create, or
/// the create half of a move to this org) is a grant of access the registry
/// refuses unless approved: the plan says whether the approval exists, or
/// what to ask for.
async fn note_new_client_approval(
    api: &ApiClient,
    org: &OrgFacts,
    req: &mut PlanRequest<ClientModel>,
) {
    if org.approval_policy.as_deref() != Some(partner_rules::approvals::REQUIRE) {
        return;
    }
    let client = known_string(&req.config.name);
    let approver = &org.approval_authority;
    let p = &req.planned;
    let (Some(name), Some(owner), Some(scopes), true, true, true) = (
        p.name.known(),
        p.owner.known(),
        p.scopes.known(),
        org.exists,
        !p.operated_by.is_unknown(),
        !p.jwks.is_unknown() && !p.jwks_uri.is_unknown(),
    ) else {
        req.diags.warn_at(
            AttrPath::attr("org_id"),
            format!("New client {client:?} needs an approval"),
            format!(
                "Org {:?} has approval_policy = \"require\": the registry refuses a new client \
                 that {approver} did not approve for the run's change reference. What is to be \
                 approved (the org's id, the client's terms) is known only at apply: that apply \
                 fails for this client with the exact approve command; run it as {approver}, \
                 then apply again.",
                org.name
            ),
        );
        return;
    };
    let grant = partner_rules::approvals::client_grant(partner_rules::approvals::ClientGrant {
        name,
        owner,
        scopes,
        operated_by: p.operated_by.as_deref(),
        jwks: p.jwks.as_deref(),
        jwks_uri: p.jwks_uri.as_deref(),
    });
    let (what, org_id) = (format!("New client {name:?}"), org.id.clone());
    super::approvals::note_approvals(
        api,
        &mut req.diags,
        &what,
        &org.name,
        approver,
        &org_id,
        vec![grant],
    )
    .await;
}

/// Expiry that every plan should surface before it happens, and expiry that
/// has already happened.
fn warn_expiry(api: &ApiClient, org: Option<&OrgFacts>, req: &mut PlanRequest<ClientModel>) {
    let client = known_string(&req.config.name);
    let approver = org.map_or("the org's approval authority", |o| &o.approval_authority);
    if req
        .prior
        .as_ref()
        .is_some_and(|p| p.status.as_deref() == Some(ClientStatus::Expired.as_str()))
    {
        req.diags.warn(
            format!("Client {client:?} has expired"),
            format!(
                "Client {client:?} has expired: it no longer works. Renew it (expires_at) or its \
                 org's contract with {approver}, or remove it."
            ),
        );
    }
    let (Some(window), Some(expires_at)) = (
        req.config
            .renew_before
            .as_deref()
            .and_then(validate::parse_duration),
        req.planned.expires_at.as_deref(),
    ) else {
        return;
    };
    let Some(expiry) = validate::parse_timestamp(expires_at) else {
        return;
    };
    let remaining = expiry - api.now();
    // An expired client has its own warning above: "expires soon" would
    // contradict it.
    if remaining < window && remaining.is_positive() {
        req.diags.warn_at(
            AttrPath::attr("expires_at"),
            format!("Client {client:?} expires soon"),
            format!(
                "Client {client:?} (owner {}) expires at {expires_at}, within its renew_before of \
                 {}. Renew it with {approver} before it stops working.",
                known_string(&req.config.owner),
                known_string(&req.config.renew_before)
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_grace_period_is_the_registrys() {
        assert_eq!(
            partner_rules::parse_duration(super::DEFAULT_GRACE_PERIOD),
            Some(partner_rules::DEFAULT_GRACE_PERIOD)
        );
    }
}
