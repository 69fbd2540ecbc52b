//! Plans that reviewers can trust: no state lost to a narrower
//! token, no change slipped in between plan and apply.

use acceptance_tests::bodies;
use acceptance_tests::{RegistryServer, Workspace};

use crate::config::{acme_client, acme_with_client, client, org, string};

/// Two orgs with a client each, all managed by one configuration.
fn two_orgs() -> String {
    format!(
        "{}{}{}{}",
        org("mine", "mine", "2030-12-31", &["a:read"], ""),
        client(
            "minec",
            "partner_org.mine.id",
            "dev@example.com",
            &["a:read"],
            ""
        ),
        org("theirs", "theirs", "2030-12-31", &["a:read"], ""),
        client(
            "theirsc",
            "partner_org.theirs.id",
            "dev@example.com",
            &["a:read"],
            ""
        ),
    )
}

/// An `org` token sees another org's records as 404; the plan fails
/// naming the token's role and the record, and the state keeps them.
#[test]
fn a_narrower_token_never_makes_terraform_forget_resources() {
    let registry = RegistryServer::start();
    let mut workspace = Workspace::new(&registry);
    workspace.write_config(&two_orgs());
    workspace.apply();
    let mine = workspace.resource("partner_org.mine")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let theirs = workspace.resource("partner_org.theirs")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let org_token = registry.create_token("mine-team", "org", Some(&mine));

    workspace.env("PARTNER_REGISTRY_TOKEN", &org_token);
    workspace.plan().assert_failure_mentions(&[
        "Record not visible to this token",
        "\"mine-team\", whose role is org",
        &format!("partner_org \"theirs\" ({theirs})"),
    ]);
    workspace
        .terraform(&["refresh", "-input=false", "-no-color"])
        .assert_failure_mentions(&["Record not visible to this token"]);

    workspace.env("PARTNER_REGISTRY_TOKEN", &registry.admin_token);
    for address in [
        "partner_org.mine",
        "partner_org.theirs",
        "partner_client.minec",
        "partner_client.theirsc",
    ] {
        workspace.resource(address);
    }
    workspace.assert_no_changes();

    // A client of the other org, managed alone, is kept too.
    let mut alone = Workspace::new(&registry);
    alone.write_config(&client(
        "other",
        &format!("\"{theirs}\""),
        "dev@example.com",
        &["a:read"],
        "",
    ));
    alone.apply();
    alone.env("PARTNER_REGISTRY_TOKEN", &org_token);
    alone.plan().assert_failure_mentions(&[
        "Record not visible to this token",
        "partner_client \"other\"",
        "whose role is org",
    ]);
    alone.env("PARTNER_REGISTRY_TOKEN", &registry.admin_token);
    alone.assert_no_changes();

    // A record that is really gone still leaves the state.
    let theirsclient = workspace.resource("partner_client.theirsc")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let (status, body) = registry.request("DELETE", &format!("/v1/clients/{theirsclient}"), None);
    assert_eq!(status, 200, "{body:#}");
    workspace
        .plan()
        .assert_code(2)
        .assert_mentions(&["partner_client.theirsc will be created"]);
}

/// A change made in the registry between `terraform plan -out` and
/// `terraform apply plan.out` is never overwritten: the apply fails naming
/// the record and asking for a new plan.
#[test]
fn a_change_between_plan_and_apply_is_never_overwritten() {
    let registry = RegistryServer::start();
    let workspace = Workspace::new(&registry);
    let config = |purpose: &str| {
        format!(
            "{}{}",
            org("acme", "acme", "2030-12-31", &["a:read", "b:write"], ""),
            acme_client("c", "").replace("Acceptance test client c", purpose)
        )
    };
    workspace.write_config(&config("first purpose"));
    workspace.apply();
    let id = workspace.resource("partner_client.c")["id"]
        .as_str()
        .expect("id")
        .to_string();
    // The version the state shows travels in the private state, and the
    // plan's apply sends it as If-Match.
    let version = |id: &str| registry.get(&format!("/v1/clients/{id}"))["version"].clone();
    assert_eq!(
        workspace.private_state("partner_client.c"),
        serde_json::json!({"version": version(&id)})
    );

    // A change the plan does not touch (a rotation) lets the apply go on.
    workspace.write_config(&config("rotated meanwhile"));
    workspace
        .terraform(&["plan", "-out=plan.out", "-input=false", "-no-color"])
        .assert_success();
    let (status, body) = registry.request(
        "POST",
        &format!("/v1/clients/{id}/rotate"),
        Some(serde_json::json!({"grace_period": "1h"})),
    );
    assert_eq!(status, 200, "{body:#}");
    workspace
        .terraform(&["apply", "-input=false", "-no-color", "plan.out"])
        .assert_success();
    let now = registry.get(&format!("/v1/clients/{id}"));
    assert_eq!(now["purpose"], "rotated meanwhile", "{now:#}");
    assert_eq!(
        workspace.private_state("partner_client.c"),
        serde_json::json!({"version": now["version"]})
    );

    workspace.write_config(&config("first purpose"));
    workspace.apply();
    workspace.write_config(&config("second purpose"));
    workspace
        .terraform(&["plan", "-out=plan.out", "-input=false", "-no-color"])
        .assert_success();
    let (status, body) = registry.request(
        "PATCH",
        &format!("/v1/clients/{id}"),
        Some(serde_json::json!({"scopes": ["a:read", "b:write"]})),
    );
    assert_eq!(status, 200, "{body:#}");
    workspace
        .terraform(&["apply", "-input=false", "-no-color", "plan.out"])
        .assert_failure_mentions(&[
            "partner_client \"c\"",
            "changed in the registry after this plan was made",
            "terraform plan` again",
        ]);
    let now = registry.get(&format!("/v1/clients/{id}"));
    assert_eq!(
        now["scopes"],
        serde_json::json!(["a:read", "b:write"]),
        "{now:#}"
    );
    assert_eq!(now["purpose"], "first purpose", "{now:#}");
}

