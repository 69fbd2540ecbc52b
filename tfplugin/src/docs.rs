//! Documentation pages in the Terraform Registry's layout, generated from
//! the schemas' descriptions and the example configurations, laid out as
//! terraform-plugin-docs does: front matter, the description, Example
//! Usage, the Schema's Required / Optional / Read-Only attributes, then any
//! hand-written sections and the Import section.
//!
//! Sources, under a repository root:
//! - `examples/provider/provider.tf`, `examples/resources/<type>/resource.tf`
//!   (and `import.sh`), `examples/data-sources/<type>/data-source.tf`,
//!   `examples/ephemeral-resources/<type>/ephemeral-resource.tf`;
//! - `templates/index.md`, `templates/<kind>/<type>.md`: sections that are
//!   not about one attribute, placed after the schema.
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
}

impl Kind {
    fn folder(self) -> &'static str {
        match self {
            Kind::Resource => "resources",
            Kind::DataSource => "data-sources",
            Kind::EphemeralResource => "ephemeral-resources",
        }
    }
    fn title(self) -> &'static str {
        match self {
            Kind::Resource => "Resource",
            Kind::DataSource => "Data Source",
            Kind::EphemeralResource => "Ephemeral Resource",
        }
    }
    fn example_file(self) -> &'static str {
        match self {
            Kind::Resource => "resource.tf",
            Kind::DataSource => "data-source.tf",
            Kind::EphemeralResource => "ephemeral-resource.tf",
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
        };
        pages.push((
            Path::new(kind.folder()).join(format!("{type_name}.md")),
            page.render(),
        ));
    }
    Ok(pages)
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
        if let Some(import) = &self.import {
            let _ = write!(
                out,
                "\n## Import\n\nImport is supported using the following syntax:\n\n```shell\n{}\n```\n",
                import.trim_end()
            );
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
}
