//! Routes: one function per route, composed by [`routes`].

use crate::App;
use crate::cache::{Snapshot, TokenEntry};
use crate::error::Error;
use crate::handlers::{self, Authed, Call, ReqCtx};
use crate::requests::MAX_BODY;
use std::sync::Arc;
use warp::http::HeaderValue;
use warp::hyper::body::Bytes;
use warp::{Filter, Rejection, Reply};

/// Every route the server has, as `(method, OpenAPI path)`.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/v1/openapi.json"),
    ("GET", "/v1/whoami"),
    ("POST", "/v1/orgs"),
    ("GET", "/v1/orgs"),
    ("GET", "/v1/orgs/{id}"),
    ("PATCH", "/v1/orgs/{id}"),
    ("DELETE", "/v1/orgs/{id}"),
    ("POST", "/v1/clients"),
    ("GET", "/v1/clients"),
    ("GET", "/v1/clients/{id}"),
    ("PATCH", "/v1/clients/{id}"),
    ("DELETE", "/v1/clients/{id}"),
    ("POST", "/v1/clients/{id}/rotate"),
    ("POST", "/v1/introspect"),
    ("GET", "/v1/audit"),
    ("GET", "/v1/reviews"),
    ("POST", "/v1/reviews/campaigns"),
    ("GET", "/v1/reviews/campaigns"),
    ("GET", "/v1/reviews/campaigns/{id}"),
    ("POST", "/v1/reviews/campaigns/{id}/decisions"),
    ("POST", "/v1/approvals"),
    ("GET", "/v1/approvals"),
    ("GET", "/v1/blast-radius"),
    ("POST", "/v1/blast-radius/revoke"),
    ("POST", "/v1/tokens"),
    ("GET", "/v1/tokens"),
    ("DELETE", "/v1/tokens/{name}"),
    ("PUT", "/v1/clock"),
    ("GET", "/ui/"),
    ("GET", "/ui/console.css"),
    ("GET", "/ui/login"),
    ("POST", "/ui/login"),
    ("POST", "/ui/logout"),
    ("GET", "/ui/overview"),
    ("GET", "/ui/timeline"),
    ("GET", "/ui/orgs/{id}"),
    ("GET", "/ui/clients/{id}"),
    ("GET", "/ui/audit"),
    ("GET", "/ui/campaigns"),
    ("GET", "/ui/campaigns/{id}"),
    ("POST", "/ui/campaigns/{id}/decisions"),
];

/// The whole API, with every rejection mapped to problem+json.
pub fn routes(
    app: App,
) -> impl Filter<Extract = (impl Reply,), Error = std::convert::Infallible> + Clone {
    // The gateways' hot path first, with a small future of its own; every other
    // route behind one boxed filter, so that the per-request future stays small.
    let rest = healthz()
        .or(readyz(app.clone()))
        .or(metrics(app.clone()))
        .or(openapi())
        .or(whoami(app.clone()))
        .or(orgs_create(app.clone()))
        .or(orgs_list(app.clone()))
        .or(orgs_get(app.clone()))
        .or(orgs_update(app.clone()))
        .or(orgs_delete(app.clone()))
        .or(clients_create(app.clone()))
        .or(clients_list(app.clone()))
        .or(clients_get(app.clone()))
        .or(clients_update(app.clone()))
        .or(clients_delete(app.clone()))
        .or(clients_rotate(app.clone()))
        .or(audit_list(app.clone()))
        .or(reviews(app.clone()))
        .or(crate::review_routes::routes(app.clone()))
        .or(crate::ui::routes(app.clone()))
        .or(approvals_create(app.clone()))
        .or(approvals_list(app.clone()))
        .or(blast_radius(app.clone()))
        .or(blast_radius_revoke(app.clone()))
        .or(tokens_create(app.clone()))
        .or(tokens_list(app.clone()))
        .or(tokens_delete(app.clone()))
        .or(clock_set(app.clone()))
        .or(method_not_allowed(app.clock.as_manual().is_some()))
        .map(Reply::into_response)
        .boxed();
    let clock = Arc::clone(&app.clock);
    introspect(app)
        .or(rest)
        .recover(crate::error::recover)
        // Every answer (errors and unknown routes included) carries the registry's
        // own time: the provider takes it as "now" for its time-based warnings, and
        // with `serve --fake-clock` it must be the fake time, not hyper's.
        .map(move |reply| with_date(Reply::into_response(reply), clock.now()))
}

