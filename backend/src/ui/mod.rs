//! The review console: server-rendered HTML pages under `/ui/`, served by the
//! registry itself (the stylesheet is compiled in; no script, no CDN).
//!
//! **Sign-in.** A person signs in with an API token on a form. The registry
//! keeps a server-side session (in this process's memory) holding only the
//! token's keyed hash, and sets an `HttpOnly`, `SameSite=Strict` cookie
//! (`Secure` when serving TLS) with the session id, which expires with the
//! session. The token never reaches the page, a URL or the browser's storage.
//! Each request authenticates the session's token against the credential
//! cache again, so a revoked or expired token ends the session at once;
//! signing out removes the session on the server.
//!
//! **Authorisation** is the API's: every page reads and writes through the
//! use cases of [`crate::service`] with the token's actor, so an org token
//! sees its own org only and another org's page answers 404.
//!
//! **Forms** carry a CSRF token (the session's, or for the sign-in form a
//! value bound to a cookie of its own) and a strict Content-Security-Policy
//! forbids every script and inline style.

mod html;
mod pages;

use crate::App;
use crate::crypto::{ct_eq, random_base62};
use crate::records::Actor;
use std::collections::HashMap;
use std::sync::Mutex;
use warp::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use warp::http::{HeaderValue, StatusCode};
use warp::hyper::body::Bytes;
use warp::reply::Response;
use warp::{Filter, Rejection};

/// The session cookie and the cookie that binds the sign-in form's CSRF value.
const SESSION_COOKIE: &str = "pr_session";
const LOGIN_COOKIE: &str = "pr_login";
/// How long a session lasts from sign-in, on the registry's clock.
pub const SESSION_LIFETIME: i64 = 8 * 3600;
/// The largest form body read.
const MAX_FORM: u64 = 16 * 1024;

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// One signed-in browser.
struct Session {
    /// The keyed hash of the API token it signed in with.
    token_hash: [u8; 32],
    csrf: String,
    expires_at: i64,
}

/// The console's sessions, by the keyed hash of their id.
pub struct Sessions {
    map: Mutex<HashMap<[u8; 32], Session>>,
    /// Cookies get `Secure` when the registry serves TLS.
    secure: bool,
}

