//! The msgpack encoding of Terraform values (cty's wire format in
//! `DynamicValue.msgpack`). Decoding needs the type, since msgpack arrays
//! and maps don't say whether they are lists, sets, tuples, maps or objects.
//!
//! - null is msgpack nil;
//! - unknown is extension type 0; a refined unknown is extension type 0x0c
//!   whose payload is a map of refinements (see [`REFINED_UNKNOWN`]). Only
//!   a string prefix is kept; every other refinement, extension type or
//!   malformed payload reads as a plain unknown, never as an error, since
//!   Terraform may send refinements newer than this code;
//! - numbers are integers, floats, or decimal strings when neither is exact;
//! - `dynamic` values are a 2-array of the type's JSON and the value.
use super::value::{Number, Type, Value};
use std::collections::BTreeMap;

/// Extension type of a refined unknown. Its payload is a msgpack map with
/// small integer keys: 1 nullness (bool), 2 string prefix (str), 3 and 4
/// number bounds, 5 and 6 collection length bounds.
pub const REFINED_UNKNOWN: u8 = 0x0c;
const REFINE_NULLNESS: i64 = 1;
const REFINE_STRING_PREFIX: i64 = 2;
/// cty rejects larger refinement payloads outright.
const MAX_REFINEMENT_LEN: usize = 1024;

/// Encodes `v` as a value of type `ty`.
pub fn encode(v: &Value, ty: &Type) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(64);
    write_value(&mut out, v, ty)?;
    Ok(out)
}

/// Decodes a value of type `ty`. Empty input is read as null.
pub fn decode(bytes: &[u8], ty: &Type) -> Result<Value, String> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    let mut r = Reader { buf: bytes, pos: 0 };
    let v = r.value(ty)?;
    if r.pos != bytes.len() {
        return Err(format!(
            "{} trailing bytes after value",
            bytes.len() - r.pos
        ));
    }
    Ok(v)
}

// ---------------------------------------------------------------- writing

fn write_value(out: &mut Vec<u8>, v: &Value, ty: &Type) -> Result<(), String> {
    match v {
        Value::Null => {
            out.push(0xc0);
            return Ok(());
        }
        Value::Unknown => {
            out.extend_from_slice(&[0xd4, 0, 0]);
            return Ok(());
        }
        Value::UnknownPrefix(p) => {
            // cty allows a prefix only on strings; elsewhere promise nothing.
            if *ty == Type::String && !p.is_empty() {
                write_prefixed_unknown(out, p);
            } else {
                out.extend_from_slice(&[0xd4, 0, 0]);
            }
            return Ok(());
        }
        _ => {}
    }
    match (ty, v) {
        (Type::Dynamic, v) => {
            let t = infer_type(v);
            write_array_len(out, 2);
            write_bin(out, &t.to_json_bytes());
            write_value(out, v, &t)
        }
        (Type::Bool, Value::Bool(b)) => {
            out.push(if *b { 0xc3 } else { 0xc2 });
            Ok(())
        }
        (Type::Number, Value::Number(n)) => {
            write_number(out, n);
            Ok(())
        }
        (Type::String, Value::String(s)) => {
            write_str(out, s);
            Ok(())
        }
        (
            Type::List(e) | Type::Set(e),
            Value::List(items) | Value::Set(items) | Value::Tuple(items),
        ) => {
            write_array_len(out, items.len());
            for it in items {
                write_value(out, it, e)?;
            }
            Ok(())
        }
        (Type::Tuple(ts), Value::List(items) | Value::Set(items) | Value::Tuple(items)) => {
            if ts.len() != items.len() {
                return Err(format!("tuple of {} elements for type {ty}", items.len()));
            }
            write_array_len(out, items.len());
            for (it, t) in items.iter().zip(ts) {
                write_value(out, it, t)?;
            }
            Ok(())
        }
        (Type::Map(e), Value::Map(m) | Value::Object(m)) => {
            write_map_len(out, m.len());
            for (k, x) in m {
                write_str(out, k);
                write_value(out, x, e)?;
            }
            Ok(())
        }
        (Type::Object(attrs), Value::Object(m) | Value::Map(m)) => {
            if let Some(extra) = m.keys().find(|k| !attrs.contains_key(*k)) {
                return Err(format!("unsupported attribute {extra:?}"));
            }
            write_map_len(out, attrs.len());
            for (k, t) in attrs {
                write_str(out, k);
                write_value(out, m.get(k).unwrap_or(&Value::Null), t)?;
            }
            Ok(())
        }
        // cty converts primitives on the way in; be as lenient on the way out.
        (Type::String, Value::Number(n)) => {
            write_str(out, &n.to_decimal_string());
            Ok(())
        }
        (Type::String, Value::Bool(b)) => {
            write_str(out, if *b { "true" } else { "false" });
            Ok(())
        }
        _ => Err(format!("value {v:?} does not conform to type {ty}")),
    }
}

