//! Terraform provider for the partner registry, speaking Terraform's plugin
//! protocol 6 (tfplugin6 6.10) over go-plugin's gRPC handshake.
//!
//! - [`tf`]: the typed layer resources are written in (values, schemas,
//!   models, diagnostics, the `Resource`/`DataSource`/`EphemeralResource`
//!   traits and Terraform's plan/apply invariants).
//! - [`protocol`]: the wire: protobuf types, handshake, TLS, services.
//! - [`provider`]: the partner provider's configuration and registry.
//! - [`resources`]: one module per resource.
//! - [`client`]: the configured state shared by all operations.
pub mod client;
pub mod logging;
pub mod protocol;
pub mod provider;
pub mod resources;
pub mod tf;
