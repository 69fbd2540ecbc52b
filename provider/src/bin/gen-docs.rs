//! Writes the provider's documentation to `docs/` (run by `make docs`).
use anyhow::Context as _;
use terraform_provider_partner::docs;

fn main() -> anyhow::Result<()> {
    let docs_dir = docs::repository_root().join("docs");
    for (path, page) in docs::pages().context("reading the documentation sources")? {
        let path = docs_dir.join(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}
