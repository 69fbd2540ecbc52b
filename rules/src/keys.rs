//! Credentials without shared secrets: a client that authenticates with
//! its own private key (RFC 7523 client assertions, `private_key_jwt`) and
//! registers only the public keys, as a JSON Web Key Set.

/// The method of a client with a registry-held secret hash (the default).
pub const CLIENT_SECRET: &str = "client_secret";
/// The method of a client that signs assertions with its own private key.
pub const PRIVATE_KEY_JWT: &str = "private_key_jwt";

/// The rule of a client's `auth_method`.
pub const AUTH_METHOD_RULE: &str = "must be \"client_secret\" (a secret whose keyed hash the \
     registry keeps) or \"private_key_jwt\" (RFC 7523 client assertions signed with the client's \
     own private key, checked against the public keys of its jwks; no secret exists)";

/// Whether `s` is an authentication method.
pub fn is_auth_method(s: &str) -> bool {
    s == CLIENT_SECRET || s == PRIVATE_KEY_JWT
}

/// The longest JSON Web Key Set a client may register.
pub const MAX_JWKS_CHARS: usize = 16_384;
/// The most keys in it: room for a rotation, not a key store.
pub const MAX_JWKS_KEYS: usize = 10;

/// The rule of a client's `jwks`.
pub const JWKS_RULE: &str = "must be a JSON Web Key Set ({\"keys\": [...]}, at most 16384 \
     characters) of 1 to 10 public signing keys, each RSA (kty \"RSA\" with n and e) or EC P-256 \
     (kty \"EC\", crv \"P-256\", with x and y), without private members (d, p, q, dp, dq, qi, \
     oth), with alg RS256 or ES256 when given, and unique kids when given";

/// The longest `jwks_uri`.
pub const MAX_JWKS_URI_CHARS: usize = 2048;

/// The rule of a client's `jwks_uri`.
pub const JWKS_URI_RULE: &str = "must be an https URL (http only to a loopback host: \
     127.0.0.1, [::1] or localhost) of at most 2048 characters, without user info or fragment, \
     whose host is not (and does not resolve only to) a link-local, unspecified, multicast or \
     broadcast address, where the client publishes its JSON Web Key Set; the registry fetches \
     it itself";

/// Checks a `jwks_uri` against [`JWKS_URI_RULE`]; the error says what
/// failed, then the rule.
pub fn check_jwks_uri(uri: &str) -> Result<(), String> {
    let fail = |what: &str| Err(format!("{what}: {JWKS_URI_RULE}"));
    if uri.chars().count() > MAX_JWKS_URI_CHARS {
        return fail("it is longer than 2048 characters");
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return fail("it contains whitespace or control characters");
    }
    let (https, rest) = match (uri.strip_prefix("https://"), uri.strip_prefix("http://")) {
        (Some(rest), _) => (true, rest),
        (None, Some(rest)) => (false, rest),
        (None, None) => return fail("it is not an https URL"),
    };
    if rest.contains('#') {
        return fail("it has a fragment");
    }
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if authority.contains('@') {
        return fail("it has user info");
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((host, after)) => (host, after.strip_prefix(':')),
            None => return fail("its host is malformed"),
        },
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if host.is_empty() {
        return fail("it has no host");
    }
    if port.is_some_and(|p| p.parse::<u16>().is_err()) {
        return fail("its port is not a number from 0 to 65535");
    }
    if host
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| !fetchable(ip))
    {
        return fail("its host is a link-local, unspecified, multicast or broadcast address");
    }
    // Plain http would let anyone on the path swap the keys: only a host
    // on this machine (a test's, a sidecar's) is spared TLS.
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::Ipv6Addr>()
            .is_ok_and(|a| a.is_loopback())
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|a| a.is_loopback());
    if !https && !loopback {
        return fail("it is plain http to a host that is not loopback");
    }
    Ok(())
}

/// Whether the registry may fetch a key set from `ip`: never from a
/// link-local address (a cloud's metadata endpoint answers there), nor an
/// unspecified, multicast or broadcast one. The registry fetches what an
/// org token names, so it must not be made to reach those for it.
pub fn fetchable(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(a) => {
            !(a.is_link_local() || a.is_unspecified() || a.is_multicast() || a.is_broadcast())
        }
        IpAddr::V6(a) => {
            let link_local = (a.segments()[0] & 0xffc0) == 0xfe80;
            !(link_local || a.is_unspecified() || a.is_multicast())
        }
    }
}

