//! Access review campaigns over real HTTP: opening, deciding (keep with a
//! comment, revoke at once), who may do what, due dates on the registry's
//! clock, `review_overdue` findings, suspension under
//! `review_enforcement = "suspend"` and its end, and the campaigns the
//! registry opens by itself.

use crate::helpers::*;
use partner_registry::records::Role;
use serde_json::{Value, json};

const CAMPAIGNS: &str = "/v1/reviews/campaigns";

/// An org named `name` with the clients `clients`, each with its secret.
async fn org_with_clients(app: &TestApp, name: &str, clients: &[&str]) -> (String, Vec<Value>) {
    let org = app.create_org(name).await;
    let id = org["id"].as_str().unwrap().to_string();
    let mut made = Vec::new();
    for c in clients {
        made.push(app.create_client(&id, c, &["orders:read"]).await);
    }
    (id, made)
}

/// Opens a campaign for `org` due at the end of `due_date`, as the admin.
async fn open(app: &TestApp, org: &str, due_date: &str) -> Value {
    let r = app
        .post(
            CAMPAIGNS,
            &app.admin,
            json!({"org_id": org, "due_date": due_date, "note": "quarterly review"}),
        )
        .await;
    let body = r.expect(201).clone();
    assert_eq!(
        r.header("location"),
        format!("{CAMPAIGNS}/{}", body["id"].as_str().unwrap())
    );
    body
}

async fn decide(app: &TestApp, token: &str, campaign: &Value, body: Value) -> Resp {
    let path = format!("{CAMPAIGNS}/{}/decisions", campaign["id"].as_str().unwrap());
    app.post(&path, token, body).await
}

/// The state of the client named `name` in `campaign`.
/// The decision to keep a client's access, with its reason.
fn keep(client_id: &Value, comment: &str) -> Value {
    json!({"client_id": client_id, "decision": "keep", "comment": comment})
}

/// A reviewer's decision the registry refuses with 422.
async fn decision_refused(app: &TestApp, campaign: &Value, body: Value) -> Resp {
    let r = decide(app, &app.reviewer, campaign, body).await;
    r.expect(422);
    r
}

fn state(campaign: &Value, name: &str) -> String {
    campaign["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {campaign}"))["state"]
        .as_str()
        .unwrap()
        .to_string()
}

fn str_of<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field].as_str().unwrap()
}

async fn active(app: &TestApp, client: &Value) -> bool {
    app.introspect(
        &app.admin,
        str_of(client, "client_id"),
        str_of(client, "client_secret"),
    )
    .await
    .expect(200)["active"]
        == true
}

