//! Signing keys of `private_key_jwt` clients, made fresh for a test: the
//! public half as a JSON Web Key, the private half signing RFC 7523 client
//! assertions.

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

/// The audience the registries under test are configured with
/// (`serve --assertion-audience`), which client assertions must name.
pub const AUDIENCE: &str = "https://registry.test/v1/introspect";

/// The `client_assertion_type` of RFC 7523.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// An EC P-256 key pair with a key id.
pub struct TestKey {
    pub kid: String,
    public: Vec<u8>,
    private: EncodingKey,
}

impl TestKey {
    /// A new key pair from the OS's random source.
    pub fn generate(kid: &str) -> TestKey {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("EC key generation");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .expect("EC key");
        TestKey {
            kid: kid.to_string(),
            public: pair.public_key().as_ref().to_vec(),
            private: EncodingKey::from_ec_der(pkcs8.as_ref()),
        }
    }

    /// The public key as a JSON Web Key (the uncompressed point's x and y).
    pub fn jwk(&self) -> Value {
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        json!({"kty": "EC", "crv": "P-256", "kid": self.kid, "alg": "ES256", "use": "sig",
               "x": b64(&self.public[1..33]), "y": b64(&self.public[33..65])})
    }

    /// A client assertion for `client_id` to `aud`, expiring at `exp`, with `jti`.
    pub fn assertion(&self, client_id: &str, aud: &str, exp: i64, jti: &str) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        let claims = json!({"iss": client_id, "sub": client_id, "aud": aud, "exp": exp,
                            "iat": exp - 60, "jti": jti});
        jsonwebtoken::encode(&header, &claims, &self.private).expect("signing")
    }
}

/// A JSON Web Key Set of these keys.
pub fn jwks(keys: &[&TestKey]) -> Value {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()})
}

/// The body of an introspection with a client assertion.
pub fn assertion_body(client_id: &str, assertion: &str) -> Value {
    json!({"client_id": client_id, "client_assertion_type": ASSERTION_TYPE,
           "client_assertion": assertion})
}