/// `resp` with a `Date` header for `now`, in IMF-fixdate form (RFC 9110 §5.6.7).
fn with_date(mut resp: warp::reply::Response, now: time::OffsetDateTime) -> warp::reply::Response {
    if let Some(v) = http_date(now.unix_timestamp()) {
        resp.headers_mut().insert(warp::http::header::DATE, v);
    }
    resp
}

/// The IMF-fixdate of a Unix time (`Sun, 29 Nov 2026 08:10:00 GMT`), formatted once
/// per second per thread: a pure function of the second, so the cache serves
/// every clock (system or manual) alike.
pub fn http_date(unix: i64) -> Option<warp::http::HeaderValue> {
    thread_local! {
        static LAST: std::cell::RefCell<Option<(i64, warp::http::HeaderValue)>> =
            const { std::cell::RefCell::new(None) };
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if let Some((at, v)) = last.as_ref() {
            if *at == unix {
                return Some(v.clone());
            }
        }
        let format = time::macros::format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        );
        let text = time::OffsetDateTime::from_unix_timestamp(unix)
            .ok()
            .filter(|t| (0..=9999).contains(&t.year()))?
            .format(format)
            .ok()?;
        let v = warp::http::HeaderValue::from_str(&text).ok()?;
        *last = Some((unix, v.clone()));
        Some(v)
    })
}

pub(crate) fn with_app(
    app: App,
) -> impl Filter<Extract = (App,), Error = std::convert::Infallible> + Clone {
    warp::any().map(move || app.clone())
}

/// The bearer token of `header`, checked against a fresh credential index at
/// the registry's time (expired tokens are refused): that index and the
/// token's entry, or 401. Notes the token's use.
async fn authenticate(
    app: &App,
    header: Option<&str>,
) -> Result<(Arc<Snapshot>, Arc<TokenEntry>), Rejection> {
    let token = header
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| crate::crypto::is_api_token(t))
        .ok_or_else(|| warp::reject::custom(Error::Unauthorized))?;
    let hash = app.key.hash_token(token);
    let snapshot = app.cache.fresh().map_err(warp::reject::custom)?;
    let now = app.clock.now().unix_timestamp();
    let entry = snapshot
        .token(&hash, now)
        .cloned()
        .ok_or_else(|| warp::reject::custom(Error::Unauthorized))?;
    app.cache.note_use(&entry.usage, now);
    crate::telemetry::note_caller(&entry.actor.name, entry.actor.role.as_str());
    Ok((snapshot, entry))
}

/// Bearer token → caller, against a fresh credential index. 401 otherwise.
fn auth(app: App) -> impl Filter<Extract = (Authed,), Error = Rejection> + Clone {
    authorization()
        .and(with_app(app))
        .and_then(|header: Option<String>, app: App| async move {
            let (_, entry) = authenticate(&app, header.as_deref()).await?;
            Ok::<_, Rejection>(Authed {
                actor: entry.actor.clone(),
            })
        })
}

/// Bearer token → the fresh credential index, for introspection: any valid token
/// may introspect, and nothing else about the caller is needed. 401 otherwise.
fn auth_index(app: App) -> impl Filter<Extract = (Arc<Snapshot>,), Error = Rejection> + Clone {
    authorization()
        .and(with_app(app))
        .and_then(|header: Option<String>, app: App| async move {
            authenticate(&app, header.as_deref())
                .await
                .map(|(snapshot, _)| snapshot)
        })
}

/// The `Authorization` header, if any; one that is not visible ASCII is a
/// bad credential (401), like a wrong one.
fn authorization() -> impl Filter<Extract = (Option<String>,), Error = Rejection> + Clone {
    raw_header("authorization").and_then(|v: Option<HeaderValue>| async move {
        match v {
            None => Ok(None),
            Some(v) => v
                .to_str()
                .map(|s| Some(s.to_string()))
                .map_err(|_| warp::reject::custom(Error::Unauthorized)),
        }
    })
}

