//! Request handlers: authorisation by role, body parsing, and the HTTP shape of answers.

use crate::App;
use crate::cache::Snapshot;
use crate::db::{ClientFilter, OrgFilter, Reader, Rows, Tx};
use crate::error::{Error, Result};
use crate::records::*;
use crate::requests::*;
use crate::service::{self, Created, Idem, WriteCtx};
use crate::telemetry::Introspected;
use serde::Deserialize;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use warp::Reply;
use warp::http::StatusCode;
use warp::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, HeaderValue, LOCATION};
use warp::hyper::body::Bytes;
use warp::reply::Response;

/// The parameters of a request's query string, by name.
pub(crate) type Query = HashMap<String, String>;

/// An authenticated caller (checked against a fresh credential index).
#[derive(Clone)]
pub struct Authed {
    pub actor: Actor,
}

/// What the handler of every authenticated route gets: the app, the caller
/// and the request's context.
pub struct Call {
    pub app: App,
    pub authed: Authed,
    pub rc: ReqCtx,
}

impl Call {
    /// Runs `change` in one write transaction, audited as this caller's
    /// change (actor, request id, change reference) made now.
    pub async fn write<T: Send + 'static>(
        &self,
        change: impl FnOnce(&mut dyn Tx, &WriteCtx) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let ctx = write_ctx(&self.app, &self.authed.actor, &self.rc);
        self.app.write(move |tx| change(tx, &ctx)).await
    }
}

/// Per-request context: request id and `X-Change-Ref`.
#[derive(Debug, Clone)]
pub struct ReqCtx {
    pub request_id: String,
    pub change_ref: Option<String>,
}

/// A handler's answer: its response, or its error as problem+json. Every
/// route's handler ends here (`filters`), so an error is shaped in one place.
pub(crate) fn answer(res: Result<Response>) -> Response {
    res.unwrap_or_else(|e| e.to_response())
}

pub(crate) fn json_response(
    status: StatusCode,
    body: &impl serde::Serialize,
    version: Option<i64>,
) -> Response {
    let mut resp = warp::reply::with_status(warp::reply::json(body), status).into_response();
    if let Some(v) = version {
        if let Ok(h) = HeaderValue::from_str(&format!("\"{v}\"")) {
            resp.headers_mut().insert(ETAG, h);
        }
    }
    resp
}

/// 200 with a record as the API shows it at the registry's time, and its
/// version as the ETag that a later `If-Match` names.
fn record_response<R: Served>(app: &App, record: &R) -> Response {
    json_response(
        StatusCode::OK,
        &record.view(now(app)),
        Some(record.version()),
    )
}

fn page<R, T>(rows: Rows<R>, view: impl Fn(R) -> T) -> Page<T> {
    Page {
        items: rows.items.into_iter().map(view).collect(),
        next_cursor: rows.next_cursor.map(|c| c.to_string()),
    }
}

/// One audit event as served by `GET /v1/audit`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditEvent {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub entity_kind: String,
    pub entity_id: String,
    pub org_id: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub request_id: String,
    pub change_ref: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl From<crate::audit::AuditRow> for AuditEvent {
    fn from(e: crate::audit::AuditRow) -> Self {
        let json = |s: Option<String>| s.and_then(|s| serde_json::from_str(&s).ok());
        AuditEvent {
            seq: e.seq,
            at: fmt_ts(e.at),
            actor: e.actor,
            action: e.action,
            entity_kind: e.entity_kind,
            entity_id: e.entity_id,
            org_id: e.org_id,
            before: json(e.before),
            after: json(e.after),
            request_id: e.request_id,
            change_ref: e.change_ref,
            prev_hash: e.prev_hash,
            hash: e.hash,
        }
    }
}

