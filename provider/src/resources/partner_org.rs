//! `partner_org`: a partner organisation, its contacts, its contract and
//! the scopes its clients may be granted.
use super::org_facts::{OrgFacts, PlannedOrgs, UNKNOWN_APPROVER, new_org_id, promised_id_prefix};
use super::{
    Record, added_scopes, imported, known_string, optional_string, planned_version, refreshed,
    unchanged_since_plan, update_since_plan, written,
};
use crate::client::{
    ApiClient, ApiError, ClientFilter, ClientStatus, OrgFields, OrgProfile, OrgStatus, OrgView,
};
use crate::configured::{Configured, Context};
use crate::report::{gone, report};
use crate::validate;
use partner_rules::fields::{BUSINESS_UNIT, CONTRACT_ID, LEGAL_ENTITY, TENANT};
use partner_rules::records::{
    ClientFacts, NameTaken, Narrowing, check_narrowing as check_narrowing_rule,
};
use std::collections::BTreeMap;
use tfplugin::model;
use tfplugin::{
    AttrPath, Attribute, CreateRequest, Declaration, Diagnostics, PlanRequest, Resource, Schema,
    UpdateRequest, Val,
};

pub const TYPE_NAME: &str = "partner_org";

impl Record for OrgView {
    const KIND: &'static str = "org";
    const TYPE_NAME: &'static str = TYPE_NAME;
    const ENDED: &'static str = "offboarded";
    const IMPORT_IDS: &'static str = "id or name";
    const IMPORT_HINT: &'static str = "id (org_…) or its name";
    const WRITABLE: &'static [&'static str] = WRITABLE;
    fn version(&self) -> i64 {
        self.version
    }
    fn ended(&self) -> bool {
        self.status == OrgStatus::Offboarded
    }
}

model! {
    /// Typed value of a `partner_org`.
    pub struct OrgModel {
        id: String,
        name: String,
        legal_entity: String,
        technical_owner: String,
        approval_authority: String,
        commercial_sponsor: String,
        contract_id: String,
        contract_start: String,
        contract_end: String,
        tenant: String,
        business_unit: String,
        allowed_scopes: Vec<String>,
        max_clients: i64,
        labels: BTreeMap<String, String>,
        review_enforcement: String,
        approval_policy: String,
        deletion_protection: bool,
        status: String,
        created_at: String,
    }
}

