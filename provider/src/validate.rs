//! Format checks for ValidateResourceConfig, on the registry's own rules
//! (`partner_rules`). Each check skips unknown and null values (they are
//! checked once known) and reports a diagnostic on the attribute's path.
use partner_rules as rules;
use partner_rules::fields::{AttributeRule, AttributeViolation};
use tfplugin::{AttrPath, Diagnostics, Val};

pub use rules::{end_of_day, parse_date, parse_duration, parse_timestamp};

/// Reports `message` on `attr` when a known value fails `ok`.
fn check(
    v: &Val<String>,
    attr: &str,
    ok: impl Fn(&str) -> bool,
    summary: &str,
    message: impl Fn(&str) -> String,
    d: &mut Diagnostics,
) {
    if let Some(s) = v.as_deref() {
        if !ok(s) {
            d.error_at(AttrPath::attr(attr), summary, message(s));
        }
    }
}

pub fn slug(v: &Val<String>, attr: &str, d: &mut Diagnostics) {
    check(
        v,
        attr,
        rules::is_slug,
        "Invalid name",
        |s| {
            format!(
                "{attr} must be 1 to 63 lower-case letters, digits and hyphens, not starting or ending with a hyphen; got {s:?}."
            )
        },
        d,
    );
}

pub fn email(v: &Val<String>, attr: &str, d: &mut Diagnostics) {
    attribute(v, attr, AttributeRule::Email, d);
}

/// A value under one of the rules of descriptive attributes (which email
/// addresses and free text follow too).
pub fn attribute(v: &Val<String>, attr: &str, rule: AttributeRule, d: &mut Diagnostics) {
    let Some(s) = v.as_deref() else { return };
    let Err(why) = rules::fields::check_attribute(rule, s) else {
        return;
    };
    let summary = match rule {
        AttributeRule::Email => "Invalid email address".to_string(),
        AttributeRule::Text { .. } => format!("Invalid {attr}"),
    };
    let message = match why {
        AttributeViolation::NotEmail => {
            format!("{attr} must be an email address such as name@example.com; got {s:?}.")
        }
        AttributeViolation::Text(why) => format!("{attr} {why}."),
    };
    d.error_at(AttrPath::attr(attr), summary, message);
}

pub fn date(v: &Val<String>, attr: &str, d: &mut Diagnostics) {
    check(
        v,
        attr,
        |s| parse_date(s).is_some(),
        "Invalid date",
        |s| format!("{attr} must be a date in the form YYYY-MM-DD, such as 2027-12-31; got {s:?}."),
        d,
    );
}

pub fn timestamp(v: &Val<String>, attr: &str, d: &mut Diagnostics) {
    check(
        v,
        attr,
        |s| parse_timestamp(s).is_some(),
        "Invalid timestamp",
        |s| {
            format!("{attr} must be an RFC 3339 timestamp such as 2027-12-31T23:59:59Z; got {s:?}.")
        },
        d,
    );
}

/// A duration, at most `max` when given.
pub fn duration(
    v: &Val<String>,
    attr: &str,
    max: Option<std::time::Duration>,
    d: &mut Diagnostics,
) {
    let within =
        |s: &str| parse_duration(s).is_some_and(|value| max.is_none_or(|max| value <= max));
    check(
        v,
        attr,
        within,
        "Invalid duration",
        |s| match max {
            Some(max) => format!(
                "{attr} must be a duration such as \"24h\", \"90m\" or \"1h30m\", at most {}h; got {s:?}.",
                max.as_secs() / 3600
            ),
            None => format!(
                "{attr} must be a duration such as \"720h\", \"90m\" or \"1h30m\"; got {s:?}."
            ),
        },
        d,
    );
}

/// A secret the user supplies, checked without ever echoing it.
pub fn supplied_secret(v: &Val<String>, attr: &str, d: &mut Diagnostics) {
    if let Some(Err(rule)) = v.as_deref().map(rules::check_supplied_secret) {
        d.error_at(
            AttrPath::attr(attr),
            "Secret too weak",
            format!("{attr} is refused: {rule}."),
        );
    }
}

/// A list of scopes under the registry's rule (how many, and each entry);
/// the path names the attribute (set elements have no index in Terraform's
/// paths).
pub fn scopes(v: &Val<Vec<String>>, attr: &str, d: &mut Diagnostics) {
    if let Some(Err(why)) = v.known().map(|s| rules::fields::check_scopes(s)) {
        d.error_at(
            AttrPath::attr(attr),
            "Invalid scope",
            format!("{attr}: {why}."),
        );
    }
}

/// A free-text value under its field's rule (not blank, at most so many
/// characters, no control characters).
pub fn text(v: &Val<String>, field: rules::fields::TextField, d: &mut Diagnostics) {
    let rule = AttributeRule::Text {
        max_chars: field.max_chars,
    };
    attribute(v, field.name, rule, d);
}

/// A map of labels under the registry's rule (how many, and each key and
/// value), each bad entry on its own key.
pub fn labels(
    v: &Val<std::collections::BTreeMap<String, String>>,
    attr: &str,
    d: &mut Diagnostics,
) {
    for why in v
        .known()
        .map(rules::fields::check_labels)
        .unwrap_or_default()
    {
        let (path, detail) = match &why {
            rules::fields::LabelViolation::Invalid { key } => (
                AttrPath::attr(attr).key(key.as_str()),
                format!("{attr}[{key:?}]: {why}."),
            ),
            rules::fields::LabelViolation::TooMany { .. } => {
                (AttrPath::attr(attr), format!("{attr} {why}."))
            }
        };
        d.error_at(path, "Invalid labels", detail);
    }
}

pub fn non_empty(v: &Val<String>, attr: &str, d: &mut Diagnostics) {
    check(
        v,
        attr,
        |s| !s.trim().is_empty(),
        "Empty value",
        |_| format!("{attr} must not be empty."),
        d,
    );
}
