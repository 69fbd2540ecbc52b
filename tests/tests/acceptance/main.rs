//! Acceptance tests: real Terraform drives the real provider binary against a
//! real registry on a fresh SQLite database, one registry and one working
//! directory per test.

mod config;
mod console;
mod data_sources;
mod examples;
mod functions;
mod governance;
mod lifecycle;
mod lookups;
mod partner_client;
mod partner_org;
mod plan_checks;
mod provider;
mod scale;
mod trust;
