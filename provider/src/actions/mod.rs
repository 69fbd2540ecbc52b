//! Actions (Terraform 1.14+): operations on existing clients and orgs
//! outside their resources' lifecycle, run with
//! `terraform apply -invoke=action.<type>.<name>` or from a resource's
//! `action_trigger`. Each is one or more registry writes, so each appears
//! in the audit trail with the provider's `change_ref`.
pub mod partner_client_revoke;
pub mod partner_client_rotate_secret;
pub mod partner_org_offboard;

use crate::client::{ApiClient, ClientStatus, ClientView};
use crate::configured::{Configured, Context};
use crate::lookup::find_client;
use crate::report::report;
use tfplugin::{AttrPath, Attribute, Diagnostics, Val};

/// The `client` argument of the client actions.
fn client_attribute() -> Attribute {
    Attribute::string("client").required().description(
        "The client to act on: its `id` (such as `partner_client.shipping.id`), its \
         `client_id`, or `ORG_NAME/CLIENT_NAME`.",
    )
}

/// The registry and the live client a client action runs on; `None`, with
/// an error, when there is none.
async fn invoke_target<'a>(
    ctx: &'a Context,
    client: &Val<String>,
    summary: &str,
    d: &mut Diagnostics,
) -> Option<(&'a ApiClient, ClientView)> {
    let Configured { api, .. } = ctx.require_data(d)?;
    let reference = client.known().cloned().unwrap_or_default();
    let client = live_client(api, &reference, summary, d).await?;
    Some((api, client))
}

/// The client `reference` names that is not revoked; an error on the
/// `client` attribute when there is none.
async fn live_client(
    api: &ApiClient,
    reference: &str,
    summary: &str,
    d: &mut Diagnostics,
) -> Option<ClientView> {
    match find_client(api, reference).await {
        Ok(Some(client)) if client.status != ClientStatus::Revoked => Some(client),
        Ok(_) => {
            d.error_at(
                AttrPath::attr("client"),
                summary,
                format!(
                    "The registry at {} has no client {reference:?} that is not revoked.",
                    api.endpoint()
                ),
            );
            None
        }
        Err(e) => {
            report(d, summary, &e, &[]);
            None
        }
    }
}

/// Plan-time check of a `client` argument: when it is known and the
/// provider configured, the client must exist and not be revoked.
async fn plan_client(ctx: &Context, client: &Val<String>, summary: &str, d: &mut Diagnostics) {
    if let (Some(data), Some(reference)) = (ctx.data(), client.known()) {
        live_client(&data.api, reference, summary, d).await;
    }
}