/// A header's raw value, if the request has it.
fn raw_header(
    name: &'static str,
) -> impl Filter<Extract = (Option<HeaderValue>,), Error = std::convert::Infallible> + Clone {
    warp::header::value(name)
        .map(Some)
        .or(warp::any().map(|| None))
        .unify()
}

/// An optional header that, when given, must be given once, as 1 to `max`
/// printable ASCII characters: a header that does not parse is a 400
/// problem+json naming it, never silently dropped.
fn strict_header(
    name: &'static str,
    title: &'static str,
    max: usize,
) -> impl Filter<Extract = (Option<String>,), Error = Rejection> + Clone {
    raw_header(name).and_then(move |v: Option<HeaderValue>| async move {
        let Some(v) = v else { return Ok(None) };
        let bad = |why: &str| {
            warp::reject::custom(Error::BadRequest(format!("the {title} header {why}")))
        };
        let s = v
            .to_str()
            .ok()
            .filter(|s| s.bytes().all(|b| (0x20..0x7f).contains(&b)))
            .ok_or_else(|| bad("must be printable ASCII"))?;
        if s.trim().is_empty() {
            return Err(bad("must not be empty"));
        }
        if s.len() > max {
            return Err(bad(&format!("must be at most {max} characters")));
        }
        Ok(Some(s.to_string()))
    })
}

/// What every authenticated route takes: the app, the caller, and the
/// request's id and change reference.
pub(crate) fn authorized(app: App) -> impl Filter<Extract = (Call,), Error = Rejection> + Clone {
    with_app(app.clone())
        .and(auth(app))
        .and(req_ctx())
        .map(|app, authed, rc| Call { app, authed, rc })
}

fn req_ctx() -> impl Filter<Extract = (ReqCtx,), Error = Rejection> + Clone {
    warp::header::optional::<String>("x-request-id")
        .or(warp::any().map(|| None))
        .unify()
        .and(strict_header(
            "x-change-ref",
            "X-Change-Ref",
            MAX_CHANGE_REF,
        ))
        .map(|rid: Option<String>, cref: Option<String>| ReqCtx {
            // The server gave every request a usable id (`server::request_id`).
            request_id: rid
                .filter(|id| is_request_id(id))
                .unwrap_or_else(|| "req".into()),
            change_ref: cref,
        })
}

/// Whether a client's `X-Request-Id` is kept as the request's id: 1 to 200
/// printable ASCII characters.
pub fn is_request_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 200 && id.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// The OpenAPI template of the route `path` belongs to (`/v1/orgs/{id}`),
/// for logs and metrics; `"unknown"` for a path no route has.
pub fn route_template(path: &str) -> &'static str {
    ROUTES
        .iter()
        .map(|(_, template)| *template)
        .find(|template| path_matches(template, path))
        .unwrap_or("unknown")
}

/// The longest `X-Change-Ref`, `Idempotency-Key` and `If-Match` headers.
const MAX_CHANGE_REF: usize = 1000;
const MAX_IDEMPOTENCY_KEY: usize = 255;
const MAX_IF_MATCH: usize = 1000;

fn if_match() -> impl Filter<Extract = (Option<String>,), Error = Rejection> + Clone {
    strict_header("if-match", "If-Match", MAX_IF_MATCH)
}

fn idempotency_key() -> impl Filter<Extract = (Option<String>,), Error = Rejection> + Clone {
    strict_header("idempotency-key", "Idempotency-Key", MAX_IDEMPOTENCY_KEY)
}

/// A JSON body of at most [`MAX_BODY`], of a declared length or chunked; a
/// body of another declared media type is 415, a larger one 413.
pub(crate) fn body() -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone {
    warp::header::optional::<String>("content-type")
        .and_then(|ct: Option<String>| async move {
            match ct {
                Some(ct) if !is_json_media_type(&ct) => {
                    Err(warp::reject::custom(Error::UnsupportedMediaType(format!(
                        "the body must be application/json (or application/merge-patch+json), not {ct}"
                    ))))
                }
                _ => Ok(()),
            }
        })
        .untuple_one()
        .and(warp::header::optional::<u64>("content-length"))
        .and(warp::body::stream())
        .and_then(read_body)
}

