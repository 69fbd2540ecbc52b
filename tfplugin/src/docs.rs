//! Documentation pages in the Terraform Registry's layout, generated from
//! the schemas' descriptions and the example configurations, laid out as
//! terraform-plugin-docs does: front matter, the description, Example
//! Usage, the Schema's Required / Optional / Read-Only attributes, then any
//! hand-written sections and the Import section.
//!
//! Sources, under a repository root:
//! - `examples/provider/provider.tf`, `examples/resources/<type>/resource.tf`
//!   (and `import.sh`, `import-by-identity.tf`),
//!   `examples/data-sources/<type>/data-source.tf`,
//!   `examples/ephemeral-resources/<type>/ephemeral-resource.tf`,
//!   `examples/list-resources/<type>/list-resource.tfquery.hcl`,
//!   `examples/actions/<type>/action.tf`,
//!   `examples/functions/<name>/function.tf`;
//! - `templates/index.md`, `templates/<kind>/<type>.md`: sections that are
//!   not about one attribute, placed after the schema;
//! - `templates/guides/<guide>.md`: guides, copied as they are.
use crate::function::Function;
use crate::provider::Provider;
use crate::schema::{Attribute, Schema};
use crate::value::Type;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The kinds of pages below `docs/`, each with its folder and title.
#[derive(Clone, Copy)]
enum Kind {
    Resource,
    DataSource,
    EphemeralResource,
    ListResource,
    Action,
}

impl Kind {
    fn folder(self) -> &'static str {
        match self {
            Kind::Resource => "resources",
            Kind::DataSource => "data-sources",
            Kind::EphemeralResource => "ephemeral-resources",
            Kind::ListResource => "list-resources",
            Kind::Action => "actions",
        }
    }
    fn title(self) -> &'static str {
        match self {
            Kind::Resource => "Resource",
            Kind::DataSource => "Data Source",
            Kind::EphemeralResource => "Ephemeral Resource",
            Kind::ListResource => "List Resource",
            Kind::Action => "Action",
        }
    }
    fn example_file(self) -> &'static str {
        match self {
            Kind::Resource => "resource.tf",
            Kind::DataSource => "data-source.tf",
            Kind::EphemeralResource => "ephemeral-resource.tf",
            Kind::ListResource => "list-resource.tfquery.hcl",
            Kind::Action => "action.tf",
        }
    }
}

