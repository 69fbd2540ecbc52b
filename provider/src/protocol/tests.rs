//! Schema encoding and the protocol glue.
use super::convert;
use super::tfplugin6 as pb;
use crate::tf::{AttrPath, Attribute, Diagnostics, Schema};

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
fn provider_resources_have_documented_schemas() {
    let reg = crate::provider::Registry::new();
    for (name, (_, schema)) in &reg.resources {
        assert!(schema.description.len() > 20, "{name}");
        for a in &schema.attributes {
            assert!(a.description.len() > 10, "{name}.{} undocumented", a.name);
            assert!(a.required || a.optional || a.computed, "{name}.{}", a.name);
            assert!(!(a.required && a.computed), "{name}.{}", a.name);
        }
    }
    let client = &reg.resources["partner_client"].1;
    assert!(client.attribute("org_id").unwrap().requires_replace);
    assert!(client.attribute("client_secret").unwrap().sensitive);
    assert!(reg.provider_schema.attribute("token").unwrap().sensitive);
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
