//! Translation between the typed layer and the generated protobuf types.
use super::tfplugin6 as pb;
use crate::{self as tf, AttrPath, Diagnostics, Severity, Step, Type, Value};

pub fn diags(d: Diagnostics) -> Vec<pb::Diagnostic> {
    d.0.into_iter()
        .map(|d| pb::Diagnostic {
            severity: match d.severity {
                Severity::Error => pb::diagnostic::Severity::Error as i32,
                Severity::Warning => pb::diagnostic::Severity::Warning as i32,
            },
            summary: d.summary,
            detail: d.detail,
            attribute: d.path.map(path),
        })
        .collect()
}

pub fn error(summary: &str, detail: impl Into<String>) -> Vec<pb::Diagnostic> {
    let mut d = Diagnostics::new();
    d.error(summary, detail);
    diags(d)
}

pub fn path(p: AttrPath) -> pb::AttributePath {
    use pb::attribute_path::step::Selector;
    pb::AttributePath {
        steps: p
            .0
            .into_iter()
            .map(|s| pb::attribute_path::Step {
                selector: Some(match s {
                    Step::Attr(a) => Selector::AttributeName(a),
                    Step::Key(k) => Selector::ElementKeyString(k),
                    Step::Index(i) => Selector::ElementKeyInt(i),
                }),
            })
            .collect(),
    }
}

pub fn schema(s: &tf::Schema) -> pb::Schema {
    pb::Schema {
        version: s.version,
        block: Some(pb::schema::Block {
            version: s.version,
            attributes: s
                .attributes
                .iter()
                .map(|a| pb::schema::Attribute {
                    name: a.name.clone(),
                    r#type: a.ty.to_json_bytes(),
                    nested_type: None,
                    description: a.description.clone(),
                    required: a.required,
                    optional: a.optional,
                    computed: a.computed,
                    sensitive: a.sensitive,
                    description_kind: pb::StringKind::Markdown as i32,
                    deprecated: a.deprecated,
                    write_only: a.write_only,
                    deprecation_message: String::new(),
                })
                .collect(),
            block_types: vec![],
            description: s.description.clone(),
            description_kind: pb::StringKind::Markdown as i32,
            deprecated: false,
            deprecation_message: String::new(),
        }),
    }
}

/// Decodes a DynamicValue (msgpack, or JSON) of type `ty`; absent is null.
pub fn decode(v: Option<&pb::DynamicValue>, ty: &Type) -> Result<Value, String> {
    match v {
        None => Ok(Value::Null),
        Some(d) if !d.msgpack.is_empty() => tf::msgpack::decode(&d.msgpack, ty),
        Some(d) if !d.json.is_empty() => tf::json::decode(&d.json, ty),
        Some(_) => Ok(Value::Null),
    }
}

pub fn encode(v: &Value, ty: &Type) -> Result<pb::DynamicValue, String> {
    Ok(pb::DynamicValue {
        msgpack: tf::msgpack::encode(v, ty)?,
        json: vec![],
    })
}

pub fn function(f: &tf::Function) -> pb::Function {
    pb::Function {
        parameters: f
            .parameters
            .iter()
            .map(|p| pb::function::Parameter {
                name: p.name.clone(),
                r#type: p.ty.to_json_bytes(),
                allow_null_value: p.allow_null,
                allow_unknown_values: false,
                description: p.description.clone(),
                description_kind: pb::StringKind::Markdown as i32,
            })
            .collect(),
        variadic_parameter: None,
        r#return: Some(pb::function::Return {
            r#type: f.returns.to_json_bytes(),
        }),
        summary: f.summary.clone(),
        description: f.description.clone(),
        description_kind: pb::StringKind::Markdown as i32,
        deprecation_message: String::new(),
    }
}
