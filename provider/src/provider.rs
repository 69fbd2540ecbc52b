//! The partner provider: its configuration schema, how it is configured,
//! and its resources, data sources and ephemeral resources.
use crate::client::{ApiClient, DEFAULT_ENDPOINT, Transport};
use crate::configured::Configured;
use crate::resources::org_facts::PlannedOrgs;
use crate::{data_sources, ephemeral, resources};
use std::sync::Arc;
use tfplugin::{
    AttrPath, Attribute, Diagnostics, DynDataSource, DynEphemeral, DynResource, Model, Provider,
    ProviderInfo, Schema, StopSignal, Value, model,
};

/// How Terraform and the handshake know this provider.
pub const INFO: ProviderInfo = ProviderInfo {
    name: "partner",
    address: "registry.terraform.io/partner-registry/partner",
    version: env!("CARGO_PKG_VERSION"),
};

/// The `provider "partner"` block and what it offers.
pub struct PartnerProvider;

model! {
    /// The `provider "partner"` block.
    pub struct ProviderConfig {
        endpoint: String,
        token: String,
        change_ref: String,
        ca_file: String,
        ca_pem: String,
        client_cert: String,
        client_key: String,
        request_timeout: String,
        max_retries: i64,
        max_requests_per_second: f64,
    }
}

pub fn provider_schema() -> Schema {
    Schema::new(
        "The `partner` provider manages the partner registry: the organisations your company has \
         a partner contract with (`partner_org`) and the API clients each of them uses \
         (`partner_client`). Every client belongs to exactly one org, has an accountable owner \
         and a documented purpose, may only hold scopes its org is allowed, and cannot outlive \
         its org's contract. Destroying a client revokes it; destroying an org offboards it and \
         revokes every client it still has.\n\nTerraform 1.11 or later is required.",
    )
    .attr(Attribute::string("endpoint").optional().description(
        "Base URL of the partner registry API, for example `https://registry.example.com`. \
         Defaults to the `PARTNER_REGISTRY_ENDPOINT` environment variable, else \
         `http://127.0.0.1:8080`.",
    ))
    .attr(
        Attribute::string("token")
            .optional()
            .sensitive()
            .description(
                "API token, sent as a bearer token with every request. Defaults to the \
                 `PARTNER_REGISTRY_TOKEN` environment variable, which is better than a literal in \
                 configuration.",
            ),
    )
    .attr(Attribute::string("change_ref").optional().description(
        "A reference to the change being applied (a pull request or pipeline run URL), sent as \
         the `X-Change-Ref` header so that every audit event the run causes names it. Defaults to \
         the `PARTNER_CHANGE_REF` environment variable.",
    ))
    .attr(Attribute::string("ca_file").optional().description(
        "Path to a PEM file of CA certificates to trust for an `https://` registry, besides the \
         system's (a registry with a certificate from a private CA). Defaults to the \
         `PARTNER_REGISTRY_CA_FILE` environment variable. Conflicts with `ca_pem`.",
    ))
    .attr(Attribute::string("ca_pem").optional().description(
        "The same CA certificates as PEM text. Defaults to the `PARTNER_REGISTRY_CA_PEM` \
         environment variable. Conflicts with `ca_file`.",
    ))
    .attr(Attribute::string("client_cert").optional().description(
        "A client certificate for a registry that requires mutual TLS: a path to a PEM file, or \
         the PEM text itself. Needs `client_key`. Defaults to the `PARTNER_REGISTRY_CLIENT_CERT` \
         environment variable.",
    ))
    .attr(
        Attribute::string("client_key")
            .optional()
            .sensitive()
            .description(
                "The private key of `client_cert`: a path to a PEM file, or the PEM text itself. \
         Defaults to the `PARTNER_REGISTRY_CLIENT_KEY` environment variable.",
            ),
    )
    .attr(Attribute::string("request_timeout").optional().description(
        "The longest one request to the registry may take, as a duration such as `30s` or \
         `2m`. Defaults to the `PARTNER_REGISTRY_REQUEST_TIMEOUT` environment variable, else \
         `30s`.",
    ))
    .attr(Attribute::number("max_retries").optional().description(
        "How many times a request that failed in a way that is safe to repeat (no connection, \
         a `429` or `5xx` answer, a create, which carries an idempotency key) is sent again, with \
         a doubling backoff: 0 to 10. Defaults to the `PARTNER_REGISTRY_MAX_RETRIES` \
         environment variable, else 4.",
    ))
    .attr(
        Attribute::number("max_requests_per_second")
            .optional()
            .description(
                "The most requests a second the provider sends to the registry, retries \
                 included, for large configurations that would otherwise run into the \
                 registry's (or a gateway's) rate limit. Defaults to the \
                 `PARTNER_MAX_REQUESTS_PER_SECOND` environment variable, else unlimited. A `429` \
                 answer is retried after its `Retry-After` either way.",
            ),
    )
}

/// The most `max_retries` may be.
const MAX_RETRIES: i64 = 10;

/// `request_timeout` as a duration above zero.
fn request_timeout(text: &str) -> Result<std::time::Duration, String> {
    partner_rules::parse_duration(text)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            format!("request_timeout {text:?} must be a duration above zero such as 30s or 2m")
        })
}

