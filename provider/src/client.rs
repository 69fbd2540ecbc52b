//! The registry's HTTP API as the provider uses it: typed records, retries and
//! errors that tell a Terraform user what to check.
//!
//! Every create carries an `Idempotency-Key` that stays the same across
//! retries, so a response lost on the way back never makes a second record;
//! every update and rotation carries `If-Match` with the version just read,
//! so a concurrent writer's change is refused instead of overwritten and a
//! retried rotation can never rotate twice.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::RngCore;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::run_memo::RunMemo;
pub use partner_api::{
    ClientFields, ClientProfile, ClientStatus, ClientView, OrgFields, OrgProfile, OrgStatus,
    OrgView, Page, Role, WhoAmI,
};

/// The first retry's delay; each following one doubles it.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest a `Retry-After` header may make us wait.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// Filters of the client listing; `None` means no filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientFilter {
    pub org_id: Option<String>,
    pub status: Option<String>,
    pub expiring_within: Option<String>,
}

/// One field the registry refused, with its rule.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(
        "Cannot reach the partner registry at {endpoint} ({reason}). Check that the registry \
         is running and that the provider's `endpoint` (or PARTNER_REGISTRY_ENDPOINT) is right."
    )]
    Unreachable { endpoint: String, reason: String },
    #[error(
        "The partner registry at {endpoint} rejected the API token. Check the provider's `token` \
         (or PARTNER_REGISTRY_TOKEN): it may be missing, mistyped, revoked, expired, or meant for \
         another registry. (request id {request_id})"
    )]
    Unauthorized {
        endpoint: String,
        request_id: String,
    },
    #[error("The partner registry at {endpoint} refused this with the given token: {detail}")]
    Forbidden { endpoint: String, detail: String },
    #[error("{detail}")]
    Invalid {
        detail: String,
        errors: Vec<FieldError>,
    },
    #[error(
        "The record was changed in the registry since Terraform read it ({detail}). Run \
         `terraform plan` again to see the current values."
    )]
    Stale { detail: String },
    #[error(
        "Terraform asked the provider to stop; the call to the partner registry at {endpoint} was abandoned."
    )]
    Stopped { endpoint: String },
    #[error("The partner registry at {endpoint} answered {status}: {detail}")]
    Unexpected {
        endpoint: String,
        status: u16,
        detail: String,
    },
}

impl ApiError {
    /// The field errors of a refused request (empty for other errors).
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Self::Invalid { errors, .. } => errors,
            _ => &[],
        }
    }
}

/// Default registry endpoint when neither config nor environment set one.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:8080";

/// How the provider talks to the registry beyond its endpoint and token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transport {
    /// CA certificates (PEM) trusted for the registry's certificate, besides
    /// the system's.
    pub ca_pem: Option<String>,
    /// A client certificate and its key (PEM, one after the other), for a
    /// registry that requires mutual TLS.
    pub identity_pem: Option<String>,
    /// The longest one request may take.
    pub request_timeout: Duration,
    /// How many times a failed request is sent again when that is safe.
    pub max_retries: u32,
}

impl Default for Transport {
    fn default() -> Self {
        Transport {
            ca_pem: None,
            identity_pem: None,
            request_timeout: Duration::from_secs(30),
            max_retries: 4,
        }
    }
}

/// The provider's configured access to one registry with one token: built
/// once by ConfigureProvider and shared by every operation. Clones share the
/// connection pool.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    endpoint: String,
    token: Option<String>,
    change_ref: Option<String>,
    stop: tokio::sync::watch::Receiver<bool>,
    /// The registry's time as of its latest answer (its `Date` header), so
    /// that time-based warnings follow the registry's clock, not ours.
    registry_time: Arc<Mutex<Option<OffsetDateTime>>>,
    max_retries: u32,
    /// The orgs and org client lists read for plans (see `run_memo`).
    memo: Arc<RunMemo>,
    /// With `max_requests_per_second`: when the next request may start.
    pace: Option<Arc<Pace>>,
}

/// Spaces requests at least `interval` apart (every attempt counts, retries
/// included), so that a large run stays under a registry's rate limit.
#[derive(Debug)]
struct Pace {
    interval: Duration,
    next: tokio::sync::Mutex<tokio::time::Instant>,
}

