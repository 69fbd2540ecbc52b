//! The review console's sessions over real HTTP: the cookie's attributes, the
//! expiry on the registry's clock, the end of a session with its token or at
//! sign-out, the sign-in form's CSRF binding, and the API's authorisation on
//! every page. (`tests/browser/` drives the pages in a real browser.)

use crate::helpers::*;
use partner_registry::records::Role;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

/// A form post or page fetch, without following redirects.
async fn request(
    app: &TestApp,
    path: &str,
    cookie: &str,
    form: Option<&[(&str, &str)]>,
) -> reqwest::Response {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = format!("{}{path}", app.url);
    let rb = match form {
        Some(fields) => http.post(url).form(fields),
        None => http.get(url),
    };
    rb.header(COOKIE, cookie).send().await.unwrap()
}

/// The `name=value` of the cookie `name` the answer sets, with its attributes.
fn set_cookie(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie set"))
        .to_string()
}

fn value(cookie: &str) -> String {
    cookie.split(';').next().unwrap().to_string()
}

/// Signs in with `token`: the session cookie as the browser would send it.
async fn sign_in(app: &TestApp, token: &str) -> String {
    let form = request(app, "/ui/login", "", None).await;
    let login = value(&set_cookie(&form, "pr_login"));
    let csrf = login.split_once('=').unwrap().1.to_string();
    let html = form.text().await.unwrap();
    assert!(
        html.contains(&format!(r#"name="csrf" value="{csrf}""#)),
        "{html}"
    );
    let resp = request(
        app,
        "/ui/login",
        &login,
        Some(&[("csrf", &csrf), ("token", token)]),
    )
    .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()[LOCATION], "/ui/overview");
    let session = set_cookie(&resp, "pr_session");
    assert!(
        session.contains("; HttpOnly") && session.contains("; SameSite=Strict"),
        "{session}"
    );
    assert!(session.contains("; Max-Age=28800"), "{session}");
    assert!(!session.contains("Secure"), "plain HTTP: {session}");
    value(&session)
}

async fn status(app: &TestApp, path: &str, cookie: &str) -> u16 {
    request(app, path, cookie, None).await.status().as_u16()
}

#[tokio::test]
async fn a_session_expires_on_the_registrys_clock_and_ends_with_its_token() {
    let app = TestApp::spawn().await;
    let session = sign_in(&app, &app.reviewer).await;
    let page = request(&app, "/ui/overview", &session, None).await;
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.starts_with("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    assert!(
        !html.contains(&app.reviewer),
        "the token is never in a page"
    );
    assert!(!html.contains("<script"), "no script");

    app.set_time("2027-01-01T08:00:00Z");
    assert_eq!(status(&app, "/ui/overview", &session).await, 200);
    app.set_time("2027-01-01T08:00:01Z");
    assert_eq!(status(&app, "/ui/overview", &session).await, 303, "expired");

    let token = app.token("short-lived", Role::Admin, None).await;
    let session = sign_in(&app, &token).await;
    assert_eq!(status(&app, "/ui/audit", &session).await, 200);
    app.revoke_token("short-lived");
    app.eventually(|| async { status(&app, "/ui/audit", &session).await == 303 })
        .await;
    app.shutdown().await;
}

#[tokio::test]
async fn sign_in_and_out_and_the_forms_csrf_tokens() {
    let app = TestApp::spawn().await;
    let form = request(&app, "/ui/login", "", None).await;
    let login = value(&set_cookie(&form, "pr_login"));
    let csrf = login.split_once('=').unwrap().1.to_string();
    let wrong = request(
        &app,
        "/ui/login",
        &login,
        Some(&[("csrf", &csrf), ("token", "prt_nope")]),
    )
    .await;
    assert_eq!(wrong.status(), 401);
    let unbound = request(
        &app,
        "/ui/login",
        "",
        Some(&[("csrf", &csrf), ("token", &app.admin)]),
    )
    .await;
    assert_eq!(
        unbound.status(),
        401,
        "a sign-in form not served to this browser"
    );
    assert!(
        unbound
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("pr_session="))
    );

    let session = sign_in(&app, &app.admin).await;
    let refused = request(&app, "/ui/logout", &session, Some(&[("csrf", "forged")])).await;
    assert_eq!(refused.status(), 303);
    assert_eq!(
        status(&app, "/ui/overview", &session).await,
        200,
        "a forged sign-out ends nothing"
    );
    let page = request(&app, "/ui/overview", &session, None)
        .await
        .text()
        .await
        .unwrap();
    let csrf = page
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    let out = request(&app, "/ui/logout", &session, Some(&[("csrf", &csrf)])).await;
    assert_eq!(out.status(), 303);
    assert_eq!(out.headers()[LOCATION], "/ui/login");
    assert!(set_cookie(&out, "pr_session").contains("Max-Age=0"));
    assert_eq!(
        status(&app, "/ui/overview", &session).await,
        303,
        "ended on the server"
    );
    // A known console path asked with another method is the API's 405.
    assert_eq!(status(&app, "/ui/logout", &session).await, 405);
    app.shutdown().await;
}

#[tokio::test]
async fn an_org_token_sees_its_own_org_only() {
    let app = TestApp::spawn().await;
    let acme = app.create_org("acme").await;
    let globex = app.create_org("globex").await;
    let acme_id = acme["id"].as_str().unwrap();
    let shop = app.create_client(acme_id, "shop", &[]).await;
    let token = app
        .token("globex-ci", Role::Org, globex["id"].as_str())
        .await;
    let session = sign_in(&app, &token).await;
    app.create_client(globex["id"].as_str().unwrap(), "feed", &[])
        .await;
    let opened = app
        .post(
            "/v1/reviews/campaigns",
            &app.admin,
            serde_json::json!({"org_id": globex["id"]}),
        )
        .await;
    let campaign = opened.expect(201)["id"].as_str().unwrap().to_string();
    let own = format!("/ui/orgs/{}", globex["id"].as_str().unwrap());
    let page = request(&app, &own, &session, None).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&format!(r#"href="/ui/campaigns/{campaign}""#)),
        "{html}"
    );
    assert_eq!(
        status(&app, &format!("/ui/campaigns/{campaign}"), &session).await,
        200
    );
    assert_eq!(
        status(&app, &format!("/ui/orgs/{acme_id}"), &session).await,
        404
    );
    let client = format!("/ui/clients/{}", shop["id"].as_str().unwrap());
    assert_eq!(status(&app, &client, &session).await, 404);
    for list in ["/ui/overview", "/ui/timeline", "/ui/campaigns"] {
        let html = request(&app, list, &session, None)
            .await
            .text()
            .await
            .unwrap();
        assert!(!html.contains("acme"), "{list}: {html}");
    }
    assert_eq!(
        status(&app, "/ui/audit", &session).await,
        403,
        "the trail is for reviewer and admin tokens"
    );
    app.shutdown().await;
}