/// Every page of `provider`'s documentation, as paths relative to `docs/`
/// with their contents, from the examples and templates under `root`.
pub fn pages<P: Provider>(
    provider: &P,
    name: &str,
    root: &Path,
) -> std::io::Result<Vec<(PathBuf, String)>> {
    let examples = root.join("examples");
    let templates = root.join("templates");
    let mut pages = vec![(
        PathBuf::from("index.md"),
        index_page(
            name,
            &provider.schema(),
            optional_file(&examples.join("provider").join("provider.tf"))?,
            optional_file(&templates.join("index.md"))?,
        ),
    )];
    let identities: std::collections::BTreeMap<_, _> = provider
        .resources()
        .iter()
        .map(|r| (r.type_name(), (r.identity_attributes(), r.schema())))
        .collect();
    let types = provider
        .resources()
        .iter()
        .map(|r| (Kind::Resource, r.type_name(), r.schema()))
        .chain(
            provider
                .data_sources()
                .iter()
                .map(|d| (Kind::DataSource, d.type_name(), d.schema())),
        )
        .chain(
            provider
                .ephemeral_resources()
                .iter()
                .map(|e| (Kind::EphemeralResource, e.type_name(), e.schema())),
        )
        .chain(
            provider
                .list_resources()
                .iter()
                .map(|l| (Kind::ListResource, l.type_name(), l.schema())),
        )
        .chain(
            provider
                .actions()
                .iter()
                .map(|a| (Kind::Action, a.type_name(), a.schema())),
        )
        .collect::<Vec<_>>();
    for (kind, type_name, schema) in types {
        let example_dir = examples.join(kind.folder()).join(type_name);
        let page = Page {
            kind,
            type_name,
            provider: name,
            schema: &schema,
            example: optional_file(&example_dir.join(kind.example_file()))?,
            sections: optional_file(
                &templates
                    .join(kind.folder())
                    .join(format!("{type_name}.md")),
            )?,
            import: match kind {
                Kind::Resource => optional_file(&example_dir.join("import.sh"))?,
                _ => None,
            },
            import_by_identity: match kind {
                Kind::Resource => optional_file(&example_dir.join("import-by-identity.tf"))?,
                _ => None,
            },
            identity: match (kind, identities.get(type_name)) {
                (Kind::Resource, Some((attrs, schema))) => attrs
                    .iter()
                    .filter_map(|a| schema.attribute(a).cloned())
                    .collect(),
                _ => vec![],
            },
        };
        pages.push((
            Path::new(kind.folder()).join(format!("{type_name}.md")),
            page.render(),
        ));
    }
    for f in provider.functions() {
        let example = optional_file(&examples.join("functions").join(f.name).join("function.tf"))?;
        pages.push((
            Path::new("functions").join(format!("{}.md", f.name)),
            function_page(name, &f, example.as_deref()),
        ));
    }
    let guides = templates.join("guides");
    if guides.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(&guides)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for path in entries
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "md"))
        {
            let text = std::fs::read_to_string(&path)?;
            let file = path.file_name().unwrap_or_default();
            pages.push((Path::new("guides").join(file), text));
        }
    }
    Ok(pages)
}

/// A function's page: its description, an example, its signature and its
/// arguments, as the Registry lays out provider functions.
fn function_page(provider: &str, f: &Function, example: Option<&str>) -> String {
    let description = if f.description.is_empty() {
        &f.summary
    } else {
        &f.description
    };
    let mut out = front_matter(
        &format!("{} function - {provider}", f.name),
        true,
        &f.summary,
    );
    let _ = write!(
        out,
        "
# function: {}

{}
",
        f.name,
        description.trim()
    );
    if let Some(example) = example {
        let _ = write!(
            out,
            "
## Example Usage

```terraform
{}
```
",
            example.trim_end()
        );
    }
    let params: Vec<String> = f
        .parameters
        .iter()
        .map(|p| format!("{} {}", p.name, hcl_type(&p.ty)))
        .collect();
    let _ = write!(
        out,
        "
## Signature

```text
{}({}) {}
```
",
        f.name,
        params.join(", "),
        hcl_type(&f.returns)
    );
    if !f.parameters.is_empty() {
        out.push_str(
            "
## Arguments

",
        );
        for (i, p) in f.parameters.iter().enumerate() {
            let _ = writeln!(
                out,
                "{}. `{}` ({}) {}",
                i + 1,
                p.name,
                type_name(&p.ty),
                p.description.trim()
            );
        }
    }
    out
}

/// A type as HCL writes it: `string`, `set(string)`, `object({...})`.
fn hcl_type(ty: &Type) -> String {
    match ty {
        Type::Bool => "bool".into(),
        Type::Number => "number".into(),
        Type::String => "string".into(),
        Type::Dynamic => "any".into(),
        Type::List(t) => format!("list({})", hcl_type(t)),
        Type::Set(t) => format!("set({})", hcl_type(t)),
        Type::Map(t) => format!("map({})", hcl_type(t)),
        Type::Object(attrs) => {
            let attrs: Vec<String> = attrs
                .iter()
                .map(|(k, t)| format!("{k} = {}", hcl_type(t)))
                .collect();
            format!("object({{{}}})", attrs.join(", "))
        }
        Type::Tuple(items) => {
            let items: Vec<String> = items.iter().map(hcl_type).collect();
            format!("tuple([{}])", items.join(", "))
        }
    }
}

