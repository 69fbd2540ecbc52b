//! Format checks shared by the resources' ValidateResourceConfig. Each
//! check skips unknown and null values (they are checked once known) and
//! reports a diagnostic on the attribute's path.
use crate::tf::{AttrPath, Diagnostics, Val};

/// Lower-case letters, digits and hyphens, 1 to 63 characters, not starting
/// or ending with a hyphen (same rule as the registry).
pub fn is_slug(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// A plain `local@domain.tld` address without spaces.
pub fn is_email(s: &str) -> bool {
    if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

/// An OAuth scope token (RFC 6749): printable ASCII except space, `"` and
/// `\`, at most 128 characters.
pub fn is_scope(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// A calendar date `YYYY-MM-DD`.
pub fn is_date(s: &str) -> bool {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    s.len() == 10 && time::Date::parse(s, fmt).is_ok()
}

/// An RFC 3339 timestamp such as `2027-01-31T00:00:00Z`.
pub fn is_rfc3339(s: &str) -> bool {
    parse_rfc3339(s).is_some()
}

pub fn parse_rfc3339(s: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

/// The last second of a `YYYY-MM-DD` day in UTC: the latest a client of an
/// org whose contract ends that day may expire.
pub fn end_of_day(date: &str) -> Option<time::OffsetDateTime> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let day = time::Date::parse(date, fmt).ok()?;
    Some(day.with_hms(23, 59, 59).ok()?.assume_utc())
}

pub fn slug(v: &Val<String>, attr: &str, d: &mut Diagnostics) {
    if let Some(s) = v.as_deref() {
        if !is_slug(s) {
            d.error_at(
                AttrPath::attr(attr),
                "Invalid slug",
                format!("{attr} must be 1 to 63 lower-case letters, digits and hyphens, not starting or ending with a hyphen; got {s:?}."),
            );
        }
    }
}

pub fn email(v: &Val<String>, attr: &str, d: &mut Diagnostics) {
    if let Some(s) = v.as_deref() {
        if !is_email(s) {
            d.error_at(
                AttrPath::attr(attr),
                "Invalid email address",
                format!("{attr} must be an email address such as name@example.com; got {s:?}."),
            );
        }
    }
}

pub fn date(v: &Val<String>, attr: &str, d: &mut Diagnostics) {
    if let Some(s) = v.as_deref() {
        if !is_date(s) {
            d.error_at(
                AttrPath::attr(attr),
                "Invalid date",
                format!(
                    "{attr} must be a date in the form YYYY-MM-DD, such as 2027-12-31; got {s:?}."
                ),
            );
        }
    }
}

pub fn timestamp(v: &Val<String>, attr: &str, d: &mut Diagnostics) {
    if let Some(s) = v.as_deref() {
        if !is_rfc3339(s) {
            d.error_at(
                AttrPath::attr(attr),
                "Invalid timestamp",
                format!(
                    "{attr} must be an RFC 3339 timestamp such as 2027-12-31T23:59:59Z; got {s:?}."
                ),
            );
        }
    }
}

/// Checks each known element of a set of scopes; the path names the
/// attribute (set elements have no index in Terraform's paths).
pub fn scopes(v: &Val<Vec<String>>, attr: &str, d: &mut Diagnostics) {
    if let Some(list) = v.known() {
        for s in list {
            if !is_scope(s) {
                d.error_at(
                    AttrPath::attr(attr),
                    "Invalid scope",
                    format!("Each entry of {attr} must be an OAuth scope token: 1 to 128 printable characters without spaces, quotes or backslashes; got {s:?}."),
                );
            }
        }
    }
}

/// A duration such as `720h`, `90m`, `1h30m` or `0s` (units h, m, s, each
/// after a number), as the registry reads durations.
pub fn parse_duration(s: &str) -> Option<std::time::Duration> {
    let mut total: u64 = 0;
    let mut number: Option<u64> = None;
    for c in s.chars() {
        if let Some(digit) = c.to_digit(10) {
            number = Some(
                number
                    .unwrap_or(0)
                    .checked_mul(10)?
                    .checked_add(digit.into())?,
            );
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        total = total.checked_add(number.take()?.checked_mul(unit)?)?;
    }
    (number.is_none() && !s.is_empty()).then(|| std::time::Duration::from_secs(total))
}

pub fn duration(
    v: &Val<String>,
    attr: &str,
    max: Option<std::time::Duration>,
    d: &mut Diagnostics,
) {
    let Some(s) = v.as_deref() else {
        return;
    };
    match parse_duration(s) {
        None => d.error_at(
            AttrPath::attr(attr),
            "Invalid duration",
            format!("{attr} must be a duration such as \"720h\", \"90m\" or \"1h30m\"; got {s:?}."),
        ),
        Some(value) if max.is_some_and(|max| value > max) => d.error_at(
            AttrPath::attr(attr),
            "Duration too long",
            format!(
                "{attr} must be at most {}h; got {s:?}.",
                max.map_or(0, |max| max.as_secs() / 3600)
            ),
        ),
        Some(_) => {}
    }
}

/// Why a secret supplied by the user would be refused by the registry, if
/// it would: the same rule the registry enforces, checked at plan time.
pub fn secret_weakness(secret: &str) -> Option<&'static str> {
    let printable = secret.bytes().all(|b| b.is_ascii_graphic());
    let classes = [
        secret.bytes().any(|b| b.is_ascii_lowercase()),
        secret.bytes().any(|b| b.is_ascii_uppercase()),
        secret.bytes().any(|b| b.is_ascii_digit()),
        secret.bytes().any(|b| b.is_ascii_punctuation()),
    ]
    .iter()
    .filter(|present| **present)
    .count();
    let distinct = secret
        .bytes()
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    if secret.len() < 32 {
        Some("must be at least 32 characters long")
    } else if !printable {
        Some("must be printable ASCII without spaces")
    } else if classes < 3 || distinct < 12 {
        Some(
            "must mix at least 3 of lower-case letters, upper-case letters, digits and symbols, \
             with at least 12 different characters",
        )
    } else {
        None
    }
}

pub fn non_empty(v: &Val<String>, attr: &str, d: &mut Diagnostics) {
    if let Some(s) = v.as_deref() {
        if s.trim().is_empty() {
            d.error_at(
                AttrPath::attr(attr),
                "Empty value",
                format!("{attr} must not be empty."),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_unit_after_every_number() {
        for (good, seconds) in [
            ("720h", 2_592_000),
            ("90m", 5400),
            ("1h30m", 5400),
            ("0s", 0),
        ] {
            assert_eq!(
                parse_duration(good).map(|d| d.as_secs()),
                Some(seconds),
                "{good}"
            );
        }
        for bad in ["", "720", "h", "1d", "-5h", "1h30", "1.5h"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn weak_secrets_are_named_by_rule() {
        assert!(secret_weakness("Short1!").is_some_and(|r| r.contains("32")));
        assert!(secret_weakness(&"a".repeat(40)).is_some_and(|r| r.contains("mix")));
        assert!(
            secret_weakness("abcdefghijklmnopqrstuvwxyz 0123456789ABC")
                .is_some_and(|r| r.contains("printable"))
        );
        assert_eq!(
            secret_weakness("Abcdefghijklmnopqrstuvwxyz0123456789"),
            None
        );
    }
}
