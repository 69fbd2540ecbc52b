//! The registry's API over real HTTP, against the app on port 0 with a fresh
//! database of the engine under test (see [`helpers`]): one suite, run on
//! SQLite and on PostgreSQL.

mod campaigns;
mod connections;
mod console;
mod governance;
mod helpers;
mod lifecycle;
mod suite;
mod tokens;
