//! The formats and limits of the partner registry's records, in one place.
//!
//! The registry enforces them on every write; the Terraform provider checks
//! the same rules at plan time so that a mistake surfaces in code review
//! instead of in the middle of an apply. Sharing the code is what keeps the
//! two from drifting apart.

use std::time::Duration;

pub mod approvals;
pub mod fields;
pub mod keys;
pub mod records;

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, UtcOffset};

/// An org's client quota when none is given.
pub const DEFAULT_MAX_CLIENTS: i64 = 10;
/// The range a client quota may take.
pub const MAX_CLIENTS_RANGE: std::ops::RangeInclusive<i64> = 0..=100_000;
/// How long a rotated-out secret keeps working when nobody says.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(24 * 3600);
/// The longest overlap of two secrets: a week.
pub const MAX_GRACE_PERIOD: Duration = Duration::from_secs(168 * 3600);
/// The years a date or timestamp may fall in.
const YEARS: std::ops::RangeInclusive<i32> = 1970..=9999;

/// What happens to a client still undecided in an access review of its org
/// once the review's due date has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReviewEnforcement {
    /// A `review_overdue` finding in the entitlement review, and nothing else.
    #[default]
    Report,
    /// The finding, and the client introspects inactive until it is decided.
    Suspend,
}

/// The rule of `review_enforcement`, as users are told it.
pub const REVIEW_ENFORCEMENT_RULE: &str = "must be \"report\" (overdue reviews are reported) or \"suspend\" \
     (clients undecided after the due date introspect inactive until decided)";

impl ReviewEnforcement {
    pub fn parse(s: &str) -> Option<ReviewEnforcement> {
        match s {
            "report" => Some(ReviewEnforcement::Report),
            "suspend" => Some(ReviewEnforcement::Suspend),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ReviewEnforcement::Report => "report",
            ReviewEnforcement::Suspend => "suspend",
        }
    }
}

/// The rule a client-supplied secret must meet, as users are told it.
pub const SUPPLIED_SECRET_RULE: &str = "a supplied client secret must be 32 to 1024 printable \
     ASCII characters without spaces, use at least 3 of the 4 character classes (lower-case \
     letters, upper-case letters, digits, symbols) and contain at least 12 different characters";

/// A short name: 1 to 63 lower-case letters, digits and hyphens, not
/// starting or ending with a hyphen (DNS-label-like, safe in URLs and HCL).
pub fn is_slug(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// A plain `local@domain.tld` address: what an accountable contact needs,
/// without the corners of RFC 5322 that nobody types on purpose.
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

/// An OAuth scope token (RFC 6749 §3.3): printable ASCII except space, `"`
/// and `\`, at most 128 characters.
pub fn is_scope(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// A calendar date `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<Date> {
    let date = Date::parse(s, format_description!("[year]-[month]-[day]")).ok()?;
    YEARS.contains(&date.year()).then_some(date)
}

/// An RFC 3339 timestamp with any offset, as the UTC instant it names.
pub fn parse_timestamp(s: &str) -> Option<OffsetDateTime> {
    let t = OffsetDateTime::parse(s, &Rfc3339)
        .ok()?
        .to_offset(UtcOffset::UTC);
    YEARS.contains(&t.year()).then_some(t)
}

/// The last second of a contract's last day, in UTC: the latest a client of
/// an org whose contract ends on `date` may expire, and its default expiry.
pub fn end_of_day(date: &str) -> Option<OffsetDateTime> {
    Some(parse_date(date)?.with_hms(23, 59, 59).ok()?.assume_utc())
}

/// `2027-06-30T23:59:59Z`: Unix seconds as the registry writes instants
/// (UTC, whole seconds); empty for an instant outside [1970, 9999].
pub fn format_timestamp(unix: i64) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .filter(|t| YEARS.contains(&t.year()))
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// A duration as Terraform users write them (Go's units): `720h`, `90m`,
/// `1h30m`, `0s`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    if s.is_empty() || s.len() > 32 {
        return None;
    }
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
    number.is_none().then_some(Duration::from_secs(total))
}

/// Checks a client-supplied secret against [`SUPPLIED_SECRET_RULE`]. The
/// error says what failed and gives the rule, never the value.
pub fn check_supplied_secret(s: &str) -> Result<(), String> {
    let fail = |what: &str| Err(format!("{what}: {SUPPLIED_SECRET_RULE}"));
    if !s.bytes().all(|b| b.is_ascii_graphic()) {
        return fail("it contains a space, a control or a non-ASCII character");
    }
    if s.len() < 32 {
        return fail("it is shorter than 32 characters");
    }
    if s.len() > 1024 {
        return fail("it is longer than 1024 characters");
    }
    let b = s.as_bytes();
    let classes = [
        b.iter().any(u8::is_ascii_lowercase),
        b.iter().any(u8::is_ascii_uppercase),
        b.iter().any(u8::is_ascii_digit),
        b.iter().any(u8::is_ascii_punctuation),
    ]
    .iter()
    .filter(|present| **present)
    .count();
    if classes < 3 {
        return fail("it uses fewer than 3 of the 4 character classes");
    }
    let distinct = b.iter().collect::<std::collections::BTreeSet<_>>().len();
    if distinct < 12 {
        return fail("it has fewer than 12 different characters");
    }
    Ok(())
}

