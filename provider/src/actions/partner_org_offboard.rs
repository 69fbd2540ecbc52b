//! Action `partner_org_offboard`: ends a partner relationship, revoking
//! the org's clients one by one (with progress) and then offboarding it.
use crate::client::{ClientFilter, ClientStatus};
use crate::configured::{Configured, Context};
use crate::report::report;
use crate::resources::partner_org::find_org;
use tfplugin::model;
use tfplugin::{Action, AttrPath, Attribute, Declaration, Diagnostics, Progress, Schema};

model! {
    pub struct OffboardConfig {
        org: String,
    }
}

pub struct OffboardOrg;

const SUMMARY: &str = "Cannot offboard the partner org";

impl Declaration for OffboardOrg {
    type Model = OffboardConfig;

    fn type_name(&self) -> &'static str {
        "partner_org_offboard"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            "Offboards a partner org: revokes each of its clients that is not revoked yet, \
             reporting progress client by client, then marks the org `offboarded`, which takes \
             no client any more. Every revocation and the offboarding are audit events. For an \
             org a configuration manages, prefer removing its resources; this action is for \
             orgs found with `terraform query` and for incidents.",
        )
        .attr(
            Attribute::string("org")
                .required()
                .description("The org to offboard: its `id` or its `name`."),
        )
    }
}

impl Action<Configured> for OffboardOrg {
    async fn plan(&self, ctx: &Context, config: OffboardConfig, diags: &mut Diagnostics) {
        if let (Some(data), Some(org)) = (ctx.data(), config.org.known()) {
            match find_org(&data.api, org).await {
                Ok(Some(_)) => {}
                Ok(None) => not_found(diags, org),
                Err(e) => report(diags, SUMMARY, &e, &[]),
            }
        }
    }

    async fn invoke(
        &self,
        ctx: &Context,
        config: OffboardConfig,
        progress: &Progress,
        diags: &mut Diagnostics,
    ) {
        let Some(Configured { api, .. }) = ctx.require_data(diags) else {
            return;
        };
        let reference = config.org.known().cloned().unwrap_or_default();
        let org = match find_org(api, &reference).await {
            Ok(Some(org)) => org,
            Ok(None) => return not_found(diags, &reference),
            Err(e) => return report(diags, SUMMARY, &e, &[]),
        };
        let filter = ClientFilter {
            org_id: Some(org.id.clone()),
            ..ClientFilter::default()
        };
        let clients = match api.list_clients(&filter).await {
            Ok(clients) => clients,
            Err(e) => return report(diags, SUMMARY, &e, &[]),
        };
        let live: Vec<_> = clients
            .iter()
            .filter(|c| c.status != ClientStatus::Revoked)
            .collect();
        progress.report(format!(
            "offboarding org {}: revoking {} clients",
            org.profile.name,
            live.len()
        ));
        for (n, client) in live.iter().enumerate() {
            if let Err(e) = api.revoke_client(&client.id).await {
                return report(diags, SUMMARY, &e, &[]);
            }
            progress.report(format!(
                "revoked client {}/{}: {}",
                n + 1,
                live.len(),
                client.profile.name
            ));
        }
        match api.offboard_org(&org.id).await {
            Ok(()) => progress.report(format!("org {} offboarded", org.profile.name)),
            Err(e) => report(diags, SUMMARY, &e, &[]),
        }
    }
}

fn not_found(diags: &mut Diagnostics, org: &str) {
    diags.error_at(
        AttrPath::attr("org"),
        SUMMARY,
        format!("The registry has no org with id or name {org:?}."),
    );
}
