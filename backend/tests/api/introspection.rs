//! Introspection: active and inactive answers, revocation seen at once (also when made by another process or under load), and the coarse last use.

use crate::helpers::*;
use partner_registry::records::Role;
use serde_json::{Value, json};

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
    let c = app
        .create_client_in_new_org("acme", "shop", &["orders:read"])
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
        // Both credentials at once, or an assertion of another type.
        json!({"client_id": cid, "client_secret": secret,
               "client_assertion_type": partner_rules::keys::ASSERTION_TYPE, "client_assertion": "x.y.z"}),
        json!({"client_id": cid, "client_assertion_type": "urn:other", "client_assertion": "x.y.z"}),
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
    assert!(!answered_active(
        &app.introspect(&app.admin, cid, "pcs_wrong").await
    ));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let got = app.get(&format!("/v1/clients/{id}"), &app.admin).await;
    assert_eq!(got.expect(200)["last_used_at"], Value::Null);

    app.set_time("2027-01-01T00:00:10Z");
    assert!(answered_active(
        &app.introspect(&app.reviewer, cid, secret).await
    ));
    let v = wait_client_last_used(&app, id, "2027-01-01T00:00:10Z").await;
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
    assert!(answered_active(
        &app.introspect(&app.admin, cid, secret).await
    ));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let got = app.get(&format!("/v1/clients/{id}"), &app.admin).await;
    assert_eq!(got.expect(200)["last_used_at"], "2027-01-01T00:00:10Z");
    // A minute after the last write, the next use is written.
    app.set_time("2027-01-01T00:01:10Z");
    assert!(answered_active(
        &app.introspect(&app.admin, cid, secret).await
    ));
    let v = wait_client_last_used(&app, id, "2027-01-01T00:01:10Z").await;
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
    let c = app.create_client_in_new_org("acme", "shop", &[]).await;
    let id = c["id"].as_str().unwrap().to_string();
    let cid = c["client_id"].as_str().unwrap();
    let secret = c["client_secret"].as_str().unwrap();
    for _ in 0..20 {
        assert!(answered_active(
            &app.introspect(&app.admin, cid, secret).await
        ));
    }
    // Another process (as the CLI, or another replica, would be) commits the revocation.
    let revoked = id.clone();
    app.cli_write(move |tx, ctx| partner_registry::service::revoke_client(tx, ctx, &revoked));
    let took = app
        .eventually(|| async { !answered_active(&app.introspect(&app.admin, cid, secret).await) })
        .await;
    assert!(took < std::time::Duration::from_secs(1), "took {took:?}");
    for _ in 0..20 {
        assert!(!answered_active(
            &app.introspect(&app.admin, cid, secret).await
        ));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_elsewhere_counts_within_a_second_under_concurrent_load() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let c = app.create_client_in_new_org("acme", "shop", &[]).await;
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
        .eventually(|| async { !answered_active(&app.introspect(&app.admin, &cid, &secret).await) })
        .await;
    assert!(took < std::time::Duration::from_secs(1), "took {took:?}");
    // Every request after that sees the revocation.
    for _ in 0..20 {
        assert!(!answered_active(
            &app.introspect(&app.admin, &cid, &secret).await
        ));
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
    let c = app.create_client_in_new_org("acme", "shop", &[]).await;
    app.set_time("2027-01-01T00:05:00Z");
    assert!(answered_active(&app.introspect_client(&c).await));
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

/// The credential cache holds an org's name and contract end once for all its
/// clients: a change to the org reaches the introspection of every client of
/// it (made before or after the change), and of no client of another org.
#[tokio::test]
async fn an_org_change_reaches_the_introspection_of_each_of_its_clients() {
    let app = TestApp::spawn().await;
    let acme = app.create_org("acme").await;
    let oid = acme["id"].as_str().unwrap();
    let other = app.create_org("other").await;
    let bystander = app
        .create_client(other["id"].as_str().unwrap(), "erp", &["orders:read"])
        .await;
    let mut clients = Vec::new();
    for name in ["shop", "billing", "search"] {
        clients.push(app.create_client(oid, name, &["orders:read"]).await);
    }
    app.patch(
        &format!("/v1/orgs/{oid}"),
        &app.admin,
        json!({"name": "acme-group", "contract_end": "2028-06-30"}),
    )
    .await
    .expect(200);
    clients.push(app.create_client(oid, "late", &["orders:read"]).await);
    let facts = |r: &Value| (r["org_name"].clone(), r["contract_end"].clone());
    for c in &clients {
        let (cid, secret) = (
            c["client_id"].as_str().unwrap(),
            c["client_secret"].as_str().unwrap(),
        );
        let r = app.introspect(&app.admin, cid, secret).await;
        assert_eq!(
            facts(r.expect(200)),
            (json!("acme-group"), json!("2028-06-30")),
            "{cid}"
        );
    }
    let (cid, secret) = (
        bystander["client_id"].as_str().unwrap(),
        bystander["client_secret"].as_str().unwrap(),
    );
    let r = app.introspect(&app.admin, cid, secret).await;
    assert_eq!(facts(r.expect(200)), (json!("other"), json!("2027-06-30")));
    app.shutdown().await;
}

#[tokio::test]
async fn introspection_answers_while_another_process_holds_the_write_lock() {
    let app = TestApp::spawn().await;
    let c = app.create_client_in_new_org("acme", "shop", &[]).await;
    let id = c["id"].as_str().unwrap();
    let path = format!("/v1/clients/{id}");
    assert!(answered_active(&app.introspect_client(&c).await));
    let client = wait_client_last_used(&app, id, START).await;
    assert_eq!(client["last_used_at"], START);
    // Another process (a CLI import, say) holds the write lock for 2.5 s,
    // so the use noted next cannot be written until it lets go.
    let (target, key_file) = (app.target.clone(), app.key_file.clone());
    let held = std::time::Duration::from_millis(2_500);
    let (locked, holding) = tokio::sync::oneshot::channel();
    let holder = tokio::task::spawn_blocking(move || {
        cli_write(&target, &key_file, move |_, _| {
            let _ = locked.send(std::time::Instant::now());
            std::thread::sleep(held);
            Ok(())
        })
    });
    let since = holding.await.unwrap();
    app.set_time("2027-01-01T00:05:00Z");
    // Past the cache's one-second staleness bound: every answer still comes
    // from a fresh snapshot (a 503 fails `send`), while the use waits.
    while since.elapsed() < std::time::Duration::from_millis(1_800) {
        assert!(answered_active(&app.introspect_client(&c).await));
        let last_used = app.get(&path, &app.admin).await.expect(200)["last_used_at"].clone();
        assert!(
            last_used == START || since.elapsed() >= held,
            "the use was written while the lock was held: {last_used}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    holder.await.unwrap();
    let client = wait_client_last_used(&app, id, "2027-01-01T00:05:00Z").await;
    assert_eq!(client["last_used_at"], "2027-01-01T00:05:00Z");
    app.shutdown().await;
}