pub fn schema() -> Schema {
    Schema::new(
        "A partner organisation: the legal entity your company has a contract with, who is \
         accountable for it on the partner's side, who approves its access, the contract's dates, \
         the OAuth scopes its clients may hold and how many clients it may have.\n\nDestroying a \
         `partner_org` **offboards** it: the registry keeps the record with status `offboarded` \
         for audit, and revokes every client the org still has in the same transaction, including \
         clients that no Terraform configuration manages.",
    )
    .attr(Attribute::string("id").computed().use_state_for_unknown().description(
        "Identifier the registry assigned to the org. Also accepted by `terraform import`.",
    ))
    .attr(Attribute::string("name").required().description(
        "Unique short name of the org: 1 to 63 lower-case letters, digits and hyphens, not \
         starting or ending with a hyphen (for example `acme-logistics`). Unique among orgs that \
         are not offboarded. Also accepted by `terraform import`.",
    ))
    .attr(Attribute::string("legal_entity").required().description(
        "Registered legal name of the partner company, as on the contract.",
    ))
    .attr(Attribute::string("technical_owner").required().description(
        "Email address of the partner's accountable technical contact: the person on the \
         partner's side who owns the integration.",
    ))
    .attr(Attribute::string("approval_authority").required().description(
        "Email address of the person or group who approves this org's access; plan warnings about \
         risky changes name it.",
    ))
    .attr(Attribute::string("commercial_sponsor").optional().description(
        "Email address of the internal commercial sponsor of the partnership. Orgs without one \
         are listed by the entitlement review.",
    ))
    .attr(Attribute::string("contract_id").required().description(
        "Identifier of the contract that governs this partnership and its access.",
    ))
    .attr(Attribute::string("contract_start").optional().description(
        "First day of the contract, as `YYYY-MM-DD`.",
    ))
    .attr(Attribute::string("contract_end").required().description(
        "Last day of the contract, as `YYYY-MM-DD`. After this day the org and all its clients \
         read back as `expired` and its clients stop working. Clients that do not set `expires_at` \
         end with it and follow it when it moves, later or earlier; moving it earlier than the \
         `expires_at` a client set for itself is refused, naming the clients in the way.",
    ))
    .attr(Attribute::string("tenant").optional().description(
        "Tenant the org belongs to, for multi-tenant registries.",
    ))
    .attr(Attribute::string("business_unit").optional().description(
        "Internal business unit that owns the relationship.",
    ))
    .attr(Attribute::set_of_strings("allowed_scopes").required().description(
        "The service scope: the only OAuth scopes the org's clients may hold. Each is a scope \
         token of 1 to 128 printable ASCII characters without spaces, quotes or backslashes (for \
         example `orders:read`). Narrowing it while a client still holds a removed scope is \
         refused, naming the clients in the way.",
    ))
    .attr(Attribute::number("max_clients").optional().computed().use_state_for_unknown().description(
        "Quota: how many active clients the org may have. When unset, the registry's default (10) \
         applies and is shown here after apply.",
    ))
    .attr(Attribute::map_of_strings("labels").optional().description(
        "Free-form labels for the org.",
    ))
    .attr(Attribute::string("review_enforcement").optional().computed().use_state_for_unknown().description(
        "What an access review campaign of this org does once its due date has passed to the \
         clients still undecided in it: `report` (the default) lists them as `review_overdue` \
         findings of the entitlement review; `suspend` also suspends them, so that introspection \
         answers inactive for each until a reviewer keeps or revokes it. Campaigns are opened by \
         an admin, and by the registry itself when the org's contract is renewed or extended or \
         its `allowed_scopes` widen.",
    ))
    .attr(Attribute::string("approval_policy").optional().computed().use_state_for_unknown().description(
        "`\"warn\"` (the default): a change that widens or hands over access (a client's scopes \
         added, its expiry extended, its owner or intermediary changed; the org's allowed_scopes \
         widened or contract extended) is warned about in the plan, naming the \
         `approval_authority`. `\"require\"`: the registry refuses such a change unless the \
         approval authority approved exactly that change for the run's change reference (the \
         provider's `change_ref`, a pull request URL say) with `partner-registry approve`, \
         using an approver token bound to their email; the plan says whether the approval \
         exists and shows the command. An approval is valid 7 days by default and is used \
         once. Going back from `\"require\"` to `\"warn\"` needs an approval too.",
    ))
    .attr(Attribute::bool("deletion_protection").optional().description(
        "While `true`, a plan that destroys the org (and so offboards it and revokes every client \
         it has) fails, and so does one that replaces it (`terraform apply -replace`, \
         `replace_triggered_by`), which destroys it first. Set it to `false` in an apply of its \
         own first to offboard or replace the org. Terraform-only: the registry does not hold it. \
         Default `false`.",
    ))
    .attr(Attribute::string("status").computed().use_state_for_unknown().description(
        "Lifecycle status of the org: `active`, `expired` (its contract has ended) or \
         `offboarded`.",
    ))
    .attr(Attribute::string("created_at").computed().use_state_for_unknown().description(
        "When the org was registered, as an RFC 3339 timestamp (UTC).",
    ))
}