/// The clients (by name) of the `review_overdue` findings of the review.
async fn overdue_findings(app: &TestApp) -> Vec<String> {
    let review = app.get("/v1/reviews", &app.reviewer).await;
    review.expect(200)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "review_overdue")
        .map(|f| f["client"]["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_campaign_is_decided_by_reviewers_and_a_revocation_takes_effect_at_once() {
    let app = TestApp::spawn().await;
    let (org, clients) = org_with_clients(&app, "acme", &["shop", "billing"]).await;
    let (other, _) = org_with_clients(&app, "globex", &["feed"]).await;
    let acme_token = app.token("acme-ci", Role::Org, Some(&org)).await;
    let globex_token = app.token("globex-ci", Role::Org, Some(&other)).await;
    let body = json!({"org_id": org, "due_date": "2027-01-15"});
    for token in [&app.reviewer, &acme_token] {
        app.post(CAMPAIGNS, token, body.clone()).await.expect(403);
    }

    let campaign = open(&app, &org, "2027-01-15").await;
    assert_eq!(campaign["status"], "open");
    assert_eq!(campaign["cause"], "manual");
    assert_eq!(campaign["due_at"], "2027-01-15T23:59:59Z");
    assert_eq!(campaign["opened_by"], "admin");
    assert_eq!(campaign["approval_authority"], "boss@acme.example");
    assert_eq!(campaign["undecided"], 2);
    assert_eq!(state(&campaign, "shop"), "undecided");
    let path = format!("{CAMPAIGNS}/{}", str_of(&campaign, "id"));

    // An org token sees its own org's campaign, never another org's.
    app.get(&path, &acme_token).await.expect(200);
    app.get(&path, &globex_token).await.expect(404);
    let listed = app.get(CAMPAIGNS, &globex_token).await;
    assert_eq!(listed.expect(200)["items"], json!([]));
    let listed = app
        .get(&format!("{CAMPAIGNS}?org_id={org}"), &globex_token)
        .await;
    assert_eq!(listed.expect(200)["items"], json!([]));
    let listed = app.get(CAMPAIGNS, &acme_token).await;
    assert_eq!(listed.expect(200)["items"][0]["id"], campaign["id"]);

    // Nobody attests their own access; keeping needs a reason.
    let keep_shop = keep(&clients[0]["client_id"], "still sells");
    decide(&app, &acme_token, &campaign, keep_shop.clone())
        .await
        .expect(403);
    decide(&app, &globex_token, &campaign, keep_shop.clone())
        .await
        .expect(404);
    let r = decision_refused(
        &app,
        &campaign,
        json!({"client_id": clients[0]["client_id"], "decision": "keep"}),
    )
    .await;
    assert_eq!(r.error_fields(), ["comment"]);

    let after = decide(&app, &app.reviewer, &campaign, keep_shop.clone()).await;
    let after = after.expect(200);
    assert_eq!(state(after, "shop"), "kept");
    assert_eq!(after["items"][0]["decided_by"], "reviewer");
    assert_eq!(after["items"][0]["comment"], "still sells");
    let again = decide(&app, &app.reviewer, &campaign, keep_shop).await;
    again.expect(409);

    assert!(active(&app, &clients[1]).await);
    let after = decide(
        &app,
        &app.reviewer,
        &campaign,
        json!({"client_id": clients[1]["id"], "decision": "revoke", "comment": "integration retired"}),
    )
    .await;
    let after = after.expect(200).clone();
    assert_eq!(state(&after, "billing"), "revoked");
    assert_eq!(after["status"], "complete");
    assert_eq!(
        (after["kept"].clone(), after["revoked"].clone()),
        (json!(1), json!(1))
    );
    assert!(!active(&app, &clients[1]).await, "revoked at once");
    assert!(active(&app, &clients[0]).await);
    let billing = app
        .get(
            &format!("/v1/clients/{}", str_of(&clients[1], "id")),
            &app.admin,
        )
        .await;
    assert_eq!(billing.expect(200)["status"], "revoked");

    let audit = app.get("/v1/audit?limit=1000", &app.admin).await;
    let events: Vec<(String, String, String)> = audit.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| str_of(e, "action").starts_with("review.") || e["action"] == "client.revoke")
        .map(|e| {
            (
                str_of(e, "action").to_string(),
                str_of(e, "actor").to_string(),
                str_of(e, "entity_id").to_string(),
            )
        })
        .collect();
    let id = |c: &Value| str_of(c, "id").to_string();
    assert_eq!(
        events,
        [
            ("review.open".into(), "admin".into(), org.clone()),
            ("review.keep".into(), "reviewer".into(), id(&clients[0])),
            ("review.revoke".into(), "reviewer".into(), id(&clients[1])),
            ("client.revoke".into(), "reviewer".into(), id(&clients[1])),
        ]
    );
    assert!(matches!(
        app.verify(),
        partner_registry::audit::AuditCheck::Intact(_)
    ));
    app.shutdown().await;
}

/// The org's approval authority decides its reviews with an approver token
/// bound to their email; an approver token of anyone else decides none.
#[tokio::test]
async fn the_orgs_approval_authority_decides_with_an_approver_token() {
    let app = TestApp::spawn().await;
    let (org, clients) = org_with_clients(&app, "acme", &["shop"]).await;
    let campaign = open(&app, &org, "2027-01-15").await;
    let keep = keep(&clients[0]["client_id"], "renewed");
    let stranger = approver(&app, "stranger", "someone@else.example").await;
    let refused = decide(&app, &stranger, &campaign, keep.clone()).await;
    refused.expect(403);
    assert!(
        refused.text.contains("boss@acme.example") && refused.text.contains("someone@else.example"),
        "{}",
        refused.text
    );
    let boss = approver(&app, "boss", "boss@acme.example").await;
    let decided = decide(&app, &boss, &campaign, keep).await;
    let decided = decided.expect(200);
    assert_eq!(state(decided, "shop"), "kept");
    assert_eq!(decided["items"][0]["decided_by"], "boss");
    app.shutdown().await;
}

