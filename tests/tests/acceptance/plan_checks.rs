//! Mistakes surface in `terraform plan`, on the attribute that is wrong, and
//! nothing is created.

use acceptance_tests::bodies;
use acceptance_tests::{RegistryServer, Workspace};

use crate::config::{acme_client, acme_org, acme_with_client, client, org};

/// Plans `hcl`, expects the plan to fail mentioning every needle, and checks
/// that the registry holds no more orgs and clients than before.
#[track_caller]
fn assert_plan_fails(registry: &RegistryServer, hcl: &str, needles: &[&str]) {
    let count = |path: &str| registry.get(path)["items"].as_array().map_or(0, Vec::len);
    let (orgs, clients) = (count("/v1/orgs"), count("/v1/clients"));
    let workspace = Workspace::new(registry);
    workspace.write_config(hcl);
    workspace.plan().assert_failure_mentions(needles);
    workspace
        .terraform(&["apply", "-auto-approve", "-input=false", "-no-color"])
        .assert_failure_mentions(needles);
    assert_eq!(count("/v1/orgs"), orgs, "an org was created");
    assert_eq!(count("/v1/clients"), clients, "a client was created");
}

#[test]
fn malformed_values_are_rejected_with_the_attribute_named() {
    let registry = RegistryServer::start();
    let good = acme_org("2030-12-31");
    for (wrong, right, attribute) in [
        ("tech@acme.example", "not-an-email", "technical_owner"),
        (
            r#"name               = "acme""#,
            r#"name               = "Acme_Corp""#,
            "name",
        ),
        ("2030-12-31", "31/12/2030", "contract_end"),
    ] {
        let bad = good.replace(wrong, right);
        assert_ne!(bad, good, "the replacement of {wrong:?} must apply");
        assert_plan_fails(&registry, &bad, &[attribute, right]);
    }
    let bad_client = format!(
        "{good}{}",
        client("c", "partner_org.acme.id", "nobody", &["a:read"], "")
    );
    assert_plan_fails(&registry, &bad_client, &["owner", "nobody"]);
    let bad_expiry = format!(
        "{good}{}",
        acme_client("c", r#"  expires_at = "next tuesday""#)
    );
    assert_plan_fails(&registry, &bad_expiry, &["expires_at", "next tuesday"]);
}

#[test]
fn client_rules_are_checked_against_an_org_in_the_same_plan() {
    let registry = RegistryServer::start();
    let base = acme_org("2030-12-31");
    let late = format!(
        "{base}{}",
        acme_client("c", r#"  expires_at = "2031-01-01T00:00:00Z""#)
    );
    assert_plan_fails(&registry, &late, &["expires_at", "2030-12-31"]);
    let wide = format!(
        "{base}{}",
        client(
            "c",
            "partner_org.acme.id",
            "dev@example.com",
            &["a:read", "b:write"],
            ""
        )
    );
    assert_plan_fails(&registry, &wide, &["scopes", "b:write"]);
}

#[test]
fn client_rules_are_checked_against_an_existing_org_on_the_server() {
    let registry = RegistryServer::start_at("2026-06-01T00:00:00Z");
    let existing = |name: &str, end: &str, max_clients: u32| {
        let mut body = bodies::org(name, end, &["a:read"]);
        body["max_clients"] = max_clients.into();
        registry.create("/v1/orgs", body)["id"]
            .as_str()
            .expect("org id")
            .to_string()
    };
    let on = |org_id: &str, extra: &str| {
        client(
            "c",
            &format!("\"{org_id}\""),
            "dev@example.com",
            &["a:read"],
            extra,
        )
    };

    let acme = existing("acme", "2030-12-31", 5);
    assert_plan_fails(
        &registry,
        &on(&acme, r#"  expires_at = "2031-01-01T00:00:00Z""#),
        &["expires_at", "2030-12-31"],
    );
    let wide = client(
        "c",
        &format!("\"{acme}\""),
        "dev@example.com",
        &["z:admin"],
        "",
    );
    assert_plan_fails(&registry, &wide, &["scopes", "z:admin"]);

    let full = existing("full", "2030-12-31", 1);
    registry.create("/v1/clients", bodies::client(&full, "only", &["a:read"]));
    assert_plan_fails(&registry, &on(&full, ""), &["org_id", "max_clients"]);

    let gone = existing("gone", "2030-12-31", 5);
    let (status, body) = registry.request("DELETE", &format!("/v1/orgs/{gone}"), None);
    assert_eq!(status, 200, "{body:#}");
    assert_plan_fails(&registry, &on(&gone, ""), &["org_id", "offboarded"]);

    let ended = existing("ended", "2026-07-31", 5);
    registry.set_clock("2026-08-15T00:00:00Z");
    assert_plan_fails(&registry, &on(&ended, ""), &["org_id", "expired"]);
}

#[test]
fn narrowing_an_org_below_its_clients_fails_the_plan_naming_them() {
    let registry = RegistryServer::start();
    let workspace = Workspace::new(&registry);
    let with_org = |scopes: &[&str], contract_end: &str| {
        format!(
            "{}{}",
            org("acme", "acme", contract_end, scopes, ""),
            client(
                "holder",
                "partner_org.acme.id",
                "dev@example.com",
                &["a:read", "b:write"],
                // An expiry of its own: one at the contract's end follows it.
                r#"  expires_at = "2030-11-30T00:00:00Z""#
            )
        )
    };
    workspace.write_config(&with_org(&["a:read", "b:write"], "2030-12-31"));
    workspace.apply();
    workspace
        .plan_with_config(&with_org(&["a:read"], "2030-12-31"))
        .assert_failure_mentions(&["allowed_scopes", "holder (pc_", "uses b:write"]);
    workspace
        .plan_with_config(&with_org(&["a:read", "b:write"], "2030-06-30"))
        .assert_failure_mentions(&["contract_end", "holder (pc_", "expires"]);
    workspace
        .plan_with_config(&with_org(&["a:read", "b:write"], "2030-12-31").replace(
            "allowed_scopes     = [\"a:read\", \"b:write\"]",
            "allowed_scopes     = [\"a:read\", \"b:write\"]\n  max_clients = 0",
        ))
        .assert_failure_mentions(&["max_clients", "1 active clients, more than 0", "holder"]);
}

#[test]
fn renewing_an_expired_org_and_adding_a_client_plans_in_one_change() {
    let registry = RegistryServer::start_at("2026-06-01T00:00:00Z");
    let workspace = Workspace::new(&registry);
    workspace.write_config(&acme_org("2026-07-31"));
    workspace.apply();
    registry.set_clock("2026-08-15T00:00:00Z");
    workspace.write_config(&acme_with_client("2027-07-31", "new", ""));
    workspace.apply();
    assert_eq!(workspace.resource("partner_client.new")["status"], "active");
}

/// A renewal that revives clients expired with the old contract counts
/// them against max_clients at plan time, as the registry does.
#[test]
fn a_renewal_reviving_clients_over_the_quota_fails_the_plan_naming_them() {
    let registry = RegistryServer::start_at("2026-06-01T00:00:00Z");
    let workspace = Workspace::new(&registry);
    let config = |contract_end: &str, max_clients: u32| {
        let mut hcl = org(
            "acme",
            "acme",
            contract_end,
            &["a:read"],
            &format!("  max_clients = {max_clients}"),
        );
        for name in ["one", "two"] {
            hcl.push_str(&acme_client(name, ""));
        }
        hcl
    };
    workspace.write_config(&config("2026-07-31", 2));
    workspace.apply();
    registry.set_clock("2026-08-15T00:00:00Z");
    workspace
        .plan_with_config(&config("2027-07-31", 1))
        .assert_failure_mentions(&[
            "contract_end",
            "makes one, two active again",
            "2 active clients, more than its max_clients of 1",
        ]);
    workspace
        .plan_with_config(&config("2027-07-31", 2))
        .assert_code(2);
}

/// Every refusal the registry gives for a field's value is given by the
/// plan, from the same rule (`partner_rules`), on the attribute at fault.
#[test]
fn the_registrys_field_refusals_fail_the_plan() {
    let registry = RegistryServer::start();
    let good = acme_org("2030-12-31");
    let with = |extra: &str| org("acme", "acme", "2030-12-31", &["a:read"], extra);
    let long = "x".repeat(20_000);
    assert_plan_fails(
        &registry,
        &good.replace("\"acme Ltd\"", &format!("\"{long}\"")),
        &["legal_entity", "must be at most 300 characters"],
    );
    assert_plan_fails(
        &registry,
        &with(r#"  tenant = """#),
        &["tenant", "must not be empty"],
    );
    assert_plan_fails(
        &registry,
        &with(r#"  business_unit = "sales\tmarketing""#),
        &["business_unit", "control characters"],
    );
    assert_plan_fails(
        &registry,
        &with(r#"  labels = { "bad key" = "x" }"#),
        &["labels", "bad key", "label keys are 1 to 63"],
    );
    assert_plan_fails(
        &registry,
        &with(&format!("  labels = {{ team = \"{}\" }}", "v".repeat(257))),
        &["labels", "team", "values strings of at most 256"],
    );
    let many: Vec<String> = (0..65).map(|i| format!("k{i} = \"v\"")).collect();
    assert_plan_fails(
        &registry,
        &with(&format!("  labels = {{ {} }}", many.join(", "))),
        &["labels", "must hold at most 64 labels"],
    );
    let purpose =
        acme_with_client("2030-12-31", "c", "").replace("Acceptance test client c", "two\\nlines");
    assert_plan_fails(&registry, &purpose, &["purpose", "control characters"]);
}

/// An expiry in the past fails the plan by the registry's clock, not the
/// machine's: the registry's clock is years ahead of this machine's here.
#[test]
fn a_past_expiry_fails_the_plan_by_the_registrys_clock() {
    let registry = RegistryServer::start_at("2040-01-01T00:00:00Z");
    let config = acme_with_client(
        "2041-12-31",
        "c",
        r#"  expires_at = "2039-06-01T00:00:00Z""#,
    );
    assert_plan_fails(
        &registry,
        &config,
        &[
            "expires_at",
            "must be in the future",
            "2040-01-01T00:00:00Z",
        ],
    );
}

#[test]
fn taken_names_fail_the_plan() {
    let registry = RegistryServer::start();
    let acme = registry.create("/v1/orgs", bodies::org("acme", "2030-12-31", &["a:read"]))["id"]
        .as_str()
        .expect("org id")
        .to_string();
    registry.create("/v1/clients", bodies::client(&acme, "c", &["a:read"]));

    // An org name another live org holds, and two orgs of one name in a run.
    let again = org("again", "acme", "2030-12-31", &["a:read"], "");
    assert_plan_fails(
        &registry,
        &again,
        &["name", "\"acme\" is already taken by org"],
    );
    let twice = format!(
        "{}{}",
        org("one", "twins", "2030-12-31", &["a:read"], ""),
        org("two", "twins", "2030-12-31", &["a:read"], "")
    );
    assert_plan_fails(&registry, &twice, &["name", "\"twins\" is already taken"]);

    // A client name another live client of the org holds, and two clients
    // of one name planned for one org in a run.
    let taken = client(
        "c",
        &format!("\"{acme}\""),
        "dev@example.com",
        &["a:read"],
        "",
    );
    assert_plan_fails(
        &registry,
        &taken,
        &["name", "\"c\" is already taken by client pc_"],
    );
    let pair = |org_id: &str| {
        format!(
            "{}{}",
            client("same", org_id, "dev@example.com", &["a:read"], ""),
            client("other", org_id, "dev@example.com", &["a:read"], "")
                .replace("name    = \"other\"", "name    = \"same\"")
        )
    };
    assert_plan_fails(
        &registry,
        &pair(&format!("\"{acme}\"")),
        &[
            "name",
            "\"same\" is already taken by another partner_client",
        ],
    );
    let new_org = org("fresh", "fresh", "2030-12-31", &["a:read"], "");
    assert_plan_fails(
        &registry,
        &format!("{new_org}{}", pair("partner_org.fresh.id")),
        &[
            "name",
            "\"same\" is already taken by another partner_client",
        ],
    );
}
