//! Governance: no secret shared across partners, what introspection tells a
//! gateway, the blast radius of a person, an intermediary or a scope.

use crate::helpers::*;
use partner_registry::records::Role;
use serde_json::{Value, json};

const SHARED: &str = "Correct-Horse-Battery-Staple-2027!xyz";
const OTHER: &str = "Another-Horse-Battery-Staple-2028!abc";

#[tokio::test]
async fn a_supplied_secret_valid_for_another_client_is_refused() {
    let app = TestApp::spawn().await;
    let acme = app.create_org("acme").await;
    let globex = app.create_org("globex").await;
    let (acme_id, globex_id) = (acme["id"].as_str().unwrap(), globex["id"].as_str().unwrap());
    let mut body = client_body(acme_id, "shop", &["orders:read"]);
    body["client_secret"] = json!(SHARED);
    let first = app.create("/v1/clients", body).await;

    // An org token of the other partner learns the rule, never whose secret it is.
    let globex_tok = app.token("globex-ci", Role::Org, Some(globex_id)).await;
    let mut body = client_body(globex_id, "shop", &["orders:read"]);
    body["client_secret"] = json!(SHARED);
    let r = app.post("/v1/clients", &globex_tok, body.clone()).await;
    r.expect(422);
    let msg = r.error_message("client_secret");
    assert!(msg.contains("never shared between clients"), "{msg}");
    assert!(!msg.contains(first["client_id"].as_str().unwrap()), "{msg}");
    assert!(!msg.contains(acme_id), "{msg}");
    assert!(
        !r.text.contains(SHARED),
        "the secret was echoed: {}",
        r.text
    );

    // An admin may see the other client: the refusal names it.
    let r = app.post("/v1/clients", &app.admin, body).await;
    r.expect(422);
    assert!(
        r.error_message("client_secret")
            .contains(first["client_id"].as_str().unwrap()),
        "{}",
        r.text
    );

    // Rotating another client to it is refused the same way.
    let mut body = client_body(globex_id, "shop", &["orders:read"]);
    body["client_secret"] = json!(OTHER);
    let second = app
        .post("/v1/clients", &globex_tok, body)
        .await
        .expect(201)
        .clone();
    let rotate = format!("/v1/clients/{}/rotate", second["id"].as_str().unwrap());
    let r = app
        .post(&rotate, &globex_tok, json!({"client_secret": SHARED}))
        .await;
    r.expect(422);
    assert!(r.error_message("client_secret").contains("never shared"));
    assert!(!r.text.contains(acme_id), "{}", r.text);
    assert_eq!(
        app.introspect(&app.admin, second["client_id"].as_str().unwrap(), OTHER)
            .await
            .expect(200)["active"],
        true,
        "the refused rotation left the secret as it was"
    );

    // A previous secret in its grace period is still valid: still refused.
    let first_rotate = format!("/v1/clients/{}/rotate", first["id"].as_str().unwrap());
    app.post(&first_rotate, &app.admin, json!({"grace_period": "1h"}))
        .await
        .expect(200);
    app.post(&rotate, &globex_tok, json!({"client_secret": SHARED}))
        .await
        .expect(422);
    // Once the first client is revoked the secret is valid for no one.
    app.delete(
        &format!("/v1/clients/{}", first["id"].as_str().unwrap()),
        &app.admin,
    )
    .await
    .expect(200);
    app.post(&rotate, &globex_tok, json!({"client_secret": SHARED}))
        .await
        .expect(200);
}

#[tokio::test]
async fn introspection_names_the_org_its_contract_and_when_the_secret_was_issued() {
    let app = TestApp::spawn().await;
    let acme = app.create_org("acme").await;
    let c = app
        .create_client(acme["id"].as_str().unwrap(), "shop", &["orders:read"])
        .await;
    let (cid, first) = (
        c["client_id"].as_str().unwrap(),
        c["client_secret"].as_str().unwrap(),
    );
    app.set_time("2027-02-01T00:00:00Z");
    let rotated = app
        .post(
            &format!("/v1/clients/{}/rotate", c["id"].as_str().unwrap()),
            &app.admin,
            json!({"grace_period": "1h"}),
        )
        .await
        .expect(200)
        .clone();
    let second = rotated["client_secret"].as_str().unwrap();
    let by_first = app
        .introspect(&app.admin, cid, first)
        .await
        .expect(200)
        .clone();
    let by_second = app
        .introspect(&app.admin, cid, second)
        .await
        .expect(200)
        .clone();
    // 2027-01-01 and 2027-02-01: each secret is dated by its own issue.
    assert_eq!(by_first["iat"], 1_798_761_600);
    assert_eq!(by_second["iat"], 1_801_440_000);
    for r in [&by_first, &by_second] {
        assert_eq!(r["active"], true);
        assert_eq!(r["sub"], cid);
        assert_eq!(r["org_name"], "acme");
        assert_eq!(r["contract_end"], "2027-06-30");
    }
    // A contract extended is what the gateway sees at once.
    app.patch(
        &format!("/v1/orgs/{}", acme["id"].as_str().unwrap()),
        &app.admin,
        json!({"contract_end": "2028-06-30"}),
    )
    .await
    .expect(200);
    assert_eq!(
        app.introspect(&app.admin, cid, second).await.expect(200)["contract_end"],
        "2028-06-30"
    );
}