/// Whether `s` has the shape of a server-made org id: `org_` and 20 of `[A-Za-z0-9]`.
pub fn is_org_id(s: &str) -> bool {
    s.strip_prefix("org_")
        .is_some_and(|r| r.len() == 20 && r.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The rule of a client's `custodian`.
pub const CUSTODIAN_RULE: &str = "must be the email address of someone other than the client's \
     owner: the custodian holds the credential day to day, a second person beside the owner";

/// Checks a client's custodian against its owner ([`CUSTODIAN_RULE`]; emails
/// compare without regard to case).
pub fn custodian_ok(owner: &str, custodian: &str) -> bool {
    !custodian.eq_ignore_ascii_case(owner)
}

/// The rule of a client's `operated_by`.
pub const OPERATED_BY_RULE: &str = "must be the id (org_…) of another org: the intermediary \
     (reseller, MSP, marketplace) that operates the client, never the client's own org";

/// Checks a client's intermediary against its org ([`OPERATED_BY_RULE`]).
pub fn operated_by_ok(org_id: &str, operated_by: &str) -> bool {
    is_org_id(operated_by) && operated_by != org_id
}

/// The prefix of every public `client_id` the registry issues.
pub const CLIENT_ID_PREFIX: &str = "pc_";

/// How many random base62 characters follow [`CLIENT_ID_PREFIX`].
pub const CLIENT_ID_RANDOM_CHARS: usize = 24;

/// The random part of a `client_id` (`pc_` and 24 base62 characters), or
/// why `s` is not one.
pub fn parse_client_id(s: &str) -> Result<&str, String> {
    let Some(random) = s.strip_prefix(CLIENT_ID_PREFIX) else {
        return Err(format!("must start with {CLIENT_ID_PREFIX:?}"));
    };
    if random.len() != CLIENT_ID_RANDOM_CHARS || !random.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(format!(
            "must be {CLIENT_ID_PREFIX:?} followed by {CLIENT_ID_RANDOM_CHARS} letters and digits"
        ));
    }
    Ok(random)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(is_slug("acme-1") && is_slug("a"));
        for bad in ["", "-acme", "acme-", "Acme", "a_b", &"a".repeat(64)] {
            assert!(!is_slug(bad), "{bad}");
        }
    }

    #[test]
    fn emails() {
        assert!(is_email("a.b@example.com"));
        for bad in ["a@b", "a b@c.d", "@c.d", "a@@c.d", "a@c..d", "a@.c.d"] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn scopes() {
        assert!(is_scope("orders:read") && is_scope("https://api.example/x"));
        for bad in ["", "a b", "a\"b", "a\\b", &"s".repeat(129)] {
            assert!(!is_scope(bad), "{bad}");
        }
    }

    #[test]
    fn dates_and_timestamps() {
        assert!(parse_date("2030-12-31").is_some());
        assert!(parse_date("31/12/2030").is_none() && parse_date("1969-12-31").is_none());
        let a = parse_timestamp("2030-06-30T12:00:00+02:00");
        assert_eq!(a, parse_timestamp("2030-06-30T10:00:00Z"));
        assert!(parse_timestamp("next tuesday").is_none());
        assert_eq!(
            end_of_day("2030-12-31"),
            parse_timestamp("2030-12-31T23:59:59Z")
        );
    }

    #[test]
    fn durations_need_a_unit_after_every_number() {
        for (good, seconds) in [
            ("720h", 2_592_000),
            ("90m", 5400),
            ("1h30m", 5400),
            ("0s", 0),
        ] {
            assert_eq!(
                parse_duration(good),
                Some(Duration::from_secs(seconds)),
                "{good}"
            );
        }
        for bad in ["", "720", "h", "1d", "-5h", "1h30", "1.5h"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn supplied_secrets_are_refused_by_named_rule() {
        let refusal = |s: &str| check_supplied_secret(s).expect_err(s);
        assert!(refusal("Short1!").starts_with("it is shorter than 32"));
        assert!(refusal(&"a".repeat(40)).starts_with("it uses fewer than 3"));
        assert!(refusal("abcdefghijklmnopqrstuvwxyz 0123456789ABC").contains("space"));
        assert!(refusal(&"aA1".repeat(12)).starts_with("it has fewer than 12"));
        assert!(refusal(&"x".repeat(1025)).starts_with("it is longer"));
        assert_eq!(
            check_supplied_secret("Abcdefghijklmnopqrstuvwxyz0123456789"),
            Ok(())
        );
        assert!(refusal("Short1!").contains(SUPPLIED_SECRET_RULE));
    }
}