/// Where a client's public keys come from, as both sides word its
/// violations: `(field, message)` for each. A `private_key_jwt` client has
/// exactly one of `jwks` (the keys) and `jwks_uri` (where the client
/// publishes them); a `client_secret` client neither.
pub fn key_source_violations(
    own_key: bool,
    has_jwks: bool,
    has_jwks_uri: bool,
) -> Vec<(&'static str, &'static str)> {
    match (own_key, has_jwks, has_jwks_uri) {
        (true, false, false) => vec![(
            "jwks",
            "is required for auth_method \"private_key_jwt\" unless jwks_uri is given: exactly \
             one of jwks (the client's public keys) and jwks_uri (where it publishes them)",
        )],
        (true, true, true) => vec![(
            "jwks_uri",
            "cannot be given with jwks: a private_key_jwt client has exactly one of jwks (its \
             public keys) and jwks_uri (where it publishes them)",
        )],
        (false, jwks, uri) => [("jwks", jwks), ("jwks_uri", uri)]
            .into_iter()
            .filter(|(_, given)| *given)
            .map(|(field, _)| (field, "is only for auth_method \"private_key_jwt\""))
            .collect(),
        _ => Vec::new(),
    }
}

/// The `client_assertion_type` of RFC 7523 §2.2.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// How far in the future an assertion's `exp` may lie (seconds): an
/// assertion is made for one request, not kept.
pub const MAX_ASSERTION_LIFETIME: i64 = 300;

/// Checks a JSON Web Key Set against [`JWKS_RULE`]; the error says what
/// failed, then the rule.
pub fn check_jwks(text: &str) -> Result<(), String> {
    let fail = |what: String| Err(format!("{what}: {JWKS_RULE}"));
    if text.chars().count() > MAX_JWKS_CHARS {
        return fail("it is longer than 16384 characters".into());
    }
    let Ok(serde_json::Value::Object(set)) = serde_json::from_str::<serde_json::Value>(text) else {
        return fail("it is not a JSON object".into());
    };
    let Some(serde_json::Value::Array(keys)) = set.get("keys") else {
        return fail("it has no \"keys\" array".into());
    };
    if keys.is_empty() || keys.len() > MAX_JWKS_KEYS {
        return fail(format!("it has {} keys", keys.len()));
    }
    let mut kids = std::collections::BTreeSet::new();
    for (i, key) in keys.iter().enumerate() {
        let Some(key) = key.as_object() else {
            return fail(format!("key {i} is not an object"));
        };
        let text_of = |name: &str| key.get(name).and_then(serde_json::Value::as_str);
        let has = |names: &[&str]| {
            names
                .iter()
                .all(|n| text_of(n).is_some_and(|v| !v.is_empty()))
        };
        if let Some(private) = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]
            .iter()
            .find(|m| key.contains_key(**m))
        {
            return fail(format!("key {i} holds the private member {private:?}"));
        }
        let (ok, alg) = match text_of("kty") {
            Some("RSA") => (has(&["n", "e"]), "RS256"),
            Some("EC") => (text_of("crv") == Some("P-256") && has(&["x", "y"]), "ES256"),
            _ => (false, ""),
        };
        if !ok {
            return fail(format!(
                "key {i} is neither RSA nor EC P-256 with its public members"
            ));
        }
        if text_of("alg").is_some_and(|a| a != alg)
            || key.get("alg").is_some_and(|a| !a.is_string())
        {
            return fail(format!("key {i} names an alg other than {alg}"));
        }
        if text_of("use").is_some_and(|u| u != "sig") {
            return fail(format!("key {i} is not for signatures"));
        }
        if let Some(kid) = key.get("kid") {
            let Some(kid) = kid.as_str() else {
                return fail(format!("key {i} has a kid that is not a string"));
            };
            if !kids.insert(kid.to_string()) {
                return fail(format!("kid {kid:?} appears twice"));
            }
        }
    }
    Ok(())
}

/// The RFC 7638 thumbprint of a public JSON Web Key (base64url of the
/// SHA-256 of its required members in order, no whitespace); `None` for a
/// key that is neither RSA nor EC with those members. A thumbprint names
/// the key itself: a kid can be reused for another key, a thumbprint not.
pub fn thumbprint(key: &serde_json::Value) -> Option<String> {
    use base64::Engine;
    use sha2::Digest;
    let text = |name: &str| key.get(name).and_then(serde_json::Value::as_str);
    let members: &[&str] = match text("kty")? {
        "RSA" => &["e", "kty", "n"],
        "EC" => &["crv", "kty", "x", "y"],
        _ => return None,
    };
    let mut canonical = serde_json::Map::new();
    for m in members {
        canonical.insert((*m).to_string(), text(m)?.into());
    }
    // serde_json's map keeps its keys sorted, as RFC 7638 orders them.
    let json = serde_json::Value::Object(canonical).to_string();
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(json)))
}