impl Pace {
    /// Waits for this request's turn.
    async fn wait(&self) {
        let turn = {
            let mut next = self.next.lock().await;
            let turn = (*next).max(tokio::time::Instant::now());
            *next = turn + self.interval;
            turn
        };
        tokio::time::sleep_until(turn).await;
    }
}

impl ApiClient {
    pub fn new(
        endpoint: &str,
        token: Option<String>,
        change_ref: Option<String>,
        transport: Transport,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> Result<Self, String> {
        let endpoint = endpoint.trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&endpoint)
            .map_err(|e| format!("`endpoint` {endpoint:?} is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!(
                "`endpoint` {endpoint:?} must start with http:// or https://"
            ));
        }
        let mut http = reqwest::Client::builder();
        if let Some(pem) = &transport.ca_pem {
            let cas = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .ok()
                .filter(|cas| !cas.is_empty())
                .ok_or(
                    "`ca_file`/`ca_pem` holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                )?;
            for ca in cas {
                http = http.add_root_certificate(ca);
            }
        }
        if let Some(pem) = &transport.identity_pem {
            let identity = reqwest::Identity::from_pem(pem.as_bytes()).map_err(|e| {
                format!("`client_cert` and `client_key` are not a PEM certificate and its key: {e}")
            })?;
            http = http.identity(identity);
        }
        let http = http
            .connect_timeout(Duration::from_secs(5).min(transport.request_timeout))
            .timeout(transport.request_timeout)
            // Well under the registry's default idle timeout (60 s), so that
            // a pooled connection is never reused just as the registry closes it.
            .pool_idle_timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .user_agent(concat!(
                "terraform-provider-partner/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            http,
            endpoint,
            token,
            change_ref,
            stop,
            registry_time: Arc::default(),
            max_retries: transport.max_retries,
            memo: Arc::default(),
            pace: None,
        })
    }

