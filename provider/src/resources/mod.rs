//! The provider's resources and data sources, one per file, and what they
//! share: format checks, registry error reporting and value conversions.
pub mod org_facts;
pub mod partner_client;
pub mod partner_client_secret;
pub mod partner_clients_data;
pub mod partner_org;
pub mod partner_org_data;
pub mod validate;

use crate::client::ApiError;
use tfplugin::{AttrPath, Diagnostics, Val};

/// Reports a failed registry call. Field errors become diagnostics on the
/// attribute they name when the resource has it, so that Terraform points
/// at the offending line.
pub fn report(d: &mut Diagnostics, summary: &str, error: &ApiError, attributes: &[&str]) {
    let (on_attributes, elsewhere): (Vec<_>, Vec<_>) = error
        .field_errors()
        .iter()
        .partition(|e| attributes.contains(&e.field.as_str()));
    for field in on_attributes {
        d.error_at(
            AttrPath::attr(field.field.as_str()),
            summary,
            format!("{}: {}", field.field, field.message),
        );
    }
    let mut detail = error.to_string();
    for field in &elsewhere {
        detail.push_str(&format!("\n- {}: {}", field.field, field.message));
    }
    if error.field_errors().is_empty() || !elsewhere.is_empty() {
        d.error(summary, detail);
    }
}

/// The error for a record that vanished between plan and apply.
pub fn gone(id: &str) -> ApiError {
    ApiError::Stale {
        detail: format!("{id} no longer exists"),
    }
}

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