/// An expired client gets one warning, "has expired", never also
/// "expires soon … before it stops working".
#[test]
fn an_expired_client_is_not_also_expiring_soon() {
    let registry = RegistryServer::start_at("2026-06-01T00:00:00Z");
    let workspace = Workspace::new(&registry);
    workspace.write_config(&acme_with_client(
        "2030-12-31",
        "c",
        "  expires_at   = \"2026-07-01T00:00:00Z\"\n  renew_before = \"720h\"",
    ));
    workspace.apply();
    registry.set_clock("2026-08-01T00:00:00Z");
    let plan = workspace.plan();
    plan.assert_mentions(&["Client \"c\" has expired"]);
    plan.assert_not_mentions("expires soon");
}

/// An empty import ID is one clear diagnostic, not a JSON decoding error.
#[test]
fn an_empty_import_id_says_what_is_wanted() {
    let registry = RegistryServer::start();
    let workspace = Workspace::new(&registry);
    workspace.write_config(&format!(
        "{}{}",
        org("x", "x", "2030-12-31", &["a:read"], ""),
        client("c", "partner_org.x.id", "dev@example.com", &["a:read"], "")
    ));
    for (address, wanted) in [
        ("partner_org.x", "give the org's id (org_…) or its name"),
        (
            "partner_client.c",
            "give the client's id (cli_…), its client_id (pc_…) or ORG_NAME/CLIENT_NAME",
        ),
    ] {
        let run = workspace.terraform(&["import", "-input=false", "-no-color", address, ""]);
        run.assert_failure_mentions(&["The import ID is empty", wanted]);
        run.assert_not_mentions("expected JSON");
    }
}

/// After an import, an argument only Terraform holds shows as a change
/// that the plan says touches the state alone; triggers set for the first
/// time on a managed client rotate nothing, the next change of one does.
#[test]
fn terraform_only_arguments_say_they_change_only_the_state() {
    let registry = RegistryServer::start();
    let acme = registry.create("/v1/orgs", bodies::org("acme", "2030-12-31", &["a:read"]));
    let org_id = acme["id"].as_str().unwrap().to_string();
    let made = registry.create("/v1/clients", bodies::client(&org_id, "sync", &["a:read"]));
    let client_id = made["client_id"].as_str().unwrap().to_string();
    let config = |extra: &str| crate::config::outside_client(&org_id, "sync", extra);
    let workspace = Workspace::new(&registry);
    workspace.write_config(&config("  rotation_grace_period = \"1h\""));
    workspace
        .terraform(&[
            "import",
            "-input=false",
            "-no-color",
            "partner_client.sync",
            &client_id,
        ])
        .assert_success();
    let audit_before = registry.get("/v1/audit")["items"].as_array().unwrap().len();
    workspace.plan().assert_code(2).assert_mentions(&[
        "only Terraform's state changes",
        "rotation_grace_period is held by Terraform alone",
        "sends nothing to the registry",
    ]);
    workspace.apply();
    workspace.assert_no_changes();
    assert_eq!(
        registry.get("/v1/audit")["items"].as_array().unwrap().len(),
        audit_before,
        "nothing was sent to the registry"
    );

    // Triggers: first set, adopted; then changed, rotated.
    workspace.write_config(&config(
        "  rotation_grace_period = \"1h\"\n  rotation_triggers = { quarter = \"q1\" }",
    ));
    workspace.apply();
    let rotated_at = |r: &RegistryServer| {
        r.get(&format!("/v1/clients/{client_id}"))["secret_rotated_at"].clone()
    };
    let first = rotated_at(&registry);
    assert_eq!(first, made["secret_rotated_at"], "setting triggers rotated");
    assert!(
        workspace.resource("partner_client.sync")["client_secret"].is_null(),
        "setting triggers issued a secret"
    );
    workspace.write_config(&config(
        "  rotation_grace_period = \"1h\"\n  rotation_triggers = { quarter = \"q2\" }",
    ));
    workspace.apply();
    assert!(
        workspace.resource("partner_client.sync")["client_secret"].is_string(),
        "a changed trigger rotates"
    );
}