impl Sessions {
    pub fn new(secure: bool) -> Sessions {
        Sessions {
            map: Mutex::new(HashMap::new()),
            secure,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn cookie(&self, name: &str, value: &str, max_age: i64) -> String {
        format!(
            "{name}={value}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
            if self.secure { "; Secure" } else { "" }
        )
    }
}

/// A signed-in request: the actor of the session's token and the session's
/// CSRF token for the forms of its pages.
pub(crate) struct Visitor {
    pub actor: Actor,
    pub csrf: String,
}

/// What a page answers.
pub(crate) enum Answer {
    Page {
        status: StatusCode,
        title: String,
        body: String,
    },
    /// 303 See Other, after a form.
    Redirect(String),
}

impl Answer {
    fn page(title: impl Into<String>, body: String) -> Answer {
        Answer::Page {
            status: StatusCode::OK,
            title: title.into(),
            body,
        }
    }
}

/// Every console route: `/ui/…`, dispatched on method and path.
pub fn routes(app: App) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path("ui")
        .and(warp::path::tail())
        .and(warp::method())
        .and(warp::header::optional::<String>("cookie"))
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(
            warp::body::content_length_limit(MAX_FORM)
                .and(warp::body::bytes())
                .or(warp::any().map(Bytes::new))
                .unify(),
        )
        .and_then(
            move |tail: warp::path::Tail,
                  method: warp::http::Method,
                  cookies: Option<String>,
                  query: String,
                  body: Bytes| {
                let app = app.clone();
                async move {
                    let req = Request {
                        path: tail.as_str().to_string(),
                        post: method == warp::http::Method::POST,
                        cookies: parse_cookies(cookies.as_deref()),
                        query: form_pairs(query.as_bytes()),
                        form: form_pairs(&body),
                    };
                    // A path the console does not have is the API's unknown route.
                    let full = format!("/ui/{}", req.path);
                    let template = crate::filters::route_template(&full);
                    let known = crate::filters::ROUTES
                        .iter()
                        .any(|(m, t)| *t == template && *m == method.as_str());
                    if !known {
                        return Err(warp::reject::not_found());
                    }
                    Ok::<_, Rejection>(dispatch(app, req).await)
                }
            },
        )
}

/// A console request, parsed.
pub(crate) struct Request {
    pub path: String,
    pub post: bool,
    cookies: HashMap<String, String>,
    pub query: HashMap<String, String>,
    pub form: HashMap<String, String>,
}

fn parse_cookies(header: Option<&str>) -> HashMap<String, String> {
    header
        .unwrap_or_default()
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn form_pairs(raw: &[u8]) -> HashMap<String, String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(raw)
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// Whether the form's `csrf` field equals `expected`, in constant time.
fn csrf_ok(form: &HashMap<String, String>, expected: &str) -> bool {
    form.get("csrf")
        .is_some_and(|given| ct_eq(given.as_bytes(), expected.as_bytes()))
}

fn now(app: &App) -> i64 {
    app.clock.now().unix_timestamp()
}

/// The visitor of the request's session, if it has a live one whose token
/// still authenticates; an error while the credential cache is too stale to
/// say (never a sign-in page for a session that may well be live).
fn visitor(app: &App, req: &Request) -> crate::Result<Option<Visitor>> {
    let Some(id) = req.cookies.get(SESSION_COOKIE) else {
        return Ok(None);
    };
    let key = app.key.hash_token(id);
    let now = now(app);
    let snapshot = app.cache.fresh()?;
    let mut sessions = app.console.lock();
    let Some(session) = sessions.get(&key) else {
        return Ok(None);
    };
    let entry = snapshot
        .token(&session.token_hash, now)
        .filter(|_| now <= session.expires_at);
    let Some(entry) = entry else {
        // Expired, or its token was revoked or expired: the session ends.
        sessions.remove(&key);
        return Ok(None);
    };
    app.cache.note_use(&entry.usage, now);
    Ok(Some(Visitor {
        actor: entry.actor.clone(),
        csrf: session.csrf.clone(),
    }))
}

/// Answers a request for one of the console's routes.
async fn dispatch(app: App, req: Request) -> Response {
    match (req.post, req.path.as_str()) {
        (_, "console.css") if !req.post => stylesheet(),
        (false, "login") => login_form(&app, None),
        (true, "login") => login(&app, &req).await,
        _ => {
            let visitor = match visitor(&app, &req) {
                Ok(Some(v)) => v,
                Ok(None) => return respond(&app, Answer::Redirect("/ui/login".into()), &[]),
                Err(e) => return unavailable(&app, &e),
            };
            if req.post && req.path == "logout" {
                return logout(&app, &req, &visitor);
            }
            if req.post && !csrf_ok(&req.form, &visitor.csrf) {
                return respond(
                    &app,
                    Answer::Page {
                        status: StatusCode::FORBIDDEN,
                        title: "Refused".into(),
                        body: html::notice(
                            "This form was sent without this session's CSRF token, so nothing was \
                             changed. Reload the page and send it again.",
                        ),
                    },
                    &[],
                );
            }
            let answer = pages::page(&app, &visitor, &req).await;
            respond_as(&app, answer, Some(&visitor), &[])
        }
    }
}

impl Answer {
    pub(crate) fn not_found() -> Answer {
        Answer::Page {
            status: StatusCode::NOT_FOUND,
            title: "Not found".into(),
            body: html::notice("There is no such page, or this token may not see it."),
        }
    }
}

fn respond(app: &App, answer: Answer, cookies: &[String]) -> Response {
    respond_as(app, answer, None, cookies)
}

/// The answer with the console's security headers (and `cookies` to set).
fn respond_as(
    app: &App,
    answer: Answer,
    visitor: Option<&Visitor>,
    cookies: &[String],
) -> Response {
    let mut resp = match answer {
        Answer::Redirect(to) => {
            let mut r = Response::new(Default::default());
            *r.status_mut() = StatusCode::SEE_OTHER;
            if let Ok(v) = HeaderValue::from_str(&to) {
                r.headers_mut().insert(LOCATION, v);
            }
            r
        }
        Answer::Page {
            status,
            title,
            body,
        } => {
            let mut r = Response::new(html::layout(&title, &body, visitor, now(app)).into());
            *r.status_mut() = status;
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            r
        }
    };
    let h = resp.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            h.append(SET_COOKIE, v);
        }
    }
    resp
}

