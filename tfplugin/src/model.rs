//! Typed models: a resource's value as a Rust struct whose fields are
//! [`Val`]s (null, unknown or known). Declare one with [`crate::model!`].
use super::value::{Number, Value};
use std::collections::BTreeMap;

/// One attribute's value in a typed model.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Val<T> {
    #[default]
    Null,
    /// Known only after apply.
    Unknown,
    Known(T),
}

impl<T> Val<T> {
    pub fn known(&self) -> Option<&T> {
        match self {
            Val::Known(t) => Some(t),
            _ => None,
        }
    }
    pub fn into_known(self) -> Option<T> {
        match self {
            Val::Known(t) => Some(t),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(self, Val::Null)
    }
    pub fn is_unknown(&self) -> bool {
        matches!(self, Val::Unknown)
    }
    pub fn is_known(&self) -> bool {
        matches!(self, Val::Known(_))
    }
    /// `Null` for `None`, `Known` for `Some`.
    pub fn from_option(o: Option<T>) -> Self {
        o.map_or(Val::Null, Val::Known)
    }
}

impl Val<String> {
    pub fn as_deref(&self) -> Option<&str> {
        self.known().map(String::as_str)
    }
}

impl<T> From<T> for Val<T> {
    fn from(t: T) -> Self {
        Val::Known(t)
    }
}

impl<T: FromValue> Val<T> {
    pub fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Null => Ok(Val::Null),
            // A partly unknown collection is unknown as a whole here; the
            // layer keeps the exact value for attributes a hook leaves alone.
            v if v.contains_unknown() => Ok(Val::Unknown),
            v => T::from_value(v).map(Val::Known),
        }
    }
}

impl<T: ToValue> Val<T> {
    pub fn to_value(&self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Unknown => Value::Unknown,
            Val::Known(t) => t.to_value(),
        }
    }
}

/// Conversion from a (non-null, non-unknown) [`Value`].
pub trait FromValue: Sized {
    fn from_value(v: &Value) -> Result<Self, String>;
}

/// Conversion to a [`Value`]; collections are reshaped to the schema type
/// (list vs set, map vs object) by the layer afterwards.
pub trait ToValue {
    fn to_value(&self) -> Value;
}

impl FromValue for String {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::String(s) => Ok(s.clone()),
            other => Err(format!("expected a string, got {other:?}")),
        }
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::String(self.clone())
    }
}
impl FromValue for bool {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Bool(b) => Ok(*b),
            other => Err(format!("expected a bool, got {other:?}")),
        }
    }
}
impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
}
impl FromValue for i64 {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Number(n) => n
                .as_i64()
                .ok_or_else(|| format!("expected a whole number, got {}", n.to_decimal_string())),
            other => Err(format!("expected a number, got {other:?}")),
        }
    }
}
impl ToValue for i64 {
    fn to_value(&self) -> Value {
        Value::Number(Number::Int(*self))
    }
}
impl FromValue for f64 {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Number(n) => n.as_f64().ok_or_else(|| "number out of range".to_string()),
            other => Err(format!("expected a number, got {other:?}")),
        }
    }
}
impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Number(Number::Float(*self))
    }
}
impl FromValue for Number {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Number(n) => Ok(n.clone()),
            other => Err(format!("expected a number, got {other:?}")),
        }
    }
}
impl ToValue for Number {
    fn to_value(&self) -> Value {
        Value::Number(self.clone())
    }
}
impl FromValue for Value {
    fn from_value(v: &Value) -> Result<Self, String> {
        Ok(v.clone())
    }
}
impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

