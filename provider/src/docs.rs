//! The provider's documentation under `docs/`, generated from the schemas'
//! descriptions, `examples/` and `templates/` (`make docs` writes it; a test
//! checks that the committed pages are up to date).
use crate::provider::{INFO, PartnerProvider};
use std::path::{Path, PathBuf};

/// The repository's root, where `docs/`, `examples/` and `templates/` are.
pub fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the provider crate is a folder of the repository")
        .to_path_buf()
}

/// Every page, as a path below `docs/` and its contents.
pub fn pages() -> std::io::Result<Vec<(PathBuf, String)>> {
    tfplugin::docs::pages(&PartnerProvider, INFO.name, &repository_root())
}
