//! The provider's configured state: where the registry is, how to
//! authenticate, and the HTTP client used for every call. Built once by
//! ConfigureProvider and shared (behind an `Arc`) by all operations.
use std::time::Duration;

/// Default registry endpoint when neither config nor environment set one.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:8080";

/// Configured access to the partner registry's HTTP API.
#[derive(Clone, Debug)]
pub struct ApiClient {
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:8080`.
    pub endpoint: String,
    /// Bearer token, if any.
    pub token: Option<String>,
    /// Sent as `X-Change-Ref` so audit events name the change.
    pub change_ref: Option<String>,
    /// Connection-reusing HTTP client (rustls), with timeouts.
    pub http: reqwest::Client,
}

impl ApiClient {
    pub fn new(
        endpoint: String,
        token: Option<String>,
        change_ref: Option<String>,
    ) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .user_agent(concat!(
                "terraform-provider-partner/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|e| format!("could not build the HTTP client: {e}"))?;
        Ok(ApiClient {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            token,
            change_ref,
            http,
        })
    }

    /// Full URL for an API path such as `/v1/orgs`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.endpoint, path)
    }
}
