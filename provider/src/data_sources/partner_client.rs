//! Data source `partner_client`: one client looked up by `id`, by its
//! public `client_id`, or by `org_id` and `name`. Never the secret.
use super::partner_clients::{ClientSummary as ClientData, summary_of};
use crate::configured::{Configured, Context};
use crate::lookup::{find_client, find_client_by_name};
use crate::report::report;
use crate::resources::partner_client;
use partner_api::ClientAttributes;
use tfplugin::{AttrPath, Attribute, DataSource, Declaration, Diagnostics, Schema, Val};

/// The attributes that say which client to look up.
const LOOKUP: &[&str] = &["id", "client_id", "org_id", "name"];

pub struct PartnerClientData;

impl Declaration for PartnerClientData {
    type Model = ClientData;

    fn type_name(&self) -> &'static str {
        partner_client::TYPE_NAME
    }

    fn schema(&self) -> Schema {
        let mut schema = Schema::new(
            "Looks up one partner client by `id`, by its public `client_id`, or by `org_id` and \
             `name` (exactly one of these), revoked clients included, and exposes what the \
             registry knows of it. The secret is never exposed: it exists only where the \
             [`partner_client` resource](../resources/partner_client.md) that made it keeps it.",
        );
        let resource = partner_client::schema();
        let shown = [
            "id",
            "client_id",
            "org_id",
            "name",
            "purpose",
            "owner",
            "scopes",
            "expires_at",
            "status",
            "created_at",
        ];
        for name in shown
            .into_iter()
            .chain(ClientAttributes::NAMES.iter().copied())
        {
            let Some(attribute) = resource.attribute(name).cloned() else {
                continue;
            };
            let description = match name {
                "id" => "The client's identifier: set it, `client_id`, or `org_id` and `name`, to \
                         say which client to look up."
                    .into(),
                "client_id" => "The client's public OAuth client_id (`pc_…`): set it, `id`, or \
                                `org_id` and `name`, to say which client to look up."
                    .into(),
                "org_id" => {
                    "ID of the client's org; with `name`, says which client to look up.".into()
                }
                "name" => "Name of the client within its org; with `org_id`, says which client to \
                           look up."
                    .into(),
                _ => attribute.description,
            };
            schema = schema.attr(Attribute {
                description,
                required: false,
                optional: LOOKUP.contains(&name),
                computed: true,
                requires_replace: false,
                use_state_for_unknown: false,
                ..attribute
            });
        }
        schema.attr(Attribute::string("last_used_at").computed().description(
            "The client's last successful introspection, recorded to the minute; null if it was \
             never used.",
        ))
    }

    fn validate(&self, config: &ClientData, d: &mut Diagnostics) {
        let set = |v: &Val<String>| !v.is_null();
        let ways = [
            set(&config.id),
            set(&config.client_id),
            set(&config.org_id) || set(&config.name),
        ];
        if ways.iter().filter(|w| **w).count() != 1 {
            d.error(
                "Invalid client lookup",
                "Set exactly one of id, client_id, or org_id together with name.",
            );
        } else if set(&config.org_id) != set(&config.name) {
            let missing = if set(&config.name) { "org_id" } else { "name" };
            d.error_at(
                AttrPath::attr(missing),
                "Invalid client lookup",
                "A client is looked up by name within its org: set both org_id and name.",
            );
        }
    }
}

impl DataSource<Configured> for PartnerClientData {
    async fn read(
        &self,
        ctx: &Context,
        config: ClientData,
        diags: &mut Diagnostics,
    ) -> Option<ClientData> {
        let api = &ctx.require_data(diags)?.api;
        let found = match (config.id.known(), config.client_id.known()) {
            (Some(id), _) | (None, Some(id)) => find_client(api, id).await,
            (None, None) => {
                let org = config.org_id.known().cloned().unwrap_or_default();
                let name = config.name.known().cloned().unwrap_or_default();
                find_client_by_name(api, &org, &name).await
            }
        };
        match found {
            Ok(Some(client)) => Some(summary_of(client)),
            Ok(None) => {
                diags.error(
                    "Partner client not found",
                    format!(
                        "The registry at {} has no client matching this lookup.",
                        api.endpoint()
                    ),
                );
                None
            }
            Err(e) => {
                report(diags, "Cannot read the partner client", &e, LOOKUP);
                None
            }
        }
    }
}
