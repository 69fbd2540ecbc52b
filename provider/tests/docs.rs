//! The committed documentation is what the generator makes of the schemas,
//! examples and templates, and has no page the provider does not offer.
use std::collections::BTreeSet;
use std::path::PathBuf;

use terraform_provider_partner::docs;

#[test]
fn committed_docs_match_the_schemas() {
    let docs_dir = docs::repository_root().join("docs");
    let pages = docs::pages().expect("documentation sources");
    let mut stale = Vec::new();
    for (path, page) in &pages {
        let committed = std::fs::read_to_string(docs_dir.join(path)).unwrap_or_default();
        if committed != *page {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "docs/ is out of date for {stale:?}: run `make docs` and commit the result"
    );

    let generated: BTreeSet<PathBuf> = pages.into_iter().map(|(path, _)| path).collect();
    for folder in [
        "resources",
        "data-sources",
        "ephemeral-resources",
        "list-resources",
        "actions",
        "functions",
        "guides",
    ] {
        for entry in std::fs::read_dir(docs_dir.join(folder)).expect("docs folder") {
            let path = PathBuf::from(folder).join(entry.expect("docs entry").file_name());
            assert!(
                generated.contains(&path),
                "docs/{} documents no type of the provider: remove it",
                path.display()
            );
        }
    }
}
