//! Data source `partner_orgs`: orgs filtered by status and by how soon
//! their contract ends, for reviews, `check` blocks and outputs.
use crate::client::OrgView;
use crate::configured::{Configured, Context};
use crate::lookup::contract_ends_by;
use crate::report::report;
use tfplugin::model;
use tfplugin::{
    AttrPath, Attribute, DataSource, Declaration, Diagnostics, Model, Schema, Type, Val, Value,
};

pub const TYPE_NAME: &str = "partner_orgs";

model! {
    pub struct OrgsQuery {
        status: String,
        contract_ending_within: String,
        orgs: Vec<Value>,
    }
}

model! {
    /// One element of `orgs`.
    pub struct OrgSummary {
        id: String,
        name: String,
        legal_entity: String,
        technical_owner: String,
        approval_authority: String,
        contract_id: String,
        contract_end: String,
        allowed_scopes: Vec<String>,
        max_clients: i64,
        status: String,
        created_at: String,
    }
}

pub struct PartnerOrgsData;

impl Declaration for PartnerOrgsData {
    type Model = OrgsQuery;

    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        Schema::new(
            "Lists partner organisations, filtered by status and by how soon their contract ends: \
             for example, list every org whose contract ends within 90 days to start renewals, \
             or fail a `check` when one has ended.",
        )
        .attr(Attribute::string("status").optional().description(
            "Only orgs with this status: `active`, `expired` (contract ended) or `offboarded`.",
        ))
        .attr(Attribute::string("contract_ending_within").optional().description(
            "Only orgs whose contract has not ended and ends within this duration from now, such \
             as `\"2160h\"` (units h, m, s).",
        ))
        .attr(
            Attribute::new("orgs", Type::list(summary_type()))
                .computed()
                .description(
                    "The matching orgs, each with `id`, `name`, `legal_entity`, `technical_owner`, \
                     `approval_authority`, `contract_id`, `contract_end`, `allowed_scopes`, \
                     `max_clients`, `status` and `created_at`.",
                ),
        )
    }

    fn validate(&self, config: &OrgsQuery, d: &mut Diagnostics) {
        if let Some(status) = config.status.as_deref() {
            if !matches!(status, "active" | "expired" | "offboarded") {
                d.error_at(
                    AttrPath::attr("status"),
                    "Invalid status",
                    format!("status must be one of active, expired or offboarded; got {status:?}."),
                );
            }
        }
        crate::validate::duration(
            &config.contract_ending_within,
            "contract_ending_within",
            None,
            d,
        );
    }
}

impl DataSource<Configured> for PartnerOrgsData {
    async fn read(
        &self,
        ctx: &Context,
        config: OrgsQuery,
        diags: &mut Diagnostics,
    ) -> Option<OrgsQuery> {
        let api = &ctx.require_data(diags)?.api;
        let orgs = match api.list_orgs(config.status.as_deref()).await {
            Ok(orgs) => orgs,
            Err(e) => {
                report(diags, "Cannot list partner orgs", &e, &["status"]);
                return None;
            }
        };
        let now = api.now().unix_timestamp();
        let horizon = config
            .contract_ending_within
            .as_deref()
            .and_then(partner_rules::parse_duration)
            .map(|d| now.saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)));
        let orgs = orgs
            .into_iter()
            .filter(|org| contract_ends_by(org, now, horizon))
            .map(summary)
            .collect();
        Some(OrgsQuery {
            orgs: Val::Known(orgs),
            ..config
        })
    }
}

/// The object type of one listed org.
fn summary_type() -> Type {
    let string = || Type::String;
    Type::object([
        ("id", string()),
        ("name", string()),
        ("legal_entity", string()),
        ("technical_owner", string()),
        ("approval_authority", string()),
        ("contract_id", string()),
        ("contract_end", string()),
        ("allowed_scopes", Type::set(Type::String)),
        ("max_clients", Type::Number),
        ("status", string()),
        ("created_at", string()),
    ])
}

fn summary(org: OrgView) -> Value {
    OrgSummary {
        id: Val::Known(org.id),
        name: Val::Known(org.profile.name),
        legal_entity: Val::Known(org.profile.legal_entity),
        technical_owner: Val::Known(org.profile.technical_owner),
        approval_authority: Val::Known(org.profile.approval_authority),
        contract_id: Val::Known(org.profile.contract_id),
        contract_end: Val::Known(org.profile.contract_end),
        allowed_scopes: Val::Known(org.profile.allowed_scopes),
        max_clients: Val::Known(org.max_clients),
        status: Val::Known(org.status.to_string()),
        created_at: Val::Known(org.created_at),
    }
    .to_value()
}
