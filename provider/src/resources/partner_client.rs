//! `partner_client`: an OAuth client of a partner org, with its owner,
//! purpose, scopes and expiry.
use super::validate;
use crate::model;
use crate::tf::{
    Attribute, Context, CreateRequest, Diagnostics, PlanRequest, Resource, Schema, UpdateRequest,
};

pub const TYPE_NAME: &str = "partner_client";

model! {
    /// Typed value of a `partner_client`.
    pub struct ClientModel {
        id: String,
        org_id: String,
        name: String,
        purpose: String,
        owner: String,
        scopes: Vec<String>,
        expires_at: String,
        client_id: String,
        client_secret: String,
        status: String,
        created_at: String,
    }
}

pub fn schema() -> Schema {
    Schema::new(
        "An OAuth client of a partner org: what it is for, who owns it, which scopes it may use \
         and until when. Destroying it revokes it at once.",
    )
    .attr(Attribute::string("id").computed().use_state_for_unknown().description(
        "Identifier the registry assigned to the client. Also accepted by `terraform import`.",
    ))
    .attr(Attribute::string("org_id").required().requires_replace().description(
        "ID of the `partner_org` this client belongs to. Changing it replaces the client: a new \
         client_id and secret are issued and the old client is revoked.",
    ))
    .attr(Attribute::string("name").required().description(
        "Human-readable name of the client, unique within its org.",
    ))
    .attr(Attribute::string("purpose").required().description(
        "What the client is used for, for reviewers and audits.",
    ))
    .attr(Attribute::string("owner").required().description(
        "Email address of the person responsible for the client.",
    ))
    .attr(Attribute::set_of_strings("scopes").required().description(
        "OAuth scopes granted to the client; each must be among the org's `allowed_scopes`.",
    ))
    .attr(Attribute::string("expires_at").optional().computed().use_state_for_unknown().description(
        "When the client stops working, as an RFC 3339 timestamp (for example \
         `2027-06-30T00:00:00Z`). Must not be after the org's `contract_end`; defaults to the end \
         of the org's contract.",
    ))
    .attr(Attribute::string("client_id").computed().use_state_for_unknown().description(
        "OAuth client_id issued by the registry.",
    ))
    .attr(Attribute::string("client_secret").computed().sensitive().use_state_for_unknown().description(
        "OAuth client secret. Known only from the apply that created the client and kept in state \
         from then on; null after `terraform import`, since a secret cannot be recovered.",
    ))
    .attr(Attribute::string("status").computed().use_state_for_unknown().description(
        "Lifecycle status of the client: `active`, `expired` or `revoked`.",
    ))
    .attr(Attribute::string("created_at").computed().use_state_for_unknown().description(
        "When the client was created, as an RFC 3339 timestamp.",
    ))
}

/// Offline checks of a configuration; each diagnostic names its attribute.
pub fn validate_config(c: &ClientModel, d: &mut Diagnostics) {
    validate::non_empty(&c.org_id, "org_id", d);
    validate::non_empty(&c.name, "name", d);
    validate::non_empty(&c.purpose, "purpose", d);
    validate::email(&c.owner, "owner", d);
    validate::scopes(&c.scopes, "scopes", d);
    validate::timestamp(&c.expires_at, "expires_at", d);
}

/// The `partner_client` resource.
pub struct PartnerClient;

fn not_yet(d: &mut Diagnostics, op: &str) {
    d.error(
        format!("partner_client {op} is not available yet"),
        "This build of the provider defines the partner_client schema but not yet its calls to the registry API.",
    );
}

impl Resource for PartnerClient {
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
    async fn plan(&self, _ctx: &Context, _req: &mut PlanRequest<ClientModel>) {}

    async fn create(
        &self,
        _ctx: &Context,
        _req: CreateRequest<ClientModel>,
        diags: &mut Diagnostics,
    ) -> Option<ClientModel> {
        not_yet(diags, "create");
        None
    }
    async fn read(
        &self,
        _ctx: &Context,
        state: ClientModel,
        _diags: &mut Diagnostics,
    ) -> Option<ClientModel> {
        Some(state)
    }
    async fn update(
        &self,
        _ctx: &Context,
        _req: UpdateRequest<ClientModel>,
        diags: &mut Diagnostics,
    ) -> Option<ClientModel> {
        not_yet(diags, "update");
        None
    }
    async fn delete(&self, _ctx: &Context, _state: ClientModel, diags: &mut Diagnostics) {
        not_yet(diags, "delete");
    }
}