/// `resp` marked never to be stored by a cache: it holds a secret, or names
/// people and the state of their access.
fn no_store(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub(crate) fn created_response(c: Created) -> Response {
    let mut resp = json_response(StatusCode::CREATED, &c.body, Some(c.version));
    if let Ok(h) = HeaderValue::from_str(&c.location) {
        resp.headers_mut().insert(LOCATION, h);
    }
    if c.replayed {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    no_store(resp)
}

pub(crate) fn now(app: &App) -> i64 {
    app.clock.now().unix_timestamp()
}

pub(crate) fn write_ctx(app: &App, actor: &Actor, rc: &ReqCtx) -> WriteCtx {
    WriteCtx {
        key: app.key.clone(),
        actor: actor.clone(),
        request_id: rc.request_id.clone(),
        change_ref: rc.change_ref.clone(),
        now: now(app),
    }
}

fn idem(
    route: &str,
    key: Option<String>,
    body: &serde_json::Map<String, Value>,
) -> Result<Option<Idem>> {
    let Some(key) = key else { return Ok(None) };
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(Error::BadRequest(
            "Idempotency-Key must be 1 to 255 printable ASCII characters".into(),
        ));
    }
    let fingerprint =
        crate::crypto::sha256_hex(format!("{route}\n{}", canonical_hash(body)).as_bytes());
    Ok(Some(Idem { key, fingerprint }))
}

fn query_limit(q: &Query) -> Result<i64> {
    match q.get("limit") {
        None => Ok(100),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=1000).contains(&n) => Ok(n),
            _ => Err(Error::field("limit", "must be an integer from 1 to 1000")),
        },
    }
}

fn query_cursor(q: &Query, name: &str) -> Result<i64> {
    match q.get(name) {
        None => Ok(0),
        Some(s) if s.is_empty() => Ok(0),
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| Error::field(name, "is not a cursor this server issued")),
    }
}

pub(crate) fn reject_unknown_query(q: &Query, known: &[&str]) -> Result<()> {
    let mut unknown: Vec<&str> = q
        .keys()
        .map(String::as_str)
        .filter(|k| !known.contains(k))
        .collect();
    unknown.sort();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(Error::BadRequest(format!(
            "unknown query parameter(s): {}",
            unknown.join(", ")
        )))
    }
}

// ---------- misc ----------

pub async fn healthz() -> std::result::Result<Response, Infallible> {
    Ok(warp::reply::json(&json!({"status": "ok"})).into_response())
}

/// Ready to serve: the database answers and the credential cache is
/// current; otherwise 503 saying which.
pub async fn readyz(app: App) -> Result<Response> {
    let database = app.read(|r| r.audit_head().map(|_| ())).await;
    match (database, app.cache.fresh()) {
        (Ok(()), Ok(_)) => Ok(warp::reply::json(&json!({"status": "ready"})).into_response()),
        (Err(e), _) => Err(Error::Unavailable(format!(
            "the database does not answer: {e}"
        ))),
        (_, Err(e)) => Err(e),
    }
}

/// `GET /metrics` on the API port: for reviewer and admin tokens.
pub async fn metrics(call: Call) -> Result<Response> {
    let Call { app, authed, .. } = call;
    service::forbid_org_token(&authed.actor, "/metrics")?;
    Ok(metrics_text(&app))
}

