//! The entitlement review over HTTP and in every CLI format.

use crate::helpers::*;
use partner_registry::records::Role;
use serde_json::{Value, json};

async fn use_at(app: &TestApp, c: &Value, at: &str) {
    app.set_time(at);
    let r = app.introspect_client(c).await;
    assert!(answered_active(&r));
    let v = wait_client_last_used(app, c["id"].as_str().unwrap(), at).await;
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
    let post_org = |b: Value| async move { app.create("/v1/orgs", b).await };
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
    let expiring = app.create("/v1/clients", b).await;
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

/// An org whose contract ended is one finding for each client it still has,
/// or one for the org itself when it has none left (revoked, or never made).
#[tokio::test]
async fn an_ended_contract_is_a_finding_per_live_client_or_one_for_the_org() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for name in ["kept", "emptied", "bare"] {
        let org = app.post("/v1/orgs", &app.admin, org_with(name, "2027-03-31", true));
        ids.push(org.await.expect(201)["id"].as_str().unwrap().to_string());
    }
    app.create_client(&ids[0], "legacy", &[]).await;
    let old = app.create_client(&ids[1], "old", &[]).await;
    app.delete(
        &format!("/v1/clients/{}", old["id"].as_str().unwrap()),
        &app.admin,
    )
    .await
    .expect(200);
    app.set_time(REVIEW_AT);
    let review = app.get_ok("/v1/reviews", &app.reviewer).await;
    let want: Vec<(String, String, String)> = [("bare", "-"), ("emptied", "-"), ("kept", "legacy")]
        .iter()
        .map(|(org, client)| ("contract_ended".into(), org.to_string(), client.to_string()))
        .collect();
    assert_eq!(triples(&review), want, "{review:#}");
    app.shutdown().await;
}
