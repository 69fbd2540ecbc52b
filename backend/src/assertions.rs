//! RFC 7523 client assertions: a `private_key_jwt` client proves itself at
//! introspection with a JWT it signed with its own private key; the
//! registry holds only the public keys (its `jwks`), so no secret exists to
//! leak or share. Signatures are checked by `jsonwebtoken`; the claims
//! against the registry's clock and its configured audience, here.
//!
//! Anything else is inactive, failing closed: no key for the header's `alg`
//! and `kid`, a bad signature, `iss` or `sub` other than the client_id, an
//! `aud` without the registry's audience (or no audience configured), an
//! `exp` past or more than [`MAX_ASSERTION_LIFETIME`] ahead, a `jti`
//! missing or seen before.
//!
//! A `jti` is claimed only once everything else holds: the claim is a row
//! in the database ([`crate::db::Tx::claim_jti`]), shared by every replica
//! and kept across restarts, so an assertion accepted anywhere is refused
//! everywhere afterwards. Unsigned junk never reaches the database.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use partner_rules::keys::MAX_ASSERTION_LIFETIME;
use serde::Deserialize;

/// One client's public keys, parsed once when the cache loads the client.
pub struct Keys(Vec<(Option<String>, Algorithm, DecodingKey)>);

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keys({})", self.0.len())
    }
}

impl Keys {
    /// Whether a key has this `kid` (a key set fetched from a `jwks_uri`
    /// is fetched again, at most so often, for an unknown one).
    pub fn has_kid(&self, kid: &str) -> bool {
        self.0.iter().any(|(k, _, _)| k.as_deref() == Some(kid))
    }

    /// The signing keys of a JSON Web Key Set (the registry checked the set
    /// when it was written; a key that does not parse is left out).
    pub fn parse(jwks: &str) -> Keys {
        let set: JwkSet = serde_json::from_str(jwks).unwrap_or(JwkSet { keys: vec![] });
        Keys(
            set.keys
                .iter()
                .filter_map(|jwk| {
                    let alg = match &jwk.algorithm {
                        AlgorithmParameters::RSA(_) => Algorithm::RS256,
                        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
                            Algorithm::ES256
                        }
                        _ => return None,
                    };
                    let key = DecodingKey::from_jwk(jwk).ok()?;
                    Some((jwk.common.key_id.clone(), alg, key))
                })
                .collect(),
        )
    }
}

/// `aud`: one audience or several (RFC 7519 §4.1.3).
#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, wanted: &str) -> bool {
        match self {
            Audience::One(a) => a == wanted,
            Audience::Many(v) => v.iter().any(|a| a == wanted),
        }
    }
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: Audience,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    jti: String,
}

/// An assertion that proves its client, but for its `jti`, which the
/// caller must still claim ([`crate::db::Tx::claim_jti`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proven {
    /// Its `iat`, else the time it was checked.
    pub issued_at: i64,
    pub jti: String,
    pub exp: i64,
}

/// What `assertion` proves if it proves `client_id` with one of `keys`, for
/// `audience`, at `now`; `None` otherwise. Whether its `jti` was used
/// before is for the caller to ask the database.
pub fn verify(
    keys: &Keys,
    client_id: &str,
    assertion: &str,
    audience: Option<&str>,
    now: i64,
) -> Option<Proven> {
    let (Some(audience), Ok(header)) = (audience, jsonwebtoken::decode_header(assertion)) else {
        return None;
    };
    // The claims are checked below against the registry's clock, not the
    // system's: jsonwebtoken only checks the signature.
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = keys
        .0
        .iter()
        .filter(|(kid, alg, _)| {
            *alg == header.alg && (header.kid.is_none() || kid.as_deref() == header.kid.as_deref())
        })
        .find_map(|(_, _, key)| jsonwebtoken::decode::<Claims>(assertion, key, &validation).ok());
    let claims = claims?.claims;
    let holds = claims.iss == client_id
        && claims.sub == client_id
        && claims.aud.contains(audience)
        && claims.exp > now
        && claims.exp <= now.saturating_add(MAX_ASSERTION_LIFETIME)
        && (1..=256).contains(&claims.jti.len());
    holds.then(|| Proven {
        issued_at: claims.iat.unwrap_or(now),
        jti: claims.jti,
        exp: claims.exp,
    })
}