/// The metrics in the Prometheus text format.
pub fn metrics_text(app: &App) -> Response {
    let mut resp = app.metrics_text().into_response();
    resp.headers_mut().insert(
        warp::http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

pub async fn openapi() -> std::result::Result<Response, Infallible> {
    Ok(warp::reply::json(&crate::openapi::document()).into_response())
}

pub async fn set_clock(call: Call, body: Bytes) -> Result<Response> {
    let map = body_object(&body, &["now"])?;
    let t = match map.get("now") {
        Some(Value::String(s)) => parse_ts(s),
        _ => None,
    }
    .ok_or_else(|| Error::field("now", "must be an RFC 3339 timestamp"))?;
    let manual = call
        .app
        .clock
        .as_manual()
        .ok_or_else(|| Error::NotFound("no such route".into()))?;
    let to =
        time::OffsetDateTime::from_unix_timestamp(t).map_err(|e| Error::Internal(e.to_string()))?;
    // Audited like any other change, before it takes effect.
    call.write(move |tx, ctx| service::record_clock_set(tx, ctx, t))
        .await?;
    manual.set(to);
    Ok(json_response(
        StatusCode::OK,
        &json!({"now": fmt_ts(t)}),
        None,
    ))
}

// ---------- orgs ----------

pub async fn create_org(call: Call, key: Option<String>, body: Bytes) -> Result<Response> {
    let map = body_object(&body, ORG_CREATE_FIELDS)?;
    let idem = idem("POST /v1/orgs", key, &map)?;
    let draft = parse_org_create(&map);
    let created = call
        .write(move |tx, ctx| service::create_org(tx, ctx, draft, idem.as_ref()))
        .await?;
    Ok(created_response(created))
}

pub async fn list_orgs(call: Call, q: Query) -> Result<Response> {
    let Call { app, authed, .. } = call;
    reject_unknown_query(&q, &["name", "status", "limit", "cursor"])?;
    let mut errors = Vec::new();
    let status = list_status(
        &q,
        OrgStatus::parse,
        "must be active, expired or offboarded",
        &mut errors,
    );
    let (limit, cursor) = list_page(&q, &mut errors);
    let filter = OrgFilter {
        scope: None,
        name: q.get("name").filter(|s| !s.is_empty()).cloned(),
        status,
        limit,
        cursor,
    };
    list_response(&app, authed, errors, filter, service::list_orgs).await
}

fn validation(e: Error) -> Vec<crate::error::FieldError> {
    match e {
        Error::Validation(v) => v,
        other => vec![crate::error::FieldError::new("query", other.to_string())],
    }
}

/// The `status` parameter of a list, parsed by `parse` (`bad_status` is the
/// message when it fails). Failures are added to `errors`, so that a 422 names
/// every failing parameter.
fn list_status<S>(
    q: &Query,
    parse: fn(&str) -> Option<S>,
    bad_status: &str,
    errors: &mut Vec<crate::error::FieldError>,
) -> Option<S> {
    match q.get("status").map(String::as_str) {
        None | Some("") => None,
        Some(s) => {
            let st = parse(s);
            if st.is_none() {
                errors.push(crate::error::FieldError::new("status", bad_status));
            }
            st
        }
    }
}

/// The `limit` and `cursor` parameters of a list, failures added to `errors`.
fn list_page(q: &Query, errors: &mut Vec<crate::error::FieldError>) -> (i64, i64) {
    let limit = query_limit(q)
        .map_err(|e| errors.extend(validation(e)))
        .unwrap_or(100);
    let cursor = query_cursor(q, "cursor")
        .map_err(|e| errors.extend(validation(e)))
        .unwrap_or(0);
    (limit, cursor)
}

/// Runs the read `f` for the caller, at the time the request is served.
async fn read_now<T: Send + 'static>(
    app: &App,
    authed: Authed,
    f: impl FnOnce(&mut dyn Reader, &Actor, i64) -> Result<T> + Send + 'static,
) -> Result<T> {
    let (now, actor) = (now(app), authed.actor);
    app.read(move |r| f(r, &actor, now)).await
}

/// A report computed for the caller and never cached (the review, the blast
/// radius): `compute` refuses a `query` that did not parse only once the
/// caller is known to be allowed to ask at all.
async fn report<Q: Send + 'static, T: serde::Serialize + Send + 'static>(
    app: &App,
    authed: Authed,
    query: Result<Q>,
    compute: fn(&mut dyn Reader, &Actor, i64, Result<Q>) -> Result<T>,
) -> Result<Response> {
    let report = read_now(app, authed, move |r, actor, now| {
        compute(r, actor, now, query)
    })
    .await?;
    Ok(no_store(json_response(StatusCode::OK, &report, None)))
}

/// The answer of a list of orgs or clients once its query is read: a 422
/// naming every parameter in `errors`, else the page `list` reads with
/// `filter`, each record as its view.
async fn list_response<R: Served + Send + 'static, F: Send + 'static>(
    app: &App,
    authed: Authed,
    errors: Vec<crate::error::FieldError>,
    filter: F,
    list: fn(&mut dyn Reader, &Actor, &F, i64) -> Result<Rows<R>>,
) -> Result<Response> {
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let (now, actor) = (now(app), authed.actor);
    let rows = app.read(move |r| list(r, &actor, &filter, now)).await?;
    let body = page(rows, |record| record.view(now));
    Ok(json_response(StatusCode::OK, &body, None))
}

pub async fn whoami(call: Call) -> Result<Response> {
    let Call { authed, .. } = call;
    let body = service::whoami(&authed.actor);
    Ok(json_response(StatusCode::OK, &body, None))
}

// ---------- clients ----------

/// The body with a supplied `client_secret` replaced by its HMAC, so that the
/// Idempotency-Key fingerprint never derives from the plaintext.
fn without_plaintext(
    app: &App,
    map: &serde_json::Map<String, Value>,
) -> serde_json::Map<String, Value> {
    let mut m = map.clone();
    if let Some(Value::String(s)) = map.get("client_secret") {
        m.insert(
            "client_secret".into(),
            Value::String(hex::encode(app.key.hash_secret(s))),
        );
    }
    m
}

/// The secret to store: the supplied one (checked already), or a new one whose
/// plaintext is returned to show once.
fn new_secret(app: &App, supplied: Option<String>) -> Result<(NewSecret, Option<String>)> {
    Ok(match supplied {
        Some(s) => (
            NewSecret {
                hmac: app.key.hash_secret(&s),
                source: crate::records::SUPPLIED,
            },
            None,
        ),
        None => {
            let s = crate::crypto::new_client_secret()?;
            (
                NewSecret {
                    hmac: app.key.hash_secret(&s),
                    source: crate::records::GENERATED,
                },
                Some(s),
            )
        }
    })
}

pub async fn create_client(call: Call, key: Option<String>, body: Bytes) -> Result<Response> {
    let app = &call.app;
    let map = body_object(&body, CLIENT_CREATE_FIELDS)?;
    let idem = idem("POST /v1/clients", key, &without_plaintext(app, &map))?;
    let mut draft = parse_client(&map);
    let supplied = supplied_secret(&map, &mut draft.errors);
    // A client with its own key gets no secret; one supplied anyway is
    // passed on, for the use case to refuse.
    let jwt = draft.auth_method.as_deref() == Some(partner_rules::keys::PRIVATE_KEY_JWT);
    let (secret, shown) = match (jwt, supplied) {
        (true, None) => (None, None),
        (_, supplied) => {
            let (secret, shown) = new_secret(app, supplied)?;
            (Some(secret), shown)
        }
    };
    let mut created = call
        .write(move |tx, ctx| {
            service::create_client(tx, ctx, draft, secret.as_ref(), idem.as_ref())
        })
        .await?;
    if let (false, Some(plain)) = (created.replayed, shown) {
        // The one and only time the plaintext leaves the server.
        created.body["client_secret"] = Value::String(plain);
    }
    Ok(created_response(created))
}

pub async fn rotate_client_secret(
    id: String,
    call: Call,
    if_match: Option<String>,
    body: Bytes,
) -> Result<Response> {
    let map = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::Map::new()
    } else {
        body_object(&body, ROTATE_FIELDS)?
    };
    let mut errors = Vec::new();
    let grace = match map.get("grace_period") {
        None | Some(Value::Null) => Some(DEFAULT_GRACE),
        // The provider validates with the same shared parser and limit.
        Some(Value::String(s)) => partner_rules::parse_duration(s)
            .filter(|g| *g <= partner_rules::MAX_GRACE_PERIOD)
            .map(|g| g.as_secs() as i64),
        Some(_) => None,
    };
    if grace.is_none() {
        errors.push(crate::error::FieldError::new(
            "grace_period",
            "must be a duration of hours, minutes and seconds such as 24h, 90m, 1h30m or 0s, at most 168h",
        ));
    }
    let supplied = supplied_secret(&map, &mut errors);
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let (secret, shown) = new_secret(&call.app, supplied)?;
    let grace = grace.unwrap_or(DEFAULT_GRACE);
    let client = call
        .write(move |tx, ctx| {
            service::rotate_secret(tx, ctx, &id, &secret, grace, if_match.as_deref())
        })
        .await?;
    let mut view = client.view(now(&call.app));
    view.client_secret = shown;
    Ok(no_store(json_response(
        StatusCode::OK,
        &view,
        Some(client.version),
    )))
}