    /// This client, sending at most `per_second` requests a second.
    pub fn with_max_requests_per_second(mut self, per_second: f64) -> Self {
        self.pace = Some(Arc::new(Pace {
            interval: Duration::from_secs_f64(1.0 / per_second),
            next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
        }));
        self
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Now, by the registry's clock as of its latest answer (else ours).
    /// The change reference every write of this run carries, if configured.
    pub fn change_ref(&self) -> Option<&str> {
        self.change_ref.as_deref()
    }

    /// The approvals recorded for `change_ref` on the record `resource`.
    pub async fn approvals(
        &self,
        change_ref: &str,
        resource: &str,
    ) -> Result<Vec<Approval>, ApiError> {
        let path = format!(
            "/v1/approvals?change_ref={}&resource={}",
            percent_encode(change_ref),
            percent_encode(resource)
        );
        let page: Page<Approval> = self.send(Method::GET, &path, None, Write::None).await?;
        Ok(page.items)
    }

    pub fn now(&self) -> OffsetDateTime {
        self.registry_time
            .lock()
            .ok()
            .and_then(|time| *time)
            .unwrap_or_else(OffsetDateTime::now_utc)
    }

    /// Checks that the registry answers and accepts the token.
    pub async fn check_access(&self) -> Result<(), ApiError> {
        match self
            .exchange(Method::GET, "/v1/orgs?limit=1", None, &Write::None)
            .await?
        {
            answer if answer.status.is_success() || answer.status == StatusCode::FORBIDDEN => {
                Ok(())
            }
            answer => self.decode::<Value>(&answer).map(|_| ()),
        }
    }

    /// Who the token is (`GET /v1/whoami`).
    pub async fn whoami(&self) -> Result<WhoAmI, ApiError> {
        self.send(Method::GET, "/v1/whoami", None, Write::None)
            .await
    }

    /// Creates an org with the id the caller chose (see `org_facts`).
    pub async fn create_org(&self, id: &str, fields: &OrgFields) -> Result<OrgView, ApiError> {
        let mut body = without_nulls(fields);
        if let Value::Object(map) = &mut body {
            map.insert("id".into(), Value::String(id.to_string()));
        }
        let created = self
            .send(
                Method::POST,
                "/v1/orgs",
                Some(&body),
                Write::Create(idempotency_key()),
            )
            .await;
        self.memo.org_written(id);
        created
    }

    /// The org with this id; `None` when there is none.
    pub async fn get_org(&self, id: &str) -> Result<Option<OrgView>, ApiError> {
        self.get_optional(&format!("/v1/orgs/{}", percent_encode(id)))
            .await
    }

    /// The org with this id as this provider process first read it for a
    /// plan (see `run_memo` for when it is read again).
    pub async fn org_for_plan(&self, id: &str) -> Result<Option<OrgView>, ApiError> {
        self.memo.org(id, || self.get_org(id)).await
    }

    /// The org's clients as this provider process first read them for a
    /// plan, with its own changes to them since (see `run_memo`).
    pub async fn clients_for_plan(&self, org_id: &str) -> Result<Arc<Vec<ClientView>>, ApiError> {
        let filter = ClientFilter {
            org_id: Some(org_id.to_string()),
            ..ClientFilter::default()
        };
        self.memo
            .clients_of(org_id, || self.list_clients(&filter))
            .await
    }

    /// The org that is not offboarded with this name; `None` when there is none.
    pub async fn find_org_by_name(&self, name: &str) -> Result<Option<OrgView>, ApiError> {
        let path = format!("/v1/orgs?name={}", percent_encode(name));
        let page: Page<OrgView> = self.send(Method::GET, &path, None, Write::None).await?;
        Ok(page
            .items
            .into_iter()
            .find(|org| org.profile.name == name && org.status != OrgStatus::Offboarded))
    }

    /// Changes the org from `base` (its fields at `version`) into `fields`,
    /// guarded by `version`; `None` when they agree and nothing is sent.
    pub async fn patch_org(
        &self,
        id: &str,
        version: i64,
        base: &OrgFields,
        fields: &OrgFields,
    ) -> Result<Option<OrgView>, ApiError> {
        let path = format!("/v1/orgs/{}", percent_encode(id));
        let patched = self.patch(&path, version, base, fields).await;
        self.memo.org_written(id);
        patched
    }

    /// Offboards the org (revoking its clients); succeeds again on an
    /// offboarded org, and when the org does not exist at all.
    pub async fn offboard_org(&self, id: &str) -> Result<(), ApiError> {
        let path = format!("/v1/orgs/{}", percent_encode(id));
        let offboarded = self.delete(&path).await;
        self.memo.org_written(id);
        offboarded
    }

    /// Creates a client; with `secret` the registry stores the caller's
    /// secret (as a keyed hash) instead of making one.
    pub async fn create_client(
        &self,
        org_id: &str,
        fields: &ClientFields,
        secret: Option<&str>,
    ) -> Result<ClientView, ApiError> {
        let mut body = without_nulls(fields);
        if let Value::Object(map) = &mut body {
            map.insert("org_id".into(), Value::String(org_id.to_string()));
            if let Some(secret) = secret {
                map.insert("client_secret".into(), Value::String(secret.to_string()));
            }
        }
        self.send(
            Method::POST,
            "/v1/clients",
            Some(&body),
            Write::Create(idempotency_key()),
        )
        .await
    }

    /// Gives the client a new secret (the caller's, or a fresh one the
    /// answer carries); the previous one keeps working for `grace_period`.
    ///
    /// Guarded by the version just read, so that a retry after a lost
    /// answer can never rotate twice and cut off the secret in use.
    pub async fn rotate_client_secret(
        &self,
        current: &ClientView,
        grace_period: &str,
        secret: Option<&str>,
    ) -> Result<ClientView, ApiError> {
        let mut body = Map::new();
        body.insert(
            "grace_period".into(),
            Value::String(grace_period.to_string()),
        );
        if let Some(secret) = secret {
            body.insert("client_secret".into(), Value::String(secret.to_string()));
        }
        let path = format!("/v1/clients/{}/rotate", percent_encode(&current.id));
        let rotated = self
            .send(
                Method::POST,
                &path,
                Some(&Value::Object(body)),
                Write::Update(current.version),
            )
            .await?;
        self.memo.client_written(&rotated).await;
        Ok(rotated)
    }

    /// The client with this id or client_id; `None` when there is none.
    pub async fn get_client(&self, id: &str) -> Result<Option<ClientView>, ApiError> {
        self.get_optional(&format!("/v1/clients/{}", percent_encode(id)))
            .await
    }

    /// The client `id` of org `org_id` for a refresh: from the org's client
    /// list, which this provider process reads once for all its clients'
    /// refreshes and plans (see `run_memo` for the freshness rule), so that
    /// refreshing a thousand clients of one org is a few listings rather than
    /// a thousand reads. A client the list does not hold (another org's, or
    /// one the token may not list) is read on its own.
    pub async fn client_for_refresh(
        &self,
        org_id: &str,
        id: &str,
    ) -> Result<Option<ClientView>, ApiError> {
        if !org_id.is_empty() {
            if let Ok(listed) = self.clients_for_plan(org_id).await {
                if let Some(client) = listed.iter().find(|c| c.id == id) {
                    return Ok(Some(client.clone()));
                }
            }
        }
        self.get_client(id).await
    }

    /// Changes the client from `base` (its fields at `version`) into
    /// `fields`, guarded by `version`; `None` when they agree and nothing is
    /// sent.
    pub async fn patch_client(
        &self,
        id: &str,
        version: i64,
        base: &ClientFields,
        fields: &ClientFields,
    ) -> Result<Option<ClientView>, ApiError> {
        let path = format!("/v1/clients/{}", percent_encode(id));
        let patched = self.patch(&path, version, base, fields).await?;
        if let Some(client) = &patched {
            self.memo.client_written(client).await;
        }
        Ok(patched)
    }

    /// Sends only what differs between a record's fields at `version` and
    /// as wanted, as a JSON merge patch guarded by that version (`If-Match`,
    /// so a record changed since is refused as [`ApiError::Stale`]); sends
    /// nothing when they agree.
    async fn patch<R: DeserializeOwned, F: Serialize>(
        &self,
        path: &str,
        version: i64,
        base: &F,
        fields: &F,
    ) -> Result<Option<R>, ApiError> {
        let as_json = |f: &F| serde_json::to_value(f).unwrap_or_default();
        let patch = merge_patch(&as_json(base), &as_json(fields));
        if patch.as_object().is_some_and(Map::is_empty) {
            return Ok(None);
        }
        self.send(Method::PATCH, path, Some(&patch), Write::Update(version))
            .await
            .map(Some)
    }

    /// Revokes the client; succeeds again on a revoked or missing client.
    pub async fn revoke_client(&self, id: &str) -> Result<(), ApiError> {
        let path = format!("/v1/clients/{}", percent_encode(id));
        self.delete(&path).await?;
        self.memo.client_revoked(id).await;
        Ok(())
    }

    /// Every client matching the filter, following pagination.
    pub async fn list_clients(&self, filter: &ClientFilter) -> Result<Vec<ClientView>, ApiError> {
        let query = [
            ("org_id", &filter.org_id),
            ("status", &filter.status),
            ("expiring_within", &filter.expiring_within),
        ];
        self.list_all("/v1/clients", &query).await
    }

    /// The active clients the org `id` operates as an intermediary for
    /// other orgs (the blast radius of the intermediary).
    pub async fn clients_operated_by(&self, id: &str) -> Result<Vec<OperatedClient>, ApiError> {
        let path = format!("/v1/blast-radius?operated_by={}", percent_encode(id));
        let radius: BlastRadius = self.send(Method::GET, &path, None, Write::None).await?;
        Ok(radius.clients)
    }

    /// Every org, or every org with this status, following pagination.
    pub async fn list_orgs(&self, status: Option<&str>) -> Result<Vec<OrgView>, ApiError> {
        let status = status.map(str::to_string);
        self.list_all("/v1/orgs", &[("status", &status)]).await
    }

    /// Every item of a listing with these filters (`None`: no filter),
    /// following pagination.
    async fn list_all<T: DeserializeOwned>(
        &self,
        base: &str,
        filters: &[(&str, &Option<String>)],
    ) -> Result<Vec<T>, ApiError> {
        // The most the API serves in one page: fewer round trips per listing.
        let mut query = vec![("limit".to_string(), "1000".to_string())];
        for (key, value) in filters {
            if let Some(value) = value {
                query.push((key.to_string(), value.clone()));
            }
        }
        let mut items = Vec::new();
        loop {
            let encoded: Vec<String> = query
                .iter()
                .map(|(k, v)| format!("{k}={}", percent_encode(v)))
                .collect();
            let path = format!("{base}?{}", encoded.join("&"));
            let page: Page<T> = self.send(Method::GET, &path, None, Write::None).await?;
            items.extend(page.items);
            match page.next_cursor {
                Some(cursor) => {
                    query.retain(|(k, _)| k != "cursor");
                    query.push(("cursor".to_string(), cursor));
                }
                None => return Ok(items),
            }
        }
    }

    async fn get_optional<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, ApiError> {
        match self.exchange(Method::GET, path, None, &Write::None).await? {
            answer if answer.status == StatusCode::NOT_FOUND => Ok(None),
            answer => self.decode(&answer).map(Some),
        }
    }

    async fn delete(&self, path: &str) -> Result<(), ApiError> {
        match self
            .exchange(Method::DELETE, path, None, &Write::None)
            .await?
        {
            answer if answer.status == StatusCode::NOT_FOUND => Ok(()),
            answer => self.decode::<Value>(&answer).map(|_| ()),
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        write: Write,
    ) -> Result<T, ApiError> {
        let answer = self.exchange(method, path, body, &write).await?;
        self.decode(&answer)
    }

    /// Sends one request, retrying connection failures, 429 and 5xx with
    /// exponential backoff, and returns the final status and body. Gives up
    /// at once when Terraform asks the provider to stop.
    async fn exchange(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        write: &Write,
    ) -> Result<Answer, ApiError> {
        let url = format!("{}{path}", self.endpoint);
        // One id for the call and its retries, sent as X-Request-Id: the
        // registry's log lines carry it, so an operator finds its side.
        let request_id = format!("tfp-{}", &idempotency_key()[..16]);
        trace_body("request body", &method, path, body);
        let retries = async {
            let mut backoff = FIRST_BACKOFF;
            let mut attempt = 0;
            loop {
                let last = attempt > self.max_retries;
                attempt += 1;
                let request = self
                    .request(method.clone(), &url, body, write)
                    .header("X-Request-Id", &request_id);
                let started = std::time::Instant::now();
                if let Some(pace) = &self.pace {
                    pace.wait().await;
                }
                let sent = request.send().await;
                log_call(
                    &method,
                    path,
                    &sent,
                    started.elapsed(),
                    &request_id,
                    attempt,
                );
                match sent {
                    Ok(response) => {
                        self.note_registry_time(&response);
                        let status = response.status();
                        let retryable =
                            status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
                        if retryable && !last {
                            tokio::time::sleep(retry_after(&response).unwrap_or(backoff)).await;
                            backoff *= 2;
                            continue;
                        }
                        let text = response
                            .text()
                            .await
                            .map_err(|e| self.unreachable(&e, &request_id))?;
                        if let Ok(answer) = serde_json::from_str::<Value>(&text) {
                            trace_body("answer body", &method, path, Some(&answer));
                        }
                        return Ok(Answer {
                            status,
                            body: text,
                            request_id,
                        });
                    }
                    // A keyed create may be sent again whatever broke: the
                    // registry answers a replay with the first answer.
                    Err(error)
                        if !last
                            && (error.is_connect()
                                || error.is_timeout()
                                || matches!(write, Write::Create(_))) =>
                    {
                        tokio::time::sleep(backoff).await;
                        backoff *= 2;
                    }
                    Err(error) => return Err(self.unreachable(&error, &request_id)),
                }
            }
        };
        self.unless_stopped(retries).await
    }

    /// The answer of `call`, or [`ApiError::Stopped`] as soon as Terraform
    /// asks the provider to stop.
    async fn unless_stopped<T>(
        &self,
        call: impl Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        let mut stop = self.stop.clone();
        let stopped = async move {
            // A closed channel means no stop can come: wait forever.
            if stop.wait_for(|stopped| *stopped).await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            result = call => result,
            () = stopped => Err(ApiError::Stopped {
                endpoint: self.endpoint.clone(),
            }),
        }
    }

    /// Keeps the registry's `Date` header (an IMF-fixdate such as
    /// `Sun, 29 Nov 2026 08:10:00 GMT`) as the registry's current time.
    fn note_registry_time(&self, response: &reqwest::Response) {
        let format = time::macros::format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        );
        let date = response
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|value| value.to_str().ok())
            .and_then(|text| time::PrimitiveDateTime::parse(text, format).ok());
        if let (Some(date), Ok(mut time)) = (date, self.registry_time.lock()) {
            *time = Some(date.assume_utc());
        }
    }

