//! The provider's resources, one per file, and the value conversions they
//! share.
pub mod org_facts;
pub mod partner_client;
pub mod partner_org;

use crate::validate;
use tfplugin::Val;

/// A value that is known by the time it is used (a required attribute at
/// apply, say), or empty.
pub fn known_string(v: &Val<String>) -> String {
    v.known().cloned().unwrap_or_default()
}

/// An optional attribute's value as the registry takes it.
pub fn optional_string(v: &Val<String>) -> Option<String> {
    v.known().cloned()
}

/// Whether two RFC 3339 timestamps name the same instant, so that a user's
/// `+02:00` form is kept in state when the registry answers in UTC.
pub fn same_instant(a: &str, b: &str) -> bool {
    match (validate::parse_timestamp(a), validate::parse_timestamp(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a == b,
    }
}

/// The registry's timestamp, unless the state already holds the same
/// instant written another way (as the user configured it).
pub fn keep_timestamp_form(from_registry: String, in_state: &Val<String>) -> Val<String> {
    match in_state.known() {
        Some(existing) if same_instant(existing, &from_registry) => Val::Known(existing.clone()),
        _ => Val::Known(from_registry),
    }
}
