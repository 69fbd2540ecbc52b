//! A framework for Terraform providers speaking plugin protocol 6
//! (tfplugin6 6.10) over go-plugin's gRPC handshake.
//!
//! A provider implements [`Provider`] (its configuration and the lists of
//! what it offers) and, for each type, its [`Declaration`] (type name,
//! schema, a typed [`model!`], offline checks) and then [`Resource`],
//! [`DataSource`], [`EphemeralResource`], [`ListResource`] or [`Action`];
//! and [`Function`]s; [`serve`] then runs it as
//! the plugin Terraform starts.
//!
//! - values, schemas, models and diagnostics: [`Value`], [`Schema`],
//!   [`Model`], [`Diagnostics`];
//! - [`engine`]: Terraform's plan and apply rules around a resource's own
//!   functions;
//! - the wire (protobuf types, handshake, TLS, services) stays inside the
//!   crate.
pub mod action;
pub mod diag;
pub mod docs;
pub mod engine;
pub mod function;
pub mod json;
pub mod list;
pub mod logging;
pub mod model;
pub mod msgpack;
pub mod private;
mod protocol;
pub mod provider;
pub mod resource;
pub mod schema;
pub mod value;

pub use action::{Action, DynAction, Progress};
pub use diag::{AttrPath, Diagnostic, Diagnostics, Severity, Step};
pub use function::{Function, FunctionError, Parameter};
pub use list::{DynListResource, ListItem, ListResource};
pub use model::{FromValue, Model, ToValue, Val};
pub use private::Private;
pub use protocol::serve::serve;
pub use provider::{Provider, ProviderInfo, StopSignal};
pub use resource::{
    Context, CreateRequest, DataSource, Declaration, DynDataSource, DynDeclaration, DynEphemeral,
    DynResource, EphemeralResource, PlanRequest, Resource, UpdateRequest,
};
pub use schema::{Attribute, Schema};
pub use value::{Number, Type, Value};
