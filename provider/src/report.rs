//! Failed registry calls as Terraform diagnostics.
use crate::client::ApiError;
use tfplugin::{AttrPath, Diagnostics};

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

/// The error for a record changed in the registry between plan and apply:
/// the apply would overwrite that change, so it stops and asks for a new plan.
pub fn changed_since_plan(detail: &str) -> ApiError {
    ApiError::Stale {
        detail: detail.to_string(),
    }
}
