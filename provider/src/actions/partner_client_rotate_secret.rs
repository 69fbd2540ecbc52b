//! Action `partner_client_rotate_secret`: gives a client a new secret,
//! the previous one working on for a grace period.
use super::{client_attribute, invoke_target, plan_client};
use crate::configured::{Configured, Context};
use crate::report::report;
use crate::validate;
use tfplugin::model;
use tfplugin::{Action, Attribute, Declaration, Diagnostics, Progress, Schema};

model! {
    pub struct RotateConfig {
        client: String,
        grace_period: String,
        client_secret: String,
    }
}

pub struct RotateSecret;

const SUMMARY: &str = "Cannot rotate the partner client's secret";

impl Declaration for RotateSecret {
    type Model = RotateConfig;

    fn type_name(&self) -> &'static str {
        "partner_client_rotate_secret"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            "Rotates a partner client's secret: the client gets a new secret and the previous \
             one keeps working for `grace_period`, then stops. An action stores nothing: the new \
             secret is never written to state. Supply it with `client_secret` (for example from \
             the `partner_client_secret` ephemeral resource, also written to your secret store), \
             or let the registry make one that nobody sees, which cuts off a leaked secret after \
             the grace period. To keep a registry-made secret in a `partner_client`'s state, \
             rotate through the resource instead (`rotation_triggers`).",
        )
        .attr(client_attribute())
        .attr(Attribute::string("grace_period").optional().description(
            "How long the previous secret keeps working: a duration, `\"24h\"` by default, at \
             most `\"168h\"`, `\"0s\"` to cut it off at once.",
        ))
        .attr(
            Attribute::string("client_secret")
                .optional()
                .sensitive()
                .write_only()
                .description(
                    "The new secret, instead of one the registry makes (write-only: ephemeral \
                     values such as the `partner_client_secret` ephemeral resource's are \
                     accepted): at least 32 printable \
                     characters without spaces, mixing at least 3 of lower-case letters, \
                     upper-case letters, digits and symbols, with at least 12 different \
                     characters. The registry keeps only its keyed hash.",
                ),
        )
    }

    fn validate(&self, config: &RotateConfig, d: &mut Diagnostics) {
        validate::duration(
            &config.grace_period,
            "grace_period",
            Some(partner_rules::MAX_GRACE_PERIOD),
            d,
        );
        validate::supplied_secret(&config.client_secret, "client_secret", d);
    }
}

impl Action<Configured> for RotateSecret {
    async fn plan(&self, ctx: &Context, config: RotateConfig, diags: &mut Diagnostics) {
        plan_client(ctx, &config.client, SUMMARY, diags).await;
    }

    async fn invoke(
        &self,
        ctx: &Context,
        config: RotateConfig,
        progress: &Progress,
        diags: &mut Diagnostics,
    ) {
        let Some((api, client)) = invoke_target(ctx, &config.client, SUMMARY, diags).await else {
            return;
        };
        let grace = config.grace_period.as_deref().unwrap_or("24h");
        let supplied = config.client_secret.as_deref();
        progress.report(format!(
            "rotating the secret of client {} ({}), previous secret valid for {grace}",
            client.profile.name, client.client_id
        ));
        match api.rotate_client_secret(&client, grace, supplied).await {
            Ok(_) if supplied.is_none() => diags.warn(
                "Secret rotated; the new secret was not kept",
                format!(
                    "The registry made a new secret for {} that this action does not store or \
                     show: the previous secret stops working after {grace}. Supply client_secret \
                     to install a secret you keep.",
                    client.profile.name
                ),
            ),
            Ok(_) => progress.report(format!("secret of client {} rotated", client.profile.name)),
            Err(e) => report(diags, SUMMARY, &e, &["grace_period", "client_secret"]),
        }
    }
}
