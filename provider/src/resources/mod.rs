//! The provider's resources, one per file, and shared format checks.
pub mod partner_client;
pub mod partner_org;
pub mod validate;