/// The most of a body read to say which field makes it too large; a larger
/// one is refused unread.
const MAX_INSPECTED: u64 = 1024 * 1024;

/// Reads a body of at most [`MAX_BODY`]. A larger one is 413: one of at most
/// [`MAX_INSPECTED`] is read whole, so that the answer names the field that
/// makes it so large.
async fn read_body<B: warp::Buf>(
    declared: Option<u64>,
    body: impl warp::Stream<Item = Result<B, warp::Error>>,
) -> Result<Bytes, Rejection> {
    let too_large = |size: u64| {
        warp::reject::custom(Error::PayloadTooLarge(format!(
            "the request body is {size} bytes or more; the API reads at most {} bytes",
            MAX_BODY
        )))
    };
    if let Some(size) = declared.filter(|size| *size > MAX_INSPECTED) {
        return Err(too_large(size));
    }
    let mut body = std::pin::pin!(body);
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut size = 0u64;
    while let Some(chunk) = std::future::poll_fn(|cx| body.as_mut().poll_next(cx)).await {
        let mut chunk = chunk.map_err(|e| {
            warp::reject::custom(Error::BadRequest(format!(
                "the request body could not be read: {e}"
            )))
        })?;
        size += chunk.remaining() as u64;
        if size > MAX_INSPECTED {
            return Err(too_large(size));
        }
        let len = chunk.remaining();
        chunks.push(chunk.copy_to_bytes(len));
    }
    let body = match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.remove(0),
        _ => chunks.concat().into(),
    };
    if size > MAX_BODY {
        return Err(warp::reject::custom(Error::PayloadTooLarge(
            crate::requests::too_large(&body),
        )));
    }
    Ok(body)
}

/// `application/json`, `application/merge-patch+json` or another `+json`
/// type, with any parameters.
fn is_json_media_type(content_type: &str) -> bool {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

/// A known path asked with a method it does not have: 405 with `Allow`
/// naming the methods it has. Any other request falls through (404), as does
/// `/v1/clock` on a registry whose clock cannot be set (it has no such route).
fn method_not_allowed(
    clock_settable: bool,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path::full().and(warp::method()).and_then(
        move |path: warp::path::FullPath, method: warp::http::Method| async move {
            let allowed: Vec<&'static str> = ROUTES
                .iter()
                .filter(|(_, template)| clock_settable || *template != "/v1/clock")
                .filter(|(_, template)| path_matches(template, path.as_str()))
                .map(|(m, _)| *m)
                .collect();
            if allowed.is_empty() || allowed.contains(&method.as_str()) {
                return Err(warp::reject::not_found());
            }
            Ok::<_, Rejection>(
                Error::MethodNotAllowed {
                    method: method.to_string(),
                    allowed,
                }
                .to_response(),
            )
        },
    )
}

/// Whether `path` is an instance of the OpenAPI path `template`
/// (`/v1/orgs/{id}`).
///
/// Every request's log line and metrics look its route up: no allocation.
fn path_matches(template: &str, path: &str) -> bool {
    let (mut t, mut p) = (template.split('/'), path.split('/'));
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(t), Some(p)) if (t.starts_with('{') && !p.is_empty()) || t == p => {}
            _ => return false,
        }
    }
}

/// A body that may be absent altogether (no Content-Length, no Transfer-Encoding):
/// then it reads as empty. Otherwise as [`body`], with the same size limit.
fn optional_body() -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone {
    warp::header::optional::<String>("content-length")
        .and(warp::header::optional::<String>("transfer-encoding"))
        .and_then(|cl: Option<String>, te: Option<String>| async move {
            if cl.is_none() && te.is_none() {
                Ok(Bytes::new())
            } else {
                Err(warp::reject::not_found())
            }
        })
        .or(body())
        .unify()
}

pub(crate) fn query() -> impl Filter<Extract = (handlers::Query,), Error = Rejection> + Clone {
    warp::query::<handlers::Query>()
}

