//! Secrets, API tokens, identifiers and the server key.
//!
//! Client secrets look like `pcs_<44 base62 random chars><6 base62 chars of CRC32>`:
//! 44 base62 characters carry 261 bits from the OS CSPRNG, and the checksum lets
//! leak scanners recognise a real secret offline (the GitHub token format idea).
//! Only `HMAC-SHA256(server key, secret)` is ever stored.

use hmac::{Hmac, Mac};
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use subtle::ConstantTimeEq;

pub const SECRET_PREFIX: &str = "pcs_";
pub const TOKEN_PREFIX: &str = "prt_";
pub const CLIENT_ID_PREFIX: &str = "pc_";
const RANDOM_CHARS: usize = 44;
const CHECKSUM_CHARS: usize = 6;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the operating system's random source failed: {0}")]
    Random(String),
    #[error("server key file {path}: {message}")]
    KeyFile { path: PathBuf, message: String },
    #[error(
        "a PostgreSQL registry needs --key-file (or PARTNER_REGISTRY_SECRET_KEY_FILE): the server key never lives in the database, and every replica needs the same file"
    )]
    NoKeyFile,
}

/// Fills `buf` from the OS CSPRNG.
pub fn os_random(buf: &mut [u8]) -> Result<(), CryptoError> {
    OsRng
        .try_fill_bytes(buf)
        .map_err(|e| CryptoError::Random(e.to_string()))
}

/// `n` uniformly random base62 characters (rejection sampling, no modulo bias).
pub fn random_base62(n: usize) -> Result<String, CryptoError> {
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 64];
    while out.len() < n {
        os_random(&mut buf)?;
        for b in buf {
            if b < 248 && out.len() < n {
                out.push(BASE62[(b % 62) as usize] as char);
            }
        }
    }
    Ok(out)
}

/// CRC-32 (IEEE 802.3), bitwise.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (!(crc & 1)).wrapping_add(1);
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

fn base62_fixed(mut v: u64, width: usize) -> String {
    let mut chars = vec![b'0'; width];
    for slot in chars.iter_mut().rev() {
        *slot = BASE62[(v % 62) as usize];
        v /= 62;
    }
    String::from_utf8(chars).unwrap_or_default()
}

fn with_checksum(prefix: &str) -> Result<String, CryptoError> {
    let random = random_base62(RANDOM_CHARS)?;
    let check = base62_fixed(u64::from(crc32(random.as_bytes())), CHECKSUM_CHARS);
    Ok(format!("{prefix}{random}{check}"))
}

fn checksum_ok(value: &str, prefix: &str) -> bool {
    let Some(body) = value.strip_prefix(prefix) else {
        return false;
    };
    if body.len() != RANDOM_CHARS + CHECKSUM_CHARS
        || !body.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return false;
    }
    let (random, check) = body.split_at(RANDOM_CHARS);
    base62_fixed(u64::from(crc32(random.as_bytes())), CHECKSUM_CHARS) == check
}

/// A new client secret (`pcs_…`).
pub fn new_client_secret() -> Result<String, CryptoError> {
    with_checksum(SECRET_PREFIX)
}

/// Whether `s` has the shape and checksum of a secret this server makes.
pub fn is_client_secret(s: &str) -> bool {
    checksum_ok(s, SECRET_PREFIX)
}

/// The rule a client-supplied secret must meet (create and rotate): the shared
/// `partner-rules` definition, which the provider also checks at plan time.
pub use partner_rules::SUPPLIED_SECRET_RULE;

/// Checks a client-supplied secret against [`SUPPLIED_SECRET_RULE`]. The error names
/// what failed and the rule, never the value.
pub fn check_supplied_secret(s: &str) -> Result<(), String> {
    partner_rules::check_supplied_secret(s)
}

/// A new API bearer token (`prt_…`).
pub fn new_api_token() -> Result<String, CryptoError> {
    with_checksum(TOKEN_PREFIX)
}

/// Whether `s` has the shape and checksum of an API token.
pub fn is_api_token(s: &str) -> bool {
    checksum_ok(s, TOKEN_PREFIX)
}

/// Hex SHA-256 of arbitrary bytes.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A new record identifier such as `org_…` or `cli_…` (not secret).
pub fn new_id(prefix: &str) -> Result<String, CryptoError> {
    Ok(format!("{prefix}{}", random_base62(20)?))
}

/// The server key. Never stored in the database. Client secrets are HMACed under
/// it directly; the audit chain and API tokens each use a key derived from it for
/// that purpose alone (`HMAC(key, label)`), so that no value the API lets a caller
/// choose (a supplied client secret is HMACed and stored) can ever double as a MAC
/// of another kind: a stored client-secret HMAC is never a valid token hash.
#[derive(Clone)]
pub struct SecretKey {
    bytes: [u8; 32],
    secrets: Hmac<Sha256>,
    audit: Hmac<Sha256>,
    tokens: Hmac<Sha256>,
}

/// Label of the audit-chain key derived from the server key.
const AUDIT_KEY_LABEL: &[u8] = b"partner-registry audit chain v1";
/// Label of the API-token key derived from the server key.
const TOKEN_KEY_LABEL: &[u8] = b"partner-registry api token v1";

fn hmac_of(key: &[u8]) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length")
}

