//! Actions (protocol 6.10, Terraform 1.14+): operations outside the
//! resource lifecycle, run by `terraform apply -invoke=action.<type>.<name>`
//! or by a resource's `action_trigger`.
use crate::diag::Diagnostics;
use crate::model::Model;
use crate::resource::{BoxFut, Context, typed};
use crate::schema::Schema;
use crate::value::Value;
use std::future::Future;
use tokio::sync::mpsc::UnboundedSender;

/// Where a running action reports progress; Terraform shows each message
/// while the action runs.
#[derive(Clone, Debug)]
pub struct Progress {
    tx: Option<UnboundedSender<String>>,
}

impl Progress {
    pub(crate) fn new(tx: UnboundedSender<String>) -> Self {
        Progress { tx: Some(tx) }
    }
    /// A progress handle that reports nowhere (for tests).
    pub fn discard() -> Self {
        Progress { tx: None }
    }
    pub fn report(&self, message: impl Into<String>) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(message.into());
        }
    }
}

/// An action: a schema for its `config` block, plan-time checks and the
/// invocation itself.
pub trait Action<D>: Send + Sync + 'static {
    type Model: Model;
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    /// Offline checks of the configuration (values may be unknown).
    fn validate(&self, _config: &Self::Model, _diags: &mut Diagnostics) {}
    /// Checks when the action is planned (values may be unknown).
    fn plan<'a>(
        &'a self,
        _ctx: &'a Context<D>,
        _config: Self::Model,
        _diags: &'a mut Diagnostics,
    ) -> impl Future<Output = ()> + Send + 'a {
        async {}
    }
    /// Runs the action on its (wholly known) configuration.
    fn invoke<'a>(
        &'a self,
        ctx: &'a Context<D>,
        config: Self::Model,
        progress: &'a Progress,
        diags: &'a mut Diagnostics,
    ) -> impl Future<Output = ()> + Send + 'a;
}

const WHAT: &str = "action configuration";

/// Object-safe view of an [`Action`].
pub trait DynAction<D>: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    fn validate(&self, config: &Value, diags: &mut Diagnostics);
    fn plan<'a>(&'a self, ctx: &'a Context<D>, config: Value) -> BoxFut<'a, Diagnostics>;
    fn invoke<'a>(
        &'a self,
        ctx: &'a Context<D>,
        config: Value,
        progress: Progress,
    ) -> BoxFut<'a, Diagnostics>;
}

impl<D: Send + Sync + 'static, A: Action<D>> DynAction<D> for A {
    fn type_name(&self) -> &'static str {
        Action::<D>::type_name(self)
    }
    fn schema(&self) -> Schema {
        Action::<D>::schema(self)
    }
    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Some(m) = typed::<A::Model>(config, WHAT, diags) {
            Action::<D>::validate(self, &m, diags);
        }
    }
    fn plan<'a>(&'a self, ctx: &'a Context<D>, config: Value) -> BoxFut<'a, Diagnostics> {
        Box::pin(async move {
            let mut d = Diagnostics::new();
            if let Some(m) = typed::<A::Model>(&config, WHAT, &mut d) {
                Action::<D>::plan(self, ctx, m, &mut d).await;
            }
            d
        })
    }
    fn invoke<'a>(
        &'a self,
        ctx: &'a Context<D>,
        config: Value,
        progress: Progress,
    ) -> BoxFut<'a, Diagnostics> {
        Box::pin(async move {
            let mut d = Diagnostics::new();
            if let Some(m) = typed::<A::Model>(&config, WHAT, &mut d) {
                Action::<D>::invoke(self, ctx, m, &progress, &mut d).await;
            }
            d
        })
    }
}