/// `max_retries` within 0 to [`MAX_RETRIES`].
fn max_retries(n: i64) -> Result<u32, String> {
    u32::try_from(n)
        .ok()
        .filter(|n| i64::from(*n) <= MAX_RETRIES)
        .ok_or_else(|| format!("max_retries {n} must be between 0 and {MAX_RETRIES}"))
}

/// `max_requests_per_second` from the block or the environment; `Err` with
/// the reason when it is not a positive number.
fn max_requests_per_second(v: &tfplugin::Val<f64>) -> Result<Option<f64>, String> {
    let value = match v.known() {
        Some(n) => *n,
        None => match std::env::var(RATE_ENV).ok().filter(|s| !s.is_empty()) {
            Some(text) => text
                .trim()
                .parse()
                .map_err(|_| format!("{RATE_ENV} {text:?} is not a number"))?,
            None => return Ok(None),
        },
    };
    if value.is_finite() && value > 0.0 {
        Ok(Some(value))
    } else {
        Err(format!(
            "max_requests_per_second must be a positive number, not {value}"
        ))
    }
}

const RATE_ENV: &str = "PARTNER_MAX_REQUESTS_PER_SECOND";

fn setting(v: &tfplugin::Val<String>, env: &str) -> Option<String> {
    v.known()
        .cloned()
        .or_else(|| std::env::var(env).ok())
        .filter(|s| !s.is_empty())
}

/// Checks the provider block offline.
fn validate_config(config: &Value, diags: &mut Diagnostics) {
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
    for problem in transport_problems(&c) {
        diags.error_at(
            AttrPath::attr(problem.0),
            "Invalid provider setting",
            problem.1,
        );
    }
}

/// What is wrong with the transport settings the configuration itself
/// holds (values from the environment are checked when configuring).
fn transport_problems(c: &ProviderConfig) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if c.ca_file.is_known() && c.ca_pem.is_known() {
        out.push(("ca_pem", "set ca_file or ca_pem, not both".to_string()));
    }
    if c.client_cert.is_known() != c.client_key.is_known()
        && !c.client_cert.is_unknown()
        && !c.client_key.is_unknown()
    {
        out.push((
            if c.client_cert.is_known() {
                "client_key"
            } else {
                "client_cert"
            },
            "client_cert and client_key go together".to_string(),
        ));
    }
    if let Some(Err(e)) = c.request_timeout.as_deref().map(request_timeout) {
        out.push(("request_timeout", e));
    }
    if let Some(Err(e)) = c.max_retries.known().map(|n| max_retries(*n)) {
        out.push(("max_retries", e));
    }
    out
}

/// The transport settings from the configuration and the environment;
/// files are read here, and every error names its setting.
fn transport(c: &ProviderConfig) -> Result<Transport, (&'static str, String)> {
    let file_or_pem = |attribute: &'static str, value: String| {
        if value.trim_start().starts_with("-----BEGIN") {
            return Ok(value);
        }
        std::fs::read_to_string(&value).map_err(|e| {
            (
                attribute,
                format!("{attribute}: cannot read {value:?}: {e}"),
            )
        })
    };
    let ca_pem = match (
        setting(&c.ca_file, "PARTNER_REGISTRY_CA_FILE"),
        setting(&c.ca_pem, "PARTNER_REGISTRY_CA_PEM"),
    ) {
        (Some(path), None) => Some(
            std::fs::read_to_string(&path)
                .map_err(|e| ("ca_file", format!("ca_file: cannot read {path:?}: {e}")))?,
        ),
        (None, pem) => pem,
        (Some(_), Some(_)) => return Err(("ca_pem", "set ca_file or ca_pem, not both".into())),
    };
    let identity_pem = match (
        setting(&c.client_cert, "PARTNER_REGISTRY_CLIENT_CERT"),
        setting(&c.client_key, "PARTNER_REGISTRY_CLIENT_KEY"),
    ) {
        (Some(cert), Some(key)) => Some(format!(
            "{}\n{}",
            file_or_pem("client_cert", cert)?,
            file_or_pem("client_key", key)?
        )),
        (None, None) => None,
        (Some(_), None) => {
            return Err((
                "client_key",
                "client_cert and client_key go together".into(),
            ));
        }
        (None, Some(_)) => {
            return Err((
                "client_cert",
                "client_cert and client_key go together".into(),
            ));
        }
    };
    let defaults = Transport::default();
    let request_timeout = match setting(&c.request_timeout, "PARTNER_REGISTRY_REQUEST_TIMEOUT") {
        Some(text) => request_timeout(&text).map_err(|e| ("request_timeout", e))?,
        None => defaults.request_timeout,
    };
    let retries = match c.max_retries.known() {
        Some(n) => Some(*n),
        None => match std::env::var("PARTNER_REGISTRY_MAX_RETRIES") {
            Ok(text) if !text.is_empty() => Some(text.trim().parse::<i64>().map_err(|_| {
                (
                    "max_retries",
                    format!("PARTNER_REGISTRY_MAX_RETRIES {text:?} must be a whole number"),
                )
            })?),
            _ => None,
        },
    };
    let max_retries = match retries {
        Some(n) => max_retries(n).map_err(|e| ("max_retries", e))?,
        None => defaults.max_retries,
    };
    Ok(Transport {
        ca_pem,
        identity_pem,
        request_timeout,
        max_retries,
    })
}

