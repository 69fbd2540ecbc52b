//! The audit trail: its hash chain, tamper detection, and the fake clock's moves audited.

use crate::helpers::*;
use partner_registry::audit::AuditCheck;
use serde_json::{Value, json};

#[tokio::test]
async fn audit_trail_chain_and_tamper_detection() {
    let app = TestApp::spawn().await;
    let hdr = [("x-change-ref", "PR-42"), ("x-request-id", "req-test-1")];
    let org = app
        .post_with("/v1/orgs", org_body("acme"), &hdr)
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
    let all = app.get_ok("/v1/audit?limit=1000", &app.reviewer).await;
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
    let p = app.get_ok("/v1/audit?after=2&limit=2", &app.admin).await;
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
    let move_clock = async |token: &str, now: &str, headers: &[(&str, &str)]| {
        let body = json!({"now": now});
        app.send("PUT", "/v1/clock", Some(token), Some(body), headers)
            .await
    };
    // Refused moves leave no event.
    move_clock(&app.reviewer, "2027-02-01T00:00:00Z", &[])
        .await
        .expect(403);
    move_clock(&app.admin, "soon", &[]).await.expect(422);
    let headers = [("x-change-ref", "run-7"), ("x-request-id", "req-clock")];
    move_clock(&app.admin, "2027-02-01T12:00:00Z", &headers)
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