/// Offline checks of a configuration; each diagnostic names its attribute.
pub fn validate_config(c: &OrgModel, d: &mut Diagnostics) {
    validate::slug(&c.name, "name", d);
    validate::text(&c.legal_entity, LEGAL_ENTITY, d);
    validate::text(&c.contract_id, CONTRACT_ID, d);
    validate::text(&c.tenant, TENANT, d);
    validate::text(&c.business_unit, BUSINESS_UNIT, d);
    validate::labels(&c.labels, "labels", d);
    validate::email(&c.technical_owner, "technical_owner", d);
    validate::email(&c.approval_authority, "approval_authority", d);
    validate::email(&c.commercial_sponsor, "commercial_sponsor", d);
    validate::date(&c.contract_start, "contract_start", d);
    validate::date(&c.contract_end, "contract_end", d);
    validate::scopes(&c.allowed_scopes, "allowed_scopes", d);
    if let Some(v) = c.review_enforcement.known() {
        if partner_rules::ReviewEnforcement::parse(v).is_none() {
            d.error_at(
                AttrPath::attr("review_enforcement"),
                "Invalid review_enforcement",
                format!(
                    "review_enforcement {}; got {v:?}.",
                    partner_rules::REVIEW_ENFORCEMENT_RULE
                ),
            );
        }
    }
    if let (Some(s), Some(e)) = (c.contract_start.as_deref(), c.contract_end.as_deref()) {
        if validate::parse_date(s).is_some() && validate::parse_date(e).is_some() && s > e {
            d.error_at(
                AttrPath::attr("contract_end"),
                "Contract ends before it starts",
                format!("contract_end ({e}) is before contract_start ({s})."),
            );
        }
    }
    if let Some(p) = c.approval_policy.known() {
        if !partner_rules::approvals::is_approval_policy(p) {
            d.error_at(
                AttrPath::attr("approval_policy"),
                "Invalid approval_policy",
                format!(
                    "approval_policy {}; got {p:?}.",
                    partner_rules::approvals::APPROVAL_POLICY_RULE
                ),
            );
        }
    }
    if let Some(n) = c.max_clients.known() {
        let range = partner_rules::MAX_CLIENTS_RANGE;
        if !range.contains(n) {
            d.error_at(
                AttrPath::attr("max_clients"),
                "Invalid max_clients",
                format!(
                    "max_clients must be from {} to {}; got {n}.",
                    range.start(),
                    range.end()
                ),
            );
        }
    }
}

/// The `partner_org` resource.
pub struct PartnerOrg;

impl Declaration for PartnerOrg {
    type Model = OrgModel;

    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }
    fn schema(&self) -> Schema {
        schema()
    }
    fn validate(&self, config: &OrgModel, diags: &mut Diagnostics) {
        validate_config(config, diags);
    }
}