pub async fn list_clients(call: Call, q: Query) -> Result<Response> {
    let Call { app, authed, .. } = call;
    reject_unknown_query(
        &q,
        &["org_id", "status", "expiring_within", "limit", "cursor"],
    )?;
    let mut errors = Vec::new();
    let status = list_status(
        &q,
        ClientStatus::parse,
        "must be active, expired or revoked",
        &mut errors,
    );
    let expiring_within = match q.get("expiring_within").map(|s| s.as_str()) {
        None | Some("") => None,
        Some(s) => {
            let d = parse_duration(s);
            if d.is_none() {
                errors.push(crate::error::FieldError::new(
                    "expiring_within",
                    "must be a duration such as 720h, 90m or 1h30m",
                ));
            }
            d
        }
    };
    let (limit, cursor) = list_page(&q, &mut errors);
    let filter = ClientFilter {
        scope: None,
        org_id: q.get("org_id").filter(|s| !s.is_empty()).cloned(),
        status,
        expiring_within,
        limit,
        cursor,
    };
    list_response(&app, authed, errors, filter, service::list_clients).await
}

// ---------- one org or client ----------

/// What the routes of one org or one client need of its type: the fields a
/// PATCH body may hold, and the use cases that read, patch and end one.
pub struct RecordRoutes<R> {
    pub patch_fields: &'static [&'static str],
    pub read_one: fn(&mut dyn Reader, &Actor, &str) -> Result<R>,
    pub update_one: PatchUseCase<R>,
    pub end_one: fn(&mut dyn Tx, &WriteCtx, &str) -> Result<R>,
}