/// A file's contents, `None` when there is no such file.
fn optional_file(path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(std::io::Error::new(
            e.kind(),
            format!("{}: {e}", path.display()),
        )),
    }
}

struct Page<'a> {
    kind: Kind,
    type_name: &'a str,
    provider: &'a str,
    schema: &'a Schema,
    example: Option<String>,
    sections: Option<String>,
    import: Option<String>,
    import_by_identity: Option<String>,
    /// The resource's identity attributes (Terraform 1.12+).
    identity: Vec<Attribute>,
}

impl Page<'_> {
    fn render(&self) -> String {
        let mut out = front_matter(
            &format!(
                "{} {} - {}",
                self.type_name,
                self.kind.title(),
                self.provider
            ),
            true,
            &self.schema.description,
        );
        let _ = write!(
            out,
            "\n# {} ({})\n\n{}\n",
            self.type_name,
            self.kind.title(),
            self.schema.description.trim()
        );
        body(
            &mut out,
            self.schema,
            self.example.as_deref(),
            self.sections.as_deref(),
        );
        if !self.identity.is_empty() {
            out.push_str("\n### Identity Schema\n\n#### Required\n\n");
            for a in &self.identity {
                let _ = writeln!(
                    out,
                    "- `{}` ({}) {}",
                    a.name,
                    type_name(&a.ty),
                    a.description.trim()
                );
            }
        }
        if self.import.is_some() || self.import_by_identity.is_some() {
            out.push_str("\n## Import\n\nImport is supported using the following syntax:\n");
        }
        if let Some(import) = &self.import_by_identity {
            let _ = write!(
                out,
                "\nIn Terraform v1.12.0 and later, the [`import` block](https://developer.hashicorp.com/terraform/language/import) can be used with the `identity` attribute, for example:\n\n```terraform\n{}\n```\n",
                import.trim_end()
            );
        }
        if let Some(import) = &self.import {
            if self.import_by_identity.is_some() {
                out.push_str(
                    "\nThe `terraform import` command and an `import` block's `id` take an ID:\n",
                );
            }
            let _ = write!(out, "\n```shell\n{}\n```\n", import.trim_end());
        }
        out
    }
}

fn index_page(
    name: &str,
    schema: &Schema,
    example: Option<String>,
    sections: Option<String>,
) -> String {
    let mut out = front_matter(&format!("{name} Provider"), false, &schema.description);
    let _ = write!(
        out,
        "\n# {name} Provider\n\n{}\n",
        schema.description.trim()
    );
    body(&mut out, schema, example.as_deref(), sections.as_deref());
    out
}

/// The YAML front matter; its description is the first paragraph.
fn front_matter(title: &str, with_subcategory: bool, description: &str) -> String {
    let summary = description.trim().split("\n\n").next().unwrap_or_default();
    let mut out = format!("---\npage_title: \"{title}\"\n");
    if with_subcategory {
        out.push_str("subcategory: \"\"\n");
    }
    out.push_str("description: |-\n");
    for line in summary.lines() {
        let _ = writeln!(out, "  {line}");
    }
    out.push_str("---\n");
    out
}

/// Example Usage, the Schema and the hand-written sections.
fn body(out: &mut String, schema: &Schema, example: Option<&str>, sections: Option<&str>) {
    if let Some(example) = example {
        let _ = write!(
            out,
            "\n## Example Usage\n\n```terraform\n{}\n```\n",
            example.trim_end()
        );
    }
    out.push_str("\n## Schema\n");
    let groups: [(&str, InGroup); 3] = [
        ("Required", |a| a.required),
        ("Optional", |a| a.optional),
        ("Read-Only", |a| a.computed && !a.optional),
    ];
    for (title, belongs) in groups {
        let attributes: Vec<_> = schema.attributes.iter().filter(|a| belongs(a)).collect();
        if attributes.is_empty() {
            continue;
        }
        let _ = write!(out, "\n### {title}\n\n");
        for a in attributes {
            let _ = writeln!(
                out,
                "- `{}` ({}) {}",
                a.name,
                attribute_kind(a),
                a.description.trim()
            );
        }
    }
    if let Some(sections) = sections {
        let _ = write!(out, "\n{}\n", sections.trim());
    }
}

