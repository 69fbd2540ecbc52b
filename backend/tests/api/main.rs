//! The registry's API over real HTTP, against the app on port 0 with a fresh
//! database of the engine under test (see [`helpers`]): one suite, run on
//! SQLite and on PostgreSQL.

mod audit;
mod auth;
mod campaigns;
mod clients;
mod connections;
mod console;
mod governance;
mod helpers;
mod http;
mod introspection;
mod orgs;
mod review;
mod rotation;
mod tokens;
