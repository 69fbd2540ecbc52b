//! Data source `partner_clients`: clients filtered by org, status and how
//! soon they expire, for `check` blocks and outputs. Never lists secrets.
use crate::attributes::Attributes;
use crate::client::{ClientFilter, ClientView};
use crate::configured::{Configured, Context};
use crate::report::report;
use partner_api::ClientAttributes;
use tfplugin::model;
use tfplugin::{
    AttrPath, Attribute, DataSource, Declaration, Diagnostics, Model, Schema, Type, Val, Value,
};

pub const TYPE_NAME: &str = "partner_clients";

model! {
    pub struct ClientsQuery {
        org_id: String,
        status: String,
        expiring_within: String,
        clients: Vec<Value>,
    }
}

model! {
    /// One element of `clients`.
    pub struct ClientSummary {
        ..attributes: Attributes,
        id: String,
        client_id: String,
        org_id: String,
        name: String,
        purpose: String,
        owner: String,
        scopes: Vec<String>,
        expires_at: String,
        status: String,
        created_at: String,
        last_used_at: String,
    }
}

pub struct PartnerClientsData;

impl Declaration for PartnerClientsData {
    type Model = ClientsQuery;

    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        Schema::new(
            "Lists partner clients for `check` blocks and outputs, filtered by org, status and how \
             soon they expire: for example, fail a run's checks when any client expires within 30 \
             days. Secrets are never listed.",
        )
        .attr(
            Attribute::string("org_id")
                .optional()
                .description("Only clients of this org."),
        )
        .attr(
            Attribute::string("status")
                .optional()
                .description("Only clients with this status: `active`, `expired` or `revoked`."),
        )
        .attr(Attribute::string("expiring_within").optional().description(
            "Only clients whose `expires_at` falls within this duration from now, such as `\"720h\"` \
             (units h, m, s).",
        ))
        .attr(
            Attribute::new("clients", Type::list(summary_type()))
                .computed()
                .description(format!(
                    "The matching clients, each with `id`, `client_id`, `org_id`, `name`, `purpose`, `owner`, \
                     {}`scopes`, `expires_at`, `status`, `created_at` and `last_used_at` (the client's last \
                     successful introspection, recorded to the minute; null if it was never used: useful to \
                     find abandoned integrations). Secrets are never listed.",
                    ClientAttributes::NAMES
                        .iter()
                        .map(|name| format!("`{name}`, "))
                        .collect::<String>()
                )),
        )
    }

    fn validate(&self, config: &ClientsQuery, d: &mut Diagnostics) {
        if let Some(status) = config.status.as_deref() {
            if !matches!(status, "active" | "expired" | "revoked") {
                d.error_at(
                    AttrPath::attr("status"),
                    "Invalid status",
                    format!("status must be one of active, expired or revoked; got {status:?}."),
                );
            }
        }
        crate::validate::duration(&config.expiring_within, "expiring_within", None, d);
    }
}

impl DataSource<Configured> for PartnerClientsData {
    async fn read(
        &self,
        ctx: &Context,
        config: ClientsQuery,
        diags: &mut Diagnostics,
    ) -> Option<ClientsQuery> {
        let api = &ctx.require_data(diags)?.api;
        let filter = ClientFilter {
            org_id: config.org_id.known().cloned(),
            status: config.status.known().cloned(),
            expiring_within: config.expiring_within.known().cloned(),
        };
        match api.list_clients(&filter).await {
            Ok(clients) => Some(ClientsQuery {
                clients: Val::Known(clients.into_iter().map(summary).collect()),
                ..config
            }),
            Err(e) => {
                report(
                    diags,
                    "Cannot list partner clients",
                    &e,
                    &["org_id", "status", "expiring_within"],
                );
                None
            }
        }
    }
}

/// The object type of one listed client.
fn summary_type() -> Type {
    let string = || Type::String;
    let listed = [
        ("id", string()),
        ("client_id", string()),
        ("org_id", string()),
        ("name", string()),
        ("purpose", string()),
        ("owner", string()),
        ("scopes", Type::set(Type::String)),
        ("expires_at", string()),
        ("status", string()),
        ("created_at", string()),
        ("last_used_at", string()),
    ];
    let declared = ClientAttributes::NAMES.iter().map(|name| (*name, string()));
    Type::object(listed.into_iter().chain(declared))
}

fn summary(client: ClientView) -> Value {
    summary_of(client).to_value()
}

/// What the registry tells of a client, without any secret.
pub fn summary_of(client: ClientView) -> ClientSummary {
    ClientSummary {
        id: Val::Known(client.id),
        client_id: Val::Known(client.client_id),
        org_id: Val::Known(client.org_id),
        name: Val::Known(client.profile.name),
        purpose: Val::Known(client.profile.purpose),
        owner: Val::Known(client.profile.owner),
        scopes: Val::Known(client.profile.scopes),
        expires_at: Val::Known(client.expires_at),
        status: Val::Known(client.status.to_string()),
        created_at: Val::Known(client.created_at),
        last_used_at: Val::from_option(client.last_used_at),
        attributes: Attributes::from_api(&client.profile.attributes),
    }
}
