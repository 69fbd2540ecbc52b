//! The provider's data sources, one per file.
pub mod partner_clients;
pub mod partner_org;