/// The keys of a JSON Web Key Set in their canonical form for approvals:
/// their thumbprints, sorted, space-separated (empty for no set, or one that
/// does not parse: the JWKS rule refuses that elsewhere).
pub fn key_list(jwks: Option<&str>) -> String {
    let Some(set) = jwks.and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok()) else {
        return String::new();
    };
    let mut prints: Vec<String> = set
        .get("keys")
        .and_then(serde_json::Value::as_array)
        .map(|keys| keys.iter().filter_map(thumbprint).collect())
        .unwrap_or_default();
    prints.sort_unstable();
    prints.dedup();
    prints.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_rule() {
        let ec = r#"{"kty":"EC","crv":"P-256","x":"AA","y":"BB","kid":"a"}"#;
        let rsa = r#"{"kty":"RSA","n":"AQAB","e":"AQAB","alg":"RS256","use":"sig"}"#;
        assert!(check_jwks(&format!(r#"{{"keys":[{ec},{rsa}]}}"#)).is_ok());
        for (bad, why) in [
            ("[]", "not a JSON object"),
            (r#"{"keys":[]}"#, "0 keys"),
            (&format!(r#"{{"keys":[{ec},{ec}]}}"#), "appears twice"),
            (
                r#"{"keys":[{"kty":"EC","crv":"P-384","x":"A","y":"B"}]}"#,
                "neither RSA nor EC P-256",
            ),
            (
                r#"{"keys":[{"kty":"EC","crv":"P-256","x":"A","y":"B","d":"C"}]}"#,
                "private member \"d\"",
            ),
            (
                r#"{"keys":[{"kty":"oct","k":"A"}]}"#,
                "private member \"k\"",
            ),
            (
                r#"{"keys":[{"kty":"RSA","n":"A","e":"B","alg":"ES256"}]}"#,
                "alg other than RS256",
            ),
        ] {
            let e = check_jwks(bad).unwrap_err();
            assert!(e.contains(why) && e.ends_with(JWKS_RULE), "{bad}: {e}");
        }
        assert!(is_auth_method("private_key_jwt") && !is_auth_method("jwt"));
    }

    #[test]
    fn jwks_uri_rule() {
        for ok in [
            "https://keys.partner.example/.well-known/jwks.json",
            "https://keys.partner.example:8443/jwks?v=2",
            "http://127.0.0.1:41234/jwks.json",
            "http://localhost/jwks",
            "http://[::1]:9000/jwks",
        ] {
            assert!(check_jwks_uri(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("ftp://keys.example/jwks", "not an https URL"),
            ("keys.example/jwks", "not an https URL"),
            ("http://keys.example/jwks", "plain http"),
            ("http://10.0.0.1/jwks", "plain http"),
            ("https://user:pw@keys.example/jwks", "user info"),
            ("https://keys.example/jwks#k1", "fragment"),
            ("https:///jwks", "no host"),
            ("https://keys.example:99999/", "port"),
            ("https://keys.example/a b", "whitespace"),
            ("https://169.254.169.254/latest/meta-data", "link-local"),
            ("https://[fe80::1]/jwks", "link-local"),
            ("https://[::ffff:169.254.169.254]/jwks", "link-local"),
            ("https://0.0.0.0/jwks", "unspecified"),
        ] {
            let e = check_jwks_uri(bad).unwrap_err();
            assert!(e.contains(why) && e.ends_with(JWKS_URI_RULE), "{bad}: {e}");
        }
        let long = format!("https://k.example/{}", "a".repeat(2048));
        assert!(check_jwks_uri(&long).unwrap_err().contains("longer"));
    }

    #[test]
    fn exactly_one_key_source_for_private_key_jwt() {
        let fields = |v: Vec<(&'static str, &'static str)>| -> Vec<&str> {
            v.into_iter().map(|(f, _)| f).collect()
        };
        assert!(key_source_violations(true, true, false).is_empty());
        assert!(key_source_violations(true, false, true).is_empty());
        assert!(key_source_violations(false, false, false).is_empty());
        assert_eq!(fields(key_source_violations(true, false, false)), ["jwks"]);
        assert_eq!(
            fields(key_source_violations(true, true, true)),
            ["jwks_uri"]
        );
        assert_eq!(
            fields(key_source_violations(false, true, true)),
            ["jwks", "jwks_uri"]
        );
    }

    #[test]
    fn thumbprints_follow_rfc_7638() {
        // RFC 7638 §3.1's example key and its thumbprint.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let key = serde_json::json!({"kty": "RSA", "n": n, "e": "AQAB", "alg": "RS256",
                                     "kid": "2011-04-29"});
        assert_eq!(
            thumbprint(&key).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
        let ec = serde_json::json!({"kty": "EC", "crv": "P-256", "x": "A", "y": "B"});
        let set = serde_json::json!({"keys": [ec, key]}).to_string();
        let list = key_list(Some(&set));
        assert_eq!(list.split(' ').count(), 2);
        assert!(list.contains("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"));
        assert_eq!(key_list(None), "");
        assert_eq!(key_list(Some("not json")), "");
    }
}