/// 503: the registry cannot tell who is signed in right now.
fn unavailable(app: &App, e: &crate::Error) -> Response {
    let page = Answer::Page {
        status: StatusCode::SERVICE_UNAVAILABLE,
        title: "Unavailable".into(),
        body: html::notice(&e.to_string()),
    };
    respond(app, page, &[])
}

fn stylesheet() -> Response {
    let mut r = Response::new(include_str!("console.css").into());
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("max-age=3600"));
    r
}

/// The sign-in form, with a fresh CSRF value bound to a cookie of its own.
fn login_form(app: &App, problem: Option<&str>) -> Response {
    let Ok(csrf) = random_base62(32) else {
        return respond(app, Answer::not_found(), &[]);
    };
    let cookie = app.console.cookie(LOGIN_COOKIE, &csrf, 600);
    let status = if problem.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    respond(
        app,
        Answer::Page {
            status,
            title: "Sign in".into(),
            body: html::login(&csrf, problem),
        },
        &[cookie],
    )
}

/// `POST /ui/login`: a valid API token starts a session.
async fn login(app: &App, req: &Request) -> Response {
    let bound = req
        .cookies
        .get(LOGIN_COOKIE)
        .is_some_and(|c| csrf_ok(&req.form, c));
    if !bound {
        return login_form(
            app,
            Some("The sign-in form expired or was not sent from this console; try again."),
        );
    }
    let token = req.form.get("token").map(|t| t.trim()).unwrap_or_default();
    let now = now(app);
    let hash = app.key.hash_token(token);
    let snapshot = match app.cache.fresh() {
        Ok(s) => s,
        Err(e) => return unavailable(app, &e),
    };
    let valid = crate::crypto::is_api_token(token) && snapshot.token(&hash, now).is_some();
    if !valid {
        return login_form(app, Some("That token is not a valid API token."));
    }
    let (Ok(id), Ok(csrf)) = (random_base62(43), random_base62(32)) else {
        return login_form(
            app,
            Some("The registry could not start a session; try again."),
        );
    };
    let mut sessions = app.console.lock();
    // Sessions left to expire are dropped as others begin.
    sessions.retain(|_, s| now <= s.expires_at);
    sessions.insert(
        app.key.hash_token(&id),
        Session {
            token_hash: hash,
            csrf,
            expires_at: now + SESSION_LIFETIME,
        },
    );
    drop(sessions);
    let cookies = [
        app.console.cookie(SESSION_COOKIE, &id, SESSION_LIFETIME),
        app.console.cookie(LOGIN_COOKIE, "", 0),
    ];
    respond(app, Answer::Redirect("/ui/overview".into()), &cookies)
}

/// `POST /ui/logout`: ends the session on the server and clears its cookie.
fn logout(app: &App, req: &Request, visitor: &Visitor) -> Response {
    if !csrf_ok(&req.form, &visitor.csrf) {
        return respond(app, Answer::Redirect("/ui/overview".into()), &[]);
    }
    if let Some(id) = req.cookies.get(SESSION_COOKIE) {
        app.console.lock().remove(&app.key.hash_token(id));
    }
    let cookie = app.console.cookie(SESSION_COOKIE, "", 0);
    respond(app, Answer::Redirect("/ui/login".into()), &[cookie])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_secure_when_the_registry_serves_tls() {
        let tls = Sessions::new(true).cookie(SESSION_COOKIE, "abc", 60);
        assert_eq!(
            tls,
            "pr_session=abc; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=60; Secure"
        );
        assert!(
            !Sessions::new(false)
                .cookie(SESSION_COOKIE, "abc", 60)
                .contains("Secure")
        );
    }

    #[test]
    fn csrf_tokens_must_match_exactly() {
        let form = |v: &str| HashMap::from([("csrf".to_string(), v.to_string())]);
        assert!(csrf_ok(&form("abc"), "abc"));
        assert!(!csrf_ok(&form("abd"), "abc"));
        assert!(!csrf_ok(&form(""), "abc"));
        assert!(!csrf_ok(&HashMap::new(), "abc"));
    }
}
