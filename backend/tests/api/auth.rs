//! Authentication and roles: no token, a bad or revoked token, what each role may see and do, and the stored form of tokens.

use crate::helpers::*;
use partner_registry::records::Role;
use serde_json::{Value, json};

#[tokio::test]
async fn healthz_needs_no_token_and_api_needs_one() {
    let app = TestApp::spawn().await;
    app.send("GET", "/healthz", None, None, &[])
        .await
        .expect(200);
    let r = app.send("GET", "/v1/orgs", None, None, &[]).await;
    r.expect(401);
    assert_eq!(r.body["status"], 401);
    app.send("GET", "/v1/orgs", Some("prt_nonsense"), None, &[])
        .await
        .expect(401);
    // Well-formed but unknown token.
    let fake = partner_registry::crypto::new_api_token().unwrap();
    app.send("GET", "/v1/orgs", Some(&fake), None, &[])
        .await
        .expect(401);
    app.send("POST", "/v1/introspect", None, Some(json!({})), &[])
        .await
        .expect(401);
    app.shutdown().await;
}

/// A request: its method, path and body.
type Request = (&'static str, String, Option<Value>);

/// Every kind of change to the org `org` and its client `client`.
fn changes_to(org: &str, client: &str) -> Vec<Request> {
    vec![
        (
            "PATCH",
            format!("/v1/orgs/{org}"),
            Some(json!({"tenant": "x"})),
        ),
        ("DELETE", format!("/v1/orgs/{org}"), None),
        (
            "POST",
            "/v1/clients".into(),
            Some(client_body(org, "x", &[])),
        ),
        (
            "PATCH",
            format!("/v1/clients/{client}"),
            Some(json!({"purpose": "x"})),
        ),
        ("DELETE", format!("/v1/clients/{client}"), None),
    ]
}

/// Sends each request with `token`; each must answer `status`.
async fn each_answers(app: &TestApp, token: &str, requests: Vec<Request>, status: u16) {
    for (method, path, body) in requests {
        let r = app.send(method, &path, Some(token), body, &[]).await;
        assert_eq!(r.status.as_u16(), status, "{method} {path}: {}", r.text);
    }
}

#[tokio::test]
async fn roles_reviewer_and_org_tokens() {
    let app = TestApp::spawn().await;
    let mine = app.create_org("mine").await;
    let theirs = app.create_org("theirs").await;
    let mid = mine["id"].as_str().unwrap();
    let tid = theirs["id"].as_str().unwrap();
    let their_client = app.create_client(tid, "their-app", &[]).await;
    let tcid = their_client["id"].as_str().unwrap();
    let org_tok = app.token("mine-ci", Role::Org, Some(mid)).await;
    let rev = app.reviewer.clone();

    // Reviewer: reads everything, changes nothing.
    app.get(&format!("/v1/orgs/{tid}"), &rev).await.expect(200);
    app.get(&format!("/v1/clients/{tcid}"), &rev)
        .await
        .expect(200);
    assert_eq!(
        app.get("/v1/orgs", &rev).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    app.get("/v1/audit", &rev).await.expect(200);
    let mut reviewer_writes = changes_to(tid, tcid);
    reviewer_writes.push(("POST", "/v1/orgs".into(), Some(org_body("x"))));
    let clock = json!({"now": "2027-01-02T00:00:00Z"});
    reviewer_writes.push(("PUT", "/v1/clock".into(), Some(clock)));
    each_answers(&app, &rev, reviewer_writes, 403).await;

    // Org token: its own org and clients.
    app.get(&format!("/v1/orgs/{mid}"), &org_tok)
        .await
        .expect(200);
    let listed = app.get("/v1/orgs", &org_tok).await.body.clone();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["id"], mid);
    let own = app
        .post(
            "/v1/clients",
            &org_tok,
            client_body(mid, "my-app", &["orders:read"]),
        )
        .await
        .expect(201)
        .clone();
    let own_path = format!("/v1/clients/{}", own["id"].as_str().unwrap());
    app.get(&own_path, &org_tok).await.expect(200);
    app.patch(&own_path, &org_tok, json!({"purpose": "changed"}))
        .await
        .expect(200);
    let intro = app
        .introspect(
            &org_tok,
            own["client_id"].as_str().unwrap(),
            own["client_secret"].as_str().unwrap(),
        )
        .await;
    assert_eq!(intro.body["active"], true);
    assert_eq!(
        app.get("/v1/clients", &org_tok).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        app.get(&format!("/v1/clients?org_id={tid}"), &org_tok)
            .await
            .body["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // Its own org record cannot change.
    app.patch(&format!("/v1/orgs/{mid}"), &org_tok, json!({"tenant": "x"}))
        .await
        .expect(403);
    app.delete(&format!("/v1/orgs/{mid}"), &org_tok)
        .await
        .expect(403);
    app.post("/v1/orgs", &org_tok, org_body("x"))
        .await
        .expect(403);
    app.get("/v1/audit", &org_tok).await.expect(403);
    // Every id of the other org answers 404.
    let their_client_id = their_client["client_id"].as_str().unwrap();
    let mut theirs = changes_to(tid, tcid);
    theirs.extend([
        ("GET", format!("/v1/orgs/{tid}"), None),
        ("GET", format!("/v1/clients/{tcid}"), None),
        ("GET", format!("/v1/clients/{their_client_id}"), None),
    ]);
    each_answers(&app, &org_tok, theirs, 404).await;
    // And nothing of theirs changed.
    assert_eq!(
        app.get(&format!("/v1/clients/{tcid}"), &app.admin)
            .await
            .body["version"],
        1
    );
    app.shutdown().await;
}

#[tokio::test]
async fn tokens_revoked_by_the_cli_stop_within_a_second() {
    let app = TestApp::spawn().await;
    let t = app.token("temp", Role::Admin, None).await;
    // A token created by another process is followed too.
    app.eventually(|| async { app.get("/v1/orgs", &t).await.status == 200 })
        .await;
    app.revoke_token("temp");
    let took = app
        .eventually(|| async { app.get("/v1/orgs", &t).await.status == 401 })
        .await;
    assert!(took < std::time::Duration::from_secs(1), "took {took:?}");
    app.shutdown().await;
}

/// Tokens are stored as an HMAC under a key derived from the server key: the row
/// is not the token's SHA-256, and someone who can write the database but does not
/// hold the key cannot add a token that authenticates.
#[tokio::test]
async fn api_tokens_are_stored_keyed_and_a_forged_row_does_not_authenticate() {
    use sha2::Digest;
    let app = TestApp::spawn().await;
    let stored = app.query_text(match app.target {
        partner_registry::db::Target::Sqlite(_) => {
            "SELECT lower(hex(token_hmac)) FROM api_tokens WHERE name = 'admin'"
        }
        partner_registry::db::Target::Postgres(_) => {
            "SELECT encode(token_hmac, 'hex') FROM api_tokens WHERE name = 'admin'"
        }
    });
    let sha = hex::encode(sha2::Sha256::digest(app.admin.as_bytes()));
    assert_ne!(stored, sha, "an unkeyed hash");
    assert_eq!(stored, hex::encode(app.key().hash_token(&app.admin)));
    // A forger's own token, inserted with its plain SHA-256 as before.
    let forged = partner_registry::crypto::new_api_token().unwrap();
    let forged_sha = hex::encode(sha2::Sha256::digest(forged.as_bytes()));
    app.sql(&match app.target {
        partner_registry::db::Target::Sqlite(_) => format!(
            "INSERT INTO api_tokens (name, role, token_hmac, created_at) VALUES ('forged', 'admin', x'{forged_sha}', 0)"
        ),
        partner_registry::db::Target::Postgres(_) => format!(
            "INSERT INTO api_tokens (name, role, token_hmac, created_at) VALUES ('forged', 'admin', decode('{forged_sha}', 'hex'), 0)"
        ),
    });
    app.get("/v1/orgs", &forged).await.expect(401);
    app.shutdown().await;
}

#[tokio::test]
async fn whoami_names_the_tokens_role_and_org() {
    let app = TestApp::spawn().await;
    let org = app.create_org("mine").await;
    let oid = org["id"].as_str().unwrap();
    let org_tok = app.token("mine-ci", Role::Org, Some(oid)).await;
    let me = app.get("/v1/whoami", &org_tok).await;
    assert_eq!(
        me.expect(200),
        &json!({"name": "mine-ci", "role": "org", "org": oid})
    );
    let admin = app.get("/v1/whoami", &app.admin).await;
    assert_eq!(
        admin.expect(200),
        &json!({"name": "admin", "role": "admin", "org": null})
    );
    app.get("/v1/whoami", &app.reviewer).await.body["role"]
        .as_str()
        .filter(|r| *r == "reviewer")
        .expect("reviewer role");
    app.send("GET", "/v1/whoami", None, None, &[])
        .await
        .expect(401);
}
