//! Secret rotation: the previous secret's grace period, at most two secrets, and the grace period's rules.

use crate::helpers::*;
use partner_registry::records::Role;
use serde_json::{Value, json};

#[tokio::test]
async fn rotation_overlaps_for_the_grace_period_and_keeps_at_most_two() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let oid = org["id"].as_str().unwrap();
    let c = app.create_client(oid, "shop", &["orders:read"]).await;
    let id = c["id"].as_str().unwrap();
    let cid = c["client_id"].as_str().unwrap();
    let s1 = c["client_secret"].as_str().unwrap().to_string();
    assert_eq!(c["secret_rotated_at"], START);
    assert_eq!(c["previous_secret_expires_at"], Value::Null);
    assert_eq!(c["last_used_at"], Value::Null);

    // Roles: reviewer 403, another org's token 404, the org's own token allowed.
    let other = app.create_org("other").await;
    let other_tok = app.token("other-ci", Role::Org, other["id"].as_str()).await;
    let own_tok = app.token("acme-ci", Role::Org, Some(oid)).await;
    rotate(&app, &app.reviewer, id, json!({})).await.expect(403);
    rotate(&app, &other_tok, id, json!({})).await.expect(404);
    rotate(&app, &app.admin, "cli_nope", json!({}))
        .await
        .expect(404);

    // Default grace: 24h. A server-made secret is returned once.
    app.set_time("2027-01-02T00:00:00Z");
    let r = rotate(&app, &own_tok, id, json!({})).await;
    let body = r.expect(200).clone();
    assert_eq!(r.header("cache-control"), "no-store");
    let s2 = body["client_secret"].as_str().unwrap().to_string();
    assert!(partner_registry::crypto::is_client_secret(&s2));
    assert_ne!(s1, s2);
    assert_eq!(body["version"], 2);
    assert_eq!(r.header("etag"), "\"2\"");
    assert_eq!(body["secret_rotated_at"], "2027-01-02T00:00:00Z");
    assert_eq!(body["previous_secret_expires_at"], "2027-01-03T00:00:00Z");
    let got = app.get(&format!("/v1/clients/{id}"), &app.admin).await;
    assert!(got.expect(200).get("client_secret").is_none());
    assert_eq!(
        got.body["previous_secret_expires_at"],
        "2027-01-03T00:00:00Z"
    );
    assert!(answered_active(&app.introspect(&app.admin, cid, &s1).await));
    assert!(answered_active(&app.introspect(&app.admin, cid, &s2).await));
    app.set_time("2027-01-03T00:00:00Z");
    assert!(answered_active(&app.introspect(&app.admin, cid, &s1).await));
    app.set_time("2027-01-03T00:00:01Z");
    assert!(!answered_active(
        &app.introspect(&app.admin, cid, &s1).await
    ));
    assert!(answered_active(&app.introspect(&app.admin, cid, &s2).await));
    let got = app.get(&format!("/v1/clients/{id}"), &app.admin).await;
    assert_eq!(got.expect(200)["previous_secret_expires_at"], Value::Null);

    // A supplied secret is stored (HMAC only) and never echoed.
    let r = rotate(
        &app,
        &app.admin,
        cid,
        json!({"grace_period": "1h", "client_secret": STRONG}),
    )
    .await;
    assert!(r.expect(200).get("client_secret").is_none());
    assert!(!r.text.contains(STRONG));
    assert_eq!(r.body["previous_secret_expires_at"], "2027-01-03T01:00:01Z");
    assert!(answered_active(
        &app.introspect(&app.admin, cid, STRONG).await
    ));
    assert!(answered_active(&app.introspect(&app.admin, cid, &s2).await));

    // A second rotation inside the grace period drops the oldest at once.
    app.set_time("2027-01-03T00:30:00Z");
    let r = rotate(&app, &app.admin, id, json!({"grace_period": "90m"})).await;
    let s3 = r.expect(200)["client_secret"].as_str().unwrap().to_string();
    assert_eq!(r.body["previous_secret_expires_at"], "2027-01-03T02:00:00Z");
    assert!(!answered_active(
        &app.introspect(&app.admin, cid, &s2).await
    ));
    assert!(answered_active(
        &app.introspect(&app.admin, cid, STRONG).await
    ));
    assert!(answered_active(&app.introspect(&app.admin, cid, &s3).await));

    // A stale If-Match rotates nothing.
    let r = app
        .send(
            "POST",
            &format!("/v1/clients/{id}/rotate"),
            Some(&app.admin),
            Some(json!({})),
            &[("If-Match", "\"1\"")],
        )
        .await;
    r.expect(412);
    assert!(answered_active(&app.introspect(&app.admin, cid, &s3).await));

    // Revocation ends both secrets at once; a revoked client never rotates.
    app.delete(&format!("/v1/clients/{id}"), &app.admin)
        .await
        .expect(200);
    assert!(!answered_active(
        &app.introspect(&app.admin, cid, STRONG).await
    ));
    assert!(!answered_active(
        &app.introspect(&app.admin, cid, &s3).await
    ));
    let got = app.get(&format!("/v1/clients/{id}"), &app.admin).await;
    assert_eq!(got.expect(200)["previous_secret_expires_at"], Value::Null);
    rotate(&app, &app.admin, id, json!({})).await.expect(409);

    // Each rotation is its own audit event, without any secret.
    let audit = app.get("/v1/audit?limit=1000", &app.admin).await;
    let events = audit.expect(200)["items"].as_array().unwrap().clone();
    let rotations: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"] == "client.rotate_secret")
        .collect();
    assert_eq!(rotations.len(), 3);
    assert_eq!(rotations[0]["actor"], "acme-ci");
    assert_eq!(rotations[0]["before"]["version"], 1);
    assert_eq!(rotations[0]["after"]["version"], 2);
    for s in [s1.as_str(), s2.as_str(), s3.as_str(), STRONG] {
        assert!(!audit.text.contains(s), "secret in the audit trail");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn rotation_grace_period_rules_and_zero_overlap() {
    let app = TestApp::spawn().await;
    let c = app.create_client_in_new_org("acme", "shop", &[]).await;
    let id = c["id"].as_str().unwrap();
    let cid = c["client_id"].as_str().unwrap();
    for bad in [
        json!("169h"),
        json!("168h1s"),
        json!("1d"),
        json!("24"),
        json!("soon"),
        json!(""),
        json!(24),
    ] {
        let r = rotate(&app, &app.admin, id, json!({"grace_period": bad})).await;
        r.expect(422);
        assert_eq!(r.error_fields(), vec!["grace_period"], "{bad}");
    }
    rotate(&app, &app.admin, id, json!({"other": 1}))
        .await
        .expect(400);
    // Both wrong at once: both named.
    let r = rotate(
        &app,
        &app.admin,
        id,
        json!({"grace_period": "200h", "client_secret": "short"}),
    )
    .await;
    r.expect(422);
    assert_eq!(r.error_fields(), vec!["grace_period", "client_secret"]);
    assert!(
        app.introspect(&app.admin, cid, c["client_secret"].as_str().unwrap())
            .await
            .body["active"]
            == true
    );
    // The longest grace is fine; "0s" ends the previous secret at once.
    let r = rotate(&app, &app.admin, id, json!({"grace_period": "168h"})).await;
    assert_eq!(
        r.expect(200)["previous_secret_expires_at"],
        "2027-01-08T00:00:00Z"
    );
    let prev = r.body["client_secret"].as_str().unwrap().to_string();
    let r = rotate(&app, &app.admin, id, json!({"grace_period": "0s"})).await;
    let cur = r.expect(200)["client_secret"].as_str().unwrap().to_string();
    assert_eq!(r.body["previous_secret_expires_at"], Value::Null);
    assert!(!answered_active(
        &app.introspect(&app.admin, cid, &prev).await
    ));
    assert!(answered_active(
        &app.introspect(&app.admin, cid, &cur).await
    ));
    // An empty body (no JSON at all) is the default rotation.
    let r = app
        .http
        .post(format!("{}/v1/clients/{id}/rotate", app.url))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["previous_secret_expires_at"], "2027-01-02T00:00:00Z");
    app.shutdown().await;
}