impl Resource<Configured> for PartnerOrg {
    fn identity_attributes(&self) -> &'static [&'static str] {
        &["id"]
    }

    async fn plan(&self, ctx: &Context, req: &mut PlanRequest<OrgModel>) {
        let replacing = match &req.prior {
            Some(prior) => {
                mark_replaceable(ctx, prior);
                None
            }
            None => replaced_org(ctx),
        };
        if let Some(replaced) = &replacing {
            if replaced.protected {
                protected_from_deletion(&mut req.diags, &replaced.name, "replaces");
                return;
            }
        }
        if let Some(prior) = req.prior.clone() {
            // A new contract end can move the org between active and expired.
            if prior.contract_end != req.config.contract_end {
                req.planned.status = Val::Unknown;
            }
            warn_risky_changes(&prior, req);
            if let Some(api) = ctx.data().map(|c| &c.api) {
                note_approvals(api, &prior, req).await;
                check_narrowing(api, &prior, req).await;
            }
        }
        if let Some(api) = ctx.data().map(|c| &c.api) {
            check_name_free(api, req, replacing.as_ref().map(|r| r.id.as_str())).await;
        }
        let planned_orgs = ctx.data().map(|c| &c.planned_orgs);
        if let (Some(replaced), Some(planned_orgs)) = (&replacing, planned_orgs) {
            planned_orgs.forget(&replaced.id);
        }
        promise_id_and_remember(req, planned_orgs);
    }

    async fn plan_destroy(&self, ctx: &Context, prior: &OrgModel, diags: &mut Diagnostics) {
        if prior.deletion_protection.known() == Some(&true) {
            protected_from_deletion(diags, &known_string(&prior.name), "destroys");
            return;
        }
        if let Some(Configured { api, planned_orgs }) = ctx.data() {
            warn_unmanaged_clients(api, planned_orgs, prior, diags).await;
            warn_operated_clients(api, prior, diags).await;
        }
    }

    async fn create(
        &self,
        ctx: &Context,
        req: CreateRequest<OrgModel>,
        diags: &mut Diagnostics,
    ) -> Option<OrgModel> {
        let api = &ctx.require_data(diags)?.api;
        let id = new_org_id(&known_string(&req.planned.name));
        let created = api.create_org(&id, &fields(&req.planned)).await;
        written(
            ctx,
            "create",
            created,
            |org| model_from(org, Some(&req.planned)),
            diags,
        )
    }

    async fn read(
        &self,
        ctx: &Context,
        state: OrgModel,
        diags: &mut Diagnostics,
    ) -> Option<OrgModel> {
        let api = &ctx.require_data(diags)?.api;
        let id = known_string(&state.id);
        let read = api.get_org(&id).await;
        let name = known_string(&state.name);
        let at = (name.as_str(), id.as_str(), id.as_str());
        refreshed(
            ctx,
            api,
            read,
            state,
            at,
            |org, state| model_from(org, Some(state)),
            diags,
        )
        .await
    }

    async fn update(
        &self,
        ctx: &Context,
        req: UpdateRequest<OrgModel>,
        diags: &mut Diagnostics,
    ) -> Option<OrgModel> {
        let api = &ctx.require_data(diags)?.api;
        let id = known_string(&req.prior.id);
        let (prior, planned) = (&fields(&req.prior), &fields(&req.planned));
        let id = &id;
        let result: Result<OrgView, ApiError> = update_since_plan(
            planned_version(ctx),
            |version| api.patch_org(id, version, prior, planned),
            || async {
                let current = api.get_org(id).await?.ok_or_else(|| gone(id))?;
                unchanged_since_plan(
                    &format!("partner_org {:?} ({id})", current.profile.name),
                    &fields(&model_from(current.clone(), Some(&req.prior))),
                    prior,
                    planned,
                )?;
                let base = OrgFields::from(&current);
                let patched = api.patch_org(id, current.version, &base, planned).await?;
                Ok(patched.unwrap_or(current))
            },
        )
        .await;
        written(
            ctx,
            "update",
            result,
            |org| model_from(org, Some(&req.planned)),
            diags,
        )
    }

    async fn delete(&self, ctx: &Context, state: OrgModel, diags: &mut Diagnostics) {
        let Some(Configured { api, .. }) = ctx.require_data(diags) else {
            return;
        };
        if let Err(e) = api.offboard_org(&known_string(&state.id)).await {
            report(diags, "Cannot offboard the partner org", &e, &[]);
        }
    }

    async fn import(&self, ctx: &Context, id: &str, diags: &mut Diagnostics) -> Option<OrgModel> {
        let api = &ctx.require_data(diags)?.api;
        imported(
            api,
            id,
            || find_org(api, id),
            |org| model_from(org, None),
            diags,
        )
        .await
    }
}

/// Destroying an org revokes every client it has, also those no Terraform
/// configuration (or another one) manages: the plan names them, with the
/// approval authority, so that a reviewer sees who loses access.
async fn warn_unmanaged_clients(
    api: &ApiClient,
    planned_orgs: &PlannedOrgs,
    prior: &OrgModel,
    d: &mut Diagnostics,
) {
    const SHOWN: usize = 20;
    let filter = ClientFilter {
        org_id: prior.id.known().cloned(),
        status: Some(ClientStatus::Active.to_string()),
        ..ClientFilter::default()
    };
    let clients = match api.list_clients(&filter).await {
        Ok(clients) => clients,
        Err(e) => {
            report(d, "Cannot list the clients the destroy revokes", &e, &[]);
            return;
        }
    };
    let others: Vec<String> = clients
        .iter()
        .filter(|c| !planned_orgs.manages_client(&c.id))
        .map(|c| format!("{} ({})", c.profile.name, c.client_id))
        .collect();
    if others.is_empty() {
        return;
    }
    let name = known_string(&prior.name);
    let mut list = others
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if others.len() > SHOWN {
        list.push_str(&format!(" and {} more", others.len() - SHOWN));
    }
    d.warn(
        format!(
            "Destroying org {name:?} revokes {} active clients this configuration does not manage",
            others.len()
        ),
        format!(
            "Offboarding org {name:?} revokes every client it has. Not managed by this \
             configuration: {list}. Their secrets stop working at once. Ask {} to approve.",
            known_string(&prior.approval_authority)
        ),
    );
}