#[tokio::test]
async fn overdue_clients_are_reported_and_suspended_until_decided_under_suspend() {
    let app = TestApp::spawn().await;
    let (org, clients) = org_with_clients(&app, "acme", &["shop", "billing"]).await;
    app.patch(
        &format!("/v1/orgs/{org}"),
        &app.admin,
        json!({"review_enforcement": "suspend"}),
    )
    .await
    .expect(200);
    let campaign = open(&app, &org, "2027-01-10").await;
    assert_eq!(campaign["review_enforcement"], "suspend");

    app.set_time("2027-01-10T23:59:59Z");
    assert!(active(&app, &clients[0]).await, "due at the end of the day");
    assert_eq!(overdue_findings(&app).await, Vec::<String>::new());

    app.set_time("2027-01-11T00:00:00Z");
    assert!(!active(&app, &clients[0]).await, "suspended once overdue");
    assert!(!active(&app, &clients[1]).await);
    assert_eq!(overdue_findings(&app).await, ["billing", "shop"]);
    let review = app.get("/v1/reviews", &app.reviewer).await;
    let detail = review.expect(200)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "review_overdue")
        .unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.contains("suspended"), "{detail}");
    assert!(detail.contains("boss@acme.example"), "{detail}");
    let shown = app
        .get(
            &format!("{CAMPAIGNS}/{}", str_of(&campaign, "id")),
            &app.admin,
        )
        .await;
    let shown = shown.expect(200);
    assert_eq!(shown["status"], "overdue");
    assert_eq!(state(shown, "shop"), "suspended");
    let overdue = app
        .get(&format!("{CAMPAIGNS}?status=overdue"), &app.reviewer)
        .await;
    assert_eq!(overdue.expect(200)["items"].as_array().unwrap().len(), 1);

    let renewed = keep(&clients[0]["client_id"], "renewed with legal");
    decide(&app, &app.admin, &campaign, renewed)
        .await
        .expect(200);
    assert!(
        active(&app, &clients[0]).await,
        "a decision ends the suspension"
    );
    assert!(!active(&app, &clients[1]).await);
    assert_eq!(overdue_findings(&app).await, ["billing"]);

    // Under "report" an overdue client stays active and is reported.
    app.patch(
        &format!("/v1/orgs/{org}"),
        &app.admin,
        json!({"review_enforcement": "report"}),
    )
    .await
    .expect(200);
    assert!(active(&app, &clients[1]).await);
    assert_eq!(overdue_findings(&app).await, ["billing"]);
    app.shutdown().await;
}

async fn patch_org(app: &TestApp, id: &str, body: Value) {
    let path = format!("/v1/orgs/{id}");
    app.patch(&path, &app.admin, body).await.expect(200);
}

/// `POST /v1/reviews/campaigns` with `body`, answering 422.
async fn refused(app: &TestApp, body: Value) -> Resp {
    let r = app.post(CAMPAIGNS, &app.admin, body).await;
    r.expect(422);
    r
}

/// The causes of the campaigns of `org`, oldest first.
async fn causes(app: &TestApp, org: &str) -> Vec<String> {
    let listed = app
        .get(&format!("{CAMPAIGNS}?org_id={org}"), &app.admin)
        .await;
    let mut causes: Vec<String> = listed.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| str_of(c, "cause").to_string())
        .collect();
    causes.reverse();
    causes
}

