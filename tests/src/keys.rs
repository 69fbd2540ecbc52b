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

/// A key pair with a key id: EC P-256 (ES256) or RSA (RS256).
pub struct TestKey {
    pub kid: String,
    jwk: Value,
    alg: Algorithm,
    private: EncodingKey,
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

impl TestKey {
    /// A new EC P-256 key pair from the OS's random source.
    pub fn generate(kid: &str) -> TestKey {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("EC key generation");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .expect("EC key");
        // The uncompressed point: 0x04, x, y.
        let public = pair.public_key().as_ref();
        TestKey {
            kid: kid.to_string(),
            jwk: json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
                        "x": b64(&public[1..33]), "y": b64(&public[33..65])}),
            alg: Algorithm::ES256,
            private: EncodingKey::from_ec_der(pkcs8.as_ref()),
        }
    }

    /// A new 2048-bit RSA key pair made by the `openssl` CLI (as a partner
    /// would make theirs; `tools/ensure-openssl.sh` installs it). The
    /// private key only ever passes through pipes and memory.
    pub fn generate_rsa(kid: &str) -> TestKey {
        let pem = openssl(
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ],
            None,
        );
        // ring signs with the PKCS#1 form.
        let der = openssl(&["rsa", "-traditional", "-outform", "DER"], Some(&pem));
        let modulus = String::from_utf8(openssl(&["rsa", "-noout", "-modulus"], Some(&pem)))
            .expect("openssl prints text");
        let modulus = modulus
            .trim()
            .strip_prefix("Modulus=")
            .unwrap_or_else(|| panic!("openssl rsa -modulus printed {modulus:?}"));
        let n = hex::decode(modulus).expect("the modulus in hex");
        let text = String::from_utf8(openssl(&["rsa", "-noout", "-text"], Some(&pem)))
            .expect("openssl prints text");
        let e: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("publicExponent: "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|d| d.parse().ok())
            .unwrap_or_else(|| panic!("no publicExponent in openssl's text"));
        let e = e.to_be_bytes();
        let e = &e[e.iter().position(|b| *b != 0).unwrap_or(7)..];
        TestKey {
            kid: kid.to_string(),
            jwk: json!({"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
                        "n": b64(&n), "e": b64(e)}),
            alg: Algorithm::RS256,
            private: EncodingKey::from_rsa_der(&der),
        }
    }

    /// The public key as a JSON Web Key.
    pub fn jwk(&self) -> Value {
        self.jwk.clone()
    }

    /// Its RFC 7638 thumbprint: the SHA-256 of its required members, in
    /// order, without whitespace; base64url.
    pub fn thumbprint(&self) -> String {
        let m = |name: &str| self.jwk[name].as_str().unwrap_or_default().to_string();
        let canonical = match self.alg {
            Algorithm::RS256 => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, m("e"), m("n")),
            _ => format!(
                r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                m("x"),
                m("y")
            ),
        };
        b64(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes()).as_ref())
    }

    /// A client assertion for `client_id` to `aud`, expiring at `exp`, with `jti`.
    pub fn assertion(&self, client_id: &str, aud: &str, exp: i64, jti: &str) -> String {
        self.assertion_as(&self.kid, client_id, aud, exp, jti)
    }

    /// [`TestKey::assertion`] with the header naming `kid` (another key's, say).
    pub fn assertion_as(
        &self,
        kid: &str,
        client_id: &str,
        aud: &str,
        exp: i64,
        jti: &str,
    ) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(kid.to_string());
        let claims = json!({"iss": client_id, "sub": client_id, "aud": aud, "exp": exp,
                            "iat": exp - 60, "jti": jti});
        jsonwebtoken::encode(&header, &claims, &self.private).expect("signing")
    }
}

/// Runs `openssl` with `args`, `input` on its stdin; its stdout.
fn openssl(args: &[&str], input: Option<&[u8]>) -> Vec<u8> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run openssl ({e}): tools/ensure-openssl.sh installs it")
        });
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(input).expect("openssl's stdin");
    }
    let out = child.wait_with_output().expect("openssl ran");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A JSON Web Key Set of these keys.
pub fn jwks(keys: &[&TestKey]) -> Value {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()})
}

/// The keys as an approval names them: their thumbprints, sorted,
/// space-separated.
pub fn key_list(keys: &[&TestKey]) -> String {
    let mut prints: Vec<String> = keys.iter().map(|k| k.thumbprint()).collect();
    prints.sort();
    prints.join(" ")
}

/// The body of an introspection with a client assertion.
pub fn assertion_body(client_id: &str, assertion: &str) -> Value {
    json!({"client_id": client_id, "client_assertion_type": ASSERTION_TYPE,
           "client_assertion": assertion})
}