/// An org that operates clients for other orgs (an intermediary) takes
/// them with it when it is offboarded: the plan names each.
async fn warn_operated_clients(api: &ApiClient, prior: &OrgModel, d: &mut Diagnostics) {
    let Some(id) = prior.id.known() else { return };
    let operated = match api.clients_operated_by(id).await {
        Ok(clients) => clients,
        // Only an admin token offboards an org, and sees what it operates:
        // the apply of any other token is refused anyway.
        Err(ApiError::Forbidden { .. }) => return,
        Err(e) => {
            report(d, "Cannot list the clients the org operates", &e, &[]);
            return;
        }
    };
    if operated.is_empty() {
        return;
    }
    let name = known_string(&prior.name);
    let list: Vec<String> = operated
        .iter()
        .map(|c| format!("{}/{} ({})", c.org_name, c.name, c.client_id))
        .collect();
    d.warn(
        format!(
            "Destroying org {name:?} revokes {} clients it operates for other orgs",
            operated.len()
        ),
        format!(
            "Org {name:?} is the intermediary of: {}. Offboarding it revokes them at once; \
             their own orgs' approval authorities must know.",
            list.join(", ")
        ),
    );
}

/// Attributes the registry may name in a refusal of an org write.
const WRITABLE: &[&str] = partner_api::ORG_FIELDS;

/// What Terraform asks the registry to store for this org.
fn fields(m: &OrgModel) -> OrgFields {
    OrgFields {
        profile: OrgProfile {
            name: known_string(&m.name),
            legal_entity: known_string(&m.legal_entity),
            technical_owner: known_string(&m.technical_owner),
            approval_authority: known_string(&m.approval_authority),
            commercial_sponsor: optional_string(&m.commercial_sponsor),
            contract_id: known_string(&m.contract_id),
            contract_start: optional_string(&m.contract_start),
            contract_end: known_string(&m.contract_end),
            tenant: optional_string(&m.tenant),
            business_unit: optional_string(&m.business_unit),
            allowed_scopes: m.allowed_scopes.known().cloned().unwrap_or_default(),
            labels: m.labels.known().cloned().unwrap_or_default(),
        },
        max_clients: m.max_clients.known().copied(),
        review_enforcement: m.review_enforcement.known().cloned(),
        approval_policy: m.approval_policy.known().cloned(),
    }
}

/// The org as Terraform stores it. `labels` stays null when the registry
/// has none and the configuration set none, so that an unset map never
/// shows as a change to `{}`.
pub fn model_from(org: OrgView, previous: Option<&OrgModel>) -> OrgModel {
    let labels_unset = previous.is_none_or(|p| p.labels.is_null());
    OrgModel {
        id: Val::Known(org.id),
        name: Val::Known(org.profile.name),
        legal_entity: Val::Known(org.profile.legal_entity),
        technical_owner: Val::Known(org.profile.technical_owner),
        approval_authority: Val::Known(org.profile.approval_authority),
        commercial_sponsor: Val::from_option(org.profile.commercial_sponsor),
        contract_id: Val::Known(org.profile.contract_id),
        contract_start: Val::from_option(org.profile.contract_start),
        contract_end: Val::Known(org.profile.contract_end),
        tenant: Val::from_option(org.profile.tenant),
        business_unit: Val::from_option(org.profile.business_unit),
        allowed_scopes: Val::Known(org.profile.allowed_scopes),
        max_clients: Val::Known(org.max_clients),
        labels: if org.profile.labels.is_empty() && labels_unset {
            Val::Null
        } else {
            Val::Known(org.profile.labels)
        },
        review_enforcement: Val::Known(org.review_enforcement),
        approval_policy: Val::Known(org.approval_policy),
        deletion_protection: previous.map_or(Val::Null, |p| p.deletion_protection.clone()),
        status: Val::Known(org.status.to_string()),
        created_at: Val::Known(org.created_at),
    }
}