/// GET /healthz
pub fn healthz() -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("healthz")
        .and(warp::get())
        .and_then(handlers::healthz)
}

/// GET /readyz (200 only while the database answers and the credential cache is current)
pub fn readyz(
    app: App,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("readyz")
        .and(warp::get())
        .and(with_app(app))
        .then(handlers::readyz)
        .map(handlers::answer)
}

/// GET /metrics (Prometheus text format; reviewer and admin tokens)
pub fn metrics(
    app: App,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("metrics")
        .and(warp::get())
        .and(authorized(app))
        .then(handlers::metrics)
        .map(handlers::answer)
}

/// GET /metrics on the separate `--metrics-listen` address, without a token:
/// that address is the operator's to keep private.
pub fn metrics_without_auth(
    app: App,
) -> impl Filter<Extract = (warp::reply::Response,), Error = std::convert::Infallible> + Clone {
    warp::path!("metrics")
        .and(warp::get())
        .map(move || handlers::metrics_text(&app))
        .or(warp::any()
            .map(|| Error::NotFound("only GET /metrics is served here".into()).to_response()))
        .unify()
}

/// GET /v1/openapi.json
pub fn openapi() -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("v1" / "openapi.json")
        .and(warp::get())
        .and_then(handlers::openapi)
}

/// GET /v1/whoami
pub fn whoami(
    app: App,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("v1" / "whoami")
        .and(warp::get())
        .and(authorized(app))
        .then(handlers::whoami)
        .map(handlers::answer)
}

/// POST /v1/introspect
pub fn introspect(
    app: App,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("v1" / "introspect")
        .and(warp::post())
        .and(with_app(app.clone()))
        .and(auth_index(app))
        .and(body())
        .and_then(handlers::introspect)
}

/// POST /v1/orgs
pub fn orgs_create(
    app: App,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("v1" / "orgs")
        .and(warp::post())
        .and(authorized(app))
        .and(idempotency_key())
        .and(body())
        .then(handlers::create_org)
        .map(handlers::answer)
}

/// GET /v1/orgs?name=&status=&limit=&cursor=
pub fn orgs_list(
    app: App,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("v1" / "orgs")
        .and(warp::get())
        .and(authorized(app))
        .and(query())
        .then(handlers::list_orgs)
        .map(handlers::answer)
}

/// GET /v1/orgs/{id}
pub fn orgs_get(
    app: App,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("v1" / "orgs" / String)
        .and(warp::get())
        .and(authorized(app))
        .then(|id, call| handlers::ORGS.get(id, call))
        .map(handlers::answer)
}

/// PATCH /v1/orgs/{id} (JSON merge patch, If-Match)
pub fn orgs_update(
    app: App,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("v1" / "orgs" / String)
        .and(warp::patch())
        .and(authorized(app))
        .and(if_match())
        .and(body())
        .then(|id, call, im, body| handlers::ORGS.patch(id, call, im, body))
        .map(handlers::answer)
}

/// DELETE /v1/orgs/{id} (offboard)
pub fn orgs_delete(
    app: App,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("v1" / "orgs" / String)
        .and(warp::delete())
        .and(authorized(app))
        .then(|id, call| handlers::ORGS.end(id, call))
        .map(handlers::answer)
}

/// POST /v1/clients
pub fn clients_create(
    app: App,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("v1" / "clients")
        .and(warp::post())
        .and(authorized(app))
        .and(idempotency_key())
        .and(body())
        .then(handlers::create_client)
        .map(handlers::answer)
}

/// GET /v1/clients?org_id=&status=&expiring_within=&limit=&cursor=
pub fn clients_list(
    app: App,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("v1" / "clients")
        .and(warp::get())
        .and(authorized(app))
        .and(query())
        .then(handlers::list_clients)
        .map(handlers::answer)
}

/// GET /v1/clients/{id} ({id} is the id or the client_id)
pub fn clients_get(
    app: App,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("v1" / "clients" / String)
        .and(warp::get())
        .and(authorized(app))
        .then(|id, call| handlers::CLIENTS.get(id, call))
        .map(handlers::answer)
}