#[tokio::test]
async fn contract_renewals_and_wider_scopes_open_campaigns_by_themselves() {
    let app = TestApp::spawn().await;
    let (org, _) = org_with_clients(&app, "acme", &["shop", "billing"]).await;
    let (empty, _) = org_with_clients(&app, "globex", &[]).await;

    patch_org(&app, &org, json!({"contract_end": "2027-12-31"})).await;
    assert_eq!(causes(&app, &org).await, ["contract_renewed"]);
    let listed = app
        .get(&format!("{CAMPAIGNS}?org_id={org}"), &app.admin)
        .await;
    let first = listed.expect(200)["items"][0].clone();
    assert_eq!(first["undecided"], 2);
    assert_eq!(first["due_at"], "2027-01-15T23:59:59Z", "14 days ahead");
    assert!(str_of(&first, "note").contains("2027-12-31"), "{first}");

    // While that one is open, another extension adds none.
    patch_org(&app, &org, json!({"contract_end": "2028-06-30"})).await;
    assert_eq!(causes(&app, &org).await, ["contract_renewed"]);
    // Narrowing opens none; widening does.
    patch_org(&app, &org, json!({"allowed_scopes": ["orders:read"]})).await;
    assert_eq!(causes(&app, &org).await, ["contract_renewed"]);
    patch_org(
        &app,
        &org,
        json!({"allowed_scopes": ["orders:read", "refunds:write"]}),
    )
    .await;
    assert_eq!(
        causes(&app, &org).await,
        ["contract_renewed", "scopes_widened"]
    );
    // A new contract id is a renewal too, once the earlier review is done.
    for c in app
        .get(&format!("{CAMPAIGNS}?org_id={org}"), &app.admin)
        .await
        .expect(200)["items"]
        .as_array()
        .unwrap()
        .clone()
    {
        for item in c["items"].as_array().unwrap() {
            decide(&app, &app.reviewer, &c, keep(&item["id"], "fine"))
                .await
                .expect(200);
        }
    }
    patch_org(&app, &org, json!({"contract_id": "C-acme-2"})).await;
    assert_eq!(
        causes(&app, &org).await,
        ["contract_renewed", "scopes_widened", "contract_renewed"]
    );
    // An org without clients has nothing to review.
    patch_org(&app, &empty, json!({"contract_end": "2027-12-31"})).await;
    assert_eq!(causes(&app, &empty).await, Vec::<String>::new());
    app.shutdown().await;
}

#[tokio::test]
async fn campaign_requests_are_checked_field_by_field() {
    let app = TestApp::spawn().await;
    let (org, clients) = org_with_clients(&app, "acme", &["shop"]).await;
    let (empty, _) = org_with_clients(&app, "globex", &[]).await;
    let refused = |body: Value| refused(&app, body);
    let r = refused(json!({"org_id": org, "due_date": "2026-12-31"})).await;
    assert_eq!(r.error_fields(), ["due_date"]);
    assert!(r.error_message("due_date").contains("2027-01-01"), "{r:?}");
    let r = refused(json!({"org_id": org, "due_date": "2028-06-30"})).await;
    assert!(r.error_message("due_date").contains("365 days"), "{r:?}");
    let r = refused(json!({"org_id": "org_nothere", "due_date": "31 Jan"})).await;
    assert_eq!(r.error_fields(), ["due_date", "org_id"]);
    let r = refused(json!({"org_id": empty})).await;
    assert!(
        r.error_message("org_id").contains("no live client"),
        "{r:?}"
    );
    let r = refused(json!({})).await;
    assert_eq!(r.error_fields(), ["org_id"]);
    app.post(CAMPAIGNS, &app.admin, json!({"org_id": org, "owner": "x"}))
        .await
        .expect(400);

    let campaign = open(&app, &org, "2027-01-31").await;
    let r = decision_refused(
        &app,
        &campaign,
        json!({"client_id": clients[0]["id"], "decision": "maybe"}),
    )
    .await;
    assert_eq!(r.error_fields(), ["decision"]);
    let r = decision_refused(
        &app,
        &campaign,
        json!({"client_id": "pc_other", "decision": "revoke"}),
    )
    .await;
    assert!(
        r.error_message("client_id").contains("not in campaign"),
        "{r:?}"
    );
    app.post(
        &format!("{CAMPAIGNS}/rvc_nothere/decisions"),
        &app.reviewer,
        json!({"client_id": clients[0]["id"], "decision": "revoke"}),
    )
    .await
    .expect(404);
    app.get(&format!("{CAMPAIGNS}?status=late"), &app.admin)
        .await
        .expect(422);

    let r = app
        .patch(
            &format!("/v1/orgs/{org}"),
            &app.admin,
            json!({"review_enforcement": "block"}),
        )
        .await;
    r.expect(422);
    assert_eq!(
        r.error_message("review_enforcement"),
        partner_rules::REVIEW_ENFORCEMENT_RULE
    );
    let made = app.get(&format!("/v1/orgs/{org}"), &app.admin).await;
    assert_eq!(made.expect(200)["review_enforcement"], "report");
    app.shutdown().await;
}

