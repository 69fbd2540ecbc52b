//! The partner provider's resource schemas with none of its logic: each
//! resource plans only what the framework plans from its schema, creates and
//! updates to what was planned (with what was left unknown set to null), reads
//! back its state and talks to no registry.
//!
//! Terraform's cost for a resource grows with its schema (how many values it
//! holds, which are sensitive or write-only), whatever the provider does.
//! `plan_scale` runs the same steps through this binary, installed as
//! `terraform-provider-partner`, to tell Terraform's cost of our schemas from
//! the cost of the provider's own work: `cargo build --release -p
//! terraform-provider-partner --example schema_only` (`make bench` does).
use std::sync::Arc;

use terraform_provider_partner::provider::{INFO, PartnerProvider};
use tfplugin::{
    Context, CreateRequest, Diagnostics, DynResource, Provider, Resource, Schema, StopSignal,
    UpdateRequest, Value,
};

/// A provider offering every resource type of the partner provider, each
/// with its schema only.
struct SchemaOnly;

impl Provider for SchemaOnly {
    type Data = ();

    fn schema(&self) -> Schema {
        PartnerProvider.schema()
    }
    async fn configure(
        &self,
        _config: &Value,
        _stop: StopSignal,
        _diags: &mut Diagnostics,
    ) -> Option<()> {
        Some(())
    }
    fn resources(&self) -> Vec<Arc<dyn DynResource<()>>> {
        PartnerProvider
            .resources()
            .iter()
            .map(|r| {
                Arc::new(Echo {
                    type_name: r.type_name(),
                    schema: r.schema(),
                }) as Arc<dyn DynResource<()>>
            })
            .collect()
    }
}

/// A resource type: its name and schema, and nothing else.
struct Echo {
    type_name: &'static str,
    schema: Schema,
}

/// `planned` as a result of apply: Terraform accepts no unknown value there.
fn applied(mut planned: Value) -> Value {
    if let Some(attrs) = planned.attrs_mut() {
        for value in attrs.values_mut().filter(|v| v.is_unknown()) {
            *value = Value::Null;
        }
    }
    planned
}

impl Resource<()> for Echo {
    type Model = Value;

    fn type_name(&self) -> &'static str {
        self.type_name
    }
    fn schema(&self) -> Schema {
        self.schema.clone()
    }
    async fn create(
        &self,
        _ctx: &Context<()>,
        req: CreateRequest<Value>,
        _diags: &mut Diagnostics,
    ) -> Option<Value> {
        Some(applied(req.planned))
    }
    async fn read(
        &self,
        _ctx: &Context<()>,
        state: Value,
        _diags: &mut Diagnostics,
    ) -> Option<Value> {
        Some(state)
    }
    async fn update(
        &self,
        _ctx: &Context<()>,
        req: UpdateRequest<Value>,
        _diags: &mut Diagnostics,
    ) -> Option<Value> {
        Some(applied(req.planned))
    }
    async fn delete(&self, _ctx: &Context<()>, _state: Value, _diags: &mut Diagnostics) {}
}

fn main() {
    std::process::exit(tfplugin::serve(SchemaOnly, INFO));
}
