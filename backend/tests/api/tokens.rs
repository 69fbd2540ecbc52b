//! API tokens over real HTTP: their lifetime on the registry's clock, the end of
//! an offboarded org's tokens, last use, and the admin API that makes, lists
//! and revokes them.

use crate::helpers::*;
use partner_registry::records::Role;
use serde_json::{Value, json};

/// `POST /v1/tokens` as the admin, answering 201.
async fn create(app: &TestApp, body: Value) -> Value {
    let r = app.post("/v1/tokens", &app.admin, body).await;
    assert_eq!(r.header("cache-control"), "no-store");
    r.expect(201).clone()
}

/// The listing of the token named `name` in `GET /v1/tokens`.
async fn listed(app: &TestApp, name: &str) -> Value {
    let list = app.get("/v1/tokens", &app.admin).await;
    list.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("{name} not listed: {}", list.text))
        .clone()
}

/// The `errors` of a 422 answer to `POST /v1/tokens` with `body`.
async fn refused(app: &TestApp, body: Value) -> Resp {
    let r = app.post("/v1/tokens", &app.admin, body).await;
    r.expect(422);
    r
}

#[tokio::test]
async fn a_token_expires_by_the_registrys_clock() {
    let app = TestApp::spawn().await;
    let made = create(
        &app,
        json!({"name": "short", "role": "reviewer", "expires_in": "1h"}),
    )
    .await;
    let token = made["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("prt_"), "{made}");
    assert_eq!(made["expires_at"], "2027-01-01T01:00:00Z");
    assert_eq!(made["status"], "active");
    assert_eq!(made["created_by"], "admin");
    assert_eq!(made["created_at"], START);
    let until = create(
        &app,
        json!({"name": "until", "role": "admin", "expires_at": "2027-01-01T00:30:00+00:00"}),
    )
    .await;
    let until_token = until["token"].as_str().unwrap().to_string();
    assert_eq!(until["expires_at"], "2027-01-01T00:30:00Z");

    app.get("/v1/orgs", &token).await.expect(200);
    app.get("/v1/orgs", &until_token).await.expect(200);
    app.set_time("2027-01-01T00:30:01Z");
    app.get("/v1/orgs", &until_token).await.expect(401);
    // The last second still counts, as for clients.
    app.set_time("2027-01-01T01:00:00Z");
    app.get("/v1/whoami", &token).await.expect(200);
    app.set_time("2027-01-01T01:00:01Z");
    let r = app.get("/v1/whoami", &token).await;
    r.expect(401);
    assert_eq!(r.body["status"], 401);
    app.post(
        "/v1/introspect",
        &token,
        json!({"client_id": "pc_x", "client_secret": "pcs_x"}),
    )
    .await
    .expect(401);
    assert_eq!(listed(&app, "short").await["status"], "expired");
    assert_eq!(listed(&app, "until").await["status"], "expired");
    // The admin token, made without a lifetime, never expires.
    app.set_time("2099-01-01T00:00:00Z");
    app.get("/v1/orgs", &app.admin).await.expect(200);
    assert_eq!(listed(&app, "admin").await["expires_at"], Value::Null);
    // Its name stays taken until it is revoked: expiry is not revocation.
    let r = app
        .post(
            "/v1/tokens",
            &app.admin,
            json!({"name": "short", "role": "reviewer"}),
        )
        .await;
    r.expect(409);
    assert_eq!(r.error_fields(), ["name"]);
    app.shutdown().await;
}

#[tokio::test]
async fn a_lifetime_that_breaks_its_rule_is_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    for bad in ["0s", "30d", "87601h", "soon"] {
        let r = refused(
            &app,
            json!({"name": "x", "role": "admin", "expires_in": bad}),
        )
        .await;
        assert_eq!(r.error_fields(), ["expires_in"], "{bad}: {}", r.text);
        assert!(
            r.error_message("expires_in").contains("such as 720h")
                && r.error_message("expires_in").contains("at most 87600h"),
            "{}",
            r.text
        );
    }
    let r = refused(
        &app,
        json!({"name": "x", "role": "admin", "expires_at": "2026-12-31T23:59:59Z"}),
    )
    .await;
    assert_eq!(r.error_fields(), ["expires_at"]);
    assert!(
        r.error_message("expires_at").contains(START),
        "names the registry's time: {}",
        r.text
    );
    let r = refused(
        &app,
        json!({"name": "x", "role": "admin", "expires_at": "2027-01-01T01:00:00Z", "expires_in": "1h"}),
    )
    .await;
    assert_eq!(r.error_fields(), ["expires_at"]);
    // Every failing field at once.
    let r = refused(
        &app,
        json!({"role": "root", "org": "org_nope", "expires_in": "1y"}),
    )
    .await;
    assert_eq!(r.error_fields(), ["name", "role", "expires_in", "org"]);
    let r = refused(&app, json!({"name": "x", "role": "org"})).await;
    assert_eq!(r.error_fields(), ["org"]);
    app.post(
        "/v1/tokens",
        &app.admin,
        json!({"name": "x", "role": "admin", "scope": "all"}),
    )
    .await
    .expect(400);
    // Nothing was made.
    let list = app.get("/v1/tokens", &app.admin).await;
    assert_eq!(list.expect(200)["items"].as_array().unwrap().len(), 2);
    app.shutdown().await;
}

