//! What the partner provider's operations share once it is configured.
use crate::client::ApiClient;
use crate::resources::org_facts::PlannedOrgs;

/// The provider's data: built by `configure`, handed to every operation.
pub struct Configured {
    pub api: ApiClient,
    /// The orgs planned so far in this run, for the clients' plans.
    pub planned_orgs: PlannedOrgs,
}

/// The context the partner resources are called with.
pub type Context = tfplugin::Context<Configured>;
