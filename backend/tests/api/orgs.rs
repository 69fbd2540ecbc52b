//! Orgs: create, read, list and page, the field rules, merge patch with If-Match, narrowing refused while clients are in the way, renewals, offboarding.

use crate::helpers::*;
use serde_json::{Value, json};

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
    let page1 = app.get_ok("/v1/orgs?limit=2", &app.admin).await;
    assert_eq!(page1["items"].as_array().unwrap().len(), 2);
    let cursor = page1["next_cursor"].as_str().unwrap().to_string();
    let page2 = app
        .get_ok(&format!("/v1/orgs?limit=2&cursor={cursor}"), &app.admin)
        .await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert_eq!(page2["next_cursor"], Value::Null);
    let by_name = app.get_ok("/v1/orgs?name=beta", &app.admin).await;
    assert_eq!(by_name["items"][0]["name"], "beta");
    assert_eq!(by_name["items"].as_array().unwrap().len(), 1);
    let active = app.get_ok("/v1/orgs?status=active", &app.admin).await;
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
        .patch_with(&path, json!({"tenant": "us"}), &[("if-match", "\"1\"")])
        .await;
    r.expect(412);
    let now = app.get(&path, &app.admin).await.body.clone();
    assert_eq!(now, v2);
    // Current If-Match works.
    let r = app
        .patch_with(&path, json!({"tenant": "us"}), &[("if-match", "\"2\"")])
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
        .create("/v1/clients", with_expiry("shop", &["orders:write"]))
        .await;
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
        let r = app.introspect_client(c).await;
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

#[tokio::test]
async fn org_create_accepts_a_client_chosen_id() {
    let app = TestApp::spawn().await;
    let id = "org_ABCDEFGHIJklmnopqrst";
    let mut body = org_body("acme");
    body["id"] = json!(id);
    let r = app
        .post_with("/v1/orgs", body.clone(), &[("Idempotency-Key", "k1")])
        .await;
    assert_eq!(r.expect(201)["id"], id);
    assert_eq!(r.header("location"), format!("/v1/orgs/{id}"));
    // An Idempotency-Key replay answers the original response.
    let r = app
        .post_with("/v1/orgs", body.clone(), &[("Idempotency-Key", "k1")])
        .await;
    assert_eq!(r.expect(201)["id"], id);
    assert_eq!(r.header("idempotent-replayed"), "true");
    app.get(&format!("/v1/orgs/{id}"), &app.admin)
        .await
        .expect(200);

    // The same id again, even once the org is offboarded, is refused on `id`.
    let mut again = org_body("other");
    again["id"] = json!(id);
    let r = app.post("/v1/orgs", &app.admin, again.clone()).await;
    r.expect(409);
    assert_eq!(r.error_fields(), vec!["id"]);
    app.delete(&format!("/v1/orgs/{id}"), &app.admin)
        .await
        .expect(200);
    let r = app.post("/v1/orgs", &app.admin, again).await;
    r.expect(409);
    assert!(r.error_message("id").contains("offboarded"), "{r:?}");

    // Malformed ids.
    for bad in [
        json!("org_short"),
        json!("org_ABCDEFGHIJklmnopqrs!"),
        json!("cli_ABCDEFGHIJklmnopqrst"),
        json!("org_ABCDEFGHIJklmnopqrstu"),
        json!(42),
        json!(""),
    ] {
        let mut b = org_body("bad");
        b["id"] = bad.clone();
        let r = app.post("/v1/orgs", &app.admin, b).await;
        r.expect(422);
        assert_eq!(r.error_fields(), vec!["id"], "{bad}");
    }
    // Without an id the server makes one of the same shape.
    let made = app.create_org("plain").await;
    assert!(partner_registry::requests::is_org_id(
        made["id"].as_str().unwrap()
    ));
    // PATCH does not take an id.
    app.patch(
        &format!("/v1/orgs/{}", made["id"].as_str().unwrap()),
        &app.admin,
        json!({"id": id}),
    )
    .await
    .expect(400);
    app.shutdown().await;
}
