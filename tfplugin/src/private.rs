//! Terraform's private state of a resource instance.

use serde_json::{Map, Value};

/// What a provider keeps next to a resource instance's state and never shows
/// in a plan: the version of the remote object it was read at, say.
/// Terraform stores the bytes with the state and hands them back on the next
/// read, plan and apply of the same instance; this framework keeps them as a
/// JSON object of the provider's own keys.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Private(Map<String, Value>);

impl Private {
    /// The private state Terraform sent; empty when it holds none (or bytes
    /// this framework did not write).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        match serde_json::from_slice(bytes) {
            Ok(Value::Object(map)) => Private(map),
            _ => Private::default(),
        }
    }

    /// The bytes for Terraform to store; none for an empty private state.
    pub fn to_bytes(&self) -> Vec<u8> {
        if self.0.is_empty() {
            return Vec::new();
        }
        serde_json::to_vec(&self.0).unwrap_or_default()
    }

    pub fn get_i64(&self, key: &str) -> Option<i64> {
        self.0.get(key).and_then(Value::as_i64)
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }

    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.0.get(key).and_then(Value::as_bool)
    }

    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.0.insert(key.to_string(), value.into());
    }

    pub fn remove(&mut self, key: &str) {
        self.0.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reads_foreign_bytes_as_empty() {
        let mut p = Private::default();
        assert!(p.to_bytes().is_empty());
        p.set("version", 7);
        p.set("replaces", "org_1");
        let back = Private::from_bytes(&p.to_bytes());
        assert_eq!(back.get_i64("version"), Some(7));
        assert_eq!(back.get_str("replaces"), Some("org_1"));
        assert_eq!(back.get_bool("version"), None);
        assert_eq!(Private::from_bytes(b"\x01not json"), Private::default());
        assert_eq!(Private::from_bytes(b"[1]"), Private::default());
    }
}
