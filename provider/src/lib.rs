//! Terraform provider for the partner registry, on the `tfplugin`
//! framework.
//!
//! - [`provider`]: the partner provider's configuration and what it offers.
//! - [`resources`]: one module per resource.
//! - [`client`]: the registry's HTTP API.
pub mod client;
pub mod provider;
pub mod resources;