    fn request(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        write: &Write,
    ) -> RequestBuilder {
        let mut request = self
            .http
            .request(method, url)
            .header("Accept", "application/json");
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(change_ref) = &self.change_ref {
            request = request.header("X-Change-Ref", change_ref);
        }
        match write {
            Write::Create(key) => request = request.header("Idempotency-Key", key),
            Write::Update(version) => {
                request = request.header("If-Match", format!("\"{version}\""))
            }
            Write::None => {}
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request
    }

    /// The answer's record, or the error it stands for; every error names
    /// the request id, which the registry's log has too.
    fn decode<T: DeserializeOwned>(&self, answer: &Answer) -> Result<T, ApiError> {
        let Answer {
            status,
            body,
            request_id,
        } = answer;
        let status = *status;
        if status.is_success() {
            return serde_json::from_str(body).map_err(|e| ApiError::Unexpected {
                endpoint: self.endpoint.clone(),
                status: status.as_u16(),
                detail: format!(
                    "the answer is not the expected JSON ({e}) (request id {request_id})"
                ),
            });
        }
        let problem: Problem = serde_json::from_str(body).unwrap_or_default();
        let detail = problem
            .detail
            .or(problem.title)
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
        let detail = format!("{detail} (request id {request_id})");
        let endpoint = self.endpoint.clone();
        Err(match status {
            StatusCode::UNAUTHORIZED => ApiError::Unauthorized {
                endpoint,
                request_id: request_id.clone(),
            },
            StatusCode::FORBIDDEN => ApiError::Forbidden { endpoint, detail },
            StatusCode::PRECONDITION_FAILED => ApiError::Stale { detail },
            StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST | StatusCode::CONFLICT => {
                ApiError::Invalid {
                    detail,
                    errors: problem.errors,
                }
            }
            _ => ApiError::Unexpected {
                endpoint,
                status: status.as_u16(),
                detail,
            },
        })
    }

    fn unreachable(&self, error: &reqwest::Error, request_id: &str) -> ApiError {
        // The innermost cause says what actually went wrong (refused, no
        // route, a TLS handshake with a server that speaks plain HTTP).
        let mut cause = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(inner) = source {
            cause = inner.to_string();
            source = inner.source();
        }
        let tls = self.endpoint.starts_with("https://")
            && [
                "tls",
                "ssl",
                "certificate",
                "handshake",
                "corrupt",
                "invalidcontenttype",
            ]
            .iter()
            .any(|word| cause.to_ascii_lowercase().contains(word));
        if error.is_connect() || tls {
            let reason = if tls {
                tls_advice(&cause)
            } else {
                format!("connection failed: {cause}")
            };
            return ApiError::Unreachable {
                endpoint: self.endpoint.clone(),
                reason: format!("{reason}; request id {request_id}"),
            };
        }
        let reason = if error.is_timeout() {
            "timed out"
        } else {
            "the connection broke"
        };
        ApiError::Unreachable {
            endpoint: self.endpoint.clone(),
            reason: format!("{reason}; request id {request_id}"),
        }
    }
}

/// Why a TLS handshake with the registry failed (`cause`, rustls' own
/// words) and what to check.
fn tls_advice(cause: &str) -> String {
    let lower = cause.to_ascii_lowercase();
    let advice = if lower.contains("certificaterequired") || lower.contains("certificate required")
    {
        "the registry requires a client certificate: set `client_cert` and `client_key` (or \
         PARTNER_REGISTRY_CLIENT_CERT and PARTNER_REGISTRY_CLIENT_KEY) to one its client CA issued"
    } else if lower.contains("certificate") || lower.contains("issuer") {
        "the registry's certificate is not trusted: give the CA that issued it as `ca_file` or \
         `ca_pem` (or PARTNER_REGISTRY_CA_FILE), and check that the endpoint's host is one the \
         certificate names"
    } else {
        "if the registry serves plain HTTP, use an http:// endpoint"
    };
    format!("the TLS handshake failed: {cause}; {advice}")
}

/// The registry's final answer to one request, and the id it was sent with.
struct Answer {
    status: StatusCode,
    body: String,
    request_id: String,
}

/// What kind of write a request is, for its concurrency headers.
enum Write {
    None,
    Create(String),
    Update(i64),
}

/// An approval of one change, as far as the plan reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct Approval {
    pub attribute: String,
    pub old: String,
    pub new: String,
    pub approver: String,
    pub expires_at: String,
    /// `valid`, `used` or `expired`.
    pub status: String,
}

