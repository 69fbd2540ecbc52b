//! Actions (protocol 6.10, Terraform 1.14+): operations outside the
//! resource lifecycle, run by `terraform apply -invoke=action.<type>.<name>`
//! or by a resource's `action_trigger`.
use crate::diag::Diagnostics;
use crate::resource::{BoxFut, Context, Declaration, DynDeclaration, call_typed};
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
/// Its declared model is the action's `config` block.
pub trait Action<D>: Declaration {
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
pub trait DynAction<D>: DynDeclaration {
    fn plan<'a>(&'a self, ctx: &'a Context<D>, config: Value) -> BoxFut<'a, Diagnostics>;
    fn invoke<'a>(
        &'a self,
        ctx: &'a Context<D>,
        config: Value,
        progress: Progress,
    ) -> BoxFut<'a, Diagnostics>;
}

impl<D: Send + Sync + 'static, A: Action<D>> DynAction<D> for A {
    fn plan<'a>(&'a self, ctx: &'a Context<D>, config: Value) -> BoxFut<'a, Diagnostics> {
        Box::pin(async move {
            let call = async |m, d: &mut _| Action::<D>::plan(self, ctx, m, d).await;
            call_typed::<A::Model, ()>(config, WHAT, call).await.1
        })
    }
    fn invoke<'a>(
        &'a self,
        ctx: &'a Context<D>,
        config: Value,
        progress: Progress,
    ) -> BoxFut<'a, Diagnostics> {
        Box::pin(async move {
            let call = async |m, d: &mut _| Action::<D>::invoke(self, ctx, m, &progress, d).await;
            call_typed::<A::Model, ()>(config, WHAT, call).await.1
        })
    }
}