/// Finds an org by id or, failing that, by name.
pub async fn find_org(
    api: &ApiClient,
    id_or_name: &str,
) -> Result<Option<OrgView>, crate::client::ApiError> {
    if let Some(org) = api.get_org(id_or_name).await? {
        return Ok(Some(org));
    }
    api.find_org_by_name(id_or_name).await
}

/// For a new org, promises the start of its id; and records the org's plan
/// (when the provider is configured, as the clients' plans then are) so
/// that clients planned after it in this run are checked against it.
fn promise_id_and_remember(req: &mut PlanRequest<OrgModel>, planned_orgs: Option<&PlannedOrgs>) {
    let (id, exists) = match req.planned.id.known() {
        Some(id) => (id.clone(), true),
        None => {
            let Some(name) = req.planned.name.known() else {
                return;
            };
            let prefix = promised_id_prefix(name);
            req.promise_prefix("id", prefix.clone());
            (prefix, false)
        }
    };
    if let Some(planned_orgs) = planned_orgs {
        if let Some(other) = planned_orgs.remember(planned_facts(id, &req.planned, exists)) {
            let name = known_string(&req.planned.name);
            name_taken(
                &mut req.diags,
                NameTaken {
                    name,
                    holder: format!("another partner_org planned in this run ({other}…)"),
                },
            );
        }
    }
}

/// A new org, or an org renamed, needs a name no other org that is not
/// offboarded holds: the registry refuses the write otherwise.
/// Refuses a name another org holds; `replacing` is the org this plan
/// replaces, which gives up its name when it is destroyed first.
async fn check_name_free(
    api: &ApiClient,
    req: &mut PlanRequest<OrgModel>,
    replacing: Option<&str>,
) {
    let Some(name) = req.config.name.known() else {
        return;
    };
    let prior_id = req
        .prior
        .as_ref()
        .and_then(|p| p.id.known().cloned())
        .or(replacing.map(str::to_string));
    if req
        .prior
        .as_ref()
        .is_some_and(|p| p.name.known() == Some(name))
    {
        return;
    }
    match api.find_org_by_name(name).await {
        Ok(Some(other)) if Some(&other.id) != prior_id.as_ref() => {
            let taken = NameTaken {
                name: name.clone(),
                holder: format!("org {}", other.id),
            };
            name_taken(&mut req.diags, taken);
        }
        Ok(_) => {}
        Err(e) => report(&mut req.diags, "Cannot check the org's name", &e, &[]),
    }
}

/// The keys of the private state a plan of an existing org leaves for the
/// second plan Terraform makes when it replaces the org (`-replace`,
/// `replace_triggered_by`): that one sees no prior state, only this.
const REPLACES_ID: &str = "replaces_id";
const REPLACES_NAME: &str = "replaces_name";
const REPLACES_PROTECTED: &str = "replaces_protected";

/// What a replacement destroys, as the plan of the existing org left it.
struct ReplacedOrg {
    id: String,
    name: String,
    protected: bool,
}

/// Leaves in the planned private state what a replacement of `prior` needs
/// to know of it.
fn mark_replaceable(ctx: &Context, prior: &OrgModel) {
    let mut private = ctx.private();
    private.set(REPLACES_ID, known_string(&prior.id));
    private.set(REPLACES_NAME, known_string(&prior.name));
    private.set(
        REPLACES_PROTECTED,
        prior.deletion_protection.known() == Some(&true),
    );
    ctx.set_private(private);
}

/// The org a plan without prior state replaces, if it is the second plan of
/// a replacement.
fn replaced_org(ctx: &Context) -> Option<ReplacedOrg> {
    let private = ctx.private();
    Some(ReplacedOrg {
        id: private.get_str(REPLACES_ID)?.to_string(),
        name: private
            .get_str(REPLACES_NAME)
            .unwrap_or_default()
            .to_string(),
        protected: private.get_bool(REPLACES_PROTECTED).unwrap_or(false),
    })
}