/// Org `acme` with its client `managed`, under `deletion_protection`.
fn protected_acme(protected: bool) -> String {
    acme_with_client("2030-12-31", "managed", "").replace(
        "allowed_scopes     = [\"a:read\"]",
        &format!("allowed_scopes     = [\"a:read\"]\n  deletion_protection = {protected}"),
    )
}

/// The plan of an org's destroy names the active clients this
/// configuration does not manage, which the offboarding revokes too; with
/// `deletion_protection` the destroy fails at plan time.
#[test]
fn destroying_an_org_names_the_clients_it_revokes_and_protection_refuses_it() {
    let registry = RegistryServer::start();
    let workspace = Workspace::new(&registry);
    workspace.write_config(&protected_acme(true));
    workspace.apply();
    let org_id = string(&workspace.resource("partner_org.acme"), "id");
    for name in ["other-team", "batch"] {
        registry.create("/v1/clients", bodies::client(&org_id, name, &["a:read"]));
    }

    let run = workspace.terraform(&["plan", "-destroy", "-input=false", "-no-color"]);
    run.assert_failure_mentions(&[
        "Org \"acme\" is protected from deletion",
        "deletion_protection",
    ]);
    workspace
        .terraform(&["destroy", "-auto-approve", "-input=false", "-no-color"])
        .assert_failure_mentions(&["protected from deletion"]);
    assert_eq!(
        registry.get(&format!("/v1/orgs/{org_id}"))["status"],
        "active"
    );

    workspace.write_config(&protected_acme(false));
    workspace.apply();
    let plan = workspace.terraform(&["plan", "-destroy", "-input=false", "-no-color"]);
    plan.assert_success().assert_mentions(&[
        "Destroying org \"acme\" revokes 2 active clients this configuration does not manage",
        "batch (pc_",
        "other-team (pc_",
        "Ask approvals@example.com to approve",
    ]);
    plan.assert_not_mentions("managed (pc_");
    workspace.destroy();
}

/// `terraform apply -replace` of an org destroys it first: refused at plan
/// time while `deletion_protection` is true; otherwise the new org takes
/// the name the old one gives up.
#[test]
fn replacing_an_org_is_refused_under_protection_and_reuses_its_name_without() {
    let registry = RegistryServer::start();
    let workspace = Workspace::new(&registry);
    workspace.write_config(&protected_acme(true));
    workspace.apply();
    let old = string(&workspace.resource("partner_org.acme"), "id");
    workspace
        .terraform(&[
            "plan",
            "-replace=partner_org.acme",
            "-input=false",
            "-no-color",
        ])
        .assert_failure_mentions(&[
            "Org \"acme\" is protected from deletion",
            "This plan replaces org \"acme\"",
        ]);

    workspace.write_config(&protected_acme(false));
    workspace.apply();
    workspace
        .terraform(&[
            "apply",
            "-replace=partner_org.acme",
            "-auto-approve",
            "-input=false",
            "-no-color",
        ])
        .assert_success();
    let new = workspace.resource("partner_org.acme");
    assert_ne!(new["id"], old.as_str());
    assert_eq!(new["name"], "acme");
    assert_eq!(
        registry.get(&format!("/v1/orgs/{old}"))["status"],
        "offboarded"
    );
    workspace.assert_no_changes();
}

/// A client that never set `expires_at` follows its org's
/// `contract_end`, extended or shortened; one with its own expiry keeps it.
#[test]
fn clients_without_an_expiry_follow_their_contract() {
    let registry = RegistryServer::start();
    let workspace = Workspace::new(&registry);
    let config = |end: &str| {
        format!(
            "{}{}",
            acme_with_client(end, "follows", ""),
            acme_client("fixed", r#"  expires_at = "2029-01-01T00:00:00Z""#)
        )
    };
    let expiry = |w: &Workspace, name: &str| {
        let id = w.resource(&format!("partner_client.{name}"))["id"]
            .as_str()
            .unwrap()
            .to_string();
        registry.get(&format!("/v1/clients/{id}"))["expires_at"].clone()
    };
    workspace.write_config(&config("2030-12-31"));
    workspace.apply();
    assert_eq!(expiry(&workspace, "follows"), "2030-12-31T23:59:59Z");

    for end in ["2031-06-30", "2030-06-30"] {
        workspace.write_config(&config(end));
        workspace
            .plan()
            .assert_code(2)
            .assert_mentions(&[&format!("\"{end}T23:59:59Z\"")]);
        workspace.apply();
        assert_eq!(
            expiry(&workspace, "follows"),
            format!("{end}T23:59:59Z").as_str()
        );
        assert_eq!(expiry(&workspace, "fixed"), "2029-01-01T00:00:00Z");
        workspace.assert_no_changes();
    }
}
