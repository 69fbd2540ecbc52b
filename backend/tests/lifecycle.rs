//! Issue 5 over real HTTP: client-chosen org ids, rotation with overlap, supplied
//! secrets, last use, and the entitlement review. Time comes from the ManualClock.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn org_create_accepts_a_client_chosen_id() {
    let app = TestApp::spawn().await;
    let id = "org_ABCDEFGHIJklmnopqrst";
    let mut body = org_body("acme");
    body["id"] = json!(id);
    let r = app
        .send(
            "POST",
            "/v1/orgs",
            Some(&app.admin),
            Some(body.clone()),
            &[("Idempotency-Key", "k1")],
        )
        .await;
    assert_eq!(r.expect(201)["id"], id);
    assert_eq!(r.header("location"), format!("/v1/orgs/{id}"));
    // An Idempotency-Key replay answers the original response.
    let r = app
        .send(
            "POST",
            "/v1/orgs",
            Some(&app.admin),
            Some(body.clone()),
            &[("Idempotency-Key", "k1")],
        )
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
    r.expect(422);
    assert_eq!(r.error_fields(), vec!["id"]);
    app.delete(&format!("/v1/orgs/{id}"), &app.admin)
        .await
        .expect(200);
    let r = app.post("/v1/orgs", &app.admin, again).await;
    r.expect(422);
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
    assert!(partner_registry::models::is_org_id(
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