/// Whether an attribute is listed under a group of the Schema section.
type InGroup = fn(&Attribute) -> bool;

/// `String`, `Set of String`, `String, Sensitive, Write-only` ...
fn attribute_kind(a: &Attribute) -> String {
    let mut kind = type_name(&a.ty);
    for (flag, name) in [
        (a.sensitive, "Sensitive"),
        (a.write_only, "Write-only"),
        (a.deprecated, "Deprecated"),
    ] {
        if flag {
            kind.push_str(", ");
            kind.push_str(name);
        }
    }
    kind
}

fn type_name(ty: &Type) -> String {
    match ty {
        Type::Bool => "Boolean".into(),
        Type::Number => "Number".into(),
        Type::String => "String".into(),
        Type::Dynamic => "Dynamic".into(),
        Type::List(t) => format!("List of {}", type_name(t)),
        Type::Set(t) => format!("Set of {}", type_name(t)),
        Type::Map(t) => format!("Map of {}", type_name(t)),
        Type::Object(_) => "Object".into(),
        Type::Tuple(_) => "Tuple".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_grouped_with_their_type_and_flags() {
        let schema = Schema::new("A thing.\n\nMore about it.")
            .attr(
                Attribute::string("name")
                    .required()
                    .description("Its name."),
            )
            .attr(
                Attribute::string("secret_wo")
                    .optional()
                    .sensitive()
                    .write_only()
                    .description("A secret."),
            )
            .attr(
                Attribute::set_of_strings("tags")
                    .optional()
                    .computed()
                    .description("Tags."),
            )
            .attr(Attribute::string("id").computed().description("Its id."));
        let page = Page {
            kind: Kind::Resource,
            type_name: "toy_thing",
            provider: "toy",
            schema: &schema,
            example: Some("resource \"toy_thing\" \"x\" {}\n".into()),
            sections: None,
            import: Some("terraform import toy_thing.x 1\n".into()),
            import_by_identity: None,
            identity: vec![],
        }
        .render();
        assert!(page.starts_with(
            "---\npage_title: \"toy_thing Resource - toy\"\nsubcategory: \"\"\ndescription: |-\n  A thing.\n---\n"
        ));
        let required = page.find("### Required\n\n- `name` (String) Its name.\n");
        let optional = page.find(
            "### Optional\n\n- `secret_wo` (String, Sensitive, Write-only) A secret.\n- `tags` (Set of String) Tags.\n",
        );
        let read_only = page.find("### Read-Only\n\n- `id` (String) Its id.\n");
        let import = page.find("## Import\n");
        assert!(
            required < optional && optional < read_only && read_only < import,
            "{page}"
        );
        assert!(required.is_some() && import.is_some(), "{page}");
        assert!(page.contains("```terraform\nresource \"toy_thing\" \"x\" {}\n```"));
    }

    #[test]
    fn function_pages_show_signature_and_arguments() {
        use crate::function::Parameter;
        let f = Function::new("within", Type::Bool, |_| Ok(crate::Value::Bool(true)))
            .summary("Whether it fits")
            .param(Parameter::new(
                "items",
                Type::set(Type::String),
                "The items.",
            ));
        let page = function_page("toy", &f, None);
        assert!(
            page.starts_with("---\npage_title: \"within function - toy\"\n"),
            "{page}"
        );
        assert!(
            page.contains("```text\nwithin(items set(string)) bool\n```"),
            "{page}"
        );
        assert!(
            page.contains("1. `items` (Set of String) The items.\n"),
            "{page}"
        );
    }
}
