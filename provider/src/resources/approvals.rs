//! What a plan says about the approvals an org's `approval_policy =
//! "require"` asks for: for each change that widens or hands over access
//! (computed as the registry computes it), whether an approval of it exists
//! for this run's change reference, and if not, who approves it and with
//! which command: the apply fails without one.

use crate::client::ApiClient;
use crate::report::report;
use partner_rules::approvals::{NEW_CLIENT, Widening, approve_command};
use tfplugin::{AttrPath, Diagnostics};

/// Notes each of `widenings` of the record `resource` (shown as `what`, of
/// org `org`, whose approval authority is `approver`).
pub async fn note_approvals(
    api: &ApiClient,
    diags: &mut Diagnostics,
    what: &str,
    org: &str,
    approver: &str,
    resource: &str,
    widenings: Vec<Widening>,
) {
    if widenings.is_empty() {
        return;
    }
    let Some(change_ref) = api.change_ref() else {
        diags.warn(
            format!("{what}: approval required, but no change reference"),
            format!(
                "Org {org:?} has approval_policy = \"require\": the registry refuses this change \
                 unless {approver} approved it for the run's change reference. Set the provider's \
                 change_ref (or PARTNER_CHANGE_REF), for example to the pull request URL, and \
                 ask {approver} to approve it."
            ),
        );
        return;
    };
    let approvals = match api.approvals(change_ref, resource).await {
        Ok(a) => a,
        Err(e) => {
            report(diags, "Cannot look the change's approvals up", &e, &[]);
            return;
        }
    };
    for w in widenings {
        let found = approvals.iter().find(|a| {
            a.status == "valid" && a.attribute == w.attribute && a.old == w.old && a.new == w.new
        });
        // A new client is a change of its org, shown on the client's org_id.
        let (path, label, change) = if w.attribute == NEW_CLIENT {
            (
                AttrPath::attr("org_id"),
                "creation".to_string(),
                format!("creating it ({})", w.new),
            )
        } else {
            (
                AttrPath::attr(w.attribute),
                format!("{} change", w.attribute),
                format!("changing {} from {:?} to {:?}", w.attribute, w.old, w.new),
            )
        };
        match found {
            Some(a) => diags.warn_at(
                path,
                format!("{what}: {label} approved"),
                format!(
                    "{} approved {change} for change {change_ref:?} (valid until {}, used once \
                     by the apply).",
                    a.approver, a.expires_at
                ),
            ),
            None => diags.warn_at(
                path,
                format!("{what}: {label} needs an approval"),
                format!(
                    "Org {org:?} has approval_policy = \"require\" and no valid approval of \
                     {change} is recorded for change {change_ref:?}: the apply will fail. Ask \
                     {approver} (the approval authority) to run: {}",
                    approve_command(change_ref, resource, &w)
                ),
            ),
        }
    }
}
