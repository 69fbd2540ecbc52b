//! Terraform values and types (the cty type system, as far as a provider
//! needs it), independent of the wire encoding.
use std::collections::BTreeMap;
use std::fmt;

/// A cty type. Serialised as cty's JSON type notation in schemas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Type {
    Bool,
    Number,
    String,
    /// `dynamic`: the value carries its own type.
    Dynamic,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Object(BTreeMap<String, Type>),
    Tuple(Vec<Type>),
}

impl Type {
    pub fn list(t: Type) -> Type {
        Type::List(Box::new(t))
    }
    pub fn set(t: Type) -> Type {
        Type::Set(Box::new(t))
    }
    pub fn map(t: Type) -> Type {
        Type::Map(Box::new(t))
    }
    pub fn object<I: IntoIterator<Item = (S, Type)>, S: Into<String>>(attrs: I) -> Type {
        Type::Object(attrs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// cty JSON notation, e.g. `"string"`, `["set","string"]`,
    /// `["object",{"a":"number"}]`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::{Value as J, json};
        match self {
            Type::Bool => J::from("bool"),
            Type::Number => J::from("number"),
            Type::String => J::from("string"),
            Type::Dynamic => J::from("dynamic"),
            Type::List(e) => json!(["list", e.to_json()]),
            Type::Set(e) => json!(["set", e.to_json()]),
            Type::Map(e) => json!(["map", e.to_json()]),
            Type::Object(attrs) => {
                let m: serde_json::Map<String, J> = attrs
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect();
                json!(["object", m])
            }
            Type::Tuple(elems) => {
                json!(["tuple", elems.iter().map(Type::to_json).collect::<Vec<_>>()])
            }
        }
    }

    pub fn to_json_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.to_json()).unwrap_or_default()
    }

    /// Parses cty JSON type notation. Optional-attribute markers on object
    /// types are accepted and ignored.
    pub fn from_json(j: &serde_json::Value) -> Result<Type, String> {
        use serde_json::Value as J;
        match j {
            J::String(s) => match s.as_str() {
                "bool" => Ok(Type::Bool),
                "number" => Ok(Type::Number),
                "string" => Ok(Type::String),
                "dynamic" => Ok(Type::Dynamic),
                other => Err(format!("unknown primitive type {other:?}")),
            },
            J::Array(a) if !a.is_empty() => {
                let kind = a[0].as_str().ok_or("type kind must be a string")?;
                let arg = a.get(1).ok_or("collection type needs an argument")?;
                match kind {
                    "list" => Ok(Type::list(Type::from_json(arg)?)),
                    "set" => Ok(Type::set(Type::from_json(arg)?)),
                    "map" => Ok(Type::map(Type::from_json(arg)?)),
                    "object" => {
                        let o = arg.as_object().ok_or("object type needs a map")?;
                        let mut attrs = BTreeMap::new();
                        for (k, v) in o {
                            attrs.insert(k.clone(), Type::from_json(v)?);
                        }
                        Ok(Type::Object(attrs))
                    }
                    "tuple" => {
                        let el = arg.as_array().ok_or("tuple type needs a list")?;
                        Ok(Type::Tuple(
                            el.iter().map(Type::from_json).collect::<Result<_, _>>()?,
                        ))
                    }
                    other => Err(format!("unknown type kind {other:?}")),
                }
            }
            _ => Err(format!("invalid type {j}")),
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json())
    }
}

/// A number as Terraform sends it: an integer, a float, or (for values that
/// fit neither exactly) its decimal text.
#[derive(Clone, Debug)]
pub enum Number {
    Int(i64),
    Float(f64),
    /// Arbitrary-precision decimal, e.g. `"18446744073709551616"` or
    /// `"0.1000000000000000000001"`.
    Big(String),
}

impl Number {
    /// Canonical decimal text, used for comparisons.
    pub fn to_decimal_string(&self) -> String {
        match self {
            Number::Int(i) => i.to_string(),
            Number::Float(f) => {
                if f.fract() == 0.0 && f.abs() < 1e18 {
                    format!("{}", *f as i64)
                } else {
                    format!("{f}")
                }
            }
            Number::Big(s) => normalize_decimal(s),
        }
    }
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Number::Int(i) => Some(*i),
            Number::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Some(*f as i64),
            Number::Float(_) => None,
            Number::Big(s) => s.parse().ok(),
        }
    }
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Number::Int(i) => Some(*i as f64),
            Number::Float(f) => Some(*f),
            Number::Big(s) => s.parse().ok(),
        }
    }
}

