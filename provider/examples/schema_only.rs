//! The partner provider's resource schemas with none of its logic: each
//! resource plans only what the framework plans from its schema, creates and
//! updates to what was planned (each string left unknown becoming a stand-in
//! as long as the registry's ids, so that the state holds as much as the real
//! provider's), keeps the same identity, reads back its state and talks to no
//! registry.
//!
//! Terraform's cost for a resource grows with its schema (how many values it
//! holds, which are sensitive or write-only), whatever the provider does.
//! `plan_scale` runs the same steps through this binary, installed as
//! `terraform-provider-partner`, to tell Terraform's cost of our schemas from
//! the cost of the provider's own work: `cargo build --release -p
//! terraform-provider-partner --example schema_only` (`make bench` does).
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use terraform_provider_partner::provider::{INFO, PartnerProvider};
use tfplugin::{
    Context, CreateRequest, Declaration, Diagnostics, DynResource, Provider, Resource, Schema,
    StopSignal, Type, UpdateRequest, Value,
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
                    identity: r.identity_attributes(),
                    made: AtomicU64::new(0),
                }) as Arc<dyn DynResource<()>>
            })
            .collect()
    }
}

/// A resource type: its name, schema and identity, and nothing else.
struct Echo {
    type_name: &'static str,
    schema: Schema,
    identity: &'static [&'static str],
    /// How many stand-ins it made: each one is different.
    made: AtomicU64,
}

impl Echo {
    /// `planned` as a result of apply, which may hold no unknown value: a
    /// string becomes a stand-in as long as the registry's ids, anything
    /// else null.
    fn applied(&self, mut planned: Value) -> Value {
        if let Some(attrs) = planned.attrs_mut() {
            for a in &self.schema.attributes {
                if let Some(value) = attrs.get_mut(&a.name).filter(|v| v.is_unknown()) {
                    *value = if a.ty == Type::String {
                        let n = self.made.fetch_add(1, Ordering::Relaxed);
                        Value::String(format!("stand_in_{n:015}"))
                    } else {
                        Value::Null
                    };
                }
            }
        }
        planned
    }
}

impl Declaration for Echo {
    type Model = Value;

    fn type_name(&self) -> &'static str {
        self.type_name
    }
    fn schema(&self) -> Schema {
        self.schema.clone()
    }
}

impl Resource<()> for Echo {
    async fn create(
        &self,
        _ctx: &Context<()>,
        req: CreateRequest<Value>,
        _diags: &mut Diagnostics,
    ) -> Option<Value> {
        Some(self.applied(req.planned))
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
        Some(self.applied(req.planned))
    }
    async fn delete(&self, _ctx: &Context<()>, _state: Value, _diags: &mut Diagnostics) {}
    fn identity_attributes(&self) -> &'static [&'static str] {
        self.identity
    }
}

fn main() {
    std::process::exit(tfplugin::serve(SchemaOnly, INFO));
}
