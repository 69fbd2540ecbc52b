//! Every rule of the registry, over real HTTP against the app on port 0.

use crate::helpers::*;
use partner_registry::audit::AuditCheck;
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

/// Every answer carries `Date` from the registry's clock, once, in IMF-fixdate form.
#[tokio::test]
async fn date_header_comes_from_the_registry_clock_on_every_answer() {
    let app = TestApp::spawn().await;
    let org = app.create_org("dated").await;
    let client = app
        .create_client(org["id"].as_str().unwrap(), "shop", &["orders:read"])
        .await;
    let big = json!({"name": "x".repeat(70 * 1024)});
    for (now, want) in [
        (START, "Fri, 01 Jan 2027 00:00:00 GMT"),
        ("2026-11-29T08:10:00Z", "Sun, 29 Nov 2026 08:10:00 GMT"),
        ("2027-03-05T23:59:59+01:00", "Fri, 05 Mar 2027 22:59:59 GMT"),
    ] {
        app.set_time(now);
        let answers = [
            app.send("GET", "/healthz", None, None, &[]).await,
            app.send("GET", "/v1/openapi.json", None, None, &[]).await,
            app.send("GET", "/v1/nope", None, None, &[]).await,
            app.send("DELETE", "/healthz", None, None, &[]).await,
            app.send("GET", "/v1/orgs", None, None, &[]).await,
            app.get("/v1/orgs", &app.admin).await,
            app.get("/v1/orgs?limit=0", &app.admin).await,
            app.post("/v1/orgs", &app.admin, big.clone()).await,
            app.introspect(
                &app.admin,
                client["client_id"].as_str().unwrap(),
                "pcs_wrong",
            )
            .await,
            app.send(
                "PUT",
                "/v1/clock",
                Some(&app.admin),
                Some(json!({"now": now})),
                &[],
            )
            .await,
        ];
        let statuses: Vec<u16> = answers.iter().map(|r| r.status.as_u16()).collect();
        assert_eq!(statuses, [200, 200, 404, 405, 401, 200, 422, 413, 200, 200]);
        for r in &answers {
            let dates: Vec<_> = r.headers.get_all("date").iter().collect();
            assert_eq!(dates, [want], "{} {}", r.status, r.text);
        }
    }
    app.shutdown().await;
}

#[tokio::test]
async fn org_create_read_list_and_pagination() {
    let app = TestApp::spawn().await;
    let r = app.post("/v1/orgs", &app.admin, org_body("acme")).await;
    let org = r.expect(201).clone();
    let id = org["id"].as_str().unwrap().to_string();
    assert_eq!(r.header("location"), format!("/v1/orgs/{id}"));
    assert_eq!(r.header("etag"), "\"1\"");
    assert_eq!(org["version"], 1);
    assert_eq!(org["max_clients"], 10);
    assert_eq!(org["labels"], json!({}));
    assert_eq!(org["status"], "active");
    assert_eq!(org["tenant"], Value::Null);
    assert_eq!(org["offboarded_at"], Value::Null);
    assert_eq!(org["created_at"], "2027-01-01T00:00:00Z");
    assert_eq!(
        org["allowed_scopes"],
        json!(["invoices:read", "orders:read", "orders:write"])
    );
    let got = app.get(&format!("/v1/orgs/{id}"), &app.admin).await;
    assert_eq!(got.expect(200), &org);
    assert_eq!(got.header("etag"), "\"1\"");

    app.create_org("beta").await;
    app.create_org("gamma").await;
    let page1 = app
        .get("/v1/orgs?limit=2", &app.admin)
        .await
        .expect(200)
        .clone();
    assert_eq!(page1["items"].as_array().unwrap().len(), 2);
    let cursor = page1["next_cursor"].as_str().unwrap().to_string();
    let page2 = app
        .get(&format!("/v1/orgs?limit=2&cursor={cursor}"), &app.admin)
        .await
        .expect(200)
        .clone();
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert_eq!(page2["next_cursor"], Value::Null);
    let by_name = app
        .get("/v1/orgs?name=beta", &app.admin)
        .await
        .expect(200)
        .clone();
    assert_eq!(by_name["items"][0]["name"], "beta");
    assert_eq!(by_name["items"].as_array().unwrap().len(), 1);
    let active = app
        .get("/v1/orgs?status=active", &app.admin)
        .await
        .expect(200)
        .clone();
    assert_eq!(active["items"].as_array().unwrap().len(), 3);
    app.get("/v1/orgs?status=bogus", &app.admin)
        .await
        .expect(422);
    app.get("/v1/orgs?limit=0", &app.admin).await.expect(422);
    // Both lists name every failing parameter at once, with their own statuses.
    let r = app
        .get("/v1/orgs?status=revoked&limit=0&cursor=x", &app.admin)
        .await;
    r.expect(422);
    assert_eq!(r.error_fields(), ["status", "limit", "cursor"]);
    assert!(r.error_message("status").contains("offboarded"));
    let r = app
        .get(
            "/v1/clients?status=offboarded&expiring_within=soon&limit=1001&cursor=-1",
            &app.admin,
        )
        .await;
    r.expect(422);
    assert_eq!(
        r.error_fields(),
        ["status", "expiring_within", "limit", "cursor"]
    );
    assert!(r.error_message("status").contains("revoked"));
    app.get("/v1/orgs?colour=red", &app.admin).await.expect(400);
    app.get("/v1/orgs/org_missing", &app.admin)
        .await
        .expect(404);
    app.shutdown().await;
}

#[tokio::test]
async fn validation_names_every_failing_field() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "/v1/orgs",
            &app.admin,
            json!({"name": "Not A Slug", "technical_owner": "nope", "approval_authority": "x@",
                   "commercial_sponsor": "also bad", "contract_start": "2027-13-01", "contract_end": "tomorrow",
                   "allowed_scopes": ["ok", "has space"], "max_clients": -1, "labels": {"k": 5}}),
        )
        .await;
    r.expect(422);
    let fields = r.error_fields();
    for f in [
        "name",
        "legal_entity",
        "technical_owner",
        "approval_authority",
        "commercial_sponsor",
        "contract_id",
        "contract_start",
        "contract_end",
        "allowed_scopes",
        "max_clients",
        "labels.k",
    ] {
        assert!(
            fields.contains(&f.to_string()),
            "{f} not in {fields:?}: {}",
            r.text
        );
    }
    // contract_end before contract_start
    let mut b = org_body("acme");
    b["contract_start"] = json!("2028-01-01");
    let r = app.post("/v1/orgs", &app.admin, b).await;
    r.expect(422);
    assert_eq!(r.error_fields(), vec!["contract_end"]);
    // Unknown fields: 400.
    let mut b = org_body("acme");
    b["colour"] = json!("red");
    let r = app.post("/v1/orgs", &app.admin, b).await;
    r.expect(400);
    assert!(r.body["detail"].as_str().unwrap().contains("colour"));
    // Uniqueness: 409 on name, with the errors[] list.
    app.create_org("acme").await;
    let r = app.post("/v1/orgs", &app.admin, org_body("acme")).await;
    r.expect(409);
    assert_eq!(r.error_fields(), vec!["name"]);
    app.shutdown().await;
}

