//! Terraform provider for the partner registry, on the `tfplugin`
//! framework.
//!
//! - [`provider`]: the `provider "partner"` block and what it offers;
//!   [`configured`]: what its operations share once it is configured.
//! - [`resources`], [`data_sources`], [`ephemeral`], [`list`], [`actions`]:
//!   one file per type; [`functions`]: the provider functions.
//! - [`client`]: the registry's HTTP API, with [`run_memo`], what one
//!   provider process read for its plans; [`report`] turns its errors into
//!   diagnostics.
//! - [`validate`]: the plan-time format checks, on the registry's own rules.
//! - [`attributes`]: a client's optional descriptive attributes, from their
//!   declaration in `partner-api`.
//! - [`docs`]: the documentation under `docs/`, generated from the schemas.
pub mod actions;
pub mod attributes;
pub mod client;
pub mod configured;
pub mod data_sources;
pub mod docs;
pub mod ephemeral;
pub mod functions;
pub mod list;
pub mod lookup;
pub mod provider;
pub mod report;
pub mod resources;
pub mod run_memo;
pub mod validate;
