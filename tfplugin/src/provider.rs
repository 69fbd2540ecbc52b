//! What a provider implements: its configuration and its catalogue of
//! resources, data sources and ephemeral resources.
use crate::action::DynAction;
use crate::diag::Diagnostics;
use crate::function::Function;
use crate::list::DynListResource;
use crate::resource::{DynDataSource, DynEphemeral, DynResource};
use crate::schema::Schema;
use crate::value::Value;
use std::future::Future;
use std::sync::Arc;

/// Names the provider in the handshake, logs and messages.
#[derive(Clone, Copy, Debug)]
pub struct ProviderInfo {
    /// The type name, as in `provider "<name>" {}`; the binary is
    /// `terraform-provider-<name>`.
    pub name: &'static str,
    /// The source address (`registry.terraform.io/<namespace>/<name>`), as in
    /// TF_REATTACH_PROVIDERS.
    pub address: &'static str,
    pub version: &'static str,
}

/// Set to true when Terraform asks the provider to stop (Ctrl-C): work in
/// flight should then give up instead of finishing its retries.
pub type StopSignal = tokio::sync::watch::Receiver<bool>;

/// A Terraform provider. Every list method returns the type-erased views
/// of the typed [`Resource`](crate::Resource), [`DataSource`](crate::DataSource)
/// and [`EphemeralResource`](crate::EphemeralResource) implementations
/// (`Arc::new(MyResource)`); kinds a provider does not offer keep the
/// default empty list. Further kinds of the protocol (list resources,
/// actions, functions) are to be added in the same way.
pub trait Provider: Send + Sync + 'static {
    /// What `configure` builds and every operation then gets in its
    /// [`Context`](crate::Context): API clients, settings, per-run memos.
    type Data: Send + Sync + 'static;

    /// The schema of the `provider` block.
    fn schema(&self) -> Schema;

    /// Offline checks of the provider block (values may be unknown).
    fn validate(&self, _config: &Value, _diags: &mut Diagnostics) {}

    /// Builds the provider's data from the provider block. `None` leaves the
    /// provider unconfigured: with an error diagnostic when configuring
    /// failed, without one when the configuration is only known after apply.
    fn configure<'a>(
        &'a self,
        config: &'a Value,
        stop: StopSignal,
        diags: &'a mut Diagnostics,
    ) -> impl Future<Output = Option<Self::Data>> + Send + 'a;

    fn resources(&self) -> Vec<Arc<dyn DynResource<Self::Data>>> {
        vec![]
    }
    fn data_sources(&self) -> Vec<Arc<dyn DynDataSource<Self::Data>>> {
        vec![]
    }
    fn ephemeral_resources(&self) -> Vec<Arc<dyn DynEphemeral<Self::Data>>> {
        vec![]
    }
    /// List resources (Terraform 1.14+), each named like the managed
    /// resource (with an identity) whose objects it finds.
    fn list_resources(&self) -> Vec<Arc<dyn DynListResource<Self::Data>>> {
        vec![]
    }
    /// Actions (Terraform 1.14+).
    fn actions(&self) -> Vec<Arc<dyn DynAction<Self::Data>>> {
        vec![]
    }
    /// Functions (Terraform 1.8+), called as `provider::<name>::<function>`.
    fn functions(&self) -> Vec<Function> {
        vec![]
    }
}