#[tokio::test]
async fn an_offboarded_orgs_tokens_are_refused_at_once() {
    let app = TestApp::spawn().await;
    let org = app.create_org("leaving").await;
    let oid = org["id"].as_str().unwrap();
    let staying = app.create_org("staying").await;
    let sid = staying["id"].as_str().unwrap();
    let by_cli = app.token("leaving-cli", Role::Org, Some(oid)).await;
    let by_api = create(
        &app,
        json!({"name": "leaving-api", "role": "org", "org": oid}),
    )
    .await;
    let by_api = by_api["token"].as_str().unwrap().to_string();
    let other = app.token("staying-ci", Role::Org, Some(sid)).await;
    for t in [&by_cli, &by_api] {
        app.get(&format!("/v1/orgs/{oid}"), t).await.expect(200);
    }
    app.delete(&format!("/v1/orgs/{oid}"), &app.admin)
        .await
        .expect(200);
    // No waiting: the offboarding's answer comes once the cache includes it.
    for t in [&by_cli, &by_api] {
        app.get("/v1/whoami", t).await.expect(401);
        app.get(&format!("/v1/orgs/{oid}"), t).await.expect(401);
    }
    app.get("/v1/whoami", &other).await.expect(200);
    for name in ["leaving-cli", "leaving-api"] {
        let t = listed(&app, name).await;
        assert_eq!(t["status"], "org_offboarded", "{t}");
        assert_eq!(t["revoked_at"], Value::Null);
    }
    assert_eq!(listed(&app, "staying-ci").await["status"], "active");
    // No new token for it either.
    let r = refused(&app, json!({"name": "late", "role": "org", "org": oid})).await;
    assert_eq!(r.error_fields(), ["org"]);
    assert!(r.error_message("org").contains("offboarded"), "{}", r.text);
    // Its tokens can still be revoked, which the list then says.
    app.delete("/v1/tokens/leaving-api", &app.admin)
        .await
        .expect(200);
    assert_eq!(listed(&app, "leaving-api").await["status"], "revoked");
    app.shutdown().await;
}

#[tokio::test]
async fn only_admin_tokens_manage_tokens() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let oid = org["id"].as_str().unwrap();
    let org_tok = app.token("acme-ci", Role::Org, Some(oid)).await;
    let audit_len = |r: Resp| r.expect(200)["items"].as_array().unwrap().len();
    let events = audit_len(app.get("/v1/audit?limit=1000", &app.admin).await);
    for t in [&app.reviewer, &org_tok] {
        let r = app
            .post("/v1/tokens", t, json!({"name": "mine", "role": "admin"}))
            .await;
        r.expect(403);
        assert!(
            r.body["detail"].as_str().unwrap().contains("admin"),
            "{r:?}"
        );
        app.get("/v1/tokens", t).await.expect(403);
        app.delete("/v1/tokens/admin", t).await.expect(403);
    }
    app.post("/v1/tokens", "", json!({"name": "mine", "role": "admin"}))
        .await
        .expect(401);
    // Nothing changed: the admin token works and no event was appended.
    app.get("/v1/whoami", &app.admin).await.expect(200);
    assert_eq!(
        audit_len(app.get("/v1/audit?limit=1000", &app.admin).await),
        events
    );
    assert_eq!(
        app.verify(),
        partner_registry::audit::AuditCheck::Intact(events as i64)
    );
    app.shutdown().await;
}

