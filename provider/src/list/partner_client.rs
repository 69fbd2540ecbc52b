//! List resource `partner_client`: the clients the registry holds,
//! filtered by org, status, expiry, use and owner.
use super::{check_owner, check_status, seconds, unix};
use crate::client::{ClientFilter, ClientStatus, ClientView};
use crate::configured::{Configured, Context};
use crate::report::report;
use crate::resources::partner_client::{self, ClientModel, model_from};
use std::collections::BTreeMap;
use tfplugin::model;
use tfplugin::{Attribute, Declaration, Diagnostics, ListItem, ListResource, Model, Schema, Val};

model! {
    /// The `config` block of `list "partner_client"`.
    pub struct ClientListConfig {
        org_id: String,
        status: String,
        expiring_within: String,
        unused_for: String,
        owner: String,
    }
}

pub struct PartnerClientList;

impl Declaration for PartnerClientList {
    type Model = ClientListConfig;

    fn type_name(&self) -> &'static str {
        partner_client::TYPE_NAME
    }

    fn schema(&self) -> Schema {
        Schema::new(
            "Finds the partner clients the registry holds, for `terraform query`: each with its \
             identity (`id`) and the display name `ORG_NAME/CLIENT_NAME`. Revoked clients are \
             left out unless `status = \"revoked\"`. Every filter set must match. With \
             `-generate-config-out`, Terraform writes an `import` block and a `partner_client` \
             block for each client found; see the guide *Adopting existing clients*.",
        )
        .attr(
            Attribute::string("org_id")
                .optional()
                .description("Only clients of the org with this ID."),
        )
        .attr(Attribute::string("status").optional().description(
            "Only clients with this status: `active`, `expired` or `revoked`. Unset: active and \
             expired clients.",
        ))
        .attr(Attribute::string("expiring_within").optional().description(
            "Only clients that are not revoked and whose `expires_at` falls within this duration \
             from now, such as `\"720h\"` (units h, m, s).",
        ))
        .attr(Attribute::string("unused_for").optional().description(
            "Only clients with no successful introspection for at least this duration, such as \
             `\"2160h\"`: their last use, or their creation when they were never used, lies \
             further back. This finds abandoned integrations.",
        ))
        .attr(Attribute::string("owner").optional().description(
            "Only clients whose accountable owner has this email address (compared without \
             regard to case).",
        ))
    }

    fn validate(&self, config: &ClientListConfig, d: &mut Diagnostics) {
        check_status(&config.status, &["active", "expired", "revoked"], d);
        crate::validate::duration(&config.expiring_within, "expiring_within", None, d);
        crate::validate::duration(&config.unused_for, "unused_for", None, d);
        check_owner(&config.owner, d);
    }
}

impl ListResource<Configured> for PartnerClientList {
    async fn list(
        &self,
        ctx: &Context,
        config: ClientListConfig,
        limit: usize,
        diags: &mut Diagnostics,
    ) -> Vec<ListItem> {
        let Some(Configured { api, .. }) = ctx.require_data(diags) else {
            return vec![];
        };
        let filter = ClientFilter {
            org_id: config.org_id.known().cloned(),
            status: config.status.known().cloned(),
            expiring_within: config.expiring_within.known().cloned(),
        };
        let listed = async { Ok((api.list_clients(&filter).await?, api.list_orgs(None).await?)) };
        let (clients, orgs) = match listed.await {
            Ok(found) => found,
            Err(e) => {
                report(
                    diags,
                    "Cannot list partner clients",
                    &e,
                    &["org_id", "status"],
                );
                return vec![];
            }
        };
        let org_names: BTreeMap<String, String> = orgs
            .into_iter()
            .map(|org| (org.id, org.profile.name))
            .collect();
        let now = api.now().unix_timestamp();
        let unused_since = seconds(&config.unused_for).map(|d| now.saturating_sub(d));
        clients
            .into_iter()
            .filter(|c| config.status.is_known() || c.status != ClientStatus::Revoked)
            .filter(|c| matches_owner(c, &config.owner))
            .filter(|c| unused_since.is_none_or(|before| last_activity(c) <= before))
            .take(limit)
            .map(|c| {
                let org = org_names
                    .get(&c.org_id)
                    .cloned()
                    .unwrap_or(c.org_id.clone());
                ListItem {
                    display_name: format!("{org}/{}", c.profile.name),
                    state: model_from(c, &ClientModel::default(), Val::Null).to_value(),
                }
            })
            .collect()
    }
}

fn matches_owner(c: &ClientView, owner: &Val<String>) -> bool {
    owner
        .as_deref()
        .is_none_or(|o| c.profile.owner.eq_ignore_ascii_case(o))
}

/// When the client was last used, or created if it never was (Unix seconds).
fn last_activity(c: &ClientView) -> i64 {
    unix(c.last_used_at.as_deref().unwrap_or(&c.created_at)).unwrap_or(i64::MIN)
}
