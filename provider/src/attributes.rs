//! A client's optional descriptive attributes in Terraform, one string
//! attribute each, all from their declaration in `partner-api`
//! ([`ClientAttributes::SPECS`]): the schema, the checks at plan time (the
//! registry's own rule) and the mapping to and from the API. The resource,
//! its data sources and its list resource flatten [`Attributes`] into
//! their models, so a new attribute needs no code here.
use partner_api::{AttributeSpec, ClientAttributes};
use std::collections::BTreeMap;
use tfplugin::{Attribute, Diagnostics, Model, Val, Value};

/// The attributes' values, one per declaration, in their order.
#[derive(Clone, Debug, PartialEq)]
pub struct Attributes(Vec<Val<String>>);

impl Default for Attributes {
    fn default() -> Self {
        Attributes(vec![Val::Null; ClientAttributes::SPECS.len()])
    }
}

impl Attributes {
    /// The schema attributes, optional, as a resource declares them.
    pub fn schema() -> impl Iterator<Item = Attribute> {
        ClientAttributes::SPECS.iter().map(|spec| {
            Attribute::string(spec.name)
                .optional()
                .description(spec.description)
        })
    }

    /// The values the registry holds.
    pub fn from_api(attributes: &ClientAttributes) -> Self {
        Attributes(
            attributes
                .iter()
                .map(|(_, value)| Val::from_option(value.map(String::from)))
                .collect(),
        )
    }

    /// The known values, as the API takes them.
    pub fn to_api(&self) -> ClientAttributes {
        let mut values = self.0.iter();
        ClientAttributes::from_fn(|_| values.next().and_then(|v| v.known().cloned()))
    }

    fn declared(&self) -> impl Iterator<Item = (&'static AttributeSpec, &Val<String>)> {
        ClientAttributes::SPECS.iter().zip(&self.0)
    }

    /// Each known value under its attribute's rule, reported on the attribute.
    pub fn validate(&self, d: &mut Diagnostics) {
        for (spec, value) in self.declared() {
            crate::validate::attribute(value, spec.name, spec.rule, d);
        }
    }
}

impl Model for Attributes {
    fn from_value(v: &Value) -> Result<Self, String> {
        ClientAttributes::SPECS
            .iter()
            .map(|spec| {
                Val::<String>::from_value(v.get(spec.name))
                    .map_err(|e| format!("{}: {e}", spec.name))
            })
            .collect::<Result<_, _>>()
            .map(Attributes)
    }

    fn to_value(&self) -> Value {
        let values: BTreeMap<String, Value> = self
            .declared()
            .map(|(spec, value)| (spec.name.to_string(), value.to_value()))
            .collect();
        Value::Object(values)
    }
}