/// A client body for `org` owned by `owner`, with `extra` fields.
fn client_of(org: &Value, name: &str, owner: &str, extra: Value) -> Value {
    let mut body = client_body(org["id"].as_str().unwrap(), name, &["orders:read"]);
    body["owner"] = json!(owner);
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

/// `POST /v1/clients` as the admin with [`client_of`]'s body.
async fn post_client(app: &TestApp, org: &Value, name: &str, owner: &str, extra: Value) -> Resp {
    app.post(
        "/v1/clients",
        &app.admin,
        client_of(org, name, owner, extra),
    )
    .await
}

#[tokio::test]
async fn an_intermediary_operates_clients_and_its_offboarding_revokes_them() {
    let app = TestApp::spawn().await;
    let acme = app.create_org("acme").await;
    let msp = app.create_org("msp").await;
    let (acme_id, msp_id) = (acme["id"].as_str().unwrap(), msp["id"].as_str().unwrap());
    let post_shop =
        async |extra: Value| post_client(&app, &acme, "shop", "dev@acme.example", extra).await;

    let bad = post_shop(json!({"custodian": "DEV@acme.example", "operated_by": acme_id})).await;
    bad.expect(422);
    assert!(
        bad.error_message("custodian")
            .contains("other than the client's owner"),
        "{}",
        bad.text
    );
    assert!(
        bad.error_message("operated_by")
            .contains("never the client's own org"),
        "{}",
        bad.text
    );
    let r = post_shop(json!({"operated_by": "org_00000000000000000000"})).await;
    r.expect(422);
    assert_eq!(
        r.error_message("operated_by"),
        "no org org_00000000000000000000"
    );

    let c = post_shop(json!({"custodian": "ops@msp.example", "operated_by": msp_id}))
        .await
        .expect(201)
        .clone();
    assert_eq!(c["operated_by"], msp_id);
    assert_eq!(c["custodian"], "ops@msp.example");
    let own = app.create_client(acme_id, "own", &["orders:read"]).await;
    let (cid, secret) = (
        c["client_id"].as_str().unwrap(),
        c["client_secret"].as_str().unwrap(),
    );
    let seen = app
        .introspect(&app.admin, cid, secret)
        .await
        .expect(200)
        .clone();
    assert_eq!(
        seen["org_id"], acme_id,
        "the owning org stays the client's org"
    );
    assert_eq!(seen["operated_by"], msp_id);
    // The review names both orgs.
    let review = app.get_ok("/v1/reviews?within=8760h", &app.reviewer).await;
    let finding = review["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["client"]["id"] == c["id"])
        .expect("the client expires within the window")
        .clone();
    assert_eq!(finding["org"]["id"], acme_id);
    assert_eq!(finding["client"]["operated_by"], msp_id);
    assert_eq!(finding["client"]["custodian"], "ops@msp.example");

    // A patch may hand the client back to its own org.
    let path = format!("/v1/clients/{}", c["id"].as_str().unwrap());
    let back = app
        .patch(
            &path,
            &app.admin,
            json!({"operated_by": null, "custodian": null}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(back["operated_by"], Value::Null);
    app.patch(&path, &app.admin, json!({"operated_by": msp_id}))
        .await
        .expect(200);

    app.delete(&format!("/v1/orgs/{msp_id}"), &app.admin)
        .await
        .expect(200);
    assert_eq!(
        app.get(&path, &app.admin).await.expect(200)["status"],
        "revoked"
    );
    assert_eq!(
        app.introspect(&app.admin, cid, secret).await.text,
        r#"{"active":false}"#
    );
    assert_eq!(
        app.introspect_client(&own).await.expect(200)["active"],
        true,
        "the org's own clients stay"
    );
    let audit = app.get_ok("/v1/audit?limit=100", &app.admin).await;
    let revoke = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "client.revoke" && e["entity_id"] == c["id"])
        .expect("the revocation is audited")
        .clone();
    assert_eq!(revoke["org_id"], acme_id);
    // An offboarded org operates nothing new.
    let r = post_client(
        &app,
        &acme,
        "again",
        "dev@acme.example",
        json!({"operated_by": msp_id}),
    )
    .await;
    r.expect(422);
    assert!(
        r.error_message("operated_by").contains("offboarded"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn blast_radius_of_an_owner_an_intermediary_and_a_scope() {
    let app = TestApp::spawn().await;
    let acme = app.create_org("acme").await;
    let globex = app.create_org("globex").await;
    let initech = app.create_org("initech").await;
    let msp = app.create_org("msp").await;
    let leaving = "dev@people.example";
    let shop = post_client(&app, &acme, "shop", leaving, json!({}))
        .await
        .expect(201)
        .clone();
    post_client(
        &app,
        &globex,
        "erp",
        "ops@globex.example",
        json!({"custodian": leaving}),
    )
    .await
    .expect(201);
    let mut sync = client_of(
        &initech,
        "sync",
        "ops@initech.example",
        json!({"operated_by": msp["id"]}),
    );
    sync["scopes"] = json!(["invoices:read"]);
    app.post("/v1/clients", &app.admin, sync).await.expect(201);
    app.create_client(acme["id"].as_str().unwrap(), "unrelated", &["orders:read"])
        .await;
    let gone = post_client(&app, &initech, "old", leaving, json!({}))
        .await
        .expect(201)
        .clone();
    app.delete(
        &format!("/v1/clients/{}", gone["id"].as_str().unwrap()),
        &app.admin,
    )
    .await
    .expect(200);

    let b = app
        .get_ok(&format!("/v1/blast-radius?owner={leaving}"), &app.reviewer)
        .await;
    let names = field_of_each(&b["clients"], "name");
    assert_eq!(names, ["shop", "erp"], "active clients only: {b:#}");
    assert_eq!(b["clients"][1]["why"], json!(["custodian"]));
    let orgs = field_of_each(&b["orgs"], "name");
    assert_eq!(orgs.len(), 2, "{b:#}");
    assert!(orgs.contains(&"acme") && orgs.contains(&"globex"), "{b:#}");
    let contacts = field_of_each(&b["contacts"], "email");
    assert!(
        contacts.contains(&"boss@acme.example") && contacts.contains(&"boss@globex.example"),
        "{b:#}"
    );
    assert!(
        !contacts.contains(&leaving),
        "the person leaving is not the one to call: {b:#}"
    );

    // A person holding a role in an org reaches it too.
    let b = app
        .get_ok("/v1/blast-radius?owner=boss@initech.example", &app.admin)
        .await;
    assert_eq!(b["orgs"][0]["name"], "initech");
    assert_eq!(b["orgs"][0]["why"], json!(["approval_authority"]));

    // A compromised intermediary: what it operates, and the technical owner
    // of the intermediary shown as the custodian.
    let b = app
        .get_ok(
            &format!(
                "/v1/blast-radius?operated_by={}",
                msp["id"].as_str().unwrap()
            ),
            &app.admin,
        )
        .await;
    assert_eq!(b["clients"].as_array().unwrap().len(), 1, "{b:#}");
    assert_eq!(b["clients"][0]["name"], "sync");
    assert_eq!(b["clients"][0]["custodian"], "tech@msp.example");
    let why: Vec<&Value> = b["orgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["why"])
        .collect();
    assert!(why.contains(&&json!(["operates reached clients"])), "{b:#}");

    // A leaked scope.
    let b = app
        .get_ok("/v1/blast-radius?scope=invoices:read", &app.admin)
        .await;
    assert_eq!(b["clients"].as_array().unwrap().len(), 1, "{b:#}");

    // Refusals name what is wrong.
    let org_tok = app.token("acme-ci", Role::Org, acme["id"].as_str()).await;
    app.get(&format!("/v1/blast-radius?owner={leaving}"), &org_tok)
        .await
        .expect(403);
    let r = app.get("/v1/blast-radius", &app.admin).await;
    r.expect(422);
    assert!(
        r.error_message("owner").contains("at least one"),
        "{}",
        r.text
    );
    let r = app
        .get("/v1/blast-radius?owner=nope&org_id=x", &app.admin)
        .await;
    r.expect(422);
    assert_eq!(r.error_fields(), ["owner", "org_id"]);
    app.get("/v1/blast-radius?who=x", &app.admin)
        .await
        .expect(400);

    // Revocation: admin only, all at once, audited.
    let body = json!({"owner": leaving});
    app.post("/v1/blast-radius/revoke", &app.reviewer, body.clone())
        .await
        .expect(403);
    let done = app
        .post_with(
            "/v1/blast-radius/revoke",
            body,
            &[("X-Change-Ref", "INC-42")],
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(done["revoked"].as_array().unwrap().len(), 2, "{done:#}");
    assert_eq!(
        app.introspect_client(&shop).await.text,
        r#"{"active":false}"#
    );
    let after = app
        .get_ok(&format!("/v1/blast-radius?owner={leaving}"), &app.admin)
        .await;
    assert_eq!(after["clients"], json!([]));
    let audit = app.get_ok("/v1/audit?limit=100", &app.admin).await;
    let events = audit["items"].as_array().unwrap();
    let summary = events
        .iter()
        .find(|e| e["action"] == "blast_radius.revoke")
        .expect("the revocation as a whole is audited");
    assert_eq!(summary["change_ref"], "INC-42");
    let revokes: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"] == "client.revoke" && e["request_id"] == summary["request_id"])
        .collect();
    assert_eq!(
        revokes.len(),
        2,
        "each client's revocation, in the same request"
    );
    assert!(matches!(
        app.verify(),
        partner_registry::audit::AuditCheck::Intact(_)
    ));
}

async fn approve(app: &TestApp, token: &str, change_ref: &str, body: Value) -> Resp {
    app.send(
        "POST",
        "/v1/approvals",
        Some(token),
        Some(body),
        &[("X-Change-Ref", change_ref)],
    )
    .await
}

async fn post_with_ref(app: &TestApp, path: &str, change_ref: &str, body: Value) -> Resp {
    let headers = [("X-Change-Ref", change_ref)];
    app.send("POST", path, Some(&app.admin), Some(body), &headers)
        .await
}

async fn patch_with_ref(app: &TestApp, path: &str, change_ref: &str, body: Value) -> Resp {
    app.send(
        "PATCH",
        path,
        Some(&app.admin),
        Some(body),
        &[("X-Change-Ref", change_ref)],
    )
    .await
}

#[tokio::test]
async fn under_require_a_widening_applies_once_with_the_approval_authoritys_approval() {
    let app = TestApp::spawn().await;
    let mut body = org_body("acme");
    body["approval_policy"] = json!("require");
    let acme = app.create("/v1/orgs", body).await;
    assert_eq!(acme["approval_policy"], "require");
    let boss = approver(&app, "boss", "boss@acme.example").await;
    // A new client is a grant of access: approved like any widening.
    let org_id = acme["id"].as_str().unwrap();
    let shop = client_body(org_id, "shop", &["orders:read"]);
    let r = app.post("/v1/clients", &app.admin, shop.clone()).await;
    r.expect(422);
    let grant = "name=shop; owner=owner@partner.example; scopes=orders:read";
    let msg = r.error_message("org_id");
    for needle in [
        "creating a client in org acme",
        "no change reference",
        &format!("--resource {org_id} --attribute client --old '' --new '{grant}'"),
    ] {
        assert!(msg.contains(needle), "{needle:?} not in {msg}");
    }
    let new_client = json!({"resource": org_id, "attribute": "client", "old": "", "new": grant});
    approve(&app, &boss, "PR-0", new_client).await.expect(201);
    let create = |body: Value| post_with_ref(&app, "/v1/clients", "PR-0", body);
    let mut wider = shop.clone();
    wider["scopes"] = json!(["orders:read", "orders:write"]);
    create(wider).await.expect(422);
    let c = create(shop.clone()).await.expect(201).clone();
    // Used once: the same client again (after a revocation, say) needs another.
    let mut again = shop.clone();
    again["name"] = json!("shop-2");
    create(again).await.expect(422);
    let (id, path) = (
        c["id"].as_str().unwrap().to_string(),
        format!("/v1/clients/{}", c["id"].as_str().unwrap()),
    );
    let widen = json!({"scopes": ["orders:read", "orders:write"]});

    let r = app.patch(&path, &app.admin, widen.clone()).await;
    r.expect(422);
    assert!(
        r.error_message("scopes").contains("no change reference"),
        "{}",
        r.text
    );
    let r = patch_with_ref(&app, &path, "PR-1", widen.clone()).await;
    r.expect(422);
    let msg = r.error_message("scopes");
    for needle in [
        "approval_policy \"require\"",
        "boss@acme.example",
        "partner-registry approve --change-ref 'PR-1'",
        &format!(
            "--resource {id} --attribute scopes --old 'orders:read' --new 'orders:read orders:write'"
        ),
    ] {
        assert!(msg.contains(needle), "{needle:?} not in {msg}");
    }

    let the_change = json!({"resource": id, "attribute": "scopes", "old": "orders:read", "new": "orders:read orders:write"});
    // Only an approver token, only the approval authority, only with a change reference.
    approve(&app, &app.reviewer, "PR-1", the_change.clone())
        .await
        .expect(403);
    let owner = approver(&app, "owner-approves", "owner@partner.example").await;
    let r = approve(&app, &owner, "PR-1", the_change.clone()).await;
    r.expect(403);
    assert!(r.text.contains("not the approval authority"), "{}", r.text);
    let r = app.post("/v1/approvals", &boss, the_change.clone()).await;
    r.expect(422);
    assert_eq!(r.error_fields(), ["X-Change-Ref"]);
    let r = approve(
        &app,
        &boss,
        "PR-1",
        json!({"resource": id, "attribute": "name", "old": "", "new": ""}),
    )
    .await;
    r.expect(422);
    assert_eq!(r.error_fields(), ["attribute"]);
    app.patch(&path, &boss, json!({"purpose": "x"}))
        .await
        .expect(403);

    // An approval of another change reference, or of another value, does not count.
    approve(&app, &boss, "PR-2", the_change.clone())
        .await
        .expect(201);
    let mut other = the_change.clone();
    other["new"] = json!("invoices:read orders:read");
    approve(&app, &boss, "PR-1", other).await.expect(201);
    patch_with_ref(&app, &path, "PR-1", widen.clone())
        .await
        .expect(422);

    let a = approve(&app, &boss, "PR-1", the_change.clone())
        .await
        .expect(201)
        .clone();
    assert_eq!(a["status"], "valid");
    assert_eq!(a["approver"], "boss@acme.example");
    assert_eq!(a["expires_at"], "2027-01-08T00:00:00Z", "7 days by default");
    let done = patch_with_ref(&app, &path, "PR-1", widen.clone())
        .await
        .expect(200)
        .clone();
    assert_eq!(done["scopes"], json!(["orders:read", "orders:write"]));

    // Used once: narrowing needs nothing, widening again needs a new approval.
    patch_with_ref(&app, &path, "PR-1", json!({"scopes": ["orders:read"]}))
        .await
        .expect(200);
    patch_with_ref(&app, &path, "PR-1", widen.clone())
        .await
        .expect(422);
    let listed = app
        .get_ok(
            &format!("/v1/approvals?change_ref=PR-1&resource={id}"),
            &app.admin,
        )
        .await;
    let statuses = field_of_each(&listed["items"], "status");
    assert_eq!(statuses, ["valid", "used"], "{listed:#}");

    // An expired approval is refused.
    approve(
        &app,
        &boss,
        "PR-3",
        json!({"resource": id, "attribute": "scopes", "old": "orders:read",
        "new": "orders:read orders:write", "expires_in": "1h"}),
    )
    .await
    .expect(201);
    app.set_time("2027-01-01T02:00:00Z");
    patch_with_ref(&app, &path, "PR-3", widen.clone())
        .await
        .expect(422);

    // Leaving "require" is itself a change that needs approving.
    let org_path = format!("/v1/orgs/{}", acme["id"].as_str().unwrap());
    let r = patch_with_ref(&app, &org_path, "PR-4", json!({"approval_policy": "warn"})).await;
    r.expect(422);
    assert!(
        r.error_message("approval_policy")
            .contains("--attribute approval_policy --old 'require' --new 'warn'"),
        "{}",
        r.text
    );
    let r = app
        .patch(
            &org_path,
            &app.admin,
            json!({"approval_policy": "sometimes"}),
        )
        .await;
    r.expect(422);
    assert!(
        r.error_message("approval_policy")
            .contains("must be \"warn\""),
        "{}",
        r.text
    );

    let audit = app.get_ok("/v1/audit?limit=200", &app.admin).await;
    let actions = field_of_each(&audit["items"], "action");
    assert!(
        actions.contains(&"approval.create") && actions.contains(&"approval.use"),
        "{actions:?}"
    );
    let use_event = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "approval.use" && e["change_ref"] == "PR-1")
        .unwrap();
    assert_eq!(use_event["after"]["attribute"], "scopes");
    assert_eq!(use_event["after"]["approver"], "boss@acme.example");
}

#[tokio::test]
async fn an_approval_authority_never_approves_what_they_own() {
    let app = TestApp::spawn().await;
    let acme = app.create_org("acme").await;
    let own = post_client(&app, &acme, "own", "boss@acme.example", json!({}))
        .await
        .expect(201)
        .clone();
    let org_path = format!("/v1/orgs/{}", acme["id"].as_str().unwrap());
    app.patch(&org_path, &app.admin, json!({"approval_policy": "require"}))
        .await
        .expect(200);
    let boss = approver(&app, "boss", "boss@acme.example").await;
    // Nor a new client that would be theirs.
    let r = approve(
        &app,
        &boss,
        "PR-1",
        json!({"resource": acme["id"], "attribute": "client", "old": "",
        "new": "name=mine; owner=boss@acme.example; scopes=orders:read"}),
    )
    .await;
    r.expect(403);
    assert!(r.text.contains("the client's owner"), "{}", r.text);
    let r = approve(
        &app,
        &boss,
        "PR-1",
        json!({"resource": own["client_id"], "attribute": "scopes",
        "old": "orders:read", "new": "orders:read orders:write"}),
    )
    .await;
    r.expect(403);
    assert!(
        r.text.contains("the client's owner") && r.text.contains("separation of duties"),
        "{}",
        r.text
    );
    // An approver token without an email, or an email on another role, is refused.
    let flags = json!({"name": "x", "role": "approver"});
    let r = app.post("/v1/tokens", &app.admin, flags).await;
    r.expect(422);
    assert_eq!(r.error_fields(), ["email"]);
    let r = app
        .post(
            "/v1/tokens",
            &app.admin,
            json!({"name": "y", "role": "reviewer", "email": "a@b.example"}),
        )
        .await;
    r.expect(422);
    assert_eq!(r.error_fields(), ["email"]);
}

#[tokio::test]
async fn a_private_key_jwt_client_has_no_secret_and_introspects_by_signed_assertion() {
    use acceptance_tests::keys::{TestKey, jwks};
    let app = TestApp::spawn().await;
    let acme = app.create_org("acme").await;
    let (key, other) = (TestKey::generate("k1"), TestKey::generate("k2"));
    let mut body = client_of(
        &acme,
        "signer",
        "dev@acme.example",
        json!({"auth_method": "private_key_jwt"}),
    );
    let r = app.post("/v1/clients", &app.admin, body.clone()).await;
    r.expect(422);
    assert!(
        r.error_message("jwks").contains("is required"),
        "{}",
        r.text
    );
    body["jwks"] = json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "A", "y": "B", "d": "C"}]});
    let r = app.post("/v1/clients", &app.admin, body.clone()).await;
    r.expect(422);
    assert!(
        r.error_message("jwks").contains("private member \"d\""),
        "{}",
        r.text
    );
    body["jwks"] = jwks(&[&key]);
    body["client_secret"] = json!(SHARED);
    let r = app.post("/v1/clients", &app.admin, body.clone()).await;
    r.expect(422);
    assert!(
        r.error_message("client_secret").contains("has no secret"),
        "{}",
        r.text
    );
    body.as_object_mut().unwrap().remove("client_secret");
    let c = app.create("/v1/clients", body).await;
    assert!(c.get("client_secret").is_none(), "no secret exists: {c:#}");
    assert_eq!(c["auth_method"], "private_key_jwt");
    assert_eq!(c["jwks"]["keys"][0]["kid"], "k1");
    let (id, cid) = (c["id"].as_str().unwrap(), c["client_id"].as_str().unwrap());
    app.post(&format!("/v1/clients/{id}/rotate"), &app.admin, json!({}))
        .await
        .expect(409);

    // 2027-01-01T00:00:00Z, the registry's clock.
    let now = 1_798_761_600;
    let ok = app
        .introspect_assertion(cid, &key.assertion(cid, AUDIENCE, now + 60, "j1"))
        .await;
    let ok = ok.expect(200);
    assert_eq!(ok["active"], true, "{ok:#}");
    assert_eq!(ok["client_id"], cid);
    assert_eq!(ok["iat"], now);
    for (why, assertion) in [
        ("replayed jti", key.assertion(cid, AUDIENCE, now + 60, "j1")),
        ("wrong key", other.assertion(cid, AUDIENCE, now + 60, "j2")),
        (
            "wrong audience",
            key.assertion(cid, "https://elsewhere.example", now + 60, "j3"),
        ),
        ("expired", key.assertion(cid, AUDIENCE, now - 1, "j4")),
        (
            "too far ahead",
            key.assertion(cid, AUDIENCE, now + 3600, "j5"),
        ),
        (
            "another client's id",
            key.assertion("pc_someoneelse", AUDIENCE, now + 60, "j6"),
        ),
        ("not a JWT", "x.y.z".to_string()),
    ] {
        let r = app.introspect_assertion(cid, &assertion).await;
        assert_eq!(r.text, r#"{"active":false}"#, "{why}");
    }
    // A secret is no way in for it, nor an assertion for a secret client.
    assert_eq!(
        app.introspect(&app.admin, cid, SHARED).await.text,
        r#"{"active":false}"#
    );
    let plain = app
        .create_client(acme["id"].as_str().unwrap(), "plain", &["orders:read"])
        .await;
    let plain_id = plain["client_id"].as_str().unwrap();
    let r = app
        .introspect_assertion(plain_id, &key.assertion(plain_id, AUDIENCE, now + 60, "p1"))
        .await;
    assert_eq!(r.text, r#"{"active":false}"#);

    // Key rotation: add the new key, then the old one stops once removed.
    app.patch(
        &format!("/v1/clients/{id}"),
        &app.admin,
        json!({"jwks": jwks(&[&key, &other])}),
    )
    .await
    .expect(200);
    let r = app
        .introspect_assertion(cid, &other.assertion(cid, AUDIENCE, now + 60, "r1"))
        .await;
    assert_eq!(r.expect(200)["active"], true);
    app.patch(
        &format!("/v1/clients/{id}"),
        &app.admin,
        json!({"jwks": jwks(&[&other])}),
    )
    .await
    .expect(200);
    assert_eq!(
        app.introspect_assertion(cid, &key.assertion(cid, AUDIENCE, now + 60, "r2"))
            .await
            .text,
        r#"{"active":false}"#
    );
    let r = app
        .patch(
            &format!("/v1/clients/{id}"),
            &app.admin,
            json!({"auth_method": "client_secret"}),
        )
        .await;
    r.expect(422);
    assert!(
        r.error_message("auth_method").contains("never changes"),
        "{}",
        r.text
    );

    // Revoked: inactive at once.
    app.delete(&format!("/v1/clients/{id}"), &app.admin)
        .await
        .expect(200);
    assert_eq!(
        app.introspect_assertion(cid, &other.assertion(cid, AUDIENCE, now + 60, "v1"))
            .await
            .text,
        r#"{"active":false}"#
    );
}

#[tokio::test]
async fn an_assertion_is_refused_after_a_restart_and_fails_closed_without_the_database() {
    use acceptance_tests::keys::TestKey;
    let app = TestApp::spawn().await;
    let acme = app.create_org("acme").await;
    let key = TestKey::generate("k1");
    let c = signer(&app, &acme, "signer", &[&key]).await;
    let cid = c["client_id"].as_str().unwrap().to_string();
    // 2027-01-01T00:00:00Z, the registry's clock.
    let now = 1_798_761_600;
    let once = key.assertion(&cid, AUDIENCE, now + 120, "once");
    assert_eq!(
        app.introspect_assertion(&cid, &once).await.expect(200)["active"],
        true
    );

    // A new registry process knows nothing in memory: the database refuses it.
    let app = app.restart().await;
    app.eventually(|| async {
        let other = key.assertion(&cid, AUDIENCE, now + 120, "warm");
        app.introspect_assertion(&cid, &other).await.body["active"] == true
    })
    .await;
    assert_eq!(
        app.introspect_assertion(&cid, &once).await.text,
        r#"{"active":false}"#,
        "replayed after the restart"
    );
    assert_eq!(app.query_text("SELECT COUNT(*) FROM assertion_jtis"), "2");

    // Once their assertions expired (and a minute for replicas' clocks), the
    // rows go with the next claim.
    app.set_time("2027-01-01T00:03:01Z");
    let later = key.assertion(&cid, AUDIENCE, now + 240, "later");
    assert_eq!(
        app.introspect_assertion(&cid, &later).await.expect(200)["active"],
        true
    );
    assert_eq!(
        app.query_text("SELECT MIN(jti) || '/' || COUNT(*) FROM assertion_jtis"),
        "later/1"
    );

    // No table to claim the jti in: 503, never active.
    app.sql("DROP TABLE assertion_jtis");
    // (Sent by hand: the harness takes any 5xx for a bug.)
    let body = acceptance_tests::keys::assertion_body(
        &cid,
        &key.assertion(&cid, AUDIENCE, now + 240, "no-db"),
    );
    let r = app
        .http
        .post(format!("{}/v1/introspect", app.url))
        .bearer_auth(&app.admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    let text = r.text().await.unwrap();
    assert!(text.contains("jti") && !text.contains("active"), "{text}");
}

#[tokio::test]
async fn an_rsa_key_made_by_openssl_signs_rs256_assertions() {
    use acceptance_tests::keys::TestKey;
    let app = TestApp::spawn().await;
    let acme = app.create_org("acme").await;
    let (rsa, other_rsa, ec) = (
        TestKey::generate_rsa("rsa-1"),
        TestKey::generate_rsa("rsa-2"),
        TestKey::generate("ec-1"),
    );
    assert_eq!(rsa.jwk()["e"], "AQAB", "openssl's default exponent 65537");
    let c = signer(&app, &acme, "rsa-signer", &[&rsa, &ec]).await;
    assert_eq!(c["jwks"]["keys"][0]["kty"], "RSA");
    let cid = c["client_id"].as_str().unwrap();
    // 2027-01-01T00:00:00Z, the registry's clock.
    let now = 1_798_761_600;
    let ok = app
        .introspect_assertion(cid, &rsa.assertion(cid, AUDIENCE, now + 60, "r1"))
        .await;
    assert_eq!(ok.expect(200)["active"], true, "{}", ok.text);
    for (why, assertion) in [
        (
            "an RSA key the client never registered",
            other_rsa.assertion(cid, AUDIENCE, now + 60, "r2"),
        ),
        (
            "another RSA key under the registered kid",
            other_rsa.assertion_as("rsa-1", cid, AUDIENCE, now + 60, "r3"),
        ),
        (
            "the EC key under the RSA key's kid",
            ec.assertion_as("rsa-1", cid, AUDIENCE, now + 60, "r4"),
        ),
        (
            "the RSA key, a wrong audience",
            rsa.assertion(cid, "https://elsewhere.example", now + 60, "r5"),
        ),
    ] {
        let r = app.introspect_assertion(cid, &assertion).await;
        assert_eq!(r.text, r#"{"active":false}"#, "{why}");
    }
    // Both keys of the set stay usable: the EC key under its own kid.
    let r = app
        .introspect_assertion(cid, &ec.assertion(cid, AUDIENCE, now + 60, "r6"))
        .await;
    assert_eq!(r.expect(200)["active"], true);
}

#[tokio::test]
async fn under_require_a_key_added_and_a_higher_max_clients_need_approving() {
    use acceptance_tests::keys::{TestKey, jwks};
    use partner_rules::keys::key_list;
    let app = TestApp::spawn().await;
    let acme = app.create_org("acme").await;
    let org_id = acme["id"].as_str().unwrap();
    let (k1, k2) = (TestKey::generate("k1"), TestKey::generate("k2"));
    let c = signer(&app, &acme, "signer", &[&k1]).await;
    let (id, cid) = (c["id"].as_str().unwrap(), c["client_id"].as_str().unwrap());
    let (path, org_path) = (format!("/v1/clients/{id}"), format!("/v1/orgs/{org_id}"));
    app.patch(&org_path, &app.admin, json!({"approval_policy": "require"}))
        .await
        .expect(200);
    let boss = approver(&app, "boss", "boss@acme.example").await;

    // A key added: whoever holds its private key can act as the client.
    let (one, both) = (
        key_list(Some(&jwks(&[&k1]).to_string())),
        key_list(Some(&jwks(&[&k1, &k2]).to_string())),
    );
    let add = json!({"jwks": jwks(&[&k1, &k2])});
    let r = patch_with_ref(&app, &path, "PR-1", add.clone()).await;
    r.expect(422);
    assert!(
        r.error_message("jwks")
            .contains(&format!("--attribute jwks --old '{one}' --new '{both}'")),
        "{}",
        r.text
    );
    let now = 1_798_761_600;
    assert_eq!(
        app.introspect_assertion(cid, &k2.assertion(cid, AUDIENCE, now + 60, "a"))
            .await
            .text,
        r#"{"active":false}"#,
        "the refused key is no way in"
    );
    approve(
        &app,
        &boss,
        "PR-1",
        json!({"resource": id, "attribute": "jwks", "old": one, "new": both}),
    )
    .await
    .expect(201);
    patch_with_ref(&app, &path, "PR-1", add.clone())
        .await
        .expect(200);
    let r = app
        .introspect_assertion(cid, &k2.assertion(cid, AUDIENCE, now + 60, "b"))
        .await;
    assert_eq!(r.expect(200)["active"], true);
    // Removing a key needs nothing; adding it back is a new grant.
    patch_with_ref(&app, &path, "PR-1", json!({"jwks": jwks(&[&k2])}))
        .await
        .expect(200);
    patch_with_ref(&app, &path, "PR-1", add).await.expect(422);

    // A new private_key_jwt client: the approval names its keys.
    let signer2 = client_of(
        &acme,
        "signer-2",
        "dev@acme.example",
        json!({"auth_method": "private_key_jwt", "jwks": jwks(&[&k1])}),
    );
    let grant = "name=signer-2; owner=dev@acme.example; scopes=orders:read";
    approve(
        &app,
        &boss,
        "PR-2",
        json!({"resource": org_id, "attribute": "client", "old": "", "new": grant}),
    )
    .await
    .expect(201);
    let create = |body: Value| post_with_ref(&app, "/v1/clients", "PR-2", body);
    let r = create(signer2.clone()).await;
    r.expect(422);
    assert!(
        r.error_message("org_id")
            .contains(&format!("{grant}; keys={one}")),
        "{}",
        r.text
    );
    approve(
        &app,
        &boss,
        "PR-2",
        json!({"resource": org_id, "attribute": "client", "old": "",
        "new": format!("{grant}; keys={one}")}),
    )
    .await
    .expect(201);
    create(signer2).await.expect(201);

    // Room for more clients is a widening; less room is not.
    let most = acme["max_clients"].as_i64().unwrap();
    let r = patch_with_ref(&app, &org_path, "PR-3", json!({"max_clients": most + 5})).await;
    r.expect(422);
    assert!(
        r.error_message("max_clients").contains(&format!(
            "--attribute max_clients --old '{most}' --new '{}'",
            most + 5
        )),
        "{}",
        r.text
    );
    patch_with_ref(&app, &org_path, "PR-3", json!({"max_clients": most - 1}))
        .await
        .expect(200);
    approve(
        &app,
        &boss,
        "PR-3",
        json!({"resource": org_id, "attribute": "max_clients",
        "old": (most - 1).to_string(), "new": (most + 5).to_string()}),
    )
    .await
    .expect(201);
    let raised = patch_with_ref(&app, &org_path, "PR-3", json!({"max_clients": most + 5}))
        .await
        .expect(200)
        .clone();
    assert_eq!(raised["max_clients"], most + 5);
}

#[tokio::test]
async fn a_client_with_a_jwks_uri_is_proven_by_the_keys_fetched_from_it() {
    use acceptance_tests::jwks_server::JwksServer;
    use acceptance_tests::keys::{TestKey, jwks};
    let app = TestApp::spawn().await;
    let acme = app.create_org("acme").await;
    let (k1, k2) = (TestKey::generate("k1"), TestKey::generate_rsa("k2"));
    let server = JwksServer::start(&jwks(&[&k1]));

    // Exactly one of jwks and jwks_uri, for private_key_jwt only; https, or
    // http to loopback only.
    let own_key = json!({"auth_method": "private_key_jwt"});
    for (extra, field, why) in [
        (
            json!({"jwks": jwks(&[&k1]), "jwks_uri": server.url}),
            "jwks_uri",
            "cannot be given with jwks",
        ),
        (
            json!({"jwks_uri": "http://keys.acme.example/jwks.json"}),
            "jwks_uri",
            "plain http to a host that is not loopback",
        ),
        (
            json!({"jwks_uri": "https://u:p@keys.acme.example/jwks.json"}),
            "jwks_uri",
            "user info",
        ),
        (
            json!({"jwks_uri": "https://169.254.169.254/latest/meta-data"}),
            "jwks_uri",
            "link-local",
        ),
        (json!({}), "jwks", "is required"),
    ] {
        let mut body = client_of(&acme, "by-uri", "dev@acme.example", own_key.clone());
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        create_refused(&app, body, field, why).await;
    }
    let plain = client_of(
        &acme,
        "plain",
        "dev@acme.example",
        json!({"jwks_uri": server.url}),
    );
    create_refused(&app, plain, "jwks_uri", "only for auth_method").await;

    let body = client_of(
        &acme,
        "by-uri",
        "dev@acme.example",
        json!({"auth_method": "private_key_jwt", "jwks_uri": server.url}),
    );
    let c = app.create("/v1/clients", body).await;
    assert_eq!(c["jwks_uri"], server.url.as_str());
    assert_eq!(c["jwks"], Value::Null);
    assert_eq!(server.hits(), 0, "fetched when needed, not when registered");
    let cid = c["client_id"].as_str().unwrap().to_string();
    // 2027-01-01T00:00:00Z, the registry's clock.
    let t0 = 1_798_761_600;
    let active = |key: &TestKey, at: i64, jti: &str| {
        let assertion = key.assertion(&cid, AUDIENCE, t0 + at + 60, jti);
        let app = &app;
        let cid = cid.clone();
        async move { app.introspect_assertion(&cid, &assertion).await.expect(200)["active"] == true }
    };
    assert!(active(&k1, 0, "a").await);
    assert!(active(&k1, 0, "b").await);
    assert_eq!(server.hits(), 1, "kept, not fetched per assertion");

    // A key added at the URI: an unknown kid fetches again, but at most
    // once per 30 s.
    server.serve(&jwks(&[&k1, &k2]));
    assert!(!active(&k2, 0, "c").await, "fetched 0 s ago");
    assert_eq!(server.hits(), 1);
    app.set_time("2027-01-01T00:00:31Z");
    assert!(active(&k2, 31, "d").await, "the RSA key added at the URI");
    assert_eq!(server.hits(), 2);

    // A key removed at the URI works until the set's cache time (300 s by
    // default) has passed, then no more.
    server.serve(&jwks(&[&k2]));
    app.set_time("2027-01-01T00:05:00Z");
    assert!(active(&k1, 300, "e").await, "cached until 00:05:31");
    app.set_time("2027-01-01T00:05:31Z");
    assert!(
        !active(&k1, 331, "f").await,
        "the removed key, after the cache time"
    );
    assert!(active(&k2, 331, "g").await);
    assert_eq!(server.hits(), 3);

    // The answer's max-age is honoured (here 60 s).
    server.cache_control("public, max-age=60");
    app.set_time("2027-01-01T00:11:00Z");
    assert!(active(&k2, 660, "h").await);
    assert_eq!(server.hits(), 4);
    app.set_time("2027-01-01T00:11:59Z");
    assert!(active(&k2, 719, "i").await);
    assert_eq!(server.hits(), 4);

    // Fails closed: once the set is past its time, a failing URI leaves no
    // key, and the metrics say why.
    server.fail_with(500);
    app.set_time("2027-01-01T00:12:00Z");
    assert!(!active(&k2, 720, "j").await, "the URI answers 500");
    assert_eq!(server.hits(), 5);
    assert!(!active(&k2, 720, "k").await);
    assert_eq!(server.hits(), 5, "a failing URI is not hammered");
    drop(server);
    app.set_time("2027-01-01T00:13:00Z");
    assert!(!active(&k2, 780, "l").await, "the URI is gone");
    let metrics = app.get("/metrics", &app.admin).await.text;
    for line in [
        "partner_registry_jwks_fetches_total{outcome=\"ok\"} 4",
        "partner_registry_jwks_fetches_total{outcome=\"status\"} 1",
        "partner_registry_jwks_fetches_total{outcome=\"unreachable\"} 1",
        "partner_registry_introspections_total{outcome=\"jwks_unavailable\"} 3",
    ] {
        assert!(metrics.contains(line), "{line} not in:\n{metrics}");
    }

    // Switching to registered keys drops the URI (a merge patch).
    let r = app
        .patch(
            &format!("/v1/clients/{}", c["id"].as_str().unwrap()),
            &app.admin,
            json!({"jwks_uri": null, "jwks": jwks(&[&k1])}),
        )
        .await;
    let switched = r.expect(200);
    assert_eq!(switched["jwks_uri"], Value::Null);
    assert!(active(&k1, 780, "m").await);
}

/// Creates a client from `body`, which must be refused naming `field` with
/// a message that says `why`.
async fn create_refused(app: &TestApp, body: Value, field: &str, why: &str) {
    let r = app.post("/v1/clients", &app.admin, body).await;
    r.expect(422);
    assert!(r.error_message(field).contains(why), "{field}: {}", r.text);
}

/// Creates a `private_key_jwt` client `name` of `org` registering `keys`.
async fn signer(
    app: &TestApp,
    org: &Value,
    name: &str,
    keys: &[&acceptance_tests::keys::TestKey],
) -> Value {
    let keys = acceptance_tests::keys::jwks(keys);
    let body = client_of(
        org,
        name,
        "dev@acme.example",
        json!({"auth_method": "private_key_jwt", "jwks": keys}),
    );
    app.create("/v1/clients", body).await
}
