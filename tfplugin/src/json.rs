//! The JSON encoding of Terraform values, as Terraform stores state and
//! hands it to UpgradeResourceState. Decoding needs the type.
use super::value::{Number, Type, Value};
use serde_json::Value as J;
use std::collections::BTreeMap;

/// Decodes JSON text as a value of `ty`. Attributes the type doesn't have
/// (left over from an older schema) are dropped; missing ones are null.
pub fn decode(bytes: &[u8], ty: &Type) -> Result<Value, String> {
    let j: J = serde_json::from_slice(bytes).map_err(|e| format!("invalid JSON: {e}"))?;
    from_json(&j, ty)
}

pub fn from_json(j: &J, ty: &Type) -> Result<Value, String> {
    if j.is_null() {
        return Ok(Value::Null);
    }
    match ty {
        Type::Dynamic => {
            let t = Type::from_json(j.get("type").ok_or("dynamic value without type")?)?;
            from_json(j.get("value").unwrap_or(&J::Null), &t)
        }
        Type::Bool => match j {
            J::Bool(b) => Ok(Value::Bool(*b)),
            J::String(s) if s == "true" || s == "false" => Ok(Value::Bool(s == "true")),
            _ => Err(format!("expected bool, got {j}")),
        },
        Type::Number => match j {
            J::Number(n) => Ok(Value::Number(if let Some(i) = n.as_i64() {
                Number::Int(i)
            } else if let Some(u) = n.as_u64() {
                Number::Big(u.to_string())
            } else {
                Number::Float(n.as_f64().unwrap_or(0.0))
            })),
            J::String(s) => super::msgpack::parse_decimal(s).map(Value::Number),
            _ => Err(format!("expected number, got {j}")),
        },
        Type::String => match j {
            J::String(s) => Ok(Value::String(s.clone())),
            J::Number(n) => Ok(Value::String(n.to_string())),
            J::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err(format!("expected string, got {j}")),
        },
        Type::List(e) | Type::Set(e) => {
            let a = j
                .as_array()
                .ok_or_else(|| format!("expected array, got {j}"))?;
            let items = a
                .iter()
                .map(|x| from_json(x, e))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if matches!(ty, Type::Set(_)) {
                Value::Set(items)
            } else {
                Value::List(items)
            })
        }
        Type::Tuple(ts) => {
            let a = j
                .as_array()
                .ok_or_else(|| format!("expected array, got {j}"))?;
            if a.len() != ts.len() {
                return Err(format!("tuple of {} elements for type {ty}", a.len()));
            }
            Ok(Value::Tuple(
                a.iter()
                    .zip(ts)
                    .map(|(x, t)| from_json(x, t))
                    .collect::<Result<_, _>>()?,
            ))
        }
        Type::Map(e) => {
            let o = j
                .as_object()
                .ok_or_else(|| format!("expected object, got {j}"))?;
            let mut m = BTreeMap::new();
            for (k, x) in o {
                m.insert(k.clone(), from_json(x, e)?);
            }
            Ok(Value::Map(m))
        }
        Type::Object(attrs) => {
            let o = j
                .as_object()
                .ok_or_else(|| format!("expected object, got {j}"))?;
            let mut m = BTreeMap::new();
            for (k, t) in attrs {
                m.insert(k.clone(), from_json(o.get(k).unwrap_or(&J::Null), t)?);
            }
            Ok(Value::Object(m))
        }
    }
}

/// Encodes a wholly known value as JSON (unknowns become null).
pub fn to_json(v: &Value) -> J {
    match v {
        Value::Null | Value::Unknown | Value::UnknownPrefix(_) => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Number(Number::Int(i)) => J::from(*i),
        Value::Number(Number::Float(f)) => J::from(*f),
        Value::Number(Number::Big(s)) => s
            .parse::<u64>()
            .map(J::from)
            .or_else(|_| s.parse::<f64>().map(J::from))
            .unwrap_or(J::Null),
        Value::String(s) => J::String(s.clone()),
        Value::List(a) | Value::Set(a) | Value::Tuple(a) => {
            J::Array(a.iter().map(to_json).collect())
        }
        Value::Map(m) | Value::Object(m) => {
            J::Object(m.iter().map(|(k, x)| (k.clone(), to_json(x))).collect())
        }
    }
}
