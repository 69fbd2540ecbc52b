//! Clients: their rules, the quota, expiry on the registry's clock and at the contract end, supplied secrets, and no plaintext secret at rest.

use crate::helpers::*;
use partner_registry::audit::AuditCheck;
use serde_json::{Value, json};

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
    let by_id = app.get_ok(&format!("/v1/clients/{cid}"), &app.admin).await;
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
        .patch_with(&path, json!({"purpose": "x"}), &[("if-match", "\"7\"")])
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
    let org = app.create("/v1/orgs", b).await;
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
async fn expiry_follows_the_clock_without_any_job() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let oid = org["id"].as_str().unwrap();
    let mut b = client_body(oid, "short", &[]);
    b["expires_at"] = json!("2027-02-01T00:00:00Z");
    let short = app.create("/v1/clients", b).await;
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
        .get_ok("/v1/clients?expiring_within=744h", &app.admin)
        .await;
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
async fn secret_plaintext_is_nowhere_in_the_database() {
    let app = TestApp::spawn().await;
    let c = app.create_client_in_new_org("acme", "shop", &[]).await;
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
async fn clients_at_the_contract_end_follow_it() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let oid = org["id"].as_str().unwrap();
    let follows = app.create_client(oid, "follows", &[]).await;
    assert_eq!(follows["expires_at"], "2027-06-30T23:59:59Z");
    let mut body = client_body(oid, "fixed", &[]);
    body["expires_at"] = json!("2027-03-01T00:00:00Z");
    let fixed = app.create("/v1/clients", body).await;
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

#[tokio::test]
async fn client_supplied_secret_at_create() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let oid = org["id"].as_str().unwrap();
    let mut body = client_body(oid, "shop", &["orders:read"]);
    body["client_secret"] = json!(STRONG);
    let r = app
        .post_with("/v1/clients", body.clone(), &[("Idempotency-Key", "c1")])
        .await;
    let c = r.expect(201).clone();
    assert!(c.get("client_secret").is_none(), "{c}");
    assert!(!r.text.contains(STRONG));
    let cid = c["client_id"].as_str().unwrap();
    assert!(answered_active(
        &app.introspect(&app.admin, cid, STRONG).await
    ));
    // Replays answer the original; another secret under the same key is refused.
    let r = app
        .post_with("/v1/clients", body.clone(), &[("Idempotency-Key", "c1")])
        .await;
    assert_eq!(r.expect(201)["id"], c["id"]);
    let mut other = body.clone();
    other["client_secret"] = json!("Another-Secret-That-Is-Long-Enough-42!");
    let r = app
        .post_with("/v1/clients", other, &[("Idempotency-Key", "c1")])
        .await;
    r.expect(422);

    // Each part of the rule, named, never echoing the value.
    for (bad, why) in [
        ("Aa1!Aa1!", "shorter than 32"),
        ("Correct Horse Battery Staple 2027 xyz!", "space"),
        ("correcthorsebatterystaple2027xyzabc", "3 of the 4"),
        ("Aa1!Aa1!Aa1!Aa1!Aa1!Aa1!Aa1!Aa1!Aa1!", "12 different"),
    ] {
        let mut b = client_body(oid, "weak", &[]);
        b["client_secret"] = json!(bad);
        let r = app.post("/v1/clients", &app.admin, b).await;
        r.expect(422);
        assert_eq!(r.error_fields(), vec!["client_secret"], "{bad}");
        let msg = r.error_message("client_secret");
        assert!(msg.contains(why), "{bad}: {msg}");
        assert!(
            msg.contains(partner_registry::crypto::SUPPLIED_SECRET_RULE),
            "{msg}"
        );
        assert!(!r.text.contains(bad), "value echoed: {}", r.text);
        let r = rotate(&app, &app.admin, cid, json!({"client_secret": bad})).await;
        r.expect(422);
        assert!(!r.text.contains(bad));
    }
    // Rotating to the secret the client already holds is no rotation.
    let r = rotate(&app, &app.admin, cid, json!({"client_secret": STRONG})).await;
    r.expect(422);
    assert_eq!(r.error_fields(), vec!["client_secret"]);
    assert!(
        r.error_message("client_secret").contains("must differ"),
        "{}",
        r.text
    );
    assert!(!r.text.contains(STRONG));
    assert!(answered_active(
        &app.introspect(&app.admin, cid, STRONG).await
    ));
    let mut b = client_body(oid, "weak", &[]);
    b["client_secret"] = json!(12345);
    let r = app.post("/v1/clients", &app.admin, b).await;
    assert_eq!(r.error_fields(), vec!["client_secret"]);
    // PATCH never takes a secret.
    app.patch(
        &format!("/v1/clients/{cid}"),
        &app.admin,
        json!({"client_secret": STRONG}),
    )
    .await
    .expect(400);

    // The plaintext is nowhere in the database files or the audit trail.
    let audit = app.get("/v1/audit?limit=1000", &app.admin).await;
    assert!(!audit.text.contains(STRONG));
    let dir = app.shutdown().await;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let p = entry.unwrap().path();
        let bytes = std::fs::read(&p).unwrap();
        assert!(
            !bytes.windows(STRONG.len()).any(|w| w == STRONG.as_bytes()),
            "secret in {}",
            p.display()
        );
    }
}