#[tokio::test]
async fn the_api_makes_lists_and_revokes_tokens_showing_each_once() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let oid = org["id"].as_str().unwrap();
    let made = app
        .post_with(
            "/v1/tokens",
            json!({"name": "acme team", "role": "org", "org": oid, "expires_in": "720h"}),
            &[("x-change-ref", "PR-7")],
        )
        .await
        .expect(201)
        .clone();
    let token = made["token"].as_str().unwrap().to_string();
    assert_eq!(made["org_id"], oid);
    assert_eq!(made["role"], "org");
    assert_eq!(made["expires_at"], "2027-01-31T00:00:00Z");
    let who = app.get("/v1/whoami", &token).await;
    assert_eq!(
        who.expect(200),
        &json!({"name": "acme team", "role": "org", "org": oid})
    );

    // Listed with the others, never with a token.
    let list = app.get("/v1/tokens", &app.admin).await;
    let items = list.expect(200)["items"].as_array().unwrap().clone();
    let names: Vec<&str> = items.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["admin", "reviewer", "acme team"]);
    for t in &items {
        assert!(t.get("token").is_none(), "{t}");
    }
    assert_eq!(items[0]["created_by"], "cli");
    assert_eq!(items[2]["created_by"], "admin");
    for text in [
        &list.text,
        &app.get("/v1/audit?limit=1000", &app.admin).await.text,
    ] {
        assert!(!text.contains(&token), "the token was shown again: {text}");
        assert!(!text.contains(&token[4..]), "{text}");
    }
    app.get("/v1/tokens?status=active", &app.admin)
        .await
        .expect(400);

    // Audited, with the change reference and the maker.
    let audit = app.get("/v1/audit?limit=1000", &app.admin).await;
    let events = audit.expect(200)["items"].as_array().unwrap().clone();
    let created = events.last().unwrap();
    assert_eq!(created["action"], "token.create");
    assert_eq!(created["entity_id"], "acme team");
    assert_eq!(created["actor"], "admin");
    assert_eq!(created["org_id"], oid);
    assert_eq!(created["change_ref"], "PR-7");
    assert_eq!(created["after"]["status"], "active");
    assert_eq!(created["after"]["expires_at"], "2027-01-31T00:00:00Z");

    // Revoked by name (percent-encoded): refused at once, and only once.
    let r = app.delete("/v1/tokens/acme%20team", &app.admin).await;
    let revoked = r.expect(200);
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["revoked_at"], START);
    app.get("/v1/whoami", &token).await.expect(401);
    app.delete("/v1/tokens/acme%20team", &app.admin)
        .await
        .expect(404);
    app.delete("/v1/tokens/nobody", &app.admin)
        .await
        .expect(404);
    app.delete("/v1/tokens/bad%zz", &app.admin)
        .await
        .expect(400);
    let audit = app.get("/v1/audit?limit=1000", &app.admin).await;
    let last = audit.expect(200)["items"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["action"], "token.revoke");
    assert_eq!(last["before"]["status"], "active");
    assert_eq!(last["after"]["status"], "revoked");
    assert_eq!(listed(&app, "acme team").await["status"], "revoked");
    // The name is free again.
    create(&app, json!({"name": "acme team", "role": "reviewer"})).await;
    assert_eq!(
        app.verify(),
        partner_registry::audit::AuditCheck::Intact(events.len() as i64 + 2)
    );

    // Stored only as its keyed hash.
    let stored = app.stored_bytes();
    assert!(
        !stored
            .windows(token.len() - 4)
            .any(|w| w == &token.as_bytes()[4..]),
        "the token is stored in the database"
    );
    app.shutdown().await;
}

/// Waits until `GET /v1/tokens` says the token `name` was last used at `want`.
async fn wait_last_used(app: &TestApp, name: &str, want: &str) {
    app.eventually(|| async { listed(app, name).await["last_used_at"] == want })
        .await;
}

#[tokio::test]
async fn a_tokens_last_use_is_recorded_coarsely_off_the_request_path() {
    let app = TestApp::spawn().await;
    let made = create(&app, json!({"name": "ci", "role": "reviewer"})).await;
    let token = made["token"].as_str().unwrap().to_string();
    assert_eq!(made["last_used_at"], Value::Null);
    // Any authenticated request is a use, even one its role is refused.
    app.get("/v1/tokens", &token).await.expect(403);
    wait_last_used(&app, "ci", START).await;

    app.set_time("2027-01-01T00:00:40Z");
    app.get("/v1/orgs", &token).await.expect(200);
    // A minute after the last write, the next use is written.
    app.set_time("2027-01-01T00:01:10Z");
    app.get("/v1/orgs", &token).await.expect(200);
    wait_last_used(&app, "ci", "2027-01-01T00:01:10Z").await;
    // A use is not a change: the audit trail does not grow with it.
    let audit = app.get("/v1/audit?limit=1000", &app.admin).await;
    assert!(!audit.text.contains("00:01:10Z"), "{}", audit.text);
    app.shutdown().await;
}
