//! Terraform provider for the partner registry.
pub mod protocol;
