//! List resources for `terraform query` (Terraform 1.14+): find the orgs
//! and clients the registry holds, with their identity, so that those no
//! configuration manages can be imported (or revoked).
pub mod partner_client;
pub mod partner_org;

use crate::validate;
use tfplugin::{Diagnostics, Val};

/// A known duration filter in seconds.
fn seconds(duration: &Val<String>) -> Option<i64> {
    let d = partner_rules::parse_duration(duration.as_deref()?)?;
    Some(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// An RFC 3339 timestamp of the registry in Unix seconds.
fn unix(timestamp: &str) -> Option<i64> {
    partner_rules::parse_timestamp(timestamp).map(|t| t.unix_timestamp())
}

/// Checks a `status` filter against the statuses a record can have.
fn check_status(status: &Val<String>, allowed: &[&str], d: &mut Diagnostics) {
    if let Some(s) = status.as_deref() {
        if !allowed.contains(&s) {
            d.error_at(
                tfplugin::AttrPath::attr("status"),
                "Invalid status",
                format!("status must be one of {}; got {s:?}.", allowed.join(", ")),
            );
        }
    }
}

/// Checks an `owner` filter: an email address.
fn check_owner(owner: &Val<String>, d: &mut Diagnostics) {
    validate::email(owner, "owner", d);
}
