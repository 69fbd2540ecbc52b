//! The provider's data sources, one per file.
pub mod partner_client;
pub mod partner_clients;
pub mod partner_org;
pub mod partner_orgs;