#[tokio::test]
async fn bad_input_never_5xx() {
    let app = TestApp::spawn().await;
    let big = "x".repeat(70 * 1024);
    let r = app
        .http
        .post(format!("{}/v1/orgs", app.url))
        .bearer_auth(&app.admin)
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    for body in ["", "{", "[]", "null", "42", "\"s\"", "{\"name\":", "\u{0}"] {
        for path in ["/v1/orgs", "/v1/clients", "/v1/introspect"] {
            let r = app
                .http
                .post(format!("{}{path}", app.url))
                .bearer_auth(&app.admin)
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            // Introspection answers any JSON with {"active":false}; only non-JSON is a 400.
            let json = serde_json::from_str::<Value>(body).is_ok();
            let want = if path == "/v1/introspect" && json {
                200
            } else {
                400
            };
            assert_eq!(r.status().as_u16(), want, "{path} {body:?}");
        }
    }
    for (m, p, want) in [
        ("GET", "/nope", 404),
        ("PUT", "/v1/orgs", 405),
        ("GET", "/v1/orgs/a/b", 404),
        ("POST", "/healthz", 405),
        ("DELETE", "/v1/orgs", 405),
    ] {
        app.send(m, p, Some(&app.admin), None, &[])
            .await
            .expect(want);
    }
    app.patch("/v1/orgs/nope", &app.admin, json!({"name": 1}))
        .await
        .expect(404);
    app.get("/v1/clients?expiring_within=soon", &app.admin)
        .await
        .expect(422);
    app.get("/v1/audit?after=-3", &app.admin).await.expect(422);
    app.shutdown().await;
}

#[tokio::test]
async fn merge_patch_if_match_and_version() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let path = format!("/v1/orgs/{}", org["id"].as_str().unwrap());
    let r = app
        .patch(
            &path,
            &app.admin,
            json!({"commercial_sponsor": null, "tenant": "eu", "labels": {"tier": "gold"}}),
        )
        .await;
    let v2 = r.expect(200).clone();
    assert_eq!(r.header("etag"), "\"2\"");
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["commercial_sponsor"], Value::Null);
    assert_eq!(v2["tenant"], "eu");
    assert_eq!(v2["legal_entity"], org["legal_entity"]);
    assert_eq!(v2["labels"], json!({"tier": "gold"}));
    // A patch that changes nothing keeps the version.
    app.patch(&path, &app.admin, json!({"tenant": "eu"}))
        .await
        .expect(200);
    assert_eq!(app.get(&path, &app.admin).await.body["version"], 2);
    // Stale If-Match: 412 and nothing changes.
    let r = app
        .send(
            "PATCH",
            &path,
            Some(&app.admin),
            Some(json!({"tenant": "us"})),
            &[("if-match", "\"1\"")],
        )
        .await;
    r.expect(412);
    let now = app.get(&path, &app.admin).await.body.clone();
    assert_eq!(now, v2);
    // Current If-Match works.
    let r = app
        .send(
            "PATCH",
            &path,
            Some(&app.admin),
            Some(json!({"tenant": "us"})),
            &[("if-match", "\"2\"")],
        )
        .await;
    assert_eq!(r.expect(200)["version"], 3);
    // Clearing a required field is a 422 on it.
    let r = app
        .patch(
            &path,
            &app.admin,
            json!({"contract_id": null, "technical_owner": "bad"}),
        )
        .await;
    r.expect(422);
    assert!(
        r.error_fields().contains(&"contract_id".to_string())
            && r.error_fields().contains(&"technical_owner".to_string())
    );
    app.shutdown().await;
}

#[tokio::test]
async fn org_changes_refused_when_clients_are_in_the_way() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let oid = org["id"].as_str().unwrap();
    let path = format!("/v1/orgs/{oid}");
    // Clients with an expiry of their own (one at the contract's end would
    // follow it instead of standing in the way).
    let with_expiry = |name: &str, scopes: &[&str]| {
        let mut body = client_body(oid, name, scopes);
        body["expires_at"] = json!("2027-06-01T00:00:00Z");
        body
    };
    let c = app
        .post(
            "/v1/clients",
            &app.admin,
            with_expiry("shop", &["orders:write"]),
        )
        .await
        .expect(201)
        .clone();
    app.post(
        "/v1/clients",
        &app.admin,
        with_expiry("erp", &["orders:read"]),
    )
    .await
    .expect(201);
    let r = app.patch(&path, &app.admin, json!({"allowed_scopes": ["orders:read"], "contract_end": "2027-03-31", "max_clients": 1})).await;
    r.expect(422);
    let mut fields = r.error_fields();
    fields.sort();
    assert_eq!(
        fields,
        vec!["allowed_scopes", "contract_end", "max_clients"]
    );
    assert!(
        r.error_message("allowed_scopes").contains("shop"),
        "{}",
        r.text
    );
    assert!(
        r.error_message("allowed_scopes")
            .contains(c["client_id"].as_str().unwrap())
    );
    assert!(!r.error_message("allowed_scopes").contains("erp"));
    assert!(
        r.error_message("contract_end").contains("shop")
            && r.error_message("contract_end").contains("erp")
    );
    assert_eq!(app.get(&path, &app.admin).await.body["version"], 1);
    // Widening and extending are fine.
    app.patch(&path, &app.admin, json!({"allowed_scopes": ["orders:read", "orders:write", "x"], "contract_end": "2028-01-01"}))
        .await
        .expect(200);
    app.shutdown().await;
}

