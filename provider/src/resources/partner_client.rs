//! `partner_client`: an OAuth client of a partner org, with its owner,
//! purpose, scopes and expiry.
use super::{keep_timestamp_form, known_string, report, validate};
use crate::client::{ApiClient, Client, ClientFields, ClientFilter, Org};
use crate::model;
use crate::tf::{
    AttrPath, Attribute, Context, CreateRequest, Diagnostics, PlanRequest, Resource, Schema,
    UpdateRequest, Val,
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

/// Attributes the registry may name in a refusal of a client write.
const WRITABLE: &[&str] = &["org_id", "name", "purpose", "owner", "scopes", "expires_at"];

fn fields(m: &ClientModel) -> ClientFields {
    ClientFields {
        name: known_string(&m.name),
        purpose: known_string(&m.purpose),
        owner: known_string(&m.owner),
        scopes: m.scopes.known().cloned().unwrap_or_default(),
        expires_at: m.expires_at.known().cloned(),
    }
}

/// The client as Terraform stores it. The secret is never read back (the
/// registry shows it once); `previous` supplies it, and the user's own
/// spelling of `expires_at` when it names the same instant.
fn model_from(client: Client, previous: &ClientModel) -> ClientModel {
    let client_secret = match client.client_secret {
        Some(secret) => Val::Known(secret),
        None if previous.client_secret.is_known() => previous.client_secret.clone(),
        None => Val::Null,
    };
    ClientModel {
        id: Val::Known(client.id),
        org_id: Val::Known(client.org_id),
        name: Val::Known(client.name),
        purpose: Val::Known(client.purpose),
        owner: Val::Known(client.owner),
        scopes: Val::Known(client.scopes),
        expires_at: keep_timestamp_form(client.expires_at, &previous.expires_at),
        client_id: Val::Known(client.client_id),
        client_secret,
        status: Val::Known(client.status),
        created_at: Val::Known(client.created_at),
    }
}

/// Checks a planned client against its org as the registry (or this plan)
/// has it, so that a change the registry would refuse fails the plan, on
/// the attribute at fault, before anything is applied.
async fn check_against_org(api: &ApiClient, req: &mut PlanRequest<ClientModel>) {
    let Some(org_id) = req.config.org_id.known().cloned() else {
        return;
    };
    let org = match api.get_org(&org_id).await {
        Ok(Some(org)) => org,
        Ok(None) => {
            req.diags.error_at(
                AttrPath::attr("org_id"),
                "Unknown partner org",
                format!(
                    "The registry at {} has no org with id {org_id:?}.",
                    api.endpoint()
                ),
            );
            return;
        }
        Err(e) => {
            report(
                &mut req.diags,
                "Cannot check the client against its org",
                &e,
                &[],
            );
            return;
        }
    };
    if req.prior.is_none() {
        check_org_accepts_new_client(api, &org, &mut req.diags).await;
    }
    if let Some(scopes) = req.config.scopes.known() {
        let outside: Vec<&str> = scopes
            .iter()
            .filter(|s| !org.allowed_scopes.contains(s))
            .map(String::as_str)
            .collect();
        if !outside.is_empty() {
            req.diags.error_at(
                AttrPath::attr("scopes"),
                "Scope not allowed for this org",
                format!(
                    "scopes {outside:?} are not in the allowed_scopes of org {:?} ({}). Ask {} to widen the org's allowed_scopes, or remove them.",
                    org.name,
                    org.allowed_scopes.join(", "),
                    org.approval_authority
                ),
            );
        }
    }
    if let (Some(expires_at), Some(contract_end)) = (
        req.config
            .expires_at
            .as_deref()
            .and_then(validate::parse_rfc3339),
        validate::end_of_day(&org.contract_end),
    ) {
        if expires_at > contract_end {
            req.diags.error_at(
                AttrPath::attr("expires_at"),
                "Client would outlive its org's contract",
                format!(
                    "expires_at ({}) is after the end of org {:?}'s contract on {} (23:59:59 UTC). A client cannot outlive the contract that bounds it.",
                    req.config.expires_at.as_deref().unwrap_or_default(),
                    org.name,
                    org.contract_end
                ),
            );
        }
    }
}

/// A new client needs an org that is active and below its quota.
async fn check_org_accepts_new_client(api: &ApiClient, org: &Org, d: &mut Diagnostics) {
    match org.status.as_str() {
        "offboarded" => d.error_at(
            AttrPath::attr("org_id"),
            "Org is offboarded",
            format!("Org {:?} ({}) is offboarded: it cannot have new clients.", org.name, org.id),
        ),
        "expired" => d.error_at(
            AttrPath::attr("org_id"),
            "Org's contract has expired",
            format!(
                "Org {:?} ({}) is expired: its contract ended on {}. Extend contract_end (ask {}) before adding clients.",
                org.name, org.id, org.contract_end, org.approval_authority
            ),
        ),
        _ => {
            let filter = ClientFilter {
                org_id: Some(org.id.clone()),
                status: Some("active".into()),
                ..ClientFilter::default()
            };
            match api.list_clients(&filter).await {
                Ok(active) if active.len() as i64 >= org.max_clients => d.error_at(
                    AttrPath::attr("org_id"),
                    "Org is at its client quota",
                    format!(
                        "Org {:?} already has {} active clients, its max_clients. Raise max_clients (ask {}) or remove a client first.",
                        org.name,
                        active.len(),
                        org.approval_authority
                    ),
                ),
                Ok(_) => {}
                Err(e) => report(d, "Cannot check the org's client quota", &e, &[]),
            }
        }
    }
}

/// The `partner_client` resource.
pub struct PartnerClient;

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

    async fn plan(&self, ctx: &Context, req: &mut PlanRequest<ClientModel>) {
        if let Some(prior) = &req.prior {
            // A new expiry can move the client between active and expired.
            if prior.expires_at != req.planned.expires_at {
                req.planned.status = Val::Unknown;
            }
        }
        let changes_access = match &req.prior {
            None => true,
            Some(prior) => {
                prior.scopes != req.config.scopes
                    || (req.config.expires_at.is_known()
                        && prior.expires_at != req.config.expires_at)
            }
        };
        if changes_access && !req.diags.has_errors() {
            if let Some(api) = ctx.client.as_deref() {
                check_against_org(api, req).await;
            }
        }
    }

    async fn create(
        &self,
        ctx: &Context,
        req: CreateRequest<ClientModel>,
        diags: &mut Diagnostics,
    ) -> Option<ClientModel> {
        let api = ctx.client(diags)?;
        let org_id = known_string(&req.planned.org_id);
        match api.create_client(&org_id, &fields(&req.planned)).await {
            Ok(client) => Some(model_from(client, &req.planned)),
            Err(e) => {
                report(diags, "Cannot create the partner client", &e, WRITABLE);
                None
            }
        }
    }

    async fn read(
        &self,
        ctx: &Context,
        state: ClientModel,
        diags: &mut Diagnostics,
    ) -> Option<ClientModel> {
        let api = ctx.client(diags)?;
        match api.get_client(&known_string(&state.id)).await {
            // A revoked client is gone for Terraform: the plan creates it anew.
            Ok(Some(client)) if client.status != "revoked" => Some(model_from(client, &state)),
            Ok(_) => None,
            Err(e) => {
                report(diags, "Cannot read the partner client", &e, &[]);
                Some(state)
            }
        }
    }

    async fn update(
        &self,
        ctx: &Context,
        req: UpdateRequest<ClientModel>,
        diags: &mut Diagnostics,
    ) -> Option<ClientModel> {
        let api = ctx.client(diags)?;
        let id = known_string(&req.prior.id);
        let result = async {
            let current =
                api.get_client(&id)
                    .await?
                    .ok_or_else(|| crate::client::RegistryError::Stale {
                        detail: format!("{id} no longer exists"),
                    })?;
            api.update_client(&current, &fields(&req.planned)).await
        }
        .await;
        match result {
            Ok(client) => Some(model_from(client, &req.planned)),
            Err(e) => {
                report(diags, "Cannot update the partner client", &e, WRITABLE);
                None
            }
        }
    }

    async fn delete(&self, ctx: &Context, state: ClientModel, diags: &mut Diagnostics) {
        let Some(api) = ctx.client(diags) else {
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
        let api = ctx.client(diags)?;
        match api.get_client(id).await {
            Ok(Some(client)) if client.status != "revoked" => {
                Some(model_from(client, &ClientModel::default()))
            }
            Ok(_) => {
                diags.error(
                    "Cannot import the partner client",
                    format!(
                        "The registry at {} has no client with id or client_id {id:?} that is not revoked.",
                        api.endpoint()
                    ),
                );
                None
            }
            Err(e) => {
                report(diags, "Cannot import the partner client", &e, &[]);
                None
            }
        }
    }
}
