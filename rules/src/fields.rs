//! The rules of single field values: lengths, characters, counts. The
//! registry refuses a write that breaks one; the provider reports the same
//! refusal at plan time, from the same function, when the value is known.

use std::collections::BTreeMap;
use std::fmt;

/// A free-text field and the most characters it may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextField {
    /// The field's name, as the API and the provider's attribute call it.
    pub name: &'static str,
    pub max_chars: usize,
}

impl TextField {
    const fn new(name: &'static str, max_chars: usize) -> TextField {
        TextField { name, max_chars }
    }
}

pub const LEGAL_ENTITY: TextField = TextField::new("legal_entity", 300);
pub const CONTRACT_ID: TextField = TextField::new("contract_id", 200);
pub const TENANT: TextField = TextField::new("tenant", 200);
pub const BUSINESS_UNIT: TextField = TextField::new("business_unit", 200);
pub const PURPOSE: TextField = TextField::new("purpose", 2000);
/// The longest email address (RFC 5321's path limit).
pub const EMAIL_MAX_CHARS: usize = 254;
/// The most scopes one org may allow or one client may hold.
pub const MAX_SCOPES: usize = 256;
/// The most labels one org may carry.
pub const MAX_LABELS: usize = 64;
/// The longest label key.
pub const MAX_LABEL_KEY_CHARS: usize = 63;
/// The longest label value.
pub const MAX_LABEL_VALUE_CHARS: usize = 256;

/// What is wrong with a free-text value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextViolation {
    /// Empty or only white space.
    Empty,
    TooLong {
        max_chars: usize,
    },
    /// A control character (a line break, a tab, NUL, …).
    ControlCharacter,
}

impl fmt::Display for TextViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TextViolation::Empty => f.write_str("must not be empty"),
            TextViolation::TooLong { max_chars } => {
                write!(f, "must be at most {max_chars} characters")
            }
            TextViolation::ControlCharacter => {
                f.write_str("must not contain control characters (line breaks, tabs and the like)")
            }
        }
    }
}

/// Checks a free-text value of at most `max_chars` characters.
pub fn check_text_max(value: &str, max_chars: usize) -> Result<(), TextViolation> {
    if value.trim().is_empty() {
        Err(TextViolation::Empty)
    } else if value.chars().count() > max_chars {
        Err(TextViolation::TooLong { max_chars })
    } else if value.chars().any(char::is_control) {
        Err(TextViolation::ControlCharacter)
    } else {
        Ok(())
    }
}

/// The rule of an optional descriptive attribute (`partner-api` declares
/// each with its rule): one check for all of them, so that a new attribute
/// brings no check of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeRule {
    /// An email address, of at most [`EMAIL_MAX_CHARS`].
    Email,
    /// Free text of at most `max_chars` characters.
    Text { max_chars: usize },
}

impl AttributeRule {
    /// The most characters a value may hold.
    pub fn max_chars(self) -> usize {
        match self {
            AttributeRule::Email => EMAIL_MAX_CHARS,
            AttributeRule::Text { max_chars } => max_chars,
        }
    }
}

/// What is wrong with an attribute's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeViolation {
    Text(TextViolation),
    /// Free text, but not an email address.
    NotEmail,
}

impl fmt::Display for AttributeViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttributeViolation::Text(why) => why.fmt(f),
            AttributeViolation::NotEmail => f.write_str("must be an email address"),
        }
    }
}

/// Checks an attribute's value against its rule: the text rule first (an
/// email address is text too), then the rule's own.
pub fn check_attribute(rule: AttributeRule, value: &str) -> Result<(), AttributeViolation> {
    check_text_max(value, rule.max_chars()).map_err(AttributeViolation::Text)?;
    match rule {
        AttributeRule::Email if !crate::is_email(value) => Err(AttributeViolation::NotEmail),
        _ => Ok(()),
    }
}

/// The rule of a label, as users are told it.
pub const LABEL_RULE: &str =
    "label keys are 1 to 63 of [A-Za-z0-9._/-] and values strings of at most 256 characters";

/// Whether `key` may name a label.
pub fn is_label_key(key: &str) -> bool {
    (1..=MAX_LABEL_KEY_CHARS).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._/-".contains(&b))
}

/// What is wrong with a set of labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelViolation {
    TooMany {
        max: usize,
    },
    /// A key that breaks [`LABEL_RULE`] (or whose value does).
    Invalid {
        key: String,
    },
}

impl fmt::Display for LabelViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabelViolation::TooMany { max } => write!(f, "must hold at most {max} labels"),
            LabelViolation::Invalid { .. } => f.write_str(LABEL_RULE),
        }
    }
}