/// Builds the configured state from the provider block and environment, and
/// checks once that the registry answers and accepts the token, so that a
/// wrong endpoint or token is one clear error instead of one per resource.
///
/// `stop` turns true when Terraform asks the provider to stop (Ctrl-C):
/// registry calls then give up instead of finishing their retries.
async fn configure(
    config: &Value,
    stop: StopSignal,
    diags: &mut Diagnostics,
) -> Option<Configured> {
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
    if token.as_deref().is_none_or(|t| t.trim().is_empty()) {
        diags.error_at(
            AttrPath::attr("token"),
            "Missing partner registry token",
            "No API token is set: set the provider's `token` or the PARTNER_REGISTRY_TOKEN \
             environment variable to a token from `partner-registry token create`.",
        );
        return None;
    }
    let change_ref = setting(&c.change_ref, "PARTNER_CHANGE_REF");
    let rate = match max_requests_per_second(&c.max_requests_per_second) {
        Ok(rate) => rate,
        Err(why) => {
            diags.error_at(
                AttrPath::attr("max_requests_per_second"),
                "Invalid max_requests_per_second",
                why,
            );
            return None;
        }
    };
    let transport = match transport(&c) {
        Ok(transport) => transport,
        Err((attribute, e)) => {
            diags.error_at(AttrPath::attr(attribute), "Invalid provider setting", e);
            return None;
        }
    };
    let client = match ApiClient::new(&endpoint, token, change_ref, transport, stop) {
        Ok(client) => match rate {
            Some(rate) => client.with_max_requests_per_second(rate),
            None => client,
        },
        Err(e) => {
            diags.error_at(
                AttrPath::attr("endpoint"),
                "Invalid partner registry connection",
                e,
            );
            return None;
        }
    };
    if let Err(e) = client.check_access().await {
        diags.error("Cannot use the partner registry", e.to_string());
        return None;
    }
    tfplugin::debug!("provider configured for {}", client.endpoint());
    Some(Configured {
        api: client,
        planned_orgs: PlannedOrgs::default(),
    })
}

impl Provider for PartnerProvider {
    type Data = Configured;

    fn schema(&self) -> Schema {
        provider_schema()
    }
    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        validate_config(config, diags);
    }
    async fn configure(
        &self,
        config: &Value,
        stop: StopSignal,
        diags: &mut Diagnostics,
    ) -> Option<Configured> {
        configure(config, stop, diags).await
    }
    fn resources(&self) -> Vec<Arc<dyn DynResource<Configured>>> {
        vec![
            Arc::new(resources::partner_org::PartnerOrg),
            Arc::new(resources::partner_client::PartnerClient),
        ]
    }
    fn data_sources(&self) -> Vec<Arc<dyn DynDataSource<Configured>>> {
        vec![
            Arc::new(data_sources::partner_org::PartnerOrgData),
            Arc::new(data_sources::partner_clients::PartnerClientsData),
            Arc::new(data_sources::partner_client::PartnerClientData),
            Arc::new(data_sources::partner_orgs::PartnerOrgsData),
        ]
    }
    fn ephemeral_resources(&self) -> Vec<Arc<dyn DynEphemeral<Configured>>> {
        vec![Arc::new(
            ephemeral::partner_client_secret::PartnerClientSecret,
        )]
    }
    fn list_resources(&self) -> Vec<Arc<dyn tfplugin::DynListResource<Configured>>> {
        vec![
            Arc::new(crate::list::partner_org::PartnerOrgList),
            Arc::new(crate::list::partner_client::PartnerClientList),
        ]
    }
    fn actions(&self) -> Vec<Arc<dyn tfplugin::DynAction<Configured>>> {
        vec![
            Arc::new(crate::actions::partner_client_rotate_secret::RotateSecret),
            Arc::new(crate::actions::partner_client_revoke::RevokeClient),
            Arc::new(crate::actions::partner_org_offboard::OffboardOrg),
        ]
    }
    fn functions(&self) -> Vec<tfplugin::Function> {
        crate::functions::all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_resources_have_documented_schemas() {
        for resource in PartnerProvider.resources() {
            let (name, schema) = (resource.type_name(), resource.schema());
            assert!(schema.description.len() > 20, "{name}");
            for a in &schema.attributes {
                assert!(a.description.len() > 10, "{name}.{} undocumented", a.name);
                assert!(a.required || a.optional || a.computed, "{name}.{}", a.name);
                assert!(!(a.required && a.computed), "{name}.{}", a.name);
            }
        }
        let client = resources::partner_client::schema();
        assert!(client.attribute("org_id").unwrap().requires_replace);
        assert!(client.attribute("client_secret").unwrap().sensitive);
        assert!(provider_schema().attribute("token").unwrap().sensitive);
    }
}