/// The error of a plan that `verb`s (destroys, replaces) an org whose
/// deletion_protection is true.
fn protected_from_deletion(d: &mut Diagnostics, name: &str, verb: &str) {
    d.error_at(
        AttrPath::attr("deletion_protection"),
        format!("Org {name:?} is protected from deletion"),
        format!(
            "This plan {verb} org {name:?}, which offboards it and revokes all its clients, \
             but its deletion_protection is true. Set deletion_protection = false in an apply \
             of its own first."
        ),
    );
}

fn name_taken(d: &mut Diagnostics, taken: NameTaken) {
    d.error_at(
        AttrPath::attr("name"),
        "Org name already taken",
        format!(
            "name {taken}: org names are unique among orgs that are not offboarded. Choose \
             another name, or import the existing org."
        ),
    );
}

/// The org as this plan will leave it; `id` is, for an org not yet
/// created, the promised start of its id.
fn planned_facts(id: String, planned: &OrgModel, exists: bool) -> OrgFacts {
    OrgFacts {
        id,
        name: planned.name.known().cloned().unwrap_or_default(),
        approval_authority: planned
            .approval_authority
            .known()
            .cloned()
            .unwrap_or_else(|| UNKNOWN_APPROVER.to_string()),
        allowed_scopes: planned.allowed_scopes.known().cloned(),
        contract_end: planned.contract_end.known().cloned(),
        status: planned.status.known().and_then(|s| OrgStatus::parse(s)),
        max_clients: planned.max_clients.known().copied(),
        approval_policy: planned.approval_policy.known().cloned(),
        exists,
        previous_contract_end: None,
    }
}

/// Narrowing an org below what its clients hold is refused by the registry,
/// and Terraform updates an org before its clients: fail the plan, naming
/// the clients in the way, rather than the apply halfway through.
async fn check_narrowing(api: &ApiClient, prior: &OrgModel, req: &mut PlanRequest<OrgModel>) {
    let planned = &req.planned;
    let changed = prior.allowed_scopes != planned.allowed_scopes
        || prior.contract_end != planned.contract_end
        || prior.max_clients != planned.max_clients;
    if !changed {
        return;
    }
    let filter = ClientFilter {
        org_id: prior.id.known().cloned(),
        ..ClientFilter::default()
    };
    let clients = match api.list_clients(&filter).await {
        Ok(clients) => clients,
        Err(e) => {
            report(&mut req.diags, "Cannot check the org's clients", &e, &[]);
            return;
        }
    };
    let end = |v: &Val<String>| {
        v.as_deref()
            .and_then(validate::end_of_day)
            .map(|t| t.unix_timestamp())
    };
    let (old_end, new_end) = (end(&prior.contract_end), end(&planned.contract_end));
    let live: Vec<ClientFacts> = clients
        .iter()
        .filter(|c| c.status != ClientStatus::Revoked)
        .map(|c| {
            let expires_at =
                validate::parse_timestamp(&c.expires_at).map_or(i64::MAX, |t| t.unix_timestamp());
            ClientFacts {
                name: c.profile.name.clone(),
                client_id: c.client_id.clone(),
                scopes: c.profile.scopes.clone(),
                // A client that ends with the contract moves with it.
                expires_at: match new_end {
                    Some(new_end) if Some(expires_at) == old_end => new_end,
                    _ => expires_at,
                },
                active: c.status == ClientStatus::Active,
            }
        })
        .collect();
    let change = Narrowing {
        allowed_scopes: planned.allowed_scopes.known().map(Vec::as_slice),
        contract_end: new_end,
        max_clients: planned.max_clients.known().copied(),
        now: api.now().unix_timestamp(),
    };
    for v in check_narrowing_rule(&live, change) {
        let field = v.field();
        req.diags.error_at(
            AttrPath::attr(field),
            "Org would be narrowed below its clients",
            format!(
                "{field}: {v}. Terraform updates the org before its clients, so change or \
                 revoke those clients in an apply of their own first, then narrow the org."
            ),
        );
    }
}

