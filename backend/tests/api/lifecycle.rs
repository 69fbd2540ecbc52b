//! Lifecycle over real HTTP: client-chosen org ids, rotation with overlap, supplied
//! secrets, last use, and the entitlement review. Time comes from the ManualClock.

use crate::helpers::*;
use partner_registry::records::Role;
use serde_json::{Value, json};

/// A supplied secret that meets the rule.
const STRONG: &str = "Correct-Horse-Battery-Staple-2027!xyz";

fn active(r: &Resp) -> bool {
    r.expect(200)["active"] == true
}

async fn rotate(app: &TestApp, token: &str, id: &str, body: Value) -> Resp {
    app.post(&format!("/v1/clients/{id}/rotate"), token, body)
        .await
}

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
    assert!(active(&app.introspect(&app.admin, cid, &s1).await));
    assert!(active(&app.introspect(&app.admin, cid, &s2).await));
    app.set_time("2027-01-03T00:00:00Z");
    assert!(active(&app.introspect(&app.admin, cid, &s1).await));
    app.set_time("2027-01-03T00:00:01Z");
    assert!(!active(&app.introspect(&app.admin, cid, &s1).await));
    assert!(active(&app.introspect(&app.admin, cid, &s2).await));
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
    assert!(active(&app.introspect(&app.admin, cid, STRONG).await));
    assert!(active(&app.introspect(&app.admin, cid, &s2).await));

    // A second rotation inside the grace period drops the oldest at once.
    app.set_time("2027-01-03T00:30:00Z");
    let r = rotate(&app, &app.admin, id, json!({"grace_period": "90m"})).await;
    let s3 = r.expect(200)["client_secret"].as_str().unwrap().to_string();
    assert_eq!(r.body["previous_secret_expires_at"], "2027-01-03T02:00:00Z");
    assert!(!active(&app.introspect(&app.admin, cid, &s2).await));
    assert!(active(&app.introspect(&app.admin, cid, STRONG).await));
    assert!(active(&app.introspect(&app.admin, cid, &s3).await));

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
    assert!(active(&app.introspect(&app.admin, cid, &s3).await));

    // Revocation ends both secrets at once; a revoked client never rotates.
    app.delete(&format!("/v1/clients/{id}"), &app.admin)
        .await
        .expect(200);
    assert!(!active(&app.introspect(&app.admin, cid, STRONG).await));
    assert!(!active(&app.introspect(&app.admin, cid, &s3).await));
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
    let org = app.create_org("acme").await;
    let c = app
        .create_client(org["id"].as_str().unwrap(), "shop", &[])
        .await;
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
    assert!(!active(&app.introspect(&app.admin, cid, &prev).await));
    assert!(active(&app.introspect(&app.admin, cid, &cur).await));
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

#[tokio::test]
async fn client_supplied_secret_at_create() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let oid = org["id"].as_str().unwrap();
    let mut body = client_body(oid, "shop", &["orders:read"]);
    body["client_secret"] = json!(STRONG);
    let r = app
        .send(
            "POST",
            "/v1/clients",
            Some(&app.admin),
            Some(body.clone()),
            &[("Idempotency-Key", "c1")],
        )
        .await;
    let c = r.expect(201).clone();
    assert!(c.get("client_secret").is_none(), "{c}");
    assert!(!r.text.contains(STRONG));
    let cid = c["client_id"].as_str().unwrap();
    assert!(active(&app.introspect(&app.admin, cid, STRONG).await));
    // Replays answer the original; another secret under the same key is refused.
    let r = app
        .send(
            "POST",
            "/v1/clients",
            Some(&app.admin),
            Some(body.clone()),
            &[("Idempotency-Key", "c1")],
        )
        .await;
    assert_eq!(r.expect(201)["id"], c["id"]);
    let mut other = body.clone();
    other["client_secret"] = json!("Another-Secret-That-Is-Long-Enough-42!");
    let r = app
        .send(
            "POST",
            "/v1/clients",
            Some(&app.admin),
            Some(other),
            &[("Idempotency-Key", "c1")],
        )
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
    assert!(active(&app.introspect(&app.admin, cid, STRONG).await));
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