/// The part of a blast radius the provider reads.
#[derive(Debug, Deserialize)]
struct BlastRadius {
    clients: Vec<OperatedClient>,
}

/// A client an intermediary operates, as its blast radius names it.
#[derive(Debug, Clone, Deserialize)]
pub struct OperatedClient {
    pub client_id: String,
    pub name: String,
    pub org_name: String,
}

/// An RFC 9457 problem document, as far as the provider reads it.
#[derive(Default, Deserialize)]
struct Problem {
    title: Option<String>,
    detail: Option<String>,
    #[serde(default)]
    errors: Vec<FieldError>,
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let seconds: u64 = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

/// One debug line per request sent to the registry (under TF_LOG=debug):
/// method, path, status or failure, duration, request id and attempt.
fn log_call(
    method: &Method,
    path: &str,
    sent: &Result<reqwest::Response, reqwest::Error>,
    elapsed: Duration,
    request_id: &str,
    attempt: u32,
) {
    use tfplugin::logging::{Level, enabled, log, module};
    if !enabled(Level::Debug) {
        return;
    }
    let outcome = match sent {
        Ok(response) => response.status().as_u16().to_string(),
        Err(e) => format!("failed: {e}"),
    };
    let duration_ms = format!("{:.1}", elapsed.as_secs_f64() * 1000.0);
    let attempt = attempt.to_string();
    log(
        Level::Debug,
        module(),
        &format!("registry {method} {path} -> {outcome} in {duration_ms} ms"),
        &[
            ("method", method.as_str()),
            ("path", path),
            ("status", &outcome),
            ("duration_ms", &duration_ms),
            ("request_id", request_id),
            ("attempt", &attempt),
        ],
    );
}

/// Under TF_LOG=trace, a request or answer body with every secret and token
/// replaced by `[redacted]`.
fn trace_body(what: &str, method: &Method, path: &str, body: Option<&Value>) {
    use tfplugin::logging::{Level, enabled};
    if let Some(body) = body.filter(|_| enabled(Level::Trace)) {
        let shown = redacted(body);
        tfplugin::trace!("registry {method} {path} {what}: {shown}");
    }
}

/// `value` with the value of every member that holds a secret or a token
/// (`client_secret`, `token`, …, at any depth) replaced by `[redacted]`.
fn redacted(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let secret = k.contains("secret") || k.contains("token");
                    let v = if secret && !v.is_null() {
                        Value::String("[redacted]".into())
                    } else {
                        redacted(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redacted).collect()),
        other => other.clone(),
    }
}

