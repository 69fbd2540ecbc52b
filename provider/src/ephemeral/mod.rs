//! The provider's ephemeral resources, one per file.
pub mod partner_client_secret;
