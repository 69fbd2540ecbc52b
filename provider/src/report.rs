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
    // Each refusal once: on its attribute, or else in one general
    // diagnostic, never both.
    if error.field_errors().is_empty() {
        d.error(summary, error.to_string());
    } else if !elsewhere.is_empty() {
        let detail = elsewhere
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("\n");
        d.error(summary, format!("The registry refused this:\n{detail}"));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::FieldError;

    #[test]
    fn each_refusal_shows_once() {
        let error = ApiError::Invalid {
            detail: "labels: bad; name: taken".into(),
            errors: vec![
                FieldError {
                    field: "labels".into(),
                    message: "bad".into(),
                },
                FieldError {
                    field: "id".into(),
                    message: "taken".into(),
                },
            ],
        };
        let mut d = Diagnostics::new();
        report(&mut d, "Cannot create", &error, &["labels"]);
        let texts: Vec<String> = d.iter().map(|d| d.detail.clone()).collect();
        assert_eq!(texts.len(), 2, "{texts:?}");
        assert_eq!(
            texts.iter().filter(|t| t.contains("labels")).count(),
            1,
            "{texts:?}"
        );
        assert!(
            texts[1].contains("id: taken") && !texts[1].contains("- "),
            "{texts:?}"
        );

        let mut d = Diagnostics::new();
        report(&mut d, "Cannot create", &error, &["labels", "id"]);
        assert_eq!(d.iter().count(), 2, "one per attribute, no combined one");
    }
}