fn normalize_decimal(s: &str) -> String {
    let s = s.trim();
    if let Ok(i) = s.parse::<i64>() {
        return i.to_string();
    }
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if body.contains(['e', 'E']) {
        return s.to_string();
    }
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let mut out = String::new();
    if neg && !(int == "0" && frac.is_empty()) {
        out.push('-');
    }
    out.push_str(int);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a == b,
            (Number::Float(a), Number::Float(b)) => a == b,
            _ => self.to_decimal_string() == other.to_decimal_string(),
        }
    }
}

/// A Terraform value. Collections are kept in the shape of their type:
/// lists, sets and tuples as vectors; maps and objects as sorted maps.
#[derive(Clone, Debug)]
pub enum Value {
    Null,
    /// Not known until apply.
    Unknown,
    /// Not known until apply, but a string that will start with this
    /// (non-empty) prefix: a cty refined unknown. Terraform carries the
    /// refinement through references, so a resource can learn part of a
    /// value another resource has yet to create. It is an unknown in every
    /// other respect (`is_unknown` is true); only code that asks for the
    /// prefix ([`Value::unknown_prefix`]) sees the difference.
    UnknownPrefix(String),
    Bool(bool),
    Number(Number),
    String(String),
    List(Vec<Value>),
    /// Element order carries no meaning; equality ignores it.
    Set(Vec<Value>),
    Tuple(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Object(BTreeMap<String, Value>),
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        use Value::*;
        match (self, other) {
            (Null, Null) | (Unknown, Unknown) => true,
            (UnknownPrefix(a), UnknownPrefix(b)) => a == b,
            (Bool(a), Bool(b)) => a == b,
            (Number(a), Number(b)) => a == b,
            (String(a), String(b)) => a == b,
            (List(a), List(b)) | (Tuple(a), Tuple(b)) => a == b,
            (Set(a), Set(b)) => {
                a.len() == b.len()
                    && a.iter().all(|x| b.contains(x))
                    && b.iter().all(|x| a.contains(x))
            }
            (Map(a), Map(b)) | (Object(a), Object(b)) => a == b,
            _ => false,
        }
    }
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
    /// True for any unknown, refined or not.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown | Value::UnknownPrefix(_))
    }
    /// An unknown string known to start with `prefix`; a plain unknown
    /// when the prefix is empty, since that promises nothing.
    pub fn unknown_with_prefix(prefix: impl Into<String>) -> Value {
        let prefix = prefix.into();
        if prefix.is_empty() {
            Value::Unknown
        } else {
            Value::UnknownPrefix(prefix)
        }
    }
    /// The known prefix of a refined unknown string; `None` for anything
    /// else, including plain unknowns.
    pub fn unknown_prefix(&self) -> Option<&str> {
        match self {
            Value::UnknownPrefix(p) => Some(p),
            _ => None,
        }
    }
    /// This value with every refinement dropped, for the comparisons
    /// Terraform itself makes without refinements (planned vs config).
    pub fn unrefined(self) -> Value {
        match self {
            Value::UnknownPrefix(_) => Value::Unknown,
            Value::List(a) => Value::List(a.into_iter().map(Value::unrefined).collect()),
            Value::Set(a) => Value::Set(a.into_iter().map(Value::unrefined).collect()),
            Value::Tuple(a) => Value::Tuple(a.into_iter().map(Value::unrefined).collect()),
            Value::Map(m) => Value::Map(m.into_iter().map(|(k, x)| (k, x.unrefined())).collect()),
            Value::Object(m) => {
                Value::Object(m.into_iter().map(|(k, x)| (k, x.unrefined())).collect())
            }
            v => v,
        }
    }
    /// True when this value or anything nested in it is unknown.
    pub fn contains_unknown(&self) -> bool {
        match self {
            Value::Unknown | Value::UnknownPrefix(_) => true,
            Value::List(v) | Value::Set(v) | Value::Tuple(v) => {
                v.iter().any(Value::contains_unknown)
            }
            Value::Map(m) | Value::Object(m) => m.values().any(Value::contains_unknown),
            _ => false,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
    /// Object attribute (or map element) by name; `Null` when absent.
    pub fn get(&self, name: &str) -> &Value {
        match self {
            Value::Object(m) | Value::Map(m) => m.get(name).unwrap_or(&Value::Null),
            _ => &Value::Null,
        }
    }
    pub fn attrs_mut(&mut self) -> Option<&mut BTreeMap<String, Value>> {
        match self {
            Value::Object(m) | Value::Map(m) => Some(m),
            _ => None,
        }
    }
    /// A null value of an object type with every attribute null.
    pub fn null_object(ty: &Type) -> Value {
        match ty {
            Type::Object(attrs) => {
                Value::Object(attrs.keys().map(|k| (k.clone(), Value::Null)).collect())
            }
            _ => Value::Null,
        }
    }

    /// Reshapes a value built loosely (e.g. from a typed model) to `ty`:
    /// lists become sets where the type says set, maps become objects, and
    /// missing object attributes become null.
    pub fn conform(self, ty: &Type) -> Value {
        match (self, ty) {
            // Only strings can carry a prefix (cty refuses it elsewhere).
            (v @ Value::UnknownPrefix(_), Type::String) => v,
            (Value::UnknownPrefix(_), _) => Value::Unknown,
            (v @ (Value::Null | Value::Unknown), _) => v,
            (Value::List(v) | Value::Set(v) | Value::Tuple(v), Type::List(e)) => {
                Value::List(v.into_iter().map(|x| x.conform(e)).collect())
            }
            (Value::List(v) | Value::Set(v) | Value::Tuple(v), Type::Set(e)) => {
                let mut out: Vec<Value> = Vec::with_capacity(v.len());
                for x in v {
                    let x = x.conform(e);
                    if !out.contains(&x) {
                        out.push(x);
                    }
                }
                Value::Set(out)
            }
            (Value::List(v) | Value::Set(v) | Value::Tuple(v), Type::Tuple(ts)) => {
                Value::Tuple(v.into_iter().zip(ts).map(|(x, t)| x.conform(t)).collect())
            }
            (Value::Map(m) | Value::Object(m), Type::Map(e)) => {
                Value::Map(m.into_iter().map(|(k, x)| (k, x.conform(e))).collect())
            }
            (Value::Map(mut m) | Value::Object(mut m), Type::Object(attrs)) => Value::Object(
                attrs
                    .iter()
                    .map(|(k, t)| {
                        let v = m.remove(k).unwrap_or(Value::Null);
                        (k.clone(), v.conform(t))
                    })
                    .collect(),
            ),
            (v, _) => v,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Number(Number::Int(i))
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FromValue, Val};

    #[test]
    fn prefixed_unknown_behaves_as_unknown_except_for_its_prefix() {
        let p = Value::unknown_with_prefix("org_");
        assert!(p.is_unknown() && p.contains_unknown() && !p.is_null());
        assert_eq!(p.unknown_prefix(), Some("org_"));
        assert_eq!(Value::Unknown.unknown_prefix(), None);
        assert_ne!(p, Value::Unknown);
        assert_ne!(p, Value::unknown_with_prefix("org"));
        assert_eq!(p.clone().unrefined(), Value::Unknown);
        let nested = Value::Object([("l".to_string(), Value::List(vec![p.clone()]))].into());
        assert!(nested.contains_unknown());
        assert_eq!(
            nested.clone().unrefined(),
            Value::Object([("l".to_string(), Value::List(vec![Value::Unknown]))].into())
        );
        // Kept for strings only.
        assert_eq!(p.clone().conform(&Type::String), p);
        assert_eq!(p.clone().conform(&Type::Number), Value::Unknown);
        assert_eq!(p.clone().conform(&Type::Dynamic), Value::Unknown);
        assert_eq!(crate::json::to_json(&p), serde_json::Value::Null);
        // A typed model sees a plain unknown.
        assert_eq!(Val::<String>::from_value(&p), Ok(Val::Unknown));
        assert!(Vec::<String>::from_value(&Value::List(vec![p.clone()])).is_err());
        assert!(
            std::collections::BTreeMap::<String, String>::from_value(&Value::Map(
                [("k".to_string(), p)].into()
            ))
            .is_err()
        );
    }
}