fn mac(state: &Hmac<Sha256>, data: &[u8]) -> [u8; 32] {
    // The keyed state is computed once; cloning it skips the key schedule.
    let mut mac = state.clone();
    mac.update(data);
    mac.finalize().into_bytes().into()
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let secrets = hmac_of(&bytes);
        let audit = hmac_of(&mac(&secrets, AUDIT_KEY_LABEL));
        let tokens = hmac_of(&mac(&secrets, TOKEN_KEY_LABEL));
        SecretKey {
            bytes,
            secrets,
            audit,
            tokens,
        }
    }

    pub fn generate() -> Result<Self, CryptoError> {
        let mut k = [0u8; 32];
        os_random(&mut k)?;
        Ok(SecretKey::from_bytes(k))
    }

    /// The key file of a registry: `key_file` when given, else
    /// `PARTNER_REGISTRY_SECRET_KEY_FILE`, else `<db>.key` beside a SQLite
    /// database. A PostgreSQL registry must name it: the key never lives in
    /// the database, and every replica needs the same file.
    pub fn path_for(
        target: &crate::db::Target,
        key_file: Option<&Path>,
    ) -> Result<PathBuf, CryptoError> {
        if let Some(p) = key_file {
            return Ok(p.to_path_buf());
        }
        match std::env::var_os("PARTNER_REGISTRY_SECRET_KEY_FILE") {
            Some(p) if !p.is_empty() => Ok(PathBuf::from(p)),
            _ => match target {
                crate::db::Target::Sqlite(db) => {
                    let mut s = db.as_os_str().to_owned();
                    s.push(".key");
                    Ok(PathBuf::from(s))
                }
                crate::db::Target::Postgres(_) => Err(CryptoError::NoKeyFile),
            },
        }
    }

    /// Loads an existing key file (never creates one).
    pub fn load(path: &Path) -> Result<Self, CryptoError> {
        let err = |message: String| CryptoError::KeyFile {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let bytes = hex::decode(text.trim()).map_err(|_| err("not 64 hex characters".into()))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| err("not 64 hex characters".into()))?;
        Ok(SecretKey::from_bytes(arr))
    }

    /// The key in `path`; `None` when there is no such file.
    pub fn load_if_present(path: &Path) -> Result<Option<Self>, CryptoError> {
        match std::fs::metadata(path) {
            Ok(_) => Self::load(path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CryptoError::KeyFile {
                path: path.to_path_buf(),
                message: e.to_string(),
            }),
        }
    }

    /// Creates a new key file with mode 0600 (and makes its folder entry
    /// durable); another process's key, when it got there first.
    pub fn create_new(path: &Path) -> Result<Self, CryptoError> {
        let err = |message: String| CryptoError::KeyFile {
            path: path.to_path_buf(),
            message,
        };
        let key = SecretKey::generate()?;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        match opts.open(path) {
            Ok(mut f) => {
                f.write_all(format!("{}\n", hex::encode(key.bytes)).as_bytes())
                    .and_then(|_| f.sync_all())
                    .map_err(|e| err(e.to_string()))?;
                sync_parent(path);
                Ok(key)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::load(path),
            Err(e) => Err(err(e.to_string())),
        }
    }

    /// `HMAC-SHA256(key, secret)`.
    pub fn hash_secret(&self, secret: &str) -> [u8; 32] {
        mac(&self.secrets, secret.as_bytes())
    }

    /// What is stored of an API token: `HMAC(token key, SHA-256(token))`. The inner
    /// digest is what databases before schema version 4 stored, so that they can be
    /// migrated without the tokens themselves.
    pub fn hash_token(&self, token: &str) -> [u8; 32] {
        self.hash_token_digest(&Sha256::digest(token.as_bytes()).into())
    }

    /// [`SecretKey::hash_token`] from the token's SHA-256.
    pub fn hash_token_digest(&self, sha256: &[u8; 32]) -> [u8; 32] {
        mac(&self.tokens, sha256)
    }

    /// The MAC of one audit event's canonical form, under the derived audit key (hex).
    pub fn audit_mac(&self, canonical: &[u8]) -> String {
        hex::encode(mac(&self.audit, canonical))
    }
}

/// Fsyncs the folder holding `path`, so that a file just created or renamed
/// there survives a crash. Best effort: not every platform lets a folder be
/// opened and synced.
pub fn sync_parent(path: &Path) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
}

/// Constant-time equality of two hashes.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_known_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn secrets_have_prefix_checksum_and_differ() {
        let a = new_client_secret().unwrap();
        let b = new_client_secret().unwrap();
        assert!(a.starts_with("pcs_") && a.len() == 4 + 50);
        assert_ne!(a, b);
        assert!(is_client_secret(&a));
        let mut broken = a.clone().into_bytes();
        broken[10] = if broken[10] == b'a' { b'b' } else { b'a' };
        assert!(!is_client_secret(&String::from_utf8(broken).unwrap()));
        assert!(is_api_token(&new_api_token().unwrap()));
    }

    #[test]
    fn supplied_secret_rule() {
        assert!(check_supplied_secret("Correct-Horse-Battery-Staple-2027!xyz").is_ok());
        assert!(check_supplied_secret(&new_client_secret().unwrap()).is_ok());
        for (bad, why) in [
            ("Short-1a", "shorter than 32"),
            ("correct horse battery staple 2027 xyz!", "space"),
            ("correcthorsebatterystaple2027xyzabc", "3 of the 4"),
            ("Aa1!Aa1!Aa1!Aa1!Aa1!Aa1!Aa1!Aa1!Aa1!", "12 different"),
            ("Correct-Horse-Battery-Staple-2027-\u{e9}", "non-ASCII"),
        ] {
            let e = check_supplied_secret(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
            assert!(!e.contains(bad), "the value was echoed: {e}");
        }
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.key");
        let k1 = SecretKey::create_new(&p).unwrap();
        let k2 = SecretKey::create_new(&p).unwrap();
        assert_eq!(k1.hash_secret("x"), k2.hash_secret("x"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }
}