/// A fresh random key for one create, the same across its retries.
fn idempotency_key() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The fields as a JSON object without its null members, for creates (where
/// an absent field takes the registry's default).
fn without_nulls<T: Serialize>(fields: &T) -> Value {
    match serde_json::to_value(fields) {
        Ok(Value::Object(map)) => Value::Object(
            map.into_iter()
                .filter(|(_, value)| !value.is_null())
                .collect::<Map<_, _>>(),
        ),
        Ok(other) => other,
        Err(_) => Value::Object(Map::new()),
    }
}

/// The RFC 7396 merge patch that turns `current` into `desired`: the
/// members of `desired` that differ, with nested objects (labels) patched
/// key by key and keys that `desired` drops set to null.
fn merge_patch(current: &Value, desired: &Value) -> Value {
    let mut patch = Map::new();
    let empty = Map::new();
    let current = current.as_object().unwrap_or(&empty);
    for (key, want) in desired.as_object().unwrap_or(&empty) {
        let have = current.get(key).unwrap_or(&Value::Null);
        if have == want {
            continue;
        }
        let value = match (have, want) {
            (Value::Object(have_map), Value::Object(want_map)) => {
                let mut nested = Map::new();
                for gone in have_map.keys().filter(|k| !want_map.contains_key(*k)) {
                    nested.insert(gone.clone(), Value::Null);
                }
                for (k, v) in want_map {
                    if have_map.get(k) != Some(v) {
                        nested.insert(k.clone(), v.clone());
                    }
                }
                Value::Object(nested)
            }
            _ => want.clone(),
        };
        patch.insert(key.clone(), value);
    }
    Value::Object(patch)
}

/// Escapes a value for a URL path segment or query value.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_keeps_unreserved_and_escapes_the_rest() {
        assert_eq!(percent_encode("acme-1_x.y~"), "acme-1_x.y~");
        assert_eq!(percent_encode("a b/c?d&e"), "a%20b%2Fc%3Fd%26e");
    }

    #[test]
    fn creates_leave_out_nulls_so_the_registry_applies_its_defaults() {
        let fields = ClientFields {
            profile: ClientProfile {
                name: "c".into(),
                purpose: "p".into(),
                owner: "o@example.com".into(),
                scopes: vec!["a".into()],
                ..ClientProfile::default()
            },
            auth_method: None,
            jwks: None,
            jwks_uri: None,
            expires_at: None,
        };
        let body = without_nulls(&fields);
        assert!(body.get("expires_at").is_none(), "{body}");
        assert_eq!(body["name"], "c");
    }

    #[test]
    fn merge_patch_sends_only_changes_and_nulls_dropped_labels() {
        let current =
            serde_json::json!({"name": "a", "tenant": "t", "labels": {"x": "1", "y": "2"}});
        let desired = serde_json::json!({"name": "a", "tenant": null, "labels": {"y": "3"}});
        assert_eq!(
            merge_patch(&current, &desired),
            serde_json::json!({"tenant": null, "labels": {"x": null, "y": "3"}})
        );
        assert_eq!(merge_patch(&current, &current), serde_json::json!({}));
    }

    #[tokio::test]
    async fn stop_abandons_a_call_that_would_otherwise_wait_for_its_timeout() {
        // A peer that accepts connections and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let held = tokio::spawn(async move {
            let mut connections = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                connections.push(socket);
            }
        });
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let api =
            ApiClient::new(&endpoint, None, None, Transport::default(), stopped).expect("client");
        let call = tokio::spawn(async move { api.get_org("org_x").await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!call.is_finished(), "the peer never answers");
        stop.send_replace(true);
        let result = tokio::time::timeout(Duration::from_secs(2), call)
            .await
            .expect("stopped promptly")
            .expect("task");
        assert!(
            matches!(result, Err(ApiError::Stopped { .. })),
            "{result:?}"
        );
        held.abort();
    }

    #[test]
    fn secrets_and_tokens_are_redacted_at_any_depth() {
        let body = serde_json::json!({
            "name": "shop",
            "client_secret": "pcs_live",
            "items": [{"token": "prt_live", "scopes": ["a"]}],
            "client_secret_wo_version": null,
        });
        let shown = redacted(&body).to_string();
        assert!(
            !shown.contains("pcs_live") && !shown.contains("prt_live"),
            "{shown}"
        );
        assert!(shown.contains("\"name\":\"shop\""), "{shown}");
        assert_eq!(redacted(&body)["items"][0]["token"], "[redacted]");
    }

    #[test]
    fn idempotency_keys_are_random_and_hex() {
        let (a, b) = (idempotency_key(), idempotency_key());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    }
}
