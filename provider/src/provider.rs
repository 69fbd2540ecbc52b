//! The partner provider: its configuration schema, how it is configured,
//! and the registry of its resources, data sources and ephemeral resources.
use crate::client::{ApiClient, DEFAULT_ENDPOINT};
use crate::model;
use crate::resources;
use crate::tf::{
    AttrPath, Attribute, Diagnostics, DynDataSource, DynEphemeral, DynResource, Model, Schema,
    Value,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The provider's type name, as in `provider "partner" {}`.
pub const NAME: &str = "partner";
/// Its registry address, as used in TF_REATTACH_PROVIDERS.
pub const ADDRESS: &str = "registry.terraform.io/partner-registry/partner";

model! {
    /// The `provider "partner"` block.
    pub struct ProviderConfig {
        endpoint: String,
        token: String,
        change_ref: String,
    }
}

pub fn provider_schema() -> Schema {
    Schema::new("The partner provider manages partner organisations and their OAuth clients in a partner registry.")
        .attr(Attribute::string("endpoint").optional().description(
            "Base URL of the partner registry API, e.g. `https://registry.example.com`. \
             Defaults to the `PARTNER_REGISTRY_ENDPOINT` environment variable, else `http://127.0.0.1:8080`.",
        ))
        .attr(Attribute::string("token").optional().sensitive().description(
            "API token used as a bearer token for every request. \
             Defaults to the `PARTNER_REGISTRY_TOKEN` environment variable.",
        ))
        .attr(Attribute::string("change_ref").optional().description(
            "Reference to the change being applied (for example a pull request URL), sent as the \
             `X-Change-Ref` header so that audit events name the change. \
             Defaults to the `PARTNER_CHANGE_REF` environment variable.",
        ))
}

/// Everything the server needs to know about the provider.
pub struct Registry {
    pub provider_schema: Schema,
    pub resources: BTreeMap<&'static str, (Arc<dyn DynResource>, Schema)>,
    pub data_sources: BTreeMap<&'static str, (Arc<dyn DynDataSource>, Schema)>,
    pub ephemerals: BTreeMap<&'static str, (Arc<dyn DynEphemeral>, Schema)>,
}

impl Registry {
    pub fn new() -> Self {
        let mut r = Registry {
            provider_schema: provider_schema(),
            resources: BTreeMap::new(),
            data_sources: BTreeMap::new(),
            ephemerals: BTreeMap::new(),
        };
        r.resource(resources::partner_org::PartnerOrg);
        r.resource(resources::partner_client::PartnerClient);
        r.data_source(resources::partner_org_data::PartnerOrgData);
        r.data_source(resources::partner_clients_data::PartnerClientsData);
        r.ephemeral(resources::partner_client_secret::PartnerClientSecret);
        r
    }
    pub fn resource<R: DynResource + 'static>(&mut self, res: R) {
        let schema = res.schema();
        self.resources
            .insert(res.type_name(), (Arc::new(res), schema));
    }
    pub fn data_source<D: DynDataSource + 'static>(&mut self, ds: D) {
        let schema = ds.schema();
        self.data_sources
            .insert(ds.type_name(), (Arc::new(ds), schema));
    }
    pub fn ephemeral<E: DynEphemeral + 'static>(&mut self, e: E) {
        let schema = e.schema();
        self.ephemerals.insert(e.type_name(), (Arc::new(e), schema));
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

fn setting(v: &crate::tf::Val<String>, env: &str) -> Option<String> {
    v.known()
        .cloned()
        .or_else(|| std::env::var(env).ok())
        .filter(|s| !s.is_empty())
}

/// Checks the provider block offline.
pub fn validate_config(config: &Value, diags: &mut Diagnostics) {
    let Ok(c) = ProviderConfig::from_value(config) else {
        return;
    };
    if let Some(e) = c.endpoint.as_deref() {
        if !(e.starts_with("http://") || e.starts_with("https://")) {
            diags.error_at(
                AttrPath::attr("endpoint"),
                "Invalid endpoint",
                format!("The endpoint {e:?} must be an http:// or https:// URL."),
            );
        }
    }
}

/// Builds the configured state from the provider block and environment, and
/// checks once that the registry answers and accepts the token, so that a
/// wrong endpoint or token is one clear error instead of one per resource.
///
/// `stop` turns true when Terraform asks the provider to stop (Ctrl-C):
/// registry calls then give up instead of finishing their retries.
pub async fn configure(
    config: &Value,
    stop: tokio::sync::watch::Receiver<bool>,
    diags: &mut Diagnostics,
) -> Option<ApiClient> {
    let c = match ProviderConfig::from_value(config) {
        Ok(c) => c,
        Err(e) => {
            diags.error("Invalid provider configuration", e);
            return None;
        }
    };
    if c.endpoint.is_unknown() || c.token.is_unknown() {
        // Known only after apply: the configuration is completed later.
        return None;
    }
    let endpoint = setting(&c.endpoint, "PARTNER_REGISTRY_ENDPOINT")
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
    let token = setting(&c.token, "PARTNER_REGISTRY_TOKEN");
    let change_ref = setting(&c.change_ref, "PARTNER_CHANGE_REF");
    let client = match ApiClient::new(&endpoint, token, change_ref, stop) {
        Ok(client) => client,
        Err(e) => {
            diags.error_at(
                AttrPath::attr("endpoint"),
                "Invalid partner registry endpoint",
                e,
            );
            return None;
        }
    };
    if let Err(e) = client.check_access().await {
        diags.error("Cannot use the partner registry", e.to_string());
        return None;
    }
    Some(client)
}
