//! Action `partner_client_revoke`: revokes a client at once, for an
//! incident or a client no configuration manages.
use super::{client_attribute, invoke_target, plan_client};
use crate::configured::{Configured, Context};
use crate::report::report;
use tfplugin::model;
use tfplugin::{Action, Declaration, Diagnostics, Progress, Schema};

model! {
    pub struct RevokeConfig {
        client: String,
    }
}

pub struct RevokeClient;

const SUMMARY: &str = "Cannot revoke the partner client";

impl Declaration for RevokeClient {
    type Model = RevokeConfig;

    fn type_name(&self) -> &'static str {
        "partner_client_revoke"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            "Revokes a partner client: its secrets stop working at once and it introspects \
             inactive from then on. The registry keeps the record, with status `revoked`, for \
             audit. For a client a configuration manages, the next plan of its `partner_client` \
             creates it anew; remove the resource instead to retire it for good.",
        )
        .attr(client_attribute())
    }
}

impl Action<Configured> for RevokeClient {
    async fn plan(&self, ctx: &Context, config: RevokeConfig, diags: &mut Diagnostics) {
        plan_client(ctx, &config.client, SUMMARY, diags).await;
    }

    async fn invoke(
        &self,
        ctx: &Context,
        config: RevokeConfig,
        progress: &Progress,
        diags: &mut Diagnostics,
    ) {
        let Some((api, client)) = invoke_target(ctx, &config.client, SUMMARY, diags).await else {
            return;
        };
        progress.report(format!(
            "revoking client {} ({})",
            client.profile.name, client.client_id
        ));
        match api.revoke_client(&client.id).await {
            Ok(()) => progress.report(format!("client {} revoked", client.profile.name)),
            Err(e) => report(diags, SUMMARY, &e, &[]),
        }
    }
}
