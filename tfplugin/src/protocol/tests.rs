//! Schema encoding and the protocol glue.
use super::convert;
use super::tfplugin6 as pb;
use crate::{AttrPath, Attribute, Diagnostics, Schema};

#[test]
fn schema_encodes_attributes_with_cty_types_and_flags() {
    let s = Schema::new("Docs.")
        .attr(Attribute::string("id").computed())
        .attr(Attribute::set_of_strings("scopes").required())
        .attr(
            Attribute::string("secret_wo")
                .optional()
                .sensitive()
                .write_only(),
        );
    let p = convert::schema(&s);
    let b = p.block.unwrap();
    assert_eq!(b.description, "Docs.");
    let id = &b.attributes[0];
    assert_eq!(
        (id.name.as_str(), id.computed, id.required),
        ("id", true, false)
    );
    assert_eq!(id.r#type, br#""string""#);
    assert_eq!(b.attributes[1].r#type, br#"["set","string"]"#);
    assert!(b.attributes[1].required);
    let wo = &b.attributes[2];
    assert!(wo.write_only && wo.sensitive && wo.optional);
}

#[test]
fn diagnostics_carry_attribute_paths() {
    let mut d = Diagnostics::new();
    d.error_at(
        AttrPath::attr("labels").key("team").then("x").index(2),
        "Bad",
        "detail",
    );
    d.warn("Careful", "");
    let p = convert::diags(d);
    assert_eq!(p[0].severity, pb::diagnostic::Severity::Error as i32);
    assert_eq!(p[1].severity, pb::diagnostic::Severity::Warning as i32);
    assert!(p[1].attribute.is_none());
    use pb::attribute_path::step::Selector as S;
    let steps: Vec<_> = p[0]
        .attribute
        .as_ref()
        .unwrap()
        .steps
        .iter()
        .map(|s| s.selector.clone().unwrap())
        .collect();
    assert_eq!(
        steps,
        vec![
            S::AttributeName("labels".into()),
            S::ElementKeyString("team".into()),
            S::AttributeName("x".into()),
            S::ElementKeyInt(2)
        ]
    );
}

#[test]
fn functions_encode_parameters_and_return_type() {
    use crate::{Function, Parameter, Type, Value};
    let f = Function::new("within", Type::Bool, |_| Ok(Value::Bool(true)))
        .summary("Whether it fits")
        .param(Parameter::new("items", Type::set(Type::String), "The items.").allow_null());
    let p = convert::function(&f);
    assert_eq!(p.summary, "Whether it fits");
    let items = &p.parameters[0];
    assert_eq!(items.r#type, br#"["set","string"]"#);
    assert!(items.allow_null_value && !items.allow_unknown_values);
    assert_eq!(p.r#return.unwrap().r#type, br#""bool""#);
}