/// A refined unknown as cty writes it: `{1: false, 2: prefix}` (not null,
/// starts with prefix), in the smallest extension form that fits. A prefix
/// too long for cty's payload limit is cut at a character boundary: a
/// shorter prefix is a weaker promise, but still a true one.
fn write_prefixed_unknown(out: &mut Vec<u8>, prefix: &str) {
    let mut end = prefix.len().min(MAX_REFINEMENT_LEN - 16);
    while !prefix.is_char_boundary(end) {
        end -= 1;
    }
    let mut payload = Vec::with_capacity(end + 8);
    write_map_len(&mut payload, 2);
    write_int(&mut payload, REFINE_NULLNESS);
    payload.push(0xc2);
    write_int(&mut payload, REFINE_STRING_PREFIX);
    write_str(&mut payload, &prefix[..end]);
    match payload.len() {
        1 => out.push(0xd4),
        2 => out.push(0xd5),
        4 => out.push(0xd6),
        8 => out.push(0xd7),
        16 => out.push(0xd8),
        n if n <= u8::MAX as usize => {
            out.push(0xc7);
            out.push(n as u8);
        }
        n => {
            out.push(0xc8);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    out.push(REFINED_UNKNOWN);
    out.extend_from_slice(&payload);
}

/// The type a dynamic value is encoded with.
pub fn infer_type(v: &Value) -> Type {
    match v {
        Value::Null | Value::Unknown | Value::UnknownPrefix(_) => Type::Dynamic,
        Value::Bool(_) => Type::Bool,
        Value::Number(_) => Type::Number,
        Value::String(_) => Type::String,
        Value::List(items) => Type::list(items.first().map(infer_type).unwrap_or(Type::Dynamic)),
        Value::Set(items) => Type::set(items.first().map(infer_type).unwrap_or(Type::Dynamic)),
        Value::Tuple(items) => Type::Tuple(items.iter().map(infer_type).collect()),
        Value::Map(m) => Type::map(m.values().next().map(infer_type).unwrap_or(Type::Dynamic)),
        Value::Object(m) => {
            Type::Object(m.iter().map(|(k, v)| (k.clone(), infer_type(v))).collect())
        }
    }
}

fn write_number(out: &mut Vec<u8>, n: &Number) {
    match n {
        Number::Int(i) => write_int(out, *i),
        Number::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 9.0e15 {
                write_int(out, *f as i64)
            } else {
                out.push(0xcb);
                out.extend_from_slice(&f.to_bits().to_be_bytes());
            }
        }
        Number::Big(s) => {
            if let Ok(i) = s.parse::<i64>() {
                write_int(out, i)
            } else {
                write_str(out, s)
            }
        }
    }
}

fn write_int(out: &mut Vec<u8>, i: i64) {
    if (0..=0x7f).contains(&i) {
        out.push(i as u8);
    } else if (-32..0).contains(&i) {
        out.push(i as i8 as u8);
    } else if (i8::MIN as i64..=i8::MAX as i64).contains(&i) {
        out.push(0xd0);
        out.push(i as i8 as u8);
    } else if (i16::MIN as i64..=i16::MAX as i64).contains(&i) {
        out.push(0xd1);
        out.extend_from_slice(&(i as i16).to_be_bytes());
    } else if (i32::MIN as i64..=i32::MAX as i64).contains(&i) {
        out.push(0xd2);
        out.extend_from_slice(&(i as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&i.to_be_bytes());
    }
}

/// How msgpack writes the length of one kind of value: the prefix of its
/// one-byte form and the lengths that fit it, if it has one, then the marker
/// bytes of its 8-bit (if any), 16-bit and 32-bit lengths.
struct LengthForm {
    fix: Option<(u8, usize)>,
    len8: Option<u8>,
    len16: u8,
    len32: u8,
}

const STR: LengthForm = LengthForm {
    fix: Some((0xa0, 32)),
    len8: Some(0xd9),
    len16: 0xda,
    len32: 0xdb,
};
const BIN: LengthForm = LengthForm {
    fix: None,
    len8: Some(0xc4),
    len16: 0xc5,
    len32: 0xc6,
};
const ARRAY: LengthForm = LengthForm {
    fix: Some((0x90, 16)),
    len8: None,
    len16: 0xdc,
    len32: 0xdd,
};
const MAP: LengthForm = LengthForm {
    fix: Some((0x80, 16)),
    len8: None,
    len16: 0xde,
    len32: 0xdf,
};

/// The length `n` in the shortest of `form`'s encodings.
fn write_len(out: &mut Vec<u8>, form: &LengthForm, n: usize) {
    match (form.fix, form.len8) {
        (Some((prefix, fits)), _) if n < fits => out.push(prefix | n as u8),
        (_, Some(marker)) if n <= u8::MAX as usize => out.extend_from_slice(&[marker, n as u8]),
        _ if n <= u16::MAX as usize => {
            out.push(form.len16);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        _ => {
            out.push(form.len32);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    write_len(out, &STR, s.len());
    out.extend_from_slice(s.as_bytes());
}

fn write_bin(out: &mut Vec<u8>, b: &[u8]) {
    write_len(out, &BIN, b.len());
    out.extend_from_slice(b);
}

fn write_array_len(out: &mut Vec<u8>, n: usize) {
    write_len(out, &ARRAY, n);
}

fn write_map_len(out: &mut Vec<u8>, n: usize) {
    write_len(out, &MAP, n);
}

// ---------------------------------------------------------------- reading

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// One msgpack item's header.
enum Head {
    Nil,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(usize),
    Bin(usize),
    Array(usize),
    Map(usize),
    Ext(usize),
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.buf.len() - self.pos < n {
            return Err("unexpected end of msgpack data".into());
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn be<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    fn head(&mut self) -> Result<Head, String> {
        let b = self.u8()?;
        Ok(match b {
            0x00..=0x7f => Head::Int(b as i64),
            0x80..=0x8f => Head::Map((b & 0x0f) as usize),
            0x90..=0x9f => Head::Array((b & 0x0f) as usize),
            0xa0..=0xbf => Head::Str((b & 0x1f) as usize),
            0xc0 => Head::Nil,
            0xc2 => Head::Bool(false),
            0xc3 => Head::Bool(true),
            0xc4 => Head::Bin(self.u8()? as usize),
            0xc5 => Head::Bin(u16::from_be_bytes(self.be()?) as usize),
            0xc6 => Head::Bin(u32::from_be_bytes(self.be()?) as usize),
            0xc7 => Head::Ext(self.u8()? as usize + 1),
            0xc8 => Head::Ext(u16::from_be_bytes(self.be()?) as usize + 1),
            0xc9 => Head::Ext(u32::from_be_bytes(self.be()?) as usize + 1),
            0xca => Head::Float(f32::from_be_bytes(self.be()?) as f64),
            0xcb => Head::Float(f64::from_be_bytes(self.be()?)),
            0xcc => Head::UInt(self.u8()? as u64),
            0xcd => Head::UInt(u16::from_be_bytes(self.be()?) as u64),
            0xce => Head::UInt(u32::from_be_bytes(self.be()?) as u64),
            0xcf => Head::UInt(u64::from_be_bytes(self.be()?)),
            0xd0 => Head::Int(i8::from_be_bytes(self.be()?) as i64),
            0xd1 => Head::Int(i16::from_be_bytes(self.be()?) as i64),
            0xd2 => Head::Int(i32::from_be_bytes(self.be()?) as i64),
            0xd3 => Head::Int(i64::from_be_bytes(self.be()?)),
            // fixext 1/2/4/8/16: type byte + data
            0xd4 => Head::Ext(2),
            0xd5 => Head::Ext(3),
            0xd6 => Head::Ext(5),
            0xd7 => Head::Ext(9),
            0xd8 => Head::Ext(17),
            0xd9 => Head::Str(self.u8()? as usize),
            0xda => Head::Str(u16::from_be_bytes(self.be()?) as usize),
            0xdb => Head::Str(u32::from_be_bytes(self.be()?) as usize),
            0xdc => Head::Array(u16::from_be_bytes(self.be()?) as usize),
            0xdd => Head::Array(u32::from_be_bytes(self.be()?) as usize),
            0xde => Head::Map(u16::from_be_bytes(self.be()?) as usize),
            0xdf => Head::Map(u32::from_be_bytes(self.be()?) as usize),
            0xe0..=0xff => Head::Int(b as i8 as i64),
            0xc1 => return Err("invalid msgpack byte 0xc1".into()),
        })
    }

    fn string(&mut self, n: usize) -> Result<String, String> {
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| "invalid UTF-8 in string".to_string())
    }

    fn value(&mut self, ty: &Type) -> Result<Value, String> {
        let head = self.head()?;
        match head {
            Head::Nil => return Ok(Value::Null),
            Head::Ext(n) => {
                let ext = self.take(n)?;
                return Ok(unknown_from_ext(ext[0], &ext[1..], ty));
            }
            _ => {}
        }
        match ty {
            Type::Dynamic => {
                let Head::Array(2) = head else {
                    return Err("dynamic value must be a [type, value] pair".into());
                };
                let tjson = match self.head()? {
                    Head::Bin(n) => self.take(n)?.to_vec(),
                    Head::Str(n) => self.take(n)?.to_vec(),
                    _ => return Err("dynamic value type must be bytes".into()),
                };
                let j: serde_json::Value = serde_json::from_slice(&tjson)
                    .map_err(|e| format!("dynamic value type: {e}"))?;
                let t = Type::from_json(&j)?;
                self.value(&t)
            }
            Type::Bool => match head {
                Head::Bool(b) => Ok(Value::Bool(b)),
                _ => Err("expected bool".into()),
            },
            Type::Number => match head {
                Head::Int(i) => Ok(Value::Number(Number::Int(i))),
                Head::UInt(u) => Ok(Value::Number(match i64::try_from(u) {
                    Ok(i) => Number::Int(i),
                    Err(_) => Number::Big(u.to_string()),
                })),
                Head::Float(f) => Ok(Value::Number(Number::Float(f))),
                Head::Str(n) => {
                    let s = self.string(n)?;
                    parse_decimal(&s).map(Value::Number)
                }
                _ => Err("expected number".into()),
            },
            Type::String => match head {
                Head::Str(n) => Ok(Value::String(self.string(n)?)),
                _ => Err("expected string".into()),
            },
            Type::List(e) | Type::Set(e) => {
                let Head::Array(n) = head else {
                    return Err(format!("expected array for {ty}"));
                };
                let mut items = Vec::with_capacity(n.min(4096));
                for _ in 0..n {
                    items.push(self.value(e)?);
                }
                Ok(if matches!(ty, Type::Set(_)) {
                    Value::Set(items)
                } else {
                    Value::List(items)
                })
            }
            Type::Tuple(ts) => {
                let Head::Array(n) = head else {
                    return Err(format!("expected array for {ty}"));
                };
                if n != ts.len() {
                    return Err(format!("tuple of {n} elements for type {ty}"));
                }
                let mut items = Vec::with_capacity(n);
                for t in ts {
                    items.push(self.value(t)?);
                }
                Ok(Value::Tuple(items))
            }
            Type::Map(e) => {
                let Head::Map(n) = head else {
                    return Err(format!("expected map for {ty}"));
                };
                let mut m = BTreeMap::new();
                for _ in 0..n {
                    let k = self.key()?;
                    m.insert(k, self.value(e)?);
                }
                Ok(Value::Map(m))
            }
            Type::Object(attrs) => {
                let Head::Map(n) = head else {
                    return Err(format!("expected map for {ty}"));
                };
                let mut m = BTreeMap::new();
                for _ in 0..n {
                    let k = self.key()?;
                    let t = attrs
                        .get(&k)
                        .ok_or_else(|| format!("unsupported attribute {k:?}"))?;
                    let v = self.value(t)?;
                    m.insert(k, v);
                }
                for k in attrs.keys() {
                    m.entry(k.clone()).or_insert(Value::Null);
                }
                Ok(Value::Object(m))
            }
        }
    }

    /// Skips one item, however nested.
    fn skip(&mut self) -> Result<(), String> {
        match self.head()? {
            Head::Nil | Head::Bool(_) | Head::Int(_) | Head::UInt(_) | Head::Float(_) => {}
            Head::Str(n) | Head::Bin(n) | Head::Ext(n) => {
                self.take(n)?;
            }
            Head::Array(n) => {
                for _ in 0..n {
                    self.skip()?;
                }
            }
            Head::Map(n) => {
                for _ in 0..n {
                    self.skip()?;
                    self.skip()?;
                }
            }
        }
        Ok(())
    }

    fn key(&mut self) -> Result<String, String> {
        match self.head()? {
            Head::Str(n) => self.string(n),
            _ => Err("map key must be a string".into()),
        }
    }
}

/// The unknown an extension stands for: a prefixed unknown when it is a
/// well-formed refinement map with a non-empty string prefix for a string,
/// else a plain unknown (the other refinements are dropped; anything
/// malformed is read leniently rather than failing Terraform's request).
fn unknown_from_ext(ext_type: u8, payload: &[u8], ty: &Type) -> Value {
    if payload.len() <= 1
        || ext_type != REFINED_UNKNOWN
        || payload.len() > MAX_REFINEMENT_LEN
        || *ty != Type::String
    {
        return Value::Unknown;
    }
    refined_prefix(payload).map_or(Value::Unknown, Value::unknown_with_prefix)
}

/// The string prefix in a refinement map, if any; `None` if malformed.
fn refined_prefix(payload: &[u8]) -> Option<String> {
    let mut r = Reader {
        buf: payload,
        pos: 0,
    };
    let Ok(Head::Map(n)) = r.head() else {
        return None;
    };
    let mut prefix = None;
    for _ in 0..n {
        let key = match r.head().ok()? {
            Head::Int(k) => k,
            Head::UInt(k) => i64::try_from(k).ok()?,
            _ => return None,
        };
        if key == REFINE_STRING_PREFIX {
            let Head::Str(len) = r.head().ok()? else {
                return None;
            };
            prefix = Some(r.string(len).ok()?);
        } else {
            r.skip().ok()?;
        }
    }
    // Trailing bytes after the map are allowed (cty ignores them too).
    prefix
}

/// Parses a decimal number's text.
pub fn parse_decimal(s: &str) -> Result<Number, String> {
    if let Ok(i) = s.parse::<i64>() {
        return Ok(Number::Int(i));
    }
    let f: f64 = s.parse().map_err(|_| format!("invalid number {s:?}"))?;
    if !f.is_finite() {
        return Err(format!("number {s:?} out of range"));
    }
    // Keep the exact text when a float can't hold it.
    if format!("{f}") == s || f.to_string().parse::<f64>() == Ok(f) && exact_float_text(s, f) {
        Ok(Number::Float(f))
    } else {
        Ok(Number::Big(s.to_string()))
    }
}

fn exact_float_text(s: &str, f: f64) -> bool {
    Number::Big(s.to_string()).to_decimal_string() == Number::Float(f).to_decimal_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(v: Value, ty: &Type) -> Value {
        let b = encode(&v, ty).unwrap();
        let back = decode(&b, ty).unwrap();
        assert_eq!(back, v, "round trip of {v:?} as {ty}");
        back
    }

    fn obj(pairs: &[(&str, Value)]) -> Value {
        Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn primitives_round_trip() {
        rt(Value::Null, &Type::String);
        rt(Value::Unknown, &Type::String);
        rt(Value::Bool(true), &Type::Bool);
        rt(Value::Bool(false), &Type::Bool);
        rt("".into(), &Type::String);
        rt("x".repeat(40).into(), &Type::String);
        rt("y".repeat(300).into(), &Type::String);
        rt("z".repeat(70_000).into(), &Type::String);
        rt("ünïcødé ✓".into(), &Type::String);
    }

    #[test]
    fn numbers_round_trip() {
        for i in [
            0i64,
            1,
            127,
            128,
            255,
            256,
            -1,
            -32,
            -33,
            -128,
            -129,
            65535,
            65536,
            -32769,
            i32::MAX as i64 + 1,
            i64::MAX,
            i64::MIN,
        ] {
            rt(Value::Number(Number::Int(i)), &Type::Number);
        }
        rt(Value::Number(Number::Float(1.5)), &Type::Number);
        rt(Value::Number(Number::Float(-0.001)), &Type::Number);
        // Beyond i64 and f64 precision: kept as decimal text.
        rt(
            Value::Number(Number::Big("18446744073709551616".into())),
            &Type::Number,
        );
        rt(
            Value::Number(Number::Big("123456789012345678901234567890".into())),
            &Type::Number,
        );
        rt(
            Value::Number(Number::Big("0.1000000000000000000000001".into())),
            &Type::Number,
        );
    }

    #[test]
    fn reads_every_number_form_terraform_sends() {
        // uint64 above i64::MAX
        let b = [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(
            decode(&b, &Type::Number).unwrap(),
            Value::Number(Number::Big("18446744073709551615".into()))
        );
        // float32
        let b = [0xca, 0x3f, 0xc0, 0x00, 0x00];
        assert_eq!(
            decode(&b, &Type::Number).unwrap(),
            Value::Number(Number::Float(1.5))
        );
        // decimal string
        let mut b = vec![0xa4];
        b.extend_from_slice(b"2.50");
        assert_eq!(
            decode(&b, &Type::Number).unwrap(),
            Value::Number(Number::Float(2.5))
        );
        // integral float equals int
        assert_eq!(
            Value::Number(Number::Float(3.0)),
            Value::Number(Number::Int(3))
        );
    }

    #[test]
    fn unknown_is_ext_0_and_any_extension_reads_as_unknown() {
        assert_eq!(
            encode(&Value::Unknown, &Type::String).unwrap(),
            vec![0xd4, 0, 0]
        );
        // refined unknown: ext type 12 with a payload (fixext 4, ext 8)
        assert!(
            decode(&[0xd6, 12, 1, 2, 3, 4], &Type::String)
                .unwrap()
                .is_unknown()
        );
        assert!(
            decode(&[0xc7, 3, 12, 0x81, 0x01, 0xc3], &Type::Number)
                .unwrap()
                .is_unknown()
        );
        let ty = Type::object([("a", Type::String), ("b", Type::list(Type::Number))]);
        let v = decode(
            &[0x82, 0xa1, b'a', 0xd4, 12, 0, 0xa1, b'b', 0xd5, 0, 0, 0],
            &ty,
        )
        .unwrap();
        assert!(v.get("a").is_unknown() && v.get("b").is_unknown());
    }

    /// An extension item with refinement type 0x0c and this payload.
    fn refined(payload: &[u8]) -> Vec<u8> {
        let mut b = vec![0xc7, payload.len() as u8, REFINED_UNKNOWN];
        b.extend_from_slice(payload);
        b
    }

    fn plain_unknown(bytes: &[u8], ty: &Type) {
        let v = decode(bytes, ty).unwrap_or_else(|e| panic!("{bytes:x?} failed: {e}"));
        assert_eq!(v, Value::Unknown, "{bytes:x?} as {ty}");
    }

    #[test]
    fn prefixed_unknown_round_trips_with_cty_bytes() {
        let v = Value::unknown_with_prefix("org_");
        let b = encode(&v, &Type::String).unwrap();
        assert_eq!(
            b,
            [
                0xc7, 9, 0x0c, 0x82, 0x01, 0xc2, 0x02, 0xa4, b'o', b'r', b'g', b'_'
            ]
        );
        assert_eq!(decode(&b, &Type::String).unwrap(), v);
        assert_eq!(
            decode(&b, &Type::String).unwrap().unknown_prefix(),
            Some("org_")
        );
        // A payload of exactly 8 bytes takes the fixext 8 form, as in cty.
        assert_eq!(
            encode(&Value::unknown_with_prefix("abc"), &Type::String).unwrap(),
            [0xd7, 0x0c, 0x82, 0x01, 0xc2, 0x02, 0xa3, b'a', b'b', b'c']
        );
        rt(Value::unknown_with_prefix("ünï-"), &Type::String);
        rt(Value::unknown_with_prefix("p".repeat(300)), &Type::String);
        let ty = Type::object([("id", Type::String), ("n", Type::Number)]);
        rt(
            obj(&[("id", Value::unknown_with_prefix("org_")), ("n", 1.into())]),
            &ty,
        );
        // Not a string type, or an empty prefix: nothing to promise.
        assert_eq!(
            encode(&Value::UnknownPrefix("x".into()), &Type::Number).unwrap(),
            [0xd4, 0, 0]
        );
        assert_eq!(Value::unknown_with_prefix(""), Value::Unknown);
        // Too long for cty's 1 KiB limit: cut to a shorter, still true prefix.
        let long = "é".repeat(1000);
        let b = encode(&Value::unknown_with_prefix(long.clone()), &Type::String).unwrap();
        assert!(b.len() <= 1024 + 4, "{} bytes", b.len());
        let p = decode(&b, &Type::String).unwrap();
        let p = p.unknown_prefix().unwrap();
        assert!(p.len() > 900 && long.starts_with(p));
    }

    #[test]
    fn other_refinements_read_as_plain_unknown() {
        // number bounds: {1: false, 3: [0, true], 4: [1.5, false]}
        let mut p = vec![0x83, 0x01, 0xc2, 0x03, 0x92, 0x00, 0xc3, 0x04, 0x92, 0xcb];
        p.extend_from_slice(&1.5f64.to_be_bytes());
        p.push(0xc2);
        plain_unknown(&refined(&p), &Type::Number);
        // collection length bounds: {5: 1, 6: 3}
        plain_unknown(
            &refined(&[0x82, 0x05, 0x01, 0x06, 0x03]),
            &Type::list(Type::String),
        );
        // nullness only: {1: false}
        plain_unknown(&refined(&[0x81, 0x01, 0xc2]), &Type::String);
        // a prefix on a non-string type
        plain_unknown(&refined(&[0x81, 0x02, 0xa1, b'x']), &Type::Number);
        plain_unknown(&refined(&[0x81, 0x02, 0xa1, b'x']), &Type::Dynamic);
        // an empty prefix promises nothing
        plain_unknown(&refined(&[0x82, 0x01, 0xc2, 0x02, 0xa0]), &Type::String);
        // payload of one byte, whatever the extension type
        plain_unknown(&[0xd4, 0x0c, 0x81], &Type::String);
        // a well-formed prefix map under another extension type
        plain_unknown(&[0xc7, 4, 0x05, 0x81, 0x02, 0xa1, b'x'], &Type::String);
    }

    #[test]
    fn unknown_refinement_keys_are_skipped() {
        // {9: [1, {"a": nil}], 2: "ab", 200: 1.5f32, 7: bin}, then trailing bytes
        let mut p = vec![0x84, 0x09, 0x92, 0x01, 0x81, 0xa1, b'a', 0xc0];
        p.extend_from_slice(&[0x02, 0xa2, b'a', b'b']);
        p.extend_from_slice(&[0xcc, 200, 0xca, 0x3f, 0xc0, 0, 0]);
        p.extend_from_slice(&[0x07, 0xc4, 0x02, 0xff, 0xff]);
        p.extend_from_slice(&[0xff, 0xff]);
        assert_eq!(
            decode(&refined(&p), &Type::String).unwrap(),
            Value::unknown_with_prefix("ab")
        );
    }

    #[test]
    fn garbage_refinements_read_as_plain_unknown_never_an_error() {
        let cases: &[&[u8]] = &[
            &[0xa1, b'a'],                               // not a map
            &[0x82, 0x01],                               // truncated map
            &[0x81, 0xa1, b'k', 0x01],                   // non-integer key
            &[0x81, 0x02, 0x05],                         // prefix not a string
            &[0x81, 0x02, 0xa2, 0xff, 0xfe],             // prefix not UTF-8
            &[0x81, 0x02, 0xa9, b'x'],                   // prefix overruns the payload
            &[0x81, 0x09, 0xdd, 0xff, 0xff, 0xff, 0xff], // huge array claim
            &[0xc1, 0xc1],                               // invalid msgpack
        ];
        for p in cases {
            plain_unknown(&refined(p), &Type::String);
        }
        // Oversized (> 1 KiB) payload, even if well formed.
        let mut p = vec![0x81, 0x02, 0xda];
        p.extend_from_slice(&1100u16.to_be_bytes());
        p.extend_from_slice(&[b'x'; 1100]);
        let mut b = vec![0xc8];
        b.extend_from_slice(&(p.len() as u16).to_be_bytes());
        b.push(0x0c);
        b.extend_from_slice(&p);
        plain_unknown(&b, &Type::String);
        // The values after a garbage refinement still decode.
        let ty = Type::object([("a", Type::String), ("b", Type::String)]);
        let mut b = vec![0x82, 0xa1, b'a'];
        b.extend_from_slice(&refined(&[0x82, 0x01]));
        b.extend_from_slice(&[0xa1, b'b', 0xa1, b'y']);
        let v = decode(&b, &ty).unwrap();
        assert_eq!(v.get("a"), &Value::Unknown);
        assert_eq!(v.get("b"), &Value::from("y"));
    }

    #[test]
    fn nested_collections_round_trip() {
        let ty = Type::object([
            ("id", Type::String),
            ("scopes", Type::set(Type::String)),
            ("labels", Type::map(Type::String)),
            ("n", Type::Number),
            (
                "items",
                Type::list(Type::object([
                    ("k", Type::String),
                    ("v", Type::list(Type::Number)),
                ])),
            ),
            ("pair", Type::Tuple(vec![Type::String, Type::Bool])),
        ]);
        let v = obj(&[
            ("id", Value::Unknown),
            (
                "scopes",
                Value::Set(vec!["a".into(), Value::Unknown, "c".into()]),
            ),
            (
                "labels",
                Value::Map(
                    [
                        ("x".to_string(), "1".into()),
                        ("y".to_string(), Value::Null),
                    ]
                    .into(),
                ),
            ),
            ("n", Value::Null),
            (
                "items",
                Value::List(vec![
                    obj(&[
                        ("k", "a".into()),
                        ("v", Value::List(vec![1.into(), 2.into()])),
                    ]),
                    obj(&[("k", Value::Null), ("v", Value::Unknown)]),
                ]),
            ),
            ("pair", Value::Tuple(vec!["p".into(), true.into()])),
        ]);
        rt(v, &ty);
        let big = Value::List((0..70_000).map(Value::from).collect());
        rt(big, &Type::list(Type::Number));
        let wide = Value::Map((0..20).map(|i| (format!("k{i}"), Value::from(i))).collect());
        rt(wide, &Type::map(Type::Number));
    }

    #[test]
    fn set_equality_ignores_order() {
        assert_eq!(
            Value::Set(vec!["a".into(), "b".into()]),
            Value::Set(vec!["b".into(), "a".into()])
        );
        assert_ne!(
            Value::List(vec!["a".into(), "b".into()]),
            Value::List(vec!["b".into(), "a".into()])
        );
    }

    #[test]
    fn dynamic_values_carry_their_type() {
        let v = Value::List(vec!["a".into(), "b".into()]);
        let b = encode(&v, &Type::Dynamic).unwrap();
        assert_eq!(decode(&b, &Type::Dynamic).unwrap(), v);
        // type JSON as a msgpack string is accepted too
        let mut b = vec![0x92, 0xa8];
        b.extend_from_slice(b"\"number\"");
        b.push(0x05);
        assert_eq!(decode(&b, &Type::Dynamic).unwrap(), Value::from(5));
    }

    #[test]
    fn errors_not_panics_on_bad_input() {
        assert!(decode(&[0xa5, b'a'], &Type::String).is_err());
        assert!(decode(&[0xc1], &Type::String).is_err());
        assert!(decode(&[0x01], &Type::String).is_err());
        assert!(
            decode(
                &[0x81, 0xa1, b'z', 0x01],
                &Type::object([("a", Type::Number)])
            )
            .is_err()
        );
        assert!(decode(&[0x01, 0x02], &Type::Number).is_err());
        assert!(encode(&Value::from(1), &Type::Bool).is_err());
        assert_eq!(decode(&[], &Type::String).unwrap(), Value::Null);
    }

    #[test]
    fn json_state_decodes_by_type() {
        let ty = Type::object([
            ("a", Type::String),
            ("s", Type::set(Type::String)),
            ("n", Type::Number),
            ("m", Type::map(Type::String)),
        ]);
        let v = crate::json::decode(
            br#"{"a":"x","s":["p","q"],"n":18446744073709551615,"old":1}"#,
            &ty,
        )
        .unwrap();
        assert_eq!(v.get("a"), &Value::from("x"));
        assert_eq!(v.get("s"), &Value::Set(vec!["q".into(), "p".into()]));
        assert_eq!(
            v.get("n"),
            &Value::Number(Number::Big("18446744073709551615".into()))
        );
        assert!(v.get("m").is_null());
        assert!(v.get("old").is_null());
        assert_eq!(crate::json::to_json(&v)["a"], "x");
    }

    #[test]
    fn cty_type_json() {
        let ty = Type::object([
            ("a", Type::set(Type::String)),
            ("b", Type::Tuple(vec![Type::Number, Type::Dynamic])),
        ]);
        assert_eq!(
            ty.to_json(),
            serde_json::json!(["object", {"a": ["set", "string"], "b": ["tuple", ["number", "dynamic"]]}])
        );
        assert_eq!(Type::from_json(&ty.to_json()).unwrap(), ty);
        assert_eq!(
            Type::from_json(&serde_json::json!(["object", {"a": "string"}, ["a"]])).unwrap(),
            Type::object([("a", Type::String)])
        );
    }
}
