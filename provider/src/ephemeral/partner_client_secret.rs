//! Ephemeral resource `partner_client_secret`: a fresh random secret that
//! meets the registry's rule for supplied secrets, for feeding
//! `partner_client.client_secret_wo` without it ever reaching plan or state.
use crate::configured::{Configured, Context};
use rand::Rng;
use tfplugin::model;
use tfplugin::{AttrPath, Attribute, Declaration, Diagnostics, EphemeralResource, Schema, Val};

pub const TYPE_NAME: &str = "partner_client_secret";

/// Letters, digits and symbols that need no quoting in shells or URLs.
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~+=";
const DEFAULT_LENGTH: i64 = 48;
const MIN_LENGTH: i64 = 32;
const MAX_LENGTH: i64 = 256;

model! {
    pub struct SecretModel {
        length: i64,
        value: String,
    }
}

pub struct PartnerClientSecret;

impl Declaration for PartnerClientSecret {
    type Model = SecretModel;

    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        Schema::new(
            "A fresh random client secret that never reaches plan or state.\n\nGenerated each time \
             Terraform opens it (during plan and apply), from the operating system's CSPRNG, meeting \
             the registry's rule for supplied secrets. Terraform never stores ephemeral values, so \
             feeding `value` to `partner_client.client_secret_wo` keeps the secret out of plan and \
             state end to end. Requires Terraform 1.11 or later.\n\nBecause every run produces a new \
             value, roll it out by raising `client_secret_wo_version` in the same change that \
             delivers the value to the partner (for example through a secrets manager's write-only \
             argument).",
        )
        .attr(Attribute::number("length").optional().description(
            "Number of characters, from 32 to 256; 48 when unset.",
        ))
        .attr(Attribute::string("value").computed().sensitive().description(
            "The secret: letters, digits and `-_.~+=`, meeting the registry's rule for supplied \
             secrets.",
        ))
    }

    fn validate(&self, config: &SecretModel, d: &mut Diagnostics) {
        if let Some(length) = config.length.known() {
            if !(MIN_LENGTH..=MAX_LENGTH).contains(length) {
                d.error_at(
                    AttrPath::attr("length"),
                    "Invalid length",
                    format!("length must be from {MIN_LENGTH} to {MAX_LENGTH}; got {length}."),
                );
            }
        }
    }
}

impl EphemeralResource<Configured> for PartnerClientSecret {
    async fn open(
        &self,
        _ctx: &Context,
        config: SecretModel,
        _diags: &mut Diagnostics,
    ) -> Option<SecretModel> {
        let length = config.length.known().copied().unwrap_or(DEFAULT_LENGTH);
        let length = usize::try_from(length.clamp(MIN_LENGTH, MAX_LENGTH)).unwrap_or(48);
        Some(SecretModel {
            length: config.length,
            value: Val::Known(generate(length)),
        })
    }
}

/// A secret of `length` characters from the OS-seeded CSPRNG, drawn again
/// in the rare case it misses the registry's variety rule.
pub fn generate(length: usize) -> String {
    let mut rng = rand::rng();
    loop {
        let secret: String = (0..length)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
            .collect();
        if partner_rules::check_supplied_secret(&secret).is_ok() {
            return secret;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_pass_the_registry_rule_and_differ() {
        let a = generate(32);
        let b = generate(32);
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        for _ in 0..200 {
            assert_eq!(partner_rules::check_supplied_secret(&generate(32)), Ok(()));
        }
    }
}
