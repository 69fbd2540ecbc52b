//! The typed layer: values, schemas, models, diagnostics and the traits a
//! resource implements. Knows nothing of protobuf; the `protocol` module
//! translates.
pub mod diag;
pub mod engine;
pub mod json;
pub mod model;
pub mod msgpack;
pub mod resource;
pub mod schema;
pub mod value;

pub use diag::{AttrPath, Diagnostic, Diagnostics, Severity, Step};
pub use model::{FromValue, Model, ToValue, Val};
pub use resource::{
    Context, CreateRequest, DataSource, DynDataSource, DynEphemeral, DynResource,
    EphemeralResource, PlanRequest, Resource, UpdateRequest,
};
pub use schema::{Attribute, Schema};
pub use value::{Number, Type, Value};
