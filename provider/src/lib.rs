//! Terraform provider for the partner registry.