/// A JSON merge patch, as parsed from a PATCH body.
type Patch = serde_json::Map<String, Value>;

/// A use case that applies a patch to the record with an id, at the version
/// `If-Match` names.
type PatchUseCase<R> = fn(&mut dyn Tx, &WriteCtx, &str, &Patch, Option<&str>) -> Result<R>;

/// `/v1/orgs/{id}`: an org is ended by offboarding it.
pub const ORGS: RecordRoutes<Org> = RecordRoutes {
    patch_fields: ORG_FIELDS,
    read_one: service::get_org,
    update_one: service::update_org,
    end_one: service::offboard_org,
};

/// `/v1/clients/{id}`: a client is ended by revoking it.
pub const CLIENTS: RecordRoutes<Client> = RecordRoutes {
    patch_fields: CLIENT_PATCH_FIELDS,
    read_one: service::get_client,
    update_one: service::update_client,
    end_one: service::revoke_client,
};

impl<R: Served + Send + 'static> RecordRoutes<R> {
    /// GET of one record.
    pub async fn get(&self, id: String, call: Call) -> Result<Response> {
        let Call { app, authed, .. } = call;
        let (read, actor) = (self.read_one, authed.actor);
        let record = app.read(move |r| read(r, &actor, &id)).await?;
        Ok(record_response(&app, &record))
    }

    /// PATCH of one record (JSON merge patch, checked against `If-Match`).
    pub async fn patch(
        &self,
        id: String,
        call: Call,
        if_match: Option<String>,
        body: Bytes,
    ) -> Result<Response> {
        let map = body_object(&body, self.patch_fields)?;
        let update = self.update_one;
        let record = call
            .write(move |tx, ctx| update(tx, ctx, &id, &map, if_match.as_deref()))
            .await?;
        Ok(record_response(&call.app, &record))
    }

    /// DELETE of one record: offboards an org, revokes a client.
    pub async fn end(&self, id: String, call: Call) -> Result<Response> {
        let end = self.end_one;
        let record = call.write(move |tx, ctx| end(tx, ctx, &id)).await?;
        Ok(record_response(&call.app, &record))
    }
}

// ---------- introspection ----------

/// An introspection body: a client_id with either its secret or an RFC 7523
/// client assertion, and no other field. Whichever is absent may also be
/// given as null.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntrospectBody<'a> {
    #[serde(borrow)]
    client_id: Cow<'a, str>,
    #[serde(borrow, default)]
    client_secret: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    client_assertion_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    client_assertion: Option<Cow<'a, str>>,
}