/// Lists and sets. A collection containing unknowns is not a known
/// collection in a typed model: use `Val<Value>` for such attributes.
impl<T: FromValue> FromValue for Vec<T> {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::List(items) | Value::Set(items) | Value::Tuple(items) => items
                .iter()
                .map(|x| match x {
                    x if x.is_unknown() => Err("element not known yet".to_string()),
                    x => T::from_value(x),
                })
                .collect(),
            other => Err(format!("expected a collection, got {other:?}")),
        }
    }
}
impl<T: ToValue> ToValue for Vec<T> {
    fn to_value(&self) -> Value {
        Value::List(self.iter().map(ToValue::to_value).collect())
    }
}
impl<T: FromValue> FromValue for BTreeMap<String, T> {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Map(m) | Value::Object(m) => m
                .iter()
                .map(|(k, x)| match x {
                    x if x.is_unknown() => Err("element not known yet".to_string()),
                    x => T::from_value(x).map(|t| (k.clone(), t)),
                })
                .collect(),
            other => Err(format!("expected a map, got {other:?}")),
        }
    }
}
impl<T: ToValue> ToValue for BTreeMap<String, T> {
    fn to_value(&self) -> Value {
        Value::Map(
            self.iter()
                .map(|(k, x)| (k.clone(), x.to_value()))
                .collect(),
        )
    }
}

/// A typed model of a whole schema value.
pub trait Model: Sized + Clone + Send + Sync + 'static {
    fn from_value(v: &Value) -> Result<Self, String>;
    fn to_value(&self) -> Value;
}

/// The untyped value itself can serve as a model.
impl Model for Value {
    fn from_value(v: &Value) -> Result<Self, String> {
        Ok(v.clone())
    }
    fn to_value(&self) -> Value {
        self.clone()
    }
}

/// Declares a typed model: a struct whose fields are `Val<T>` named after
/// the schema's attributes.
///
/// ```
/// use tfplugin::model;
/// use tfplugin::{Model, Val};
///
/// model! {
///     pub struct OrgModel {
///         id: String,
///         name: String,
///         allowed_scopes: Vec<String>,
///         max_clients: i64,
///         labels: std::collections::BTreeMap<String, String>,
///     }
/// }
///
/// let org = OrgModel {
///     name: Val::Known("acme".into()),
///     id: Val::Unknown,
///     ..OrgModel::default()
/// };
/// assert_eq!(OrgModel::from_value(&org.to_value()), Ok(org));
/// ```
///
/// A first `..name: Type,` (a [`Model`] of an object) holds attributes of
/// the same object that another model declares: it reads them from the
/// whole value and adds its own to it. (First, because a `ty` fragment may
/// not be followed by `..`.)
///
/// ```
/// use tfplugin::model;
/// use tfplugin::{Model, Val, Value};
///
/// model! {
///     pub struct Notes {
///         note: String,
///     }
/// }
///
/// model! {
///     pub struct Thing {
///         ..notes: Notes,
///         id: String,
///     }
/// }
///
/// let thing = Thing {
///     id: Val::Known("t".into()),
///     notes: Notes { note: Val::Known("n".into()) },
/// };
/// let value = thing.to_value();
/// assert_eq!(value.get("note"), &Value::String("n".into()));
/// assert_eq!(Thing::from_value(&value), Ok(thing));
/// ```
#[macro_export]
macro_rules! model {
    ($(#[$m:meta])* $vis:vis struct $name:ident {
        $( ..$flat:ident : $flat_ty:ty, )?
        $( $(#[$fm:meta])* $field:ident : $ty:ty ),* $(,)?
    }) => {
        $(#[$m])*
        #[derive(Clone, Debug, Default, PartialEq)]
        $vis struct $name {
            $( $(#[$fm])* pub $field: $crate::Val<$ty>, )*
            $( pub $flat: $flat_ty, )?
        }
        impl $crate::Model for $name {
            fn from_value(v: &$crate::Value) -> ::std::result::Result<Self, String> {
                Ok(Self {
                    $( $field: $crate::Val::<$ty>::from_value(v.get(stringify!($field)))
                        .map_err(|e| format!("{}: {}", stringify!($field), e))?, )*
                    $( $flat: <$flat_ty as $crate::Model>::from_value(v)?, )?
                })
            }
            fn to_value(&self) -> $crate::Value {
                let mut m = ::std::collections::BTreeMap::new();
                $( m.insert(stringify!($field).to_string(), self.$field.to_value()); )*
                $( if let $crate::Value::Object(flat) = $crate::Model::to_value(&self.$flat) {
                    m.extend(flat);
                } )?
                $crate::Value::Object(m)
            }
        }
    };
}
