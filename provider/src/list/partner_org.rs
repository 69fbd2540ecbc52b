//! List resource `partner_org`: the orgs the registry holds, filtered by
//! status, contract end and technical owner.
use super::{check_owner, check_status, seconds};
use crate::client::OrgStatus;
use crate::configured::{Configured, Context};
use crate::report::report;
use crate::resources::partner_org::{self, model_from};
use tfplugin::model;
use tfplugin::{Attribute, Declaration, Diagnostics, ListItem, ListResource, Model, Schema};

model! {
    /// The `config` block of `list "partner_org"`.
    pub struct OrgListConfig {
        status: String,
        expiring_within: String,
        owner: String,
    }
}

pub struct PartnerOrgList;

impl Declaration for PartnerOrgList {
    type Model = OrgListConfig;

    fn type_name(&self) -> &'static str {
        partner_org::TYPE_NAME
    }

    fn schema(&self) -> Schema {
        Schema::new(
            "Finds the partner orgs the registry holds, for `terraform query`: each with its \
             identity (`id`) and its name as display name. Offboarded orgs are left out unless \
             `status = \"offboarded\"`. Every filter set must match.",
        )
        .attr(Attribute::string("status").optional().description(
            "Only orgs with this status: `active`, `expired` (contract ended) or `offboarded`. \
             Unset: active and expired orgs.",
        ))
        .attr(Attribute::string("expiring_within").optional().description(
            "Only orgs whose contract has not ended and ends within this duration from now, such \
             as `\"2160h\"` (units h, m, s).",
        ))
        .attr(Attribute::string("owner").optional().description(
            "Only orgs whose `technical_owner` has this email address (compared without regard to \
             case).",
        ))
    }

    fn validate(&self, config: &OrgListConfig, d: &mut Diagnostics) {
        check_status(&config.status, &["active", "expired", "offboarded"], d);
        crate::validate::duration(&config.expiring_within, "expiring_within", None, d);
        check_owner(&config.owner, d);
    }
}

impl ListResource<Configured> for PartnerOrgList {
    async fn list(
        &self,
        ctx: &Context,
        config: OrgListConfig,
        limit: usize,
        diags: &mut Diagnostics,
    ) -> Vec<ListItem> {
        let Some(Configured { api, .. }) = ctx.require_data(diags) else {
            return vec![];
        };
        let orgs = match api.list_orgs(config.status.as_deref()).await {
            Ok(orgs) => orgs,
            Err(e) => {
                report(diags, "Cannot list partner orgs", &e, &["status"]);
                return vec![];
            }
        };
        let now = api.now().unix_timestamp();
        let horizon = seconds(&config.expiring_within).map(|d| now.saturating_add(d));
        orgs.into_iter()
            .filter(|o| config.status.is_known() || o.status != OrgStatus::Offboarded)
            .filter(|o| {
                config
                    .owner
                    .as_deref()
                    .is_none_or(|owner| o.profile.technical_owner.eq_ignore_ascii_case(owner))
            })
            .filter(|o| crate::lookup::contract_ends_by(o, now, horizon))
            .take(limit)
            .map(|o| ListItem {
                display_name: o.profile.name.clone(),
                state: model_from(o, None).to_value(),
            })
            .collect()
    }
}