/// Polls GET /v1/clients/{id} (up to 2 s) until `last_used_at` equals `want`.
async fn wait_last_used(app: &TestApp, id: &str, want: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let got = app.get(&format!("/v1/clients/{id}"), &app.admin).await;
        let v = got.expect(200).clone();
        if v["last_used_at"] == want || std::time::Instant::now() > deadline {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn last_used_at_is_recorded_coarsely_off_the_hot_path() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let c = app
        .create_client(org["id"].as_str().unwrap(), "shop", &[])
        .await;
    let id = c["id"].as_str().unwrap();
    let cid = c["client_id"].as_str().unwrap();
    let secret = c["client_secret"].as_str().unwrap();
    let other = app
        .create_client(org["id"].as_str().unwrap(), "idle", &[])
        .await;
    // A failed introspection is no use.
    assert!(!active(&app.introspect(&app.admin, cid, "pcs_wrong").await));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let got = app.get(&format!("/v1/clients/{id}"), &app.admin).await;
    assert_eq!(got.expect(200)["last_used_at"], Value::Null);

    app.set_time("2027-01-01T00:00:10Z");
    assert!(active(&app.introspect(&app.reviewer, cid, secret).await));
    let v = wait_last_used(&app, id, "2027-01-01T00:00:10Z").await;
    assert_eq!(v["last_used_at"], "2027-01-01T00:00:10Z", "{v}");
    // The version does not move: last use is not a change of the record.
    assert_eq!(v["version"], 1);
    // Listed too; the unused client stays null.
    let list = app.get("/v1/clients", &app.admin).await;
    let items = list.expect(200)["items"].as_array().unwrap().clone();
    let find = |cid: &str| {
        items
            .iter()
            .find(|i| i["client_id"] == cid)
            .unwrap()
            .clone()
    };
    assert_eq!(find(cid)["last_used_at"], "2027-01-01T00:00:10Z");
    assert_eq!(
        find(other["client_id"].as_str().unwrap())["last_used_at"],
        Value::Null
    );

    // Within the minute, uses are not written again.
    app.set_time("2027-01-01T00:00:40Z");
    assert!(active(&app.introspect(&app.admin, cid, secret).await));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let got = app.get(&format!("/v1/clients/{id}"), &app.admin).await;
    assert_eq!(got.expect(200)["last_used_at"], "2027-01-01T00:00:10Z");
    // A minute after the last write, the next use is written.
    app.set_time("2027-01-01T00:01:10Z");
    assert!(active(&app.introspect(&app.admin, cid, secret).await));
    let v = wait_last_used(&app, id, "2027-01-01T00:01:10Z").await;
    assert_eq!(v["last_used_at"], "2027-01-01T00:01:10Z");
    // The audit trail does not grow with uses.
    let audit = app.get("/v1/audit?limit=1000", &app.admin).await;
    assert!(
        !audit.text.contains("00:01:10Z"),
        "use recorded in the audit trail"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_revocation_by_another_process_counts_within_a_second() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let c = app
        .create_client(org["id"].as_str().unwrap(), "shop", &[])
        .await;
    let id = c["id"].as_str().unwrap().to_string();
    let cid = c["client_id"].as_str().unwrap();
    let secret = c["client_secret"].as_str().unwrap();
    for _ in 0..20 {
        assert!(active(&app.introspect(&app.admin, cid, secret).await));
    }
    // Another process (as the CLI, or another replica, would be) commits the revocation.
    let revoked = id.clone();
    app.cli_write(move |tx, ctx| partner_registry::service::revoke_client(tx, ctx, &revoked));
    let took = app
        .eventually(|| async { !active(&app.introspect(&app.admin, cid, secret).await) })
        .await;
    assert!(took < std::time::Duration::from_secs(1), "took {took:?}");
    for _ in 0..20 {
        assert!(!active(&app.introspect(&app.admin, cid, secret).await));
    }
    // And a token revoked elsewhere is refused within the same bound.
    let tok = app.token("temp", Role::Reviewer, None).await;
    app.eventually(|| async { app.introspect(&tok, cid, secret).await.status == 200 })
        .await;
    app.revoke_token("temp");
    let took = app
        .eventually(|| async { app.introspect(&tok, cid, secret).await.status == 401 })
        .await;
    assert!(took < std::time::Duration::from_secs(1), "took {took:?}");
    app.shutdown().await;
}

async fn use_at(app: &TestApp, c: &Value, at: &str) {
    app.set_time(at);
    let r = app
        .introspect(
            &app.admin,
            c["client_id"].as_str().unwrap(),
            c["client_secret"].as_str().unwrap(),
        )
        .await;
    assert!(active(&r));
    let v = wait_last_used(app, c["id"].as_str().unwrap(), at).await;
    assert_eq!(v["last_used_at"], at);
}

fn org_with(name: &str, contract_end: &str, sponsor: bool) -> Value {
    let mut b = org_body(name);
    b["contract_end"] = json!(contract_end);
    if !sponsor {
        b.as_object_mut().unwrap().remove("commercial_sponsor");
    }
    b
}

const REVIEW_AT: &str = "2027-04-15T00:00:00Z";

/// One finding of each kind (and a revoked client that yields none).
async fn review_fixture(app: &TestApp) {
    let post_org = |b: Value| async move {
        app.post("/v1/orgs", &app.admin, b)
            .await
            .expect(201)
            .clone()
    };
    let acme = post_org(org_with("acme", "2027-12-31", true)).await;
    let oldco = post_org(org_with("oldco", "2027-03-31", true)).await;
    let nosponsor = post_org(org_with("nosponsor", "2027-12-31", false)).await;
    let id = |o: &Value| o["id"].as_str().unwrap().to_string();
    let stale = app.create_client(&id(&acme), "stale", &[]).await;
    let ghost = app.create_client(&id(&acme), "ghost", &[]).await;
    let gone = app.create_client(&id(&acme), "gone", &[]).await;
    app.create_client(&id(&oldco), "legacy", &[]).await;
    let never = app.create_client(&id(&nosponsor), "never", &[]).await;
    app.delete(
        &format!("/v1/clients/{}", gone["id"].as_str().unwrap()),
        &app.admin,
    )
    .await
    .expect(200);
    use_at(app, &ghost, "2027-02-01T00:00:00Z").await;
    app.set_time("2027-04-10T00:00:00Z");
    for c in [&ghost, &never] {
        rotate(app, &app.admin, c["id"].as_str().unwrap(), json!({}))
            .await
            .expect(200);
    }
    let mut b = client_body(&id(&acme), "expiring", &[]);
    b["expires_at"] = json!("2027-05-01T00:00:00Z");
    let expiring = app
        .post("/v1/clients", &app.admin, b)
        .await
        .expect(201)
        .clone();
    use_at(app, &stale, "2027-04-14T00:00:00Z").await;
    use_at(app, &expiring, "2027-04-14T00:00:00Z").await;
    app.set_time(REVIEW_AT);
}

fn triples(review: &Value) -> Vec<(String, String, String)> {
    review["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["org"]["name"].as_str().unwrap().to_string(),
                f["client"]["name"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect()
}

const KINDS: [&str; 5] = [
    "contract_ended",
    "expiring_soon",
    "no_commercial_sponsor",
    "secret_not_rotated",
    "unused",
];

#[tokio::test]
async fn entitlement_review_over_http_and_in_every_cli_format() {
    let app = TestApp::spawn().await;
    review_fixture(&app).await;

    let r = app.get("/v1/reviews", &app.reviewer).await;
    let review = r.expect(200).clone();
    assert_eq!(review["generated_at"], REVIEW_AT);
    assert_eq!(review["within"], "720h");
    assert_eq!(review["rotation_age"], "2160h");
    assert_eq!(review["unused_for"], "720h");
    let want: Vec<(String, String, String)> = [
        ("contract_ended", "oldco", "legacy"),
        ("expiring_soon", "acme", "expiring"),
        ("no_commercial_sponsor", "nosponsor", "-"),
        ("secret_not_rotated", "acme", "stale"),
        ("unused", "acme", "ghost"),
        ("unused", "nosponsor", "never"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(triples(&review), want, "{review:#}");
    let f = &review["findings"][1];
    assert_eq!(
        f["org"],
        json!({"id": f["org"]["id"], "name": "acme", "approval_authority": "boss@acme.example"})
    );
    let client_keys: Vec<&String> = f["client"].as_object().unwrap().keys().collect();
    assert_eq!(
        client_keys,
        [
            "client_id",
            "expires_at",
            "id",
            "last_used_at",
            "name",
            "owner",
            "secret_rotated_at"
        ]
    );
    assert_eq!(f["client"]["owner"], "owner@partner.example");
    assert_eq!(f["client"]["last_used_at"], "2027-04-14T00:00:00Z");
    let detail = f["detail"].as_str().unwrap();
    assert!(
        detail.contains("expiring")
            && detail.contains("owner@partner.example")
            && detail.contains("boss@acme.example")
            && detail.contains("2027-05-01T00:00:00Z"),
        "{detail}"
    );
    assert_eq!(review["findings"][2]["client"], Value::Null);
    assert!(
        review["findings"][5]["detail"]
            .as_str()
            .unwrap()
            .contains("never been used")
    );

    // Admins read it too; org tokens do not.
    app.get("/v1/reviews", &app.admin).await.expect(200);
    let org_tok = app
        .token(
            "acme-ci",
            Role::Org,
            review["findings"][1]["org"]["id"].as_str(),
        )
        .await;
    app.get("/v1/reviews", &org_tok).await.expect(403);
    // Windows and thresholds.
    let narrow = app
        .get(
            "/v1/reviews?within=24h&rotation_age=9000h&unused_for=2000h",
            &app.reviewer,
        )
        .await;
    let narrow = narrow.expect(200).clone();
    assert_eq!(narrow["within"], "24h");
    assert_eq!(
        triples(&narrow)
            .iter()
            .map(|t| t.0.as_str())
            .collect::<Vec<_>>(),
        ["contract_ended", "no_commercial_sponsor", "unused"]
    );
    let r = app
        .get("/v1/reviews?within=soon&unused_for=-1h", &app.reviewer)
        .await;
    r.expect(422);
    assert_eq!(r.error_fields(), vec!["within", "unused_for"]);
    app.get("/v1/reviews?window=1h", &app.reviewer)
        .await
        .expect(400);

    // The CLI on the database file: the same JSON document, byte for byte.
    let db = app.db_arg();
    let (code, out, err) = app.cli(&[
        "review", "--db", &db, "--now", REVIEW_AT, "--format", "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let api = app.get("/v1/reviews", &app.reviewer).await;
    assert_eq!(out.trim_end(), api.text);
    let (code, out, _) = app.cli(&[
        "review",
        "--db",
        &db,
        "--now",
        REVIEW_AT,
        "--format",
        "json",
        "--within",
        "24h",
        "--rotation-age",
        "9000h",
        "--unused-for",
        "2000h",
    ]);
    assert_eq!(code, 0);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), narrow);

    let (code, md, err) = app.cli(&[
        "review", "--db", &db, "--now", REVIEW_AT, "--format", "markdown",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, txt, err) = app.cli(&["review", "--db", &db, "--now", REVIEW_AT]);
    assert_eq!(code, 0, "{err}");
    for kind in KINDS {
        assert!(md.contains(&format!("`{kind}` (")), "{kind} missing: {md}");
        assert!(
            txt.lines().any(|l| l.starts_with(&format!("{kind} "))),
            "{kind} missing: {txt}"
        );
    }
    for (kind, org, client) in &want {
        let row = md
            .lines()
            .find(|l| {
                l.starts_with(&format!("| {org} (")) && l.contains(&format!("| {client} "))
                    || (client == "-" && l.starts_with(&format!("| {org} (")))
            })
            .unwrap_or_else(|| panic!("no markdown row for {kind} {org} {client}:\n{md}"));
        assert!(row.contains(&format!("boss@{org}.example")), "{row}");
        let line = txt
            .lines()
            .find(|l| {
                l.starts_with(&format!("{kind} org={org} "))
                    && (client == "-" || l.contains(&format!("client={client} ")))
            })
            .unwrap_or_else(|| panic!("no text line for {kind} {org} {client}:\n{txt}"));
        assert!(
            line.contains(&format!("approval_authority=boss@{org}.example")),
            "{line}"
        );
    }
    assert!(md.starts_with("# Entitlement review\n"), "{md}");
    assert!(md.contains("| Org | Client | Owner | Approval authority | Finding |"));
    assert!(
        txt.starts_with("Entitlement review: generated at 2027-04-15T00:00:00Z"),
        "{txt}"
    );
    assert_eq!(txt.lines().count(), 1 + want.len(), "{txt}");

    // Bad arguments are named; a missing database is an error, not a new file.
    let (code, _, err) = app.cli(&["review", "--db", &db, "--within", "soon"]);
    assert_ne!(code, 0);
    assert!(err.contains("within"), "{err}");
    let (code, _, err) = app.cli(&["review", "--db", &db, "--format", "html"]);
    assert_ne!(code, 0);
    assert!(err.contains("html"), "{err}");
    let missing = app.dir.path().join("missing.db");
    let (code, _, err) = app.cli(&["review", "--db", missing.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("no database"), "{err}");
    assert!(!missing.exists());
    app.shutdown().await;
}

#[tokio::test]
async fn new_routes_refuse_bad_input_without_5xx() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let c = app
        .create_client(org["id"].as_str().unwrap(), "shop", &[])
        .await;
    let path = format!("/v1/clients/{}/rotate", c["id"].as_str().unwrap());
    for body in ["{", "[]", "null", "42", "\"s\"", "\u{0}"] {
        let r = app
            .http
            .post(format!("{}{path}", app.url))
            .bearer_auth(&app.admin)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{body:?}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    let r = app
        .http
        .post(format!("{}{path}", app.url))
        .bearer_auth(&app.admin)
        .body("x".repeat(70 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    app.send("POST", &path, None, Some(json!({})), &[])
        .await
        .expect(401);
    app.send("GET", &path, Some(&app.admin), None, &[])
        .await
        .expect(405);
    app.send("GET", "/v1/reviews", None, None, &[])
        .await
        .expect(401);
    app.send(
        "POST",
        "/v1/reviews",
        Some(&app.admin),
        Some(json!({})),
        &[],
    )
    .await
    .expect(405);
    // Nothing above rotated the secret.
    let got = app
        .get(
            &format!("/v1/clients/{}", c["id"].as_str().unwrap()),
            &app.admin,
        )
        .await;
    assert_eq!(got.expect(200)["version"], 1);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_elsewhere_counts_within_a_second_under_concurrent_load() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let org = app.create_org("acme").await;
    let c = app
        .create_client(org["id"].as_str().unwrap(), "shop", &[])
        .await;
    let id = c["id"].as_str().unwrap().to_string();
    let cid = c["client_id"].as_str().unwrap().to_string();
    let secret = c["client_secret"].as_str().unwrap().to_string();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..8 {
        let (app, cid, secret, stop) = (app.clone(), cid.clone(), secret.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                app.introspect(&app.admin, &cid, &secret).await.expect(200);
                n += 1;
            }
            n
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    let id2 = id.clone();
    app.cli_write(move |tx, ctx| partner_registry::service::revoke_client(tx, ctx, &id2));
    let took = app
        .eventually(|| async { !active(&app.introspect(&app.admin, &cid, &secret).await) })
        .await;
    assert!(took < std::time::Duration::from_secs(1), "took {took:?}");
    // Every request after that sees the revocation.
    for _ in 0..20 {
        assert!(!active(&app.introspect(&app.admin, &cid, &secret).await));
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut total = 0;
    for t in load {
        total += t.await.unwrap();
    }
    assert!(total > 0);
}

#[tokio::test]
async fn last_use_is_written_at_shutdown_at_the_latest() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let c = app
        .create_client(org["id"].as_str().unwrap(), "shop", &[])
        .await;
    app.set_time("2027-01-01T00:05:00Z");
    assert!(active(
        &app.introspect(
            &app.admin,
            c["client_id"].as_str().unwrap(),
            c["client_secret"].as_str().unwrap()
        )
        .await
    ));
    let target = app.target.clone();
    let _dir = app.shutdown().await;
    let used = query_text(
        &target,
        &format!(
            "SELECT last_used_at FROM clients WHERE id = '{}'",
            c["id"].as_str().unwrap()
        ),
    );
    assert_eq!(used, "1798761900");
}