/// Under `approval_policy = "require"` (as the org has it before this
/// change: that is what the registry applies), whether each widening is
/// approved for this run's change reference.
async fn note_approvals(api: &ApiClient, prior: &OrgModel, req: &mut PlanRequest<OrgModel>) {
    let (Some(id), Some(before), Some(after)) = (
        prior.id.known(),
        prior.allowed_scopes.known(),
        req.planned.allowed_scopes.known(),
    ) else {
        return;
    };
    if prior.approval_policy.as_deref() != Some(partner_rules::approvals::REQUIRE) {
        return;
    }
    let widenings = partner_rules::approvals::org_widenings(
        partner_rules::approvals::OrgTerms {
            allowed_scopes: before,
            contract_end: prior.contract_end.as_deref().unwrap_or_default(),
            approval_policy: prior.approval_policy.as_deref().unwrap_or_default(),
            max_clients: prior.max_clients.known().copied().unwrap_or_default(),
        },
        partner_rules::approvals::OrgTerms {
            allowed_scopes: after,
            contract_end: req.planned.contract_end.as_deref().unwrap_or_default(),
            approval_policy: req.planned.approval_policy.as_deref().unwrap_or_default(),
            // Unknown (from another resource, say): no raise to note yet.
            max_clients: req
                .planned
                .max_clients
                .known()
                .or(prior.max_clients.known())
                .copied()
                .unwrap_or_default(),
        },
    );
    let name = known_string(&prior.name);
    super::approvals::note_approvals(
        api,
        &mut req.diags,
        &format!("Org {name:?}"),
        &name,
        &known_string(&prior.approval_authority),
        id,
        widenings,
    )
    .await;
}

/// Warnings a reviewer must see: an org's access widened or prolonged, and a
/// contract that has already ended, each naming who has to approve.
fn warn_risky_changes(prior: &OrgModel, req: &mut PlanRequest<OrgModel>) {
    let org = known_string(&prior.name);
    let approver = req
        .config
        .approval_authority
        .known()
        .cloned()
        .unwrap_or_else(|| known_string(&prior.approval_authority));
    if let (Some(before), Some(after)) = (
        prior.allowed_scopes.known(),
        req.config.allowed_scopes.known(),
    ) {
        let added = added_scopes(before, after);
        if !added.is_empty() {
            req.diags.warn_at(
                AttrPath::attr("allowed_scopes"),
                format!("Org {org:?}: allowed scopes widened"),
                format!(
                    "Org {org:?} may grant {added:?} to its clients. Ask {approver} to approve."
                ),
            );
        }
    }
    if let (Some(before), Some(after)) = (
        prior.contract_end.as_deref(),
        req.config.contract_end.as_deref(),
    ) {
        if validate::parse_date(after).is_some() && after > before {
            req.diags.warn_at(
                AttrPath::attr("contract_end"),
                format!("Org {org:?}: contract extended"),
                format!(
                    "Org {org:?}'s contract would end on {after} instead of {before}. Ask {approver} \
                     to approve."
                ),
            );
        }
    }
    if let (Some(before), Some(after)) = (prior.max_clients.known(), req.config.max_clients.known())
    {
        if after > before {
            req.diags.warn_at(
                AttrPath::attr("max_clients"),
                format!("Org {org:?}: room for more clients"),
                format!(
                    "Org {org:?} may have {after} active clients instead of {before}. Ask \
                     {approver} to approve."
                ),
            );
        }
    }
    if prior.status.as_deref() == Some(OrgStatus::Expired.as_str()) {
        req.diags.warn(
            format!("Org {org:?}: contract has ended"),
            format!(
                "The contract of org {org:?} ended on {}: its clients no longer work. Ask {approver} \
                 to extend contract_end, or destroy the org to offboard it.",
                known_string(&prior.contract_end)
            ),
        );
    }
}