/// What the caller presented for a client.
enum Presented<'a> {
    Secret(Cow<'a, str>),
    Assertion(Cow<'a, str>),
}

/// The client_id and credential of an introspection body, if it holds
/// exactly one of the two credentials.
fn presented(body: &[u8]) -> Option<(Cow<'_, str>, Presented<'_>)> {
    let b = serde_json::from_slice::<IntrospectBody<'_>>(body).ok()?;
    let credential = match (b.client_secret, b.client_assertion_type, b.client_assertion) {
        (Some(secret), None, None) => Presented::Secret(secret),
        (None, Some(kind), Some(assertion)) if kind == partner_rules::keys::ASSERTION_TYPE => {
            Presented::Assertion(assertion)
        }
        _ => return None,
    };
    Some((b.client_id, credential))
}

fn inactive() -> Response {
    let mut resp = Response::new(r#"{"active":false}"#.into());
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The RFC 7662 answer for an active client, with what a gateway needs for
/// per-org policy and quota: the org, its contract's end, its intermediary.
/// `token_type` is left out: what is introspected is a client's credential,
/// not an access token of some type.
fn active_answer(cred: &crate::cache::Credential, issued_at: i64) -> Value {
    json!({
        "active": true,
        "client_id": cred.client_id,
        "sub": cred.client_id,
        "scope": cred.scope,
        "exp": cred.expires_at.min(cred.org.contract_end),
        "iat": issued_at,
        "org_id": cred.org.id,
        "org_name": cred.org.name,
        "contract_end": fmt_ts(cred.org.contract_end).get(..10).unwrap_or_default(),
        "operated_by": cred.operated_by,
    })
}

/// Claims the `jti` of a proven assertion in the database, on the writer
/// (never on the async workers), so that every replica, and this one after
/// a restart, refuses it from now on. A database that cannot say fails
/// closed: 503, never active.
async fn claim_jti(
    app: &App,
    client_id: &str,
    proven: &crate::assertions::Proven,
    now: i64,
) -> Result<bool> {
    let (client_id, jti, exp) = (client_id.to_string(), proven.jti.clone(), proven.exp);
    let started = std::time::Instant::now();
    let claimed = app
        .db
        .write_async(move |tx| tx.claim_jti(&client_id, &jti, exp, now))
        .await;
    app.metrics.db_call("claim_jti", started.elapsed());
    claimed.map(|(first, _)| first).map_err(|e| {
        tracing::warn!(error = %e, "a client assertion's jti could not be claimed; answering 503");
        Error::Unavailable(
            "the registry cannot check this client assertion's jti against the ones used before; retry shortly".into(),
        )
    })
}

/// The verdict on an RFC 7523 client assertion of `cred` and when it was
/// issued: its keys (registered, or fetched from its `jwks_uri`), its
/// signature and claims, then its `jti` claimed. `Err`: the answer when the
/// database cannot claim the `jti` (503).
async fn assertion_outcome(
    app: &App,
    cred: &crate::cache::Credential,
    assertion: &str,
    now: i64,
) -> std::result::Result<(Introspected, i64), Response> {
    let keys = match (&cred.keys, &cred.jwks_uri) {
        (Some(keys), _) => Some(Arc::clone(keys)),
        (None, Some(uri)) => {
            let kid = jsonwebtoken::decode_header(assertion)
                .ok()
                .and_then(|h| h.kid);
            match app.jwks.keys(uri, kid.as_deref(), now, &app.metrics).await {
                Ok(keys) => Some(keys),
                Err(_) => return Ok((Introspected::KeysUnavailable, 0)),
            }
        }
        (None, None) => None,
    };
    let audience = app.assertion_audience.as_deref();
    match cred.assertion_verdict(keys.as_deref(), assertion, audience, now) {
        (Introspected::Active, Some(proven)) => {
            match claim_jti(app, &cred.client_id, &proven, now).await {
                Ok(true) => Ok((Introspected::Active, proven.issued_at)),
                Ok(false) => Ok((Introspected::Replayed, 0)),
                Err(e) => {
                    app.metrics.introspected(Introspected::ReplayUnchecked);
                    Err(e.to_response())
                }
            }
        }
        (verdict, _) => Ok((verdict, 0)),
    }
}

/// `POST /v1/introspect`. Fails closed as RFC 7662 does: any JSON body that is not
/// exactly `{"client_id": string, "client_secret": string}` or `{"client_id":
/// string, "client_assertion_type": the RFC 7523 type, "client_assertion": string}`
/// (a field missing, null or of another type, an unknown field, not an object) answers `{"active":false}`
/// like a wrong secret. Only a body that is not JSON at all is a 400: the caller
/// did not send an introspection request (401 and 413 come before the body is read).
pub async fn introspect(
    app: App,
    snapshot: Arc<Snapshot>,
    body: Bytes,
) -> std::result::Result<Response, Infallible> {
    // serde would also take a struct from a JSON array: only an object may answer active.
    let object = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let Some((client_id, credential)) = object.then(|| presented(&body)).flatten() else {
        return Ok(
            match serde_json::from_slice::<serde::de::IgnoredAny>(&body) {
                Ok(_) => {
                    app.metrics.introspected(Introspected::Unknown);
                    inactive()
                }
                Err(e) => Error::BadRequest(format!("the body is not JSON: {e}")).to_response(),
            },
        );
    };
    let now = now(&app);
    let found = snapshot.credential(client_id.as_ref());
    let (verdict, issued_at) = match (found, credential) {
        (None, _) if snapshot.revoked(client_id.as_ref()) => (Introspected::Revoked, 0),
        (None, _) => (Introspected::Unknown, 0),
        (Some(cred), Presented::Secret(secret)) => cred.verdict(&app.key.hash_secret(&secret), now),
        (Some(cred), Presented::Assertion(assertion)) => {
            match assertion_outcome(&app, cred, &assertion, now).await {
                Ok(outcome) => outcome,
                Err(refusal) => return Ok(refusal),
            }
        }
    };
    app.metrics.introspected(verdict);
    match found {
        Some(cred) if verdict == Introspected::Active => {
            app.cache.note_introspection(&cred.usage, now);
            let body = active_answer(cred, issued_at);
            let mut resp = warp::reply::json(&body).into_response();
            resp.headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(resp)
        }
        _ => Ok(inactive()),
    }
}

// ---------- entitlement review ----------

/// Parses `within`, `rotation_age` and `unused_for` (all optional durations).
pub fn review_params(q: &Query) -> Result<crate::review::Params> {
    let mut p = crate::review::Params::default();
    let mut errors = Vec::new();
    for (name, slot) in [
        ("within", &mut p.within),
        ("rotation_age", &mut p.rotation_age),
        ("unused_for", &mut p.unused_for),
    ] {
        match q.get(name).map(String::as_str) {
            None | Some("") => {}
            Some(s) => match parse_duration(s) {
                Some(d) if d <= 100 * 365 * 86_400 => *slot = d,
                _ => errors.push(crate::error::FieldError::new(
                    name,
                    "must be a duration such as 720h, 90m or 1h30m (at most 100 years)",
                )),
            },
        }
    }
    if errors.is_empty() {
        Ok(p)
    } else {
        Err(Error::Validation(errors))
    }
}

pub async fn review(call: Call, q: Query) -> Result<Response> {
    let Call { app, authed, .. } = call;
    // Parsed now, refused only after the caller is authorised.
    let params = reject_unknown_query(&q, &["within", "rotation_age", "unused_for"])
        .and_then(|()| review_params(&q));
    report(&app, authed, params, service::review).await
}

// ---------- approvals ----------

pub async fn create_approval(call: Call, body: Bytes) -> Result<Response> {
    let map = body_object(&body, crate::approvals::FIELDS)?;
    let draft = crate::approvals::ApprovalDraft::parse(&map)?;
    // Shown as of the write's own instant, like the audit event.
    let (approval, now) = call
        .write(move |tx, ctx| Ok((service::create_approval(tx, ctx, draft)?, ctx.now)))
        .await?;
    let view = approval.view(now);
    Ok(json_response(StatusCode::CREATED, &view, None))
}

pub async fn list_approvals(call: Call, q: Query) -> Result<Response> {
    let Call { app, authed, .. } = call;
    reject_unknown_query(&q, &["change_ref", "resource"])?;
    let wanted = |name: &str| {
        q.get(name)
            .filter(|v| !v.is_empty())
            .cloned()
            .ok_or_else(|| crate::error::FieldError::new(name, "is required"))
    };
    let (change_ref, resource) = match (wanted("change_ref"), wanted("resource")) {
        (Ok(c), Ok(r)) => (c, r),
        (c, r) => {
            return Err(Error::Validation(
                [c.err(), r.err()].into_iter().flatten().collect(),
            ));
        }
    };
    let now = now(&app);
    let actor = authed.actor;
    let approvals = app
        .read(move |r| service::list_approvals(r, &actor, &change_ref, &resource))
        .await?;
    let items: Vec<_> = approvals.iter().map(|a| a.view(now)).collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({"items": items}),
        None,
    ))
}

// ---------- blast radius ----------

pub async fn blast_radius(call: Call, q: Query) -> Result<Response> {
    let Call { app, authed, .. } = call;
    // Parsed now, refused only after the caller is authorised.
    let query = reject_unknown_query(&q, crate::blast_radius::FIELDS)
        .and_then(|()| crate::blast_radius::Query::from_query(&q));
    report(&app, authed, query, service::blast_radius).await
}

pub async fn revoke_blast_radius(call: Call, body: Bytes) -> Result<Response> {
    let map = body_object(&body, crate::blast_radius::FIELDS)?;
    let query = crate::blast_radius::Query::parse(&map)?;
    let radius = call
        .write(move |tx, ctx| service::revoke_blast_radius(tx, ctx, query))
        .await?;
    Ok(json_response(StatusCode::OK, &radius, None))
}

// ---------- audit ----------

pub async fn list_audit(call: Call, q: Query) -> Result<Response> {
    let Call { app, authed, .. } = call;
    // Parsed now, refused only after the caller is authorised.
    let range = reject_unknown_query(&q, &["after", "cursor", "limit"]).and_then(|()| {
        let after = query_cursor(&q, "after")?.max(query_cursor(&q, "cursor")?);
        Ok((after, query_limit(&q)?))
    });
    let actor = authed.actor;
    let rows = app
        .read(move |r| service::audit_page(r, &actor, range))
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &page(rows, AuditEvent::from),
        None,
    ))
}