#[tokio::test]
async fn client_lifecycle_and_rules() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let oid = org["id"].as_str().unwrap();
    let r = app
        .post(
            "/v1/clients",
            &app.admin,
            client_body(oid, "shop", &["orders:read", "orders:read"]),
        )
        .await;
    let c = r.expect(201).clone();
    let cid = c["id"].as_str().unwrap();
    assert_eq!(r.header("location"), format!("/v1/clients/{cid}"));
    assert_eq!(r.header("etag"), "\"1\"");
    let secret = c["client_secret"].as_str().unwrap();
    assert!(secret.starts_with("pcs_") && partner_registry::crypto::is_client_secret(secret));
    assert!(c["client_id"].as_str().unwrap().starts_with("pc_"));
    assert_eq!(c["expires_at"], "2027-06-30T23:59:59Z");
    assert_eq!(c["scopes"], json!(["orders:read"]));
    assert_eq!(c["status"], "active");
    assert_eq!(c["revoked_at"], Value::Null);
    assert_eq!(c["version"], 1);
    // The secret is never returned again.
    let by_id = app
        .get(&format!("/v1/clients/{cid}"), &app.admin)
        .await
        .expect(200)
        .clone();
    assert!(by_id.get("client_secret").is_none());
    let by_client_id = app
        .get(
            &format!("/v1/clients/{}", c["client_id"].as_str().unwrap()),
            &app.admin,
        )
        .await;
    assert_eq!(by_client_id.expect(200), &by_id);
    assert!(
        !app.get("/v1/clients", &app.admin)
            .await
            .text
            .contains(secret)
    );

    // Rules, all reported at once.
    let mut b = client_body(oid, "shop", &["orders:read", "admin:all"]);
    b["expires_at"] = json!("2027-07-01T00:00:00Z");
    b["owner"] = json!("not-an-email");
    let r = app.post("/v1/clients", &app.admin, b).await;
    r.expect(422);
    let mut f = r.error_fields();
    f.sort();
    assert_eq!(
        f,
        vec!["expires_at", "name", "owner", "scopes"],
        "{}",
        r.text
    );
    assert!(r.error_message("scopes").contains("admin:all"));
    // Offsets accepted and normalised.
    let mut b = client_body(oid, "erp", &[]);
    b["expires_at"] = json!("2027-03-01T02:00:00+02:00");
    assert_eq!(
        app.post("/v1/clients", &app.admin, b).await.expect(201)["expires_at"],
        "2027-03-01T00:00:00Z"
    );
    // Unknown org.
    let r = app
        .post("/v1/clients", &app.admin, client_body("org_nope", "x", &[]))
        .await;
    r.expect(422);
    assert_eq!(r.error_fields(), vec!["org_id"]);
    // Missing everything.
    let r = app.post("/v1/clients", &app.admin, json!({})).await;
    r.expect(422);
    assert_eq!(r.error_fields().len(), 5, "{}", r.text);

    // Patch: org never changes; If-Match.
    let other = app.create_org("other").await;
    let path = format!("/v1/clients/{cid}");
    let r = app
        .patch(
            &path,
            &app.admin,
            json!({"org_id": other["id"], "purpose": "new"}),
        )
        .await;
    r.expect(422);
    assert_eq!(r.error_fields(), vec!["org_id"]);
    assert!(r.error_message("org_id").contains("never changes org"));
    app.patch(&path, &app.admin, json!({"org_id": oid}))
        .await
        .expect(200);
    let r = app
        .send(
            "PATCH",
            &path,
            Some(&app.admin),
            Some(json!({"purpose": "x"})),
            &[("if-match", "\"7\"")],
        )
        .await;
    r.expect(412);
    assert_eq!(
        app.get(&path, &app.admin).await.body["purpose"],
        "sync orders"
    );
    let r = app.patch(&path, &app.admin, json!({"scopes": ["orders:write", "orders:read"], "expires_at": "2027-05-01T00:00:00Z"})).await;
    let v2 = r.expect(200);
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["scopes"], json!(["orders:read", "orders:write"]));
    // null expires_at resets to the default (end of contract).
    assert_eq!(
        app.patch(&path, &app.admin, json!({"expires_at": null}))
            .await
            .expect(200)["expires_at"],
        "2027-06-30T23:59:59Z"
    );
    app.patch(&path, &app.admin, json!({"client_secret": "x"}))
        .await
        .expect(400);

    // Revoke: 200 with the record, again 200 with the same.
    let rev = app.delete(&path, &app.admin).await.expect(200).clone();
    assert_eq!(rev["status"], "revoked");
    assert_eq!(rev["revoked_at"], "2027-01-01T00:00:00Z");
    assert_eq!(app.delete(&path, &app.admin).await.expect(200), &rev);
    app.patch(&path, &app.admin, json!({"purpose": "x"}))
        .await
        .expect(409);
    // A revoked client's name is free again.
    app.create_client(oid, "shop", &[]).await;
    app.shutdown().await;
}

#[tokio::test]
async fn quota_counts_active_clients() {
    let app = TestApp::spawn().await;
    let mut b = org_body("acme");
    b["max_clients"] = json!(2);
    let org = app
        .post("/v1/orgs", &app.admin, b)
        .await
        .expect(201)
        .clone();
    let oid = org["id"].as_str().unwrap();
    // The refusal of a client `name`, which must end with `names`.
    let refused = async |name: &str, names: &str| {
        let r = app
            .post("/v1/clients", &app.admin, client_body(oid, name, &[]))
            .await;
        r.expect(422);
        assert_eq!(r.error_fields(), vec!["org_id"]);
        let message = r.error_message("org_id");
        assert!(
            message.ends_with(&format!(
                "reached its max_clients of 2 active clients: {names}"
            )),
            "the refusal names the active clients: {message}"
        );
    };
    let a = app.create_client(oid, "a", &[]).await;
    let mut short = client_body(oid, "b", &[]);
    short["expires_at"] = json!("2027-02-01T00:00:00Z");
    app.post("/v1/clients", &app.admin, short).await.expect(201);
    refused("c", "a, b").await;
    // Once expired, b no longer counts, nor is it named.
    app.set_time("2027-02-02T00:00:00Z");
    app.create_client(oid, "c", &[]).await;
    refused("d", "a, c").await;
    // Nor does a revoked client.
    app.delete(
        &format!("/v1/clients/{}", a["id"].as_str().unwrap()),
        &app.admin,
    )
    .await
    .expect(200);
    app.create_client(oid, "d", &[]).await;
    app.shutdown().await;
}

#[tokio::test]
async fn introspection_and_immediate_revocation() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let oid = org["id"].as_str().unwrap();
    let c = app
        .create_client(oid, "shop", &["orders:read", "invoices:read"])
        .await;
    let cid = c["client_id"].as_str().unwrap();
    let secret = c["client_secret"].as_str().unwrap();
    let r = app.introspect(&app.reviewer, cid, secret).await;
    assert_eq!(
        r.expect(200),
        &json!({"active": true, "client_id": cid, "sub": cid, "org_id": oid, "org_name": "acme",
                "scope": "invoices:read orders:read", "exp": 1_814_399_999, "iat": 1_798_761_600,
                "contract_end": "2027-06-30", "operated_by": null})
    );
    let other = app.create_client(oid, "erp", &[]).await;
    for (id, s) in [
        (cid, "pcs_wrong"),
        ("pc_unknown", secret),
        (other["client_id"].as_str().unwrap(), secret),
        (cid, ""),
    ] {
        let r = app.introspect(&app.admin, id, s).await;
        assert_eq!(r.text, r#"{"active":false}"#);
    }
    app.delete(&format!("/v1/clients/{cid}"), &app.admin)
        .await
        .expect(200);
    assert_eq!(
        app.introspect(&app.admin, cid, secret).await.text,
        r#"{"active":false}"#
    );
    app.shutdown().await;
}

