//! `partner_org`: a partner organisation, its contacts, its contract and
//! the scopes its clients may be granted.
use super::validate;
use crate::model;
use crate::tf::{
    Attribute, Context, CreateRequest, Diagnostics, PlanRequest, Resource, Schema, UpdateRequest,
};
use std::collections::BTreeMap;

pub const TYPE_NAME: &str = "partner_org";

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
        status: String,
        created_at: String,
    }
}

pub fn schema() -> Schema {
    Schema::new(
        "A partner organisation registered in the partner registry: who it is, who owns the \
         integration on its side, who approves its access, the contract that bounds it, and the \
         OAuth scopes its clients may be granted. Destroying an org offboards it and revokes every \
         client it still has.",
    )
    .attr(Attribute::string("id").computed().use_state_for_unknown().description(
        "Identifier the registry assigned to the org. Also accepted by `terraform import`.",
    ))
    .attr(Attribute::string("name").required().description(
        "Unique short name of the org: 1 to 63 lower-case letters, digits and hyphens, not \
         starting or ending with a hyphen (for example `acme-logistics`). Also accepted by `terraform import`.",
    ))
    .attr(Attribute::string("legal_entity").required().description(
        "Registered legal name of the partner company, as on the contract.",
    ))
    .attr(Attribute::string("technical_owner").required().description(
        "Email address of the person on the partner's side who owns the integration.",
    ))
    .attr(Attribute::string("approval_authority").required().description(
        "Email address of the person who approves changes to this org's access; risky changes \
         in a plan name this person.",
    ))
    .attr(Attribute::string("commercial_sponsor").optional().description(
        "Email address of the internal sponsor of the partnership. Orgs without one are listed \
         by the entitlement review.",
    ))
    .attr(Attribute::string("contract_id").required().description(
        "Identifier of the contract that governs this partnership.",
    ))
    .attr(Attribute::string("contract_start").optional().description(
        "First day of the contract, as `YYYY-MM-DD`.",
    ))
    .attr(Attribute::string("contract_end").required().description(
        "Last day of the contract, as `YYYY-MM-DD`. When it passes, the org's clients stop \
         working and read back as `expired`. Client expiries default to this date.",
    ))
    .attr(Attribute::string("tenant").optional().description(
        "Tenant the org belongs to, for multi-tenant registries.",
    ))
    .attr(Attribute::string("business_unit").optional().description(
        "Internal business unit that owns the relationship.",
    ))
    .attr(Attribute::set_of_strings("allowed_scopes").required().description(
        "OAuth scopes that clients of this org may be granted. Each is a scope token: 1 to 128 \
         printable characters without spaces, quotes or backslashes (for example `orders:read`).",
    ))
    .attr(Attribute::number("max_clients").optional().computed().use_state_for_unknown().description(
        "Maximum number of active clients the org may have. When unset, the registry's default \
         applies and is shown here after apply.",
    ))
    .attr(Attribute::map_of_strings("labels").optional().description(
        "Free-form labels for the org, as a map of strings.",
    ))
    .attr(Attribute::string("status").computed().use_state_for_unknown().description(
        "Lifecycle status of the org: `active`, `expired` (its contract has ended) or `offboarded`.",
    ))
    .attr(Attribute::string("created_at").computed().use_state_for_unknown().description(
        "When the org was registered, as an RFC 3339 timestamp.",
    ))
}

/// Offline checks of a configuration; each diagnostic names its attribute.
pub fn validate_config(c: &OrgModel, d: &mut Diagnostics) {
    validate::slug(&c.name, "name", d);
    validate::non_empty(&c.legal_entity, "legal_entity", d);
    validate::non_empty(&c.contract_id, "contract_id", d);
    validate::email(&c.technical_owner, "technical_owner", d);
    validate::email(&c.approval_authority, "approval_authority", d);
    validate::email(&c.commercial_sponsor, "commercial_sponsor", d);
    validate::date(&c.contract_start, "contract_start", d);
    validate::date(&c.contract_end, "contract_end", d);
    validate::scopes(&c.allowed_scopes, "allowed_scopes", d);
    if let (Some(s), Some(e)) = (c.contract_start.as_deref(), c.contract_end.as_deref()) {
        if validate::is_date(s) && validate::is_date(e) && s > e {
            d.error_at(
                crate::tf::AttrPath::attr("contract_end"),
                "Contract ends before it starts",
                format!("contract_end ({e}) is before contract_start ({s})."),
            );
        }
    }
    if let Some(n) = c.max_clients.known() {
        if *n < 1 {
            d.error_at(
                crate::tf::AttrPath::attr("max_clients"),
                "Invalid max_clients",
                format!("max_clients must be at least 1; got {n}."),
            );
        }
    }
}

/// The `partner_org` resource.
pub struct PartnerOrg;

fn not_yet(d: &mut Diagnostics, op: &str) {
    d.error(
        format!("partner_org {op} is not available yet"),
        "This build of the provider defines the partner_org schema but not yet its calls to the registry API.",
    );
}

impl Resource for PartnerOrg {
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
    async fn plan(&self, _ctx: &Context, _req: &mut PlanRequest<OrgModel>) {}

    async fn create(
        &self,
        _ctx: &Context,
        _req: CreateRequest<OrgModel>,
        diags: &mut Diagnostics,
    ) -> Option<OrgModel> {
        not_yet(diags, "create");
        None
    }
    async fn read(
        &self,
        _ctx: &Context,
        state: OrgModel,
        _diags: &mut Diagnostics,
    ) -> Option<OrgModel> {
        Some(state)
    }
    async fn update(
        &self,
        _ctx: &Context,
        _req: UpdateRequest<OrgModel>,
        diags: &mut Diagnostics,
    ) -> Option<OrgModel> {
        not_yet(diags, "update");
        None
    }
    async fn delete(&self, _ctx: &Context, _state: OrgModel, diags: &mut Diagnostics) {
        not_yet(diags, "delete");
    }
}
