//! A client's optional descriptive attributes, declared once: each one's
//! name, rule and description. The writable fields, the client's view,
//! the registry's storage (one JSON column), its OpenAPI document and the
//! provider's schema, validation and documentation all follow from this
//! declaration, so adding an attribute here is most of the work.

use partner_rules::fields::AttributeRule;
use serde::{Deserialize, Serialize};

/// The declaration of one optional descriptive attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttributeSpec {
    /// Its name, in the API (and so its errors) and in Terraform.
    pub name: &'static str,
    /// The rule its value follows, checked by the registry and at plan time.
    pub rule: AttributeRule,
    /// What it means: the OpenAPI document's description and the provider's
    /// (and so its documentation).
    pub description: &'static str,
}

/// The struct of the attributes (each an optional string), `SPECS` (their
/// declarations, in order) and `NAMES`, from one list.
macro_rules! attributes {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $field:ident: $rule:expr => $description:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
        pub struct $name {
            $( #[doc = $description] pub $field: Option<String>, )*
        }

        impl $name {
            /// Every attribute's declaration, in the order of the fields.
            pub const SPECS: &[AttributeSpec] = &[$(AttributeSpec {
                name: stringify!($field),
                rule: $rule,
                description: $description,
            }),*];

            /// The attributes' names, as the API spells them.
            pub const NAMES: &[&str] = &[$(stringify!($field)),*];

            /// Each attribute's declaration with its value.
            pub fn iter(&self) -> impl Iterator<Item = (&'static AttributeSpec, Option<&str>)> {
                Self::SPECS.iter().zip([$(self.$field.as_deref()),*])
            }

            /// The attributes whose values `value` gives, by declaration.
            pub fn from_fn(value: impl FnMut(&'static AttributeSpec) -> Option<String>) -> Self {
                let mut values = Self::SPECS.iter().map(value);
                Self { $( $field: values.next().flatten(), )* }
            }
        }
    };
}

attributes! {
    /// A client's optional descriptive attributes: `null` when unset.
    pub struct ClientAttributes {
        custodian: AttributeRule::Email => "Email address of the person who holds the client's \
            credential day to day (at an intermediary, say), someone other than the `owner`. \
            When unset and the client is `operated_by` an intermediary, the intermediary's \
            technical owner is shown as the custodian (in the blast radius).",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `iter` and `from_fn` pair each value with its own declaration.
    #[test]
    fn values_follow_their_declarations() {
        let attributes = ClientAttributes::from_fn(|spec| Some(format!("{}@x.example", spec.name)));
        for (spec, value) in attributes.iter() {
            assert_eq!(value, Some(format!("{}@x.example", spec.name).as_str()));
        }
        assert_eq!(
            ClientAttributes::SPECS
                .iter()
                .map(|s| s.name)
                .collect::<Vec<_>>(),
            ClientAttributes::NAMES
        );
    }
}