/// RFC 7662 fails closed: every JSON body that is not exactly a client_id and a
/// client_secret string answers 200 `{"active":false}`, never 422 or 400; only a
/// missing or bad API token (401), an oversize body (413) or a body that is not
/// JSON at all (400) answer otherwise.
#[tokio::test]
async fn introspection_answers_inactive_for_every_malformed_request() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let c = app
        .create_client(org["id"].as_str().unwrap(), "shop", &["orders:read"])
        .await;
    let cid = c["client_id"].as_str().unwrap();
    let secret = c["client_secret"].as_str().unwrap();
    assert_eq!(
        app.introspect(&app.admin, cid, secret).await.expect(200)["active"],
        true
    );
    let post_raw = |body: String| {
        app.http
            .post(format!("{}/v1/introspect", app.url))
            .bearer_auth(&app.admin)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let bodies = [
        json!({}),
        json!({"client_id": cid}),
        json!({"client_secret": secret}),
        json!({"client_id": cid, "client_secret": null}),
        json!({"client_id": null, "client_secret": secret}),
        json!({"client_id": 5, "client_secret": []}),
        json!({"client_id": cid, "client_secret": 7}),
        json!({"client_id": [cid], "client_secret": secret}),
        json!({"client_id": cid, "client_secret": {"value": secret}}),
        json!({"client_id": cid, "client_secret": secret, "token_type_hint": "x"}),
        json!([cid, secret]),
        json!(null),
        json!(42),
        json!("pcs_x"),
    ];
    for body in bodies {
        let r = app.post("/v1/introspect", &app.admin, body.clone()).await;
        assert_eq!(
            (r.status.as_u16(), r.text.as_str(), r.header("content-type")),
            (200, r#"{"active":false}"#, "application/json".to_string()),
            "{body}"
        );
    }
    // A duplicated field is valid JSON too.
    let dup = format!(r#"{{"client_id":"{cid}","client_id":"{cid}","client_secret":"{secret}"}}"#);
    let r = post_raw(dup).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().await.unwrap(), r#"{"active":false}"#);
    // Not JSON at all: 400; too big: 413; no or a bad token: 401.
    let r = post_raw("client_id=x&client_secret=y".into())
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let r = post_raw(format!(r#"{{"client_id":"{}"}}"#, "x".repeat(70 * 1024)))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    let problem: Value = r.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("field `client_id` alone takes 71682 bytes"),
        "{problem}"
    );
    app.send("POST", "/v1/introspect", None, Some(json!({})), &[])
        .await
        .expect(401);
    app.shutdown().await;
}

#[tokio::test]
async fn offboarding_revokes_every_client_in_one_go() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let oid = org["id"].as_str().unwrap();
    let c1 = app.create_client(oid, "one", &[]).await;
    let c2 = app.create_client(oid, "two", &[]).await;
    let path = format!("/v1/orgs/{oid}");
    let off = app.delete(&path, &app.admin).await.expect(200).clone();
    assert_eq!(off["status"], "offboarded");
    assert_eq!(off["offboarded_at"], "2027-01-01T00:00:00Z");
    assert_eq!(off["version"], 2);
    assert_eq!(app.delete(&path, &app.admin).await.expect(200), &off);
    for c in [&c1, &c2] {
        let got = app
            .get(
                &format!("/v1/clients/{}", c["id"].as_str().unwrap()),
                &app.admin,
            )
            .await;
        assert_eq!(got.expect(200)["status"], "revoked");
        let r = app
            .introspect(
                &app.admin,
                c["client_id"].as_str().unwrap(),
                c["client_secret"].as_str().unwrap(),
            )
            .await;
        assert_eq!(r.text, r#"{"active":false}"#);
    }
    let r = app
        .post("/v1/clients", &app.admin, client_body(oid, "three", &[]))
        .await;
    r.expect(422);
    assert!(r.error_message("org_id").contains("offboarded"));
    app.patch(&path, &app.admin, json!({"tenant": "x"}))
        .await
        .expect(409);
    assert_eq!(
        app.get("/v1/orgs?status=offboarded", &app.admin).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        app.get("/v1/clients?status=revoked", &app.admin).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // The name is free for a new org.
    app.create_org("acme").await;
    app.shutdown().await;
}

#[tokio::test]
async fn expiry_follows_the_clock_without_any_job() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let oid = org["id"].as_str().unwrap();
    let mut b = client_body(oid, "short", &[]);
    b["expires_at"] = json!("2027-02-01T00:00:00Z");
    let short = app
        .post("/v1/clients", &app.admin, b)
        .await
        .expect(201)
        .clone();
    let long = app.create_client(oid, "long", &[]).await;
    let check = |c: &Value| {
        (
            c["client_id"].as_str().unwrap().to_string(),
            c["client_secret"].as_str().unwrap().to_string(),
        )
    };
    let (sid, ssec) = check(&short);
    let (lid, lsec) = check(&long);
    let soon = app
        .get("/v1/clients?expiring_within=744h", &app.admin)
        .await
        .expect(200)
        .clone();
    assert_eq!(soon["items"].as_array().unwrap().len(), 1);
    assert_eq!(soon["items"][0]["name"], "short");

    app.set_time("2027-02-01T00:00:00Z");
    assert_eq!(
        app.introspect(&app.admin, &sid, &ssec).await.body["active"],
        true
    );
    app.set_time("2027-02-01T00:00:01Z");
    assert_eq!(
        app.introspect(&app.admin, &sid, &ssec).await.text,
        r#"{"active":false}"#
    );
    assert_eq!(
        app.get(&format!("/v1/clients/{sid}"), &app.admin)
            .await
            .body["status"],
        "expired"
    );
    assert_eq!(
        app.get("/v1/clients?status=expired", &app.admin).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        app.introspect(&app.admin, &lid, &lsec).await.body["active"],
        true
    );

    // Through the HTTP clock route as the acceptance tests do.
    app.send(
        "PUT",
        "/v1/clock",
        Some(&app.reviewer),
        Some(json!({"now": "2027-07-01T00:00:00Z"})),
        &[],
    )
    .await
    .expect(403);
    let r = app
        .send(
            "PUT",
            "/v1/clock",
            Some(&app.admin),
            Some(json!({"now": "2027-07-01T02:00:00+02:00"})),
            &[],
        )
        .await;
    assert_eq!(r.expect(200)["now"], "2027-07-01T00:00:00Z");
    assert_eq!(
        app.introspect(&app.admin, &lid, &lsec).await.text,
        r#"{"active":false}"#
    );
    assert_eq!(
        app.get(&format!("/v1/orgs/{oid}"), &app.admin).await.body["status"],
        "expired"
    );
    assert_eq!(
        app.get(&format!("/v1/clients/{lid}"), &app.admin)
            .await
            .body["status"],
        "expired"
    );
    assert_eq!(
        app.get("/v1/orgs?status=expired", &app.admin).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = app
        .post("/v1/clients", &app.admin, client_body(oid, "late", &[]))
        .await;
    r.expect(422);
    assert!(r.error_message("org_id").contains("contract"), "{}", r.text);
    // Extending the contract brings the org back.
    app.patch(
        &format!("/v1/orgs/{oid}"),
        &app.admin,
        json!({"contract_end": "2028-06-30"}),
    )
    .await
    .expect(200);
    assert_eq!(
        app.get(&format!("/v1/orgs/{oid}"), &app.admin).await.body["status"],
        "active"
    );
    app.shutdown().await;
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
    app.post("/v1/orgs", &rev, org_body("x")).await.expect(403);
    app.patch(&format!("/v1/orgs/{tid}"), &rev, json!({"tenant": "x"}))
        .await
        .expect(403);
    app.delete(&format!("/v1/orgs/{tid}"), &rev)
        .await
        .expect(403);
    app.post("/v1/clients", &rev, client_body(tid, "x", &[]))
        .await
        .expect(403);
    app.patch(
        &format!("/v1/clients/{tcid}"),
        &rev,
        json!({"purpose": "x"}),
    )
    .await
    .expect(403);
    app.delete(&format!("/v1/clients/{tcid}"), &rev)
        .await
        .expect(403);
    app.send(
        "PUT",
        "/v1/clock",
        Some(&rev),
        Some(json!({"now": "2027-01-02T00:00:00Z"})),
        &[],
    )
    .await
    .expect(403);

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
    app.get(&format!("/v1/orgs/{tid}"), &org_tok)
        .await
        .expect(404);
    app.patch(&format!("/v1/orgs/{tid}"), &org_tok, json!({"tenant": "x"}))
        .await
        .expect(404);
    app.delete(&format!("/v1/orgs/{tid}"), &org_tok)
        .await
        .expect(404);
    app.get(&format!("/v1/clients/{tcid}"), &org_tok)
        .await
        .expect(404);
    app.get(
        &format!(
            "/v1/clients/{}",
            their_client["client_id"].as_str().unwrap()
        ),
        &org_tok,
    )
    .await
    .expect(404);
    app.patch(
        &format!("/v1/clients/{tcid}"),
        &org_tok,
        json!({"purpose": "x"}),
    )
    .await
    .expect(404);
    app.delete(&format!("/v1/clients/{tcid}"), &org_tok)
        .await
        .expect(404);
    app.post("/v1/clients", &org_tok, client_body(tid, "sneaky", &[]))
        .await
        .expect(404);
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
async fn idempotency_key_replays_and_conflicts() {
    let app = TestApp::spawn().await;
    let key = [("idempotency-key", "k-1")];
    let a = app
        .send(
            "POST",
            "/v1/orgs",
            Some(&app.admin),
            Some(org_body("acme")),
            &key,
        )
        .await;
    a.expect(201);
    let b = app
        .send(
            "POST",
            "/v1/orgs",
            Some(&app.admin),
            Some(org_body("acme")),
            &key,
        )
        .await;
    assert_eq!(b.expect(201), &a.body);
    assert_eq!(b.header("location"), a.header("location"));
    assert_eq!(b.header("idempotent-replayed"), "true");
    assert_eq!(
        app.get("/v1/orgs", &app.admin).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = app
        .send(
            "POST",
            "/v1/orgs",
            Some(&app.admin),
            Some(org_body("other")),
            &key,
        )
        .await;
    r.expect(422);
    assert_eq!(r.error_fields(), vec!["Idempotency-Key"]);

    let oid = a.body["id"].as_str().unwrap();
    let ck = [("idempotency-key", "c-1")];
    let c1 = app
        .send(
            "POST",
            "/v1/clients",
            Some(&app.admin),
            Some(client_body(oid, "shop", &[])),
            &ck,
        )
        .await;
    c1.expect(201);
    let secret = c1.body["client_secret"].as_str().unwrap().to_string();
    let c2 = app
        .send(
            "POST",
            "/v1/clients",
            Some(&app.admin),
            Some(client_body(oid, "shop", &[])),
            &ck,
        )
        .await;
    c2.expect(201);
    assert!(
        c2.body.get("client_secret").is_none(),
        "a replay must not return the secret: {}",
        c2.text
    );
    let mut without = c1.body.clone();
    without.as_object_mut().unwrap().remove("client_secret");
    assert_eq!(c2.body, without);
    assert!(!c2.text.contains(&secret));
    assert_eq!(
        app.get("/v1/clients", &app.admin).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // The original secret still works.
    assert_eq!(
        app.introspect(&app.admin, c1.body["client_id"].as_str().unwrap(), &secret)
            .await
            .body["active"],
        true
    );
    app.shutdown().await;
}

#[tokio::test]
async fn audit_trail_chain_and_tamper_detection() {
    let app = TestApp::spawn().await;
    let hdr = [("x-change-ref", "PR-42"), ("x-request-id", "req-test-1")];
    let org = app
        .send(
            "POST",
            "/v1/orgs",
            Some(&app.admin),
            Some(org_body("acme")),
            &hdr,
        )
        .await
        .expect(201)
        .clone();
    let oid = org["id"].as_str().unwrap();
    let c = app.create_client(oid, "shop", &[]).await;
    let secret = c["client_secret"].as_str().unwrap().to_string();
    app.patch(
        &format!("/v1/orgs/{oid}"),
        &app.admin,
        json!({"tenant": "eu"}),
    )
    .await
    .expect(200);
    app.delete(&format!("/v1/orgs/{oid}"), &app.admin)
        .await
        .expect(200);
    let all = app
        .get("/v1/audit?limit=1000", &app.reviewer)
        .await
        .expect(200)
        .clone();
    assert!(!all.to_string().contains(&secret));
    let events = all["items"].as_array().unwrap();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "token.create",
            "token.create",
            "org.create",
            "client.create",
            "org.update",
            "client.revoke",
            "org.offboard"
        ]
    );
    let create = &events[2];
    assert_eq!(create["change_ref"], "PR-42");
    assert_eq!(create["request_id"], "req-test-1");
    assert_eq!(create["actor"], "admin");
    assert_eq!(create["entity_id"], oid);
    assert_eq!(create["before"], Value::Null);
    assert_eq!(create["after"]["name"], "acme");
    assert_eq!(events[4]["before"]["tenant"], Value::Null);
    assert_eq!(events[4]["after"]["tenant"], "eu");
    for w in events.windows(2) {
        assert_eq!(w[1]["prev_hash"], w[0]["hash"]);
    }
    // Pagination.
    let p = app
        .get("/v1/audit?after=2&limit=2", &app.admin)
        .await
        .expect(200)
        .clone();
    assert_eq!(p["items"][0]["seq"], 3);
    assert_eq!(p["next_cursor"], "4");

    assert_eq!(app.verify(), AuditCheck::Intact(7));
    // Triggers refuse UPDATE and DELETE.
    assert!(!app.try_sql("UPDATE audit_events SET actor = 'x' WHERE seq = 3"));
    assert!(!app.try_sql("DELETE FROM audit_events WHERE seq = 7"));
    // Tamper around the trigger: flip a byte of event 4.
    app.drop_audit_triggers();
    app.sql("UPDATE audit_events SET actor = 'bdmin' WHERE seq = 4");
    match app.verify() {
        AuditCheck::Broken { seq, .. } => assert_eq!(seq, 4),
        other => panic!("tamper not detected: {other:?}"),
    }
    app.sql("UPDATE audit_events SET actor = 'admin' WHERE seq = 4");
    assert_eq!(app.verify(), AuditCheck::Intact(7));
    // Reordered: events 5 and 6 swap places, MACs and all.
    app.sql(
        "UPDATE audit_events SET seq = -5 WHERE seq = 5; UPDATE audit_events SET seq = 5 WHERE seq = 6; \
         UPDATE audit_events SET seq = 6 WHERE seq = -5;",
    );
    match app.verify() {
        AuditCheck::Broken { seq, .. } => assert_eq!(seq, 5),
        other => panic!("reordering not detected: {other:?}"),
    }
    app.sql(
        "UPDATE audit_events SET seq = -5 WHERE seq = 5; UPDATE audit_events SET seq = 5 WHERE seq = 6; \
         UPDATE audit_events SET seq = 6 WHERE seq = -5;",
    );
    assert_eq!(app.verify(), AuditCheck::Intact(7));
    // The tail removed: the head row still names event 7.
    app.sql("DELETE FROM audit_events WHERE seq = 7");
    match app.verify() {
        AuditCheck::Broken { seq, reason } => {
            assert_eq!(seq, 7);
            assert!(reason.contains("audit head"), "{reason}");
        }
        other => panic!("removal not detected: {other:?}"),
    }
    app.sql("DELETE FROM audit_events WHERE seq = 5");
    match app.verify() {
        AuditCheck::Broken { seq, .. } => assert_eq!(seq, 5),
        other => panic!("removal not detected: {other:?}"),
    }
    app.shutdown().await;
}

/// `PUT /v1/clock` (fake clock only) is a change like any other: one audit event
/// with the time before and after, the actor, request id and change reference.
#[tokio::test]
async fn moving_the_fake_clock_is_audited() {
    let app = TestApp::spawn().await;
    let events = |r: &Resp| r.body["items"].as_array().unwrap().clone();
    let before = events(&app.get("/v1/audit?limit=1000", &app.admin).await);
    // Refused moves leave no event.
    app.send(
        "PUT",
        "/v1/clock",
        Some(&app.reviewer),
        Some(json!({"now": "2027-02-01T00:00:00Z"})),
        &[],
    )
    .await
    .expect(403);
    app.send(
        "PUT",
        "/v1/clock",
        Some(&app.admin),
        Some(json!({"now": "soon"})),
        &[],
    )
    .await
    .expect(422);
    app.send(
        "PUT",
        "/v1/clock",
        Some(&app.admin),
        Some(json!({"now": "2027-02-01T12:00:00Z"})),
        &[("x-change-ref", "run-7"), ("x-request-id", "req-clock")],
    )
    .await
    .expect(200);
    let after = events(&app.get("/v1/audit?limit=1000", &app.admin).await);
    assert_eq!(after.len(), before.len() + 1);
    let ev = after.last().unwrap();
    assert_eq!(ev["action"], "clock.set");
    assert_eq!(ev["entity_kind"], "clock");
    assert_eq!(ev["actor"], "admin");
    assert_eq!(ev["at"], START);
    assert_eq!(ev["before"], json!({"now": START}));
    assert_eq!(ev["after"], json!({"now": "2027-02-01T12:00:00Z"}));
    assert_eq!(ev["change_ref"], "run-7");
    assert_eq!(ev["request_id"], "req-clock");
    assert_eq!(app.verify(), AuditCheck::Intact(after.len() as i64));
    app.shutdown().await;
}

#[tokio::test]
async fn secret_plaintext_is_nowhere_in_the_database() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let c = app
        .create_client(org["id"].as_str().unwrap(), "shop", &[])
        .await;
    let secret = c["client_secret"].as_str().unwrap().to_string();
    let random_part = &secret[4..40];
    let stored = app.stored_bytes();
    assert!(stored.len() > 1000, "nothing was read");
    assert!(
        !stored
            .windows(random_part.len())
            .any(|w| w == random_part.as_bytes()),
        "the secret is stored in the database"
    );
    let keep = app.shutdown().await;
    for entry in std::fs::read_dir(keep.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes
                .windows(random_part.len())
                .any(|w| w == random_part.as_bytes()),
            "secret found in {}",
            path.display()
        );
    }
}

#[tokio::test]
async fn openapi_describes_every_route() {
    let app = TestApp::spawn().await;
    let doc = app
        .send("GET", "/v1/openapi.json", None, None, &[])
        .await
        .expect(200)
        .clone();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let mut documented = 0;
    for (path, ops) in paths {
        documented += ops.as_object().unwrap().len();
        let _ = path;
    }
    assert_eq!(
        documented,
        partner_registry::filters::ROUTES.len(),
        "documented operations vs routes"
    );
    for (method, path) in partner_registry::filters::ROUTES {
        assert!(
            doc["paths"][path][method.to_lowercase()].is_object(),
            "{method} {path} missing from the OpenAPI document"
        );
        // And the server really has it (not the unknown-route 404).
        let concrete = path.replace("{id}", "zzz");
        let r = if path.starts_with("/ui/") {
            app.page(method, &concrete).await
        } else {
            app.send(method, &concrete, Some(&app.admin), Some(json!({})), &[])
                .await
        };
        assert!(
            r.body["detail"] != "no such route",
            "{method} {path} is documented but not served"
        );
    }
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

/// One request written on a raw TCP socket, as a client library would refuse
/// to send it; the answer's status, head and body.
async fn raw_request(app: &TestApp, head: &[u8], body: &[u8]) -> (u16, String, String) {
    let addr = app.url.trim_start_matches("http://");
    let mut request = head.to_vec();
    request.extend_from_slice(
        format!(
            "Host: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    request.extend_from_slice(body);
    let answers = raw_exchange(app, &request).await;
    let (status, head, body) = answers.into_iter().next().unwrap_or_default();
    (status, head, body)
}

/// `bytes` written as they are on one connection, read until the server
/// closes it: every answer on it (status, lower-cased head, body), in order.
async fn raw_exchange(app: &TestApp, bytes: &[u8]) -> Vec<(u16, String, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let mut rest = String::from_utf8_lossy(&answer).to_string();
    let mut answers = Vec::new();
    while let Some((head, after)) = rest.split_once("\r\n\r\n") {
        let head = head.to_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(after.len());
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let (body, after) = after.split_at(length.min(after.len()));
        answers.push((status, head, body.to_string()));
        rest = after.to_string();
    }
    answers
}

/// Requests hyper itself would refuse with a bare 400 are answered in
/// problem+json saying what is wrong, after every answer owed before them on
/// the connection; well-framed requests (chunked ones too) are served.
#[tokio::test]
async fn requests_that_are_not_http_get_a_problem_naming_the_fault() {
    let app = TestApp::spawn().await;
    let auth = format!("Authorization: Bearer {}\r\n", app.admin);
    let get = |target: &str| format!("GET {target} HTTP/1.1\r\nHost: x\r\n{auth}\r\n");
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (
            format!("GET /v1/orgs?name=a b HTTP/1.1\r\nHost: x\r\n{auth}\r\n").into_bytes(),
            400,
            "percent-encode a space",
        ),
        (
            format!(
                "POST /v1/orgs HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 2\r\nContent-Length: 2\r\n\r\n{{}}"
            )
            .into_bytes(),
            400,
            "more than one Content-Length",
        ),
        (
            format!(
                "POST /v1/orgs HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{{}}"
            )
            .into_bytes(),
            400,
            "both Transfer-Encoding and Content-Length",
        ),
        (
            format!(
                "GET /v1/orgs HTTP/1.1\r\nHost: x\r\n{auth}{}\r\n",
                (0..100).map(|i| format!("X-Field-{i}: {i}\r\n")).collect::<String>()
            )
            .into_bytes(),
            431,
            "more than 100 header fields",
        ),
        (
            format!(
                "GET /v1/orgs HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
                "b".repeat(70 * 1024)
            )
            .into_bytes(),
            431,
            "larger than 64 KiB",
        ),
        (
            b"GET /v1/orgs HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n".to_vec(),
            400,
            "header field name",
        ),
    ];
    for (request, status, says) in cases {
        let answers = raw_exchange(&app, &request).await;
        let [(got, head, body)] = answers.as_slice() else {
            panic!("one answer expected for {says:?}, got {answers:?}");
        };
        assert_eq!(*got, status, "{says}: {head}\n{body}");
        assert!(
            head.contains("content-type: application/problem+json"),
            "{head}"
        );
        assert!(head.contains("date: "), "{head}");
        let problem: Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["status"], status);
        assert!(
            problem["detail"].as_str().unwrap().contains(says),
            "{says}: {problem}"
        );
    }

    // On one connection: a good request, a chunked create, another good
    // request, then a broken one: three answers in order, then the problem.
    let create = serde_json::to_vec(&org_body("chunked")).unwrap();
    let (first, second) = create.split_at(10);
    let mut pipelined = get("/v1/orgs").into_bytes();
    pipelined.extend_from_slice(
        format!(
            "POST /v1/orgs HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x};note=split\r\n",
            first.len()
        )
        .as_bytes(),
    );
    pipelined.extend_from_slice(first);
    pipelined.extend_from_slice(format!("\r\n{:x}\r\n", second.len()).as_bytes());
    pipelined.extend_from_slice(second);
    pipelined.extend_from_slice(b"\r\n0\r\nX-Trailer: t\r\n\r\n");
    pipelined.extend_from_slice(get("/v1/orgs").as_bytes());
    pipelined.extend_from_slice(get("/v1/orgs x").as_bytes());
    let answers = raw_exchange(&app, &pipelined).await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
    assert_eq!(statuses, [200, 201, 200, 400], "{answers:?}");
    assert!(answers[2].2.contains("\"chunked\""), "{}", answers[2].2);
    assert!(answers[3].1.contains("application/problem+json"));
}

#[tokio::test]
async fn headers_that_do_not_parse_are_refused_naming_them() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let id = org["id"].as_str().unwrap().to_string();
    let auth = format!("Authorization: Bearer {}\r\n", app.admin);
    let patch = br#"{"tenant":"changed"}"#;

    let with = |line: &[u8]| {
        let mut head = format!("PATCH /v1/orgs/{id} HTTP/1.1\r\n{auth}").into_bytes();
        head.extend_from_slice(line);
        head.extend_from_slice(b"\r\n");
        head
    };
    for (line, header) in [
        (&b"If-Match: \"1\"\xff"[..], "If-Match"),
        (&b"X-Change-Ref: PR \xc3\xa9"[..], "X-Change-Ref"),
        (
            format!("X-Change-Ref: {}", "r".repeat(1001)).as_bytes(),
            "X-Change-Ref",
        ),
    ] {
        let (status, head, body) = raw_request(&app, &with(line), patch).await;
        assert_eq!(status, 400, "{header}: {head}\n{body}");
        assert!(head.contains("application/problem+json"), "{head}");
        assert!(body.contains(header), "{body}");
    }
    let now = app.get(&format!("/v1/orgs/{id}"), &app.admin).await;
    assert_eq!(
        now.expect(200)["tenant"],
        Value::Null,
        "the update went through"
    );

    // A weak tag never matches (strong comparison).
    app.send(
        "PATCH",
        &format!("/v1/orgs/{id}"),
        Some(&app.admin),
        Some(json!({"tenant": "x"})),
        &[("If-Match", "W/\"1\"")],
    )
    .await
    .expect(412);

    // Idempotency-Key: not ASCII, or too long.
    let create = serde_json::to_vec(&org_body("globex")).unwrap();
    for line in [
        b"Idempotency-Key: k\xe9y".to_vec(),
        format!("Idempotency-Key: {}", "k".repeat(256)).into_bytes(),
    ] {
        let mut head = format!("POST /v1/orgs HTTP/1.1\r\n{auth}").into_bytes();
        head.extend_from_slice(&line);
        head.extend_from_slice(b"\r\n");
        let (status, head, body) = raw_request(&app, &head, &create).await;
        assert_eq!(status, 400, "{head}\n{body}");
        assert!(body.contains("Idempotency-Key"), "{body}");
    }
    let orgs = app.get("/v1/orgs", &app.admin).await;
    assert_eq!(orgs.expect(200)["items"].as_array().unwrap().len(), 1);

    // A non-ASCII Authorization is a bad credential: 401 problem+json.
    let (status, head, body) = raw_request(
        &app,
        b"GET /v1/orgs HTTP/1.1\r\nAuthorization: Bearer prt_\xff\xfe\r\n",
        b"",
    )
    .await;
    assert_eq!(status, 401, "{head}\n{body}");
    assert!(head.contains("application/problem+json"), "{head}");
}

/// A body over the limit names the field that makes it so large, down to a
/// label or a list item; one too large to look at is refused unread.
#[tokio::test]
async fn a_body_too_large_names_the_field_that_makes_it_so() {
    let app = TestApp::spawn().await;
    let mut scopes: Vec<String> = (0..10).map(|i| format!("s{i}:read")).collect();
    scopes[3] = format!("{}:read", "w".repeat(70 * 1024));
    for (field, value) in [
        ("purpose", json!("p".repeat(70 * 1024))),
        (
            "labels",
            json!({"team": "t".repeat(70 * 1024), "env": "prod"}),
        ),
        ("allowed_scopes", json!(scopes)),
    ] {
        let mut body = org_body("acme");
        body[field] = value;
        let r = app.post("/v1/orgs", &app.admin, body).await;
        r.expect(413);
        let detail = r.body["detail"].as_str().unwrap();
        let named = match field {
            "labels" => "`labels.team`",
            "allowed_scopes" => "`allowed_scopes[3]`",
            _ => "`purpose`",
        };
        assert!(detail.contains(named), "{field}: {detail}");
    }
    let r = app
        .post(
            "/v1/orgs",
            &app.admin,
            json!({"purpose": "p".repeat(2 << 20)}),
        )
        .await;
    r.expect(413);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("at most 65536 bytes"),
        "{}",
        r.body
    );
    let orgs = app.get("/v1/orgs", &app.admin).await;
    assert_eq!(orgs.expect(200)["items"], json!([]));
}

#[tokio::test]
async fn the_http_conventions_405_415_and_409() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let oid = org["id"].as_str().unwrap();

    // A known route asked with a method it lacks: 405 naming what it has.
    let r = app
        .send(
            "PUT",
            &format!("/v1/orgs/{oid}"),
            Some(&app.admin),
            None,
            &[],
        )
        .await;
    r.expect(405);
    assert_eq!(r.header("allow"), "GET, PATCH, DELETE");
    assert_eq!(r.header("content-type"), "application/problem+json");
    let r = app
        .send("DELETE", "/v1/orgs", Some(&app.admin), None, &[])
        .await;
    r.expect(405);
    assert_eq!(r.header("allow"), "POST, GET");
    app.send("GET", "/v1/nothing", Some(&app.admin), None, &[])
        .await
        .expect(404);

    // A body that is not JSON by its media type: 415.
    let r = app
        .http
        .post(format!("{}/v1/orgs", app.url))
        .bearer_auth(&app.admin)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=acme")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    assert_eq!(r.headers()["content-type"], "application/problem+json");

    // A client name another live client of the org holds: 409, errors[] kept;
    // together with a malformed field it stays 422.
    app.create_client(oid, "sync", &[]).await;
    let r = app
        .post("/v1/clients", &app.admin, client_body(oid, "sync", &[]))
        .await;
    r.expect(409);
    assert_eq!(r.error_fields(), vec!["name"]);
    let mut both = client_body(oid, "sync", &[]);
    both["owner"] = json!("nobody");
    let r = app.post("/v1/clients", &app.admin, both).await;
    r.expect(422);
}

#[tokio::test]
async fn clients_at_the_contract_end_follow_it() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let oid = org["id"].as_str().unwrap();
    let follows = app.create_client(oid, "follows", &[]).await;
    assert_eq!(follows["expires_at"], "2027-06-30T23:59:59Z");
    let mut body = client_body(oid, "fixed", &[]);
    body["expires_at"] = json!("2027-03-01T00:00:00Z");
    let fixed = app
        .post("/v1/clients", &app.admin, body)
        .await
        .expect(201)
        .clone();
    let get = |c: &Value| format!("/v1/clients/{}", c["id"].as_str().unwrap());

    for end in ["2027-12-31", "2027-04-30"] {
        app.patch(
            &format!("/v1/orgs/{oid}"),
            &app.admin,
            json!({"contract_end": end}),
        )
        .await
        .expect(200);
        let now = app.get(&get(&follows), &app.admin).await;
        assert_eq!(now.expect(200)["expires_at"], format!("{end}T23:59:59Z"));
        let kept = app.get(&get(&fixed), &app.admin).await;
        assert_eq!(kept.expect(200)["expires_at"], "2027-03-01T00:00:00Z");
    }
    // A client's own expiry still stands in the way, and only it is named.
    let r = app
        .patch(
            &format!("/v1/orgs/{oid}"),
            &app.admin,
            json!({"contract_end": "2027-02-01"}),
        )
        .await;
    r.expect(422);
    let message = r.error_message("contract_end");
    assert!(
        message.contains("fixed") && !message.contains("follows"),
        "{message}"
    );
    // Each move is an audited change of the client.
    let audit = app.get("/v1/audit?limit=1000", &app.reviewer).await;
    let moves = audit.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "client.update" && e["entity_id"] == follows["id"])
        .count();
    assert_eq!(moves, 2);
    assert!(matches!(app.verify(), AuditCheck::Intact(_)));
}