/// PATCH /v1/clients/{id} (JSON merge patch, If-Match)
pub fn clients_update(
    app: App,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("v1" / "clients" / String)
        .and(warp::patch())
        .and(authorized(app))
        .and(if_match())
        .and(body())
        .then(|id, call, im, body| handlers::CLIENTS.patch(id, call, im, body))
        .map(handlers::answer)
}

/// DELETE /v1/clients/{id} (revoke)
pub fn clients_delete(
    app: App,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("v1" / "clients" / String)
        .and(warp::delete())
        .and(authorized(app))
        .then(|id, call| handlers::CLIENTS.end(id, call))
        .map(handlers::answer)
}

/// POST /v1/clients/{id}/rotate (new secret; the previous one overlaps for grace_period)
pub fn clients_rotate(
    app: App,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("v1" / "clients" / String / "rotate")
        .and(warp::post())
        .and(authorized(app))
        .and(if_match())
        .and(optional_body())
        .then(handlers::rotate_client_secret)
        .map(handlers::answer)
}

/// GET /v1/audit?after=&limit=
pub fn audit_list(
    app: App,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("v1" / "audit")
        .and(warp::get())
        .and(authorized(app))
        .and(query())
        .then(handlers::list_audit)
        .map(handlers::answer)
}

/// GET /v1/reviews?within=&rotation_age=&unused_for=
pub fn reviews(
    app: App,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("v1" / "reviews")
        .and(warp::get())
        .and(authorized(app))
        .and(query())
        .then(handlers::review)
        .map(handlers::answer)
}

/// POST /v1/approvals (approver tokens; X-Change-Ref names the change)
pub fn approvals_create(
    app: App,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("v1" / "approvals")
        .and(warp::post())
        .and(authorized(app))
        .and(body())
        .then(handlers::create_approval)
        .map(handlers::answer)
}

/// GET /v1/approvals?change_ref=&resource=
pub fn approvals_list(
    app: App,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("v1" / "approvals")
        .and(warp::get())
        .and(authorized(app))
        .and(query())
        .then(handlers::list_approvals)
        .map(handlers::answer)
}

/// GET /v1/blast-radius?owner=&org_id=&operated_by=&scope= (reviewer, admin)
pub fn blast_radius(
    app: App,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("v1" / "blast-radius")
        .and(warp::get())
        .and(authorized(app))
        .and(query())
        .then(handlers::blast_radius)
        .map(handlers::answer)
}

/// POST /v1/blast-radius/revoke (admin; one transaction)
pub fn blast_radius_revoke(
    app: App,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("v1" / "blast-radius" / "revoke")
        .and(warp::post())
        .and(authorized(app))
        .and(body())
        .then(handlers::revoke_blast_radius)
        .map(handlers::answer)
}

/// POST /v1/tokens (admin; the answer carries the token, the one time it is shown)
pub fn tokens_create(
    app: App,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("v1" / "tokens")
        .and(warp::post())
        .and(authorized(app))
        .and(body())
        .then(handlers::create_token)
        .map(handlers::answer)
}

/// GET /v1/tokens (admin)
pub fn tokens_list(
    app: App,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("v1" / "tokens")
        .and(warp::get())
        .and(authorized(app))
        .and(query())
        .then(handlers::list_tokens)
        .map(handlers::answer)
}

/// DELETE /v1/tokens/{name} (admin; revoke; the name percent-encoded)
pub fn tokens_delete(
    app: App,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("v1" / "tokens" / String)
        .and(warp::delete())
        .and(authorized(app))
        .then(handlers::revoke_token)
        .map(handlers::answer)
}

/// PUT /v1/clock (only with `serve --fake-clock`; 404 otherwise)
pub fn clock_set(
    app: App,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    let manual = app.clock.as_manual().is_some();
    warp::path!("v1" / "clock")
        .and(warp::put())
        .and_then(move || async move {
            if manual {
                Ok(())
            } else {
                Err(warp::reject::not_found())
            }
        })
        .untuple_one()
        .and(authorized(app))
        .and(body())
        .then(handlers::set_clock)
        .map(handlers::answer)
}