#[tokio::test]
async fn the_cli_opens_lists_shows_and_decides_campaigns() {
    let app = TestApp::spawn().await;
    let (org, clients) = org_with_clients(&app, "acme", &["shop"]).await;
    let db = app.db_arg();
    let (code, out, err) = app.cli(&[
        "review", "open", "--db", &db, "--org-id", &org, "--note", "by hand", "--format", "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let opened: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(opened["opened_by"], "cli");
    assert_eq!(opened["note"], "by hand");
    // The CLI works on the real clock: due 14 days after its today.
    let due = time::OffsetDateTime::now_utc().date() + time::Duration::days(14);
    assert_eq!(opened["due_at"], format!("{due}T23:59:59Z"));
    let id = str_of(&opened, "id");

    let (code, out, err) = app.cli(&["review", "campaigns", "--db", &db, "--org-id", &org]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(&format!("campaign {id} org acme ({org}) cause manual")),
        "{out}"
    );
    assert!(out.contains("CLIENT  CLIENT_ID"), "{out}");
    assert!(out.contains("undecided"), "{out}");

    let cid = str_of(&clients[0], "client_id");
    let decide_by_cli = |decision: &[&str]| {
        let mut args = vec!["review", "decide", id, "--db", &db, "--client-id", cid];
        args.extend(decision);
        app.cli(&args)
    };
    let (code, _, err) = decide_by_cli(&["--decision", "keep"]);
    assert_eq!(code, 1);
    assert!(err.contains("--comment: is required to keep"), "{err}");
    let (code, out, err) = decide_by_cli(&[
        "--decision",
        "revoke",
        "--comment",
        "gone",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let decided: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(state(&decided, "shop"), "revoked");
    assert_eq!(decided["items"][0]["decided_by"], "cli");
    // The running registry follows the CLI's revocation by itself.
    app.eventually(|| async { !active(&app, &clients[0]).await })
        .await;
    let (code, out, _) = app.cli(&["review", "show", id, "--db", &db]);
    assert_eq!(code, 0);
    assert!(out.contains("status complete"), "{out}");
    assert!(out.contains("revoked  cli"), "{out}");
    app.shutdown().await;
}

/// The unix day number of an RFC 3339 instant.
fn day_of(at: &str) -> i64 {
    time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
        .unwrap()
        .unix_timestamp()
        .div_euclid(86_400)
}

/// Stores `per_day` introspections of `client` on each day from `from` to
/// `to` (day numbers), as the registry would have counted them.
fn synthetic_counts(app: &TestApp, client: &Value, from: i64, to: i64, per_day: i64) {
    let id = str_of(client, "id");
    let rows: Vec<String> = (from..=to)
        .map(|d| format!("('{id}', {d}, {per_day})"))
        .collect();
    app.sql(&format!(
        "INSERT INTO client_usage_daily (client_ref, day, count) VALUES {}",
        rows.join(", ")
    ));
}

/// The usage drift campaigns of `org`, once `check` holds for them.
async fn drift_campaigns(app: &TestApp, org: &str) -> Vec<Value> {
    let listed = app
        .get(&format!("{CAMPAIGNS}?org_id={org}"), &app.admin)
        .await;
    listed.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["cause"] == "usage_drift")
        .cloned()
        .collect()
}

#[tokio::test]
async fn usage_drifting_by_a_factor_of_five_opens_a_review_of_that_client() {
    let app = TestApp::spawn().await;
    let (org, clients) = org_with_clients(&app, "acme", &["shop", "steady"]).await;
    let today = day_of("2027-03-01T00:00:00Z");
    for (client, recent) in [(&clients[0], 60), (&clients[1], 10)] {
        synthetic_counts(&app, client, today - 34, today - 7, 10);
        synthetic_counts(&app, client, today - 6, today - 1, recent);
        app.sql(&format!(
            "UPDATE clients SET last_used_at = {} WHERE id = '{}'",
            (today - 1) * 86_400,
            str_of(client, "id")
        ));
    }
    app.set_time("2027-03-01T12:00:00Z");
    assert!(active(&app, &clients[0]).await);
    assert!(active(&app, &clients[1]).await);
    app.eventually(|| async { !drift_campaigns(&app, &org).await.is_empty() })
        .await;
    let counted = format!(
        "SELECT count FROM client_usage_daily WHERE client_ref = '{}' AND day = {today}",
        str_of(&clients[0], "id")
    );
    assert_eq!(
        app.query_text(&counted),
        "1",
        "today's introspection counted"
    );
    let campaign = drift_campaigns(&app, &org).await.remove(0);
    assert_eq!(campaign["opened_by"], "registry");
    assert_eq!(campaign["items"].as_array().unwrap().len(), 1, "{campaign}");
    assert_eq!(state(&campaign, "shop"), "undecided");
    let note = str_of(&campaign, "note");
    assert!(note.contains("times more"), "{note}");
    assert!(note.contains("a day over the 28 days before"), "{note}");
    let review = app.get("/v1/reviews", &app.reviewer).await;
    let drifting: Vec<&Value> = review.expect(200)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "usage_drift")
        .collect();
    assert_eq!(drifting.len(), 1, "{drifting:?}");
    assert_eq!(drifting[0]["client"]["name"], "shop");

    // More use while the review waits opens no second one.
    app.set_time("2027-03-01T12:05:00Z");
    assert!(active(&app, &clients[0]).await);
    app.eventually(|| async { app.query_text(&counted) == "2" })
        .await;
    assert_eq!(drift_campaigns(&app, &org).await.len(), 1);

    // Kept: no longer a finding.
    let seasonal = keep(&clients[0]["id"], "seasonal peak");
    decide(&app, &app.reviewer, &campaign, seasonal)
        .await
        .expect(200);
    let review = app.get("/v1/reviews", &app.reviewer).await;
    assert!(
        !review.expect(200)["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "usage_drift")
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_client_used_again_after_thirty_days_unused_is_reviewed() {
    let app = TestApp::spawn().await;
    let (org, clients) = org_with_clients(&app, "acme", &["shop"]).await;
    assert!(active(&app, &clients[0]).await);
    let path = format!("/v1/clients/{}", str_of(&clients[0], "id"));
    app.eventually(|| async { app.get(&path, &app.admin).await.body["last_used_at"] == START })
        .await;
    app.set_time("2027-01-31T00:00:00Z");
    assert!(
        active(&app, &clients[0]).await,
        "30 days are not more than 30"
    );
    app.eventually(|| async {
        app.get(&path, &app.admin).await.body["last_used_at"] == "2027-01-31T00:00:00Z"
    })
    .await;
    assert!(drift_campaigns(&app, &org).await.is_empty());
    app.set_time("2027-03-05T00:00:00Z");
    assert!(active(&app, &clients[0]).await);
    app.eventually(|| async { !drift_campaigns(&app, &org).await.is_empty() })
        .await;
    let campaign = drift_campaigns(&app, &org).await.remove(0);
    let note = str_of(&campaign, "note");
    assert!(
        note.contains("used again at 2027-03-05T00:00:00Z")
            && note.contains("since 2027-01-31T00:00:00Z"),
        "{note}"
    );
    app.shutdown().await;
}