/// Every violation of a label map: its size, then each bad entry.
pub fn check_labels(labels: &BTreeMap<String, String>) -> Vec<LabelViolation> {
    if labels.len() > MAX_LABELS {
        return vec![LabelViolation::TooMany { max: MAX_LABELS }];
    }
    labels
        .iter()
        .filter(|(k, v)| !is_label_key(k) || v.chars().count() > MAX_LABEL_VALUE_CHARS)
        .map(|(k, _)| LabelViolation::Invalid { key: k.clone() })
        .collect()
}

/// The rule of a scope, as users are told it.
pub const SCOPE_RULE: &str = "scopes must be 1 to 128 characters of printable ASCII (codes 33 to 126) other than double quotes and backslashes";

/// What is wrong with a list of scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopesViolation {
    TooMany {
        max: usize,
    },
    /// The entries that are not scope tokens.
    Invalid {
        scopes: Vec<String>,
    },
}

impl fmt::Display for ScopesViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScopesViolation::TooMany { max } => write!(f, "must hold at most {max} scopes"),
            ScopesViolation::Invalid { scopes } => {
                write!(f, "{SCOPE_RULE}; invalid: {}", quoted(scopes))
            }
        }
    }
}

/// Checks a list of scopes: their number, then each entry.
pub fn check_scopes<S: AsRef<str>>(scopes: &[S]) -> Result<(), ScopesViolation> {
    if scopes.len() > MAX_SCOPES {
        return Err(ScopesViolation::TooMany { max: MAX_SCOPES });
    }
    let invalid: Vec<String> = scopes
        .iter()
        .map(AsRef::as_ref)
        .filter(|s| !crate::is_scope(s))
        .map(String::from)
        .collect();
    if invalid.is_empty() {
        Ok(())
    } else {
        Err(ScopesViolation::Invalid { scopes: invalid })
    }
}

/// `"a", "b"`: values as a user would type them.
pub(crate) fn quoted<S: AsRef<str>>(values: &[S]) -> String {
    values
        .iter()
        .map(|v| format!("{:?}", v.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rules_name_what_is_wrong() {
        assert_eq!(check_text_max("sync orders", PURPOSE.max_chars), Ok(()));
        assert_eq!(
            check_text_max("  ", TENANT.max_chars),
            Err(TextViolation::Empty)
        );
        assert_eq!(
            check_text_max(&"x".repeat(301), LEGAL_ENTITY.max_chars),
            Err(TextViolation::TooLong { max_chars: 300 })
        );
        assert_eq!(
            check_text_max(&"é".repeat(300), LEGAL_ENTITY.max_chars),
            Ok(())
        );
        assert_eq!(
            check_text_max("two\nlines", PURPOSE.max_chars),
            Err(TextViolation::ControlCharacter)
        );
        assert!(
            TextViolation::TooLong { max_chars: 300 }
                .to_string()
                .contains("300")
        );
    }

    #[test]
    fn attribute_rules_check_text_then_their_own() {
        let email = AttributeRule::Email;
        assert_eq!(check_attribute(email, "ops@msp.example"), Ok(()));
        assert_eq!(
            check_attribute(email, "ops"),
            Err(AttributeViolation::NotEmail)
        );
        assert_eq!(
            check_attribute(email, " "),
            Err(AttributeViolation::Text(TextViolation::Empty))
        );
        let text = AttributeRule::Text { max_chars: 3 };
        assert_eq!(check_attribute(text, "abc"), Ok(()));
        assert_eq!(
            check_attribute(text, "abcd"),
            Err(AttributeViolation::Text(TextViolation::TooLong {
                max_chars: 3
            }))
        );
    }

    #[test]
    fn labels_and_scopes() {
        let mut labels = BTreeMap::new();
        labels.insert("team".to_string(), "payments".to_string());
        assert!(check_labels(&labels).is_empty());
        labels.insert("bad key".to_string(), "x".to_string());
        labels.insert("long".to_string(), "v".repeat(257));
        assert_eq!(
            check_labels(&labels),
            vec![
                LabelViolation::Invalid {
                    key: "bad key".into()
                },
                LabelViolation::Invalid { key: "long".into() }
            ]
        );
        let many: BTreeMap<String, String> =
            (0..65).map(|i| (format!("k{i}"), String::new())).collect();
        assert_eq!(
            check_labels(&many),
            vec![LabelViolation::TooMany { max: 64 }]
        );
        assert_eq!(check_scopes(&["orders:read"]), Ok(()));
        assert_eq!(
            check_scopes(&["a b", "ok"]),
            Err(ScopesViolation::Invalid {
                scopes: vec!["a b".into()]
            })
        );
        let too_many: Vec<String> = (0..257).map(|i| format!("s{i}")).collect();
        assert_eq!(
            check_scopes(&too_many),
            Err(ScopesViolation::TooMany { max: 256 })
        );
    }
}