/// A renewal that makes clients expired with the old contract active again
/// counts them against the quota: refused naming them while it would put
/// the org over `max_clients`, accepted with a quota that holds them.
#[tokio::test]
async fn a_renewal_reviving_clients_over_the_quota_is_refused_naming_them() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let oid = org["id"].as_str().unwrap().to_string();
    for name in ["one", "two"] {
        app.create_client(&oid, name, &[]).await;
    }
    app.set_time("2027-07-15T00:00:00Z");
    let path = format!("/v1/orgs/{oid}");
    // Nothing is active: the quota can go down to one.
    app.patch(&path, &app.admin, json!({"max_clients": 1}))
        .await
        .expect(200);
    let r = app
        .patch(&path, &app.admin, json!({"contract_end": "2027-12-31"}))
        .await;
    r.expect(422);
    let why = r.error_message("contract_end");
    assert!(why.contains("makes one, two active again"), "{why}");
    assert!(
        why.contains("2 active clients, more than its max_clients of 1"),
        "{why}"
    );
    let clients = app
        .get(&format!("/v1/clients?org_id={oid}"), &app.admin)
        .await;
    for c in clients.expect(200)["items"].as_array().unwrap() {
        assert_eq!(c["status"], "expired", "{c}");
    }
    app.patch(
        &path,
        &app.admin,
        json!({"contract_end": "2027-12-31", "max_clients": 2}),
    )
    .await
    .expect(200);
    let clients = app
        .get(&format!("/v1/clients?org_id={oid}"), &app.admin)
        .await;
    for c in clients.expect(200)["items"].as_array().unwrap() {
        assert_eq!(c["status"], "active", "{c}");
        assert_eq!(c["expires_at"], "2027-12-31T23:59:59Z", "{c}");
    }
}