// ---------- API tokens ----------

pub async fn create_token(call: Call, body: Bytes) -> Result<Response> {
    let map = body_object(&body, TOKEN_CREATE_FIELDS)?;
    let draft = parse_token(&map);
    let created = call
        .write(move |tx, ctx| service::create_token(tx, ctx, draft))
        .await?;
    let mut view = created.info;
    // The one and only time the token leaves the server.
    view.token = Some(created.token);
    Ok(no_store(json_response(StatusCode::CREATED, &view, None)))
}

pub async fn list_tokens(call: Call, q: Query) -> Result<Response> {
    let Call { app, authed, .. } = call;
    reject_unknown_query(&q, &[])?;
    let items = read_now(&app, authed, service::list_tokens).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "items": items }),
        None,
    ))
}

pub async fn revoke_token(name: String, call: Call) -> Result<Response> {
    let name = percent_decoded(&name)?;
    let token = call
        .write(move |tx, ctx| service::revoke_token(tx, ctx, &name))
        .await?;
    Ok(json_response(StatusCode::OK, &token, None))
}

/// A path segment with its percent-escapes decoded (warp hands it over raw):
/// token names are free text, so `ci%20bot` names `ci bot`.
fn percent_decoded(raw: &str) -> Result<String> {
    let bad = |why: &str| Error::BadRequest(format!("the path segment {raw:?} {why}"));
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b != b'%' {
            out.push(b);
            rest = tail;
            continue;
        }
        let hex = tail
            .get(..2)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .ok_or_else(|| bad("has a % not followed by two hexadecimal digits"))?;
        let text = std::str::from_utf8(hex).map_err(|_| bad("is not ASCII"))?;
        out.push(u8::from_str_radix(text, 16).map_err(|_| bad("is not ASCII"))?);
        rest = &tail[2..];
    }
    String::from_utf8(out).map_err(|_| bad("is not UTF-8 once decoded"))
}

#[cfg(test)]
mod tests {
    use super::percent_decoded;

    #[test]
    fn path_segments_are_percent_decoded() {
        assert_eq!(percent_decoded("acme-ci").unwrap(), "acme-ci");
        assert_eq!(percent_decoded("ci%20bot%2Fx").unwrap(), "ci bot/x");
        assert_eq!(percent_decoded("caf%C3%A9").unwrap(), "café");
        for bad in ["50%", "%2", "%zz", "%+1", "%C3"] {
            assert!(percent_decoded(bad).is_err(), "{bad}");
        }
    }
}
