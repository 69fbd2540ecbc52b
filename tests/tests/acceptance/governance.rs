//! Governance with real Terraform: intermediaries, no secret shared across
//! partners, the blast radius of a departing person.

use acceptance_tests::{RegistryServer, Workspace};
use serde_json::Value;

use crate::config::{acme_client, acme_org, acme_with_client, client, org, string};

const SHARED: &str = "Correct-Horse-Battery-Staple-2027!xyz";

/// Org `acme` and its client `shop`, owned by dev@acme.example, with
/// `extra` lines in the client.
fn acme_with_shop(extra: &str) -> String {
    let shop = client(
        "shop",
        "partner_org.acme.id",
        "dev@acme.example",
        &["a:read"],
        extra,
    );
    format!("{}{}", acme_org("2030-12-31"), shop)
}

#[test]
fn offboarding_an_intermediary_revokes_the_clients_it_operates() {
    let registry = RegistryServer::start();
    let intermediary = Workspace::new(&registry);
    intermediary.write_config(&org("msp", "msp", "2030-12-31", &["a:read"], ""));
    intermediary.apply();
    let msp_id = string(&intermediary.resource("partner_org.msp"), "id");

    let partner = Workspace::new(&registry);
    partner.write_config(&acme_with_shop(&format!(
        "  operated_by = \"{msp_id}\"\n  custodian = \"ops@msp.example\""
    )));
    partner.apply();
    let shop = partner.resource("partner_client.shop");
    assert_eq!(shop["operated_by"], msp_id.as_str(), "{shop:#}");
    assert_eq!(shop["custodian"], "ops@msp.example");
    partner.assert_no_changes();
    let (client_id, secret) = (string(&shop, "client_id"), string(&shop, "client_secret"));
    let seen = registry.introspect(&client_id, &secret);
    assert_eq!(seen["operated_by"], msp_id.as_str(), "{seen:#}");
    assert_eq!(seen["org_name"], "acme");

    // The intermediary's destroy plan names what it takes with it.
    intermediary
        .terraform(&["plan", "-destroy", "-input=false", "-no-color"])
        .assert_success()
        .assert_mentions(&[
            "revokes 1 clients it operates for other orgs",
            &format!("acme/shop ({client_id})"),
        ]);
    intermediary.destroy();
    assert_eq!(registry.introspect(&client_id, &secret)["active"], false);
    assert_eq!(
        registry.get(&format!("/v1/clients/{client_id}"))["status"],
        "revoked"
    );
    // The partner's configuration sees its client gone.
    partner
        .plan()
        .assert_code(2)
        .assert_mentions(&["partner_client.shop will be created"]);
}

#[test]
fn a_custodian_who_is_the_owner_or_an_intermediary_that_is_the_own_org_fails_the_plan() {
    let registry = RegistryServer::start();
    let workspace = Workspace::new(&registry);
    workspace.write_config(&acme_with_shop(
        "  custodian = \"Dev@Acme.example\"\n  operated_by = \"org_00000000000000000000x\"",
    ));
    workspace.plan().assert_code(1).assert_failure_mentions(&[
        "Custodian is the owner",
        "other than the client's owner",
        "Invalid intermediary",
        "must be the id (org_…) of another org",
    ]);
}

#[test]
fn a_supplied_secret_reused_across_two_clients_is_refused() {
    let registry = RegistryServer::start();
    let mut workspace = Workspace::new(&registry);
    workspace.env("TF_VAR_client_secret", SHARED);
    let with_secret = "  client_secret_wo = var.client_secret\n  client_secret_wo_version = 1";
    let variable = r#"
variable "client_secret" {
  type      = string
  sensitive = true
  ephemeral = true
}
"#;
    workspace.write_config(&format!("{variable}{}", acme_with_shop(with_secret)));
    workspace.apply();
    let first = string(&workspace.resource("partner_client.shop"), "client_id");
    workspace.write_config(&format!(
        "{variable}{}{}{}",
        acme_with_shop(with_secret),
        org("globex", "globex", "2030-12-31", &["a:read"], ""),
        client(
            "erp",
            "partner_org.globex.id",
            "dev@globex.example",
            &["a:read"],
            with_secret
        ),
    ));
    workspace
        .terraform(&["apply", "-auto-approve", "-input=false", "-no-color"])
        .assert_code(1)
        .assert_failure_mentions(&["client_secret", "never shared between clients"])
        .assert_not_mentions(SHARED);
    assert_eq!(registry.introspect(&first, SHARED)["active"], true);
    let (_, clients) = registry.request("GET", "/v1/clients?limit=100", None);
    let names: Vec<&str> = clients["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["shop"], "the second client was never made");
}

#[test]
fn blast_radius_of_an_owner_across_three_orgs_and_its_revocation() {
    let registry = RegistryServer::start();
    let workspace = Workspace::new(&registry);
    let leaving = "dev@people.example";
    let mut config = String::new();
    for name in ["acme", "globex", "initech"] {
        config.push_str(&org(name, name, "2030-12-31", &["a:read"], ""));
        config.push_str(&client(
            &format!("{name}-sync"),
            &format!("partner_org.{name}.id"),
            leaving,
            &["a:read"],
            "",
        ));
    }
    config.push_str(&client(
        "other",
        "partner_org.acme.id",
        "stays@people.example",
        &["a:read"],
        "",
    ));
    workspace.write_config(&config);
    workspace.apply();

    let run = registry.cli(&["blast-radius", "--owner", leaving, "--format", "json"]);
    let radius = run.assert_success().json();
    let names: Vec<&str> = radius["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["acme-sync", "globex-sync", "initech-sync"],
        "{radius:#}"
    );
    assert_eq!(radius["orgs"].as_array().unwrap().len(), 3, "{radius:#}");
    registry
        .cli(&["blast-radius", "--owner", leaving])
        .assert_success()
        .assert_stdout_mentions(&[
            "3 active client(s), 3 org(s)",
            "Contacts to call:",
            "tech@globex.example: technical owner of globex",
        ]);
    registry
        .cli(&["blast-radius", "--owner", "not-an-email"])
        .assert_code(1)
        .assert_stderr_mentions(&["--owner", "must be an email address"]);

    let revoked = registry
        .cli(&[
            "blast-radius",
            "--owner",
            leaving,
            "--revoke",
            "--change-ref",
            "INC-7",
            "--format",
            "json",
        ])
        .assert_success()
        .json();
    assert_eq!(
        revoked["revoked"].as_array().unwrap().len(),
        3,
        "{revoked:#}"
    );
    for name in ["acme-sync", "globex-sync", "initech-sync"] {
        let state = workspace.resource(&format!("partner_client.{name}"));
        registry.wait_until_inactive(
            &string(&state, "client_id"),
            &string(&state, "client_secret"),
        );
    }
    let other = workspace.resource("partner_client.other");
    assert_eq!(
        registry.introspect(
            &string(&other, "client_id"),
            &string(&other, "client_secret")
        )["active"],
        true
    );
    let (_, audit) = registry.request("GET", "/v1/audit?limit=200", None);
    let summary = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "blast_radius.revoke")
        .cloned()
        .expect("the revocation is audited");
    assert_eq!(summary["change_ref"], "INC-7");
    assert_eq!(summary["actor"], "cli");
}

/// The registry's clock at the start of the approval test.
const T0: &str = "2026-06-01T00:00:00Z";

/// Makes an approver token bound to `email` with the CLI.
fn approver_token(registry: &RegistryServer, name: &str, email: &str) -> String {
    let run = registry.cli(&[
        "token", "create", "--name", name, "--role", "approver", "--email", email,
    ]);
    run.assert_success();
    run.stdout.trim().to_string()
}

/// Approves changing `attribute` of `resource` from `old` to `new` for
/// `change_ref`, with `token`, at `now` (`extra`: more flags).
#[allow(clippy::too_many_arguments)]
fn approve_change(
    registry: &RegistryServer,
    token: &str,
    change_ref: &str,
    resource: &str,
    (attribute, old, new): (&str, &str, &str),
    now: &str,
    extra: &[&str],
) -> acceptance_tests::Run {
    let mut args = vec![
        "approve",
        "--token",
        token,
        "--change-ref",
        change_ref,
        "--resource",
        resource,
        "--attribute",
        attribute,
        "--old",
        old,
        "--new",
        new,
        "--now",
        now,
    ];
    args.extend(extra);
    registry.cli(&args)
}

/// Approves widening the scopes of `client` from `a:read` to `a:read a:write`
/// for `change_ref`, with `token`, at `now`.
fn approve_widening(
    registry: &RegistryServer,
    token: &str,
    change_ref: &str,
    client: &str,
    extra: &[&str],
) -> acceptance_tests::Run {
    let change = ("scopes", "a:read", "a:read a:write");
    approve_change(registry, token, change_ref, client, change, T0, extra)
}

/// The values a plan's approval command names are taken as written, also
/// one that begins with a hyphen (a key's RFC 7638 thumbprint is base64url,
/// so one in 64 does).
#[test]
fn an_approval_takes_values_beginning_with_a_hyphen_as_written() {
    let registry = RegistryServer::start_at(T0);
    let org = registry.create(
        "/v1/orgs",
        acceptance_tests::bodies::org("acme", "2030-12-31", &["a:read"]),
    );
    let org_id = string(&org, "id");
    let boss = approver_token(&registry, "boss", "approvals@example.com");
    let change = ("max_clients", "-k1", "-k1 -k2");
    let run = approve_change(&registry, &boss, "pr-12", &org_id, change, T0, &[]);
    run.assert_success();
    let approvals = registry.get(&format!("/v1/approvals?change_ref=pr-12&resource={org_id}"));
    let approval = &approvals["items"][0];
    let values = (approval["old"].as_str(), approval["new"].as_str());
    assert_eq!(values, (Some("-k1"), Some("-k1 -k2")), "{approvals:#}");
}

fn required_config(scopes: &[&str]) -> String {
    format!(
        "{}{}",
        org(
            "acme",
            "acme",
            "2030-12-31",
            &["a:read", "a:write"],
            "  approval_policy = \"require\""
        ),
        client("sync", "partner_org.acme.id", "dev@example.com", scopes, "")
    )
}

#[test]
fn under_require_a_scope_widening_applies_once_and_only_with_the_right_approval() {
    let registry = RegistryServer::start_at(T0);
    let mut workspace = Workspace::new(&registry);
    workspace.env("PARTNER_CHANGE_REF", "https://git.example/pr/6");
    workspace.write_config(&required_config(&["a:read"]));
    // A new client in an org under "require" is a grant of access: approved
    // for the org's id, which a new org has only once applied.
    workspace
        .plan()
        .assert_code(2)
        .assert_mentions(&["New client \"sync\" needs an approval"]);
    workspace
        .terraform(&["apply", "-auto-approve", "-input=false", "-no-color"])
        .assert_code(1)
        .assert_failure_mentions(&["creating a client in org acme", "partner-registry approve"]);
    assert_eq!(
        workspace.resource("partner_org.acme")["approval_policy"],
        "require"
    );
    let org_id = string(&workspace.resource("partner_org.acme"), "id");
    let boss = approver_token(&registry, "boss", "approvals@example.com");
    let approve_creation = |change_ref: &str| {
        let change = (
            "client",
            "",
            "name=sync; owner=dev@example.com; scopes=a:read",
        );
        approve_change(&registry, &boss, change_ref, &org_id, change, T0, &[])
    };
    approve_creation("https://git.example/pr/6").assert_success();
    workspace
        .plan()
        .assert_code(2)
        .assert_mentions(&["New client \"sync\": creation approved"]);
    workspace.apply();
    let id = string(&workspace.resource("partner_client.sync"), "id");

    workspace.env("PARTNER_CHANGE_REF", "https://git.example/pr/7");
    workspace.write_config(&required_config(&["a:read", "a:write"]));
    let command = format!(
        "partner-registry approve --change-ref 'https://git.example/pr/7' --resource {id} \
         --attribute scopes --old 'a:read' --new 'a:read a:write'"
    );
    workspace
        .plan()
        .assert_code(2)
        .assert_mentions(&["scopes change needs an approval", "approvals@example.com"]);
    let failed = workspace.terraform(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    failed.assert_code(1).assert_failure_mentions(&[
        "needs an approval",
        "approvals@example.com",
        "partner-registry approve",
    ]);
    assert!(
        failed
            .combined()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .contains(&command),
        "the diagnostic shows the command to run:\n{failed}"
    );

    // The client's owner is not the approval authority.
    let owner = approver_token(&registry, "owner", "dev@example.com");
    approve_widening(&registry, &owner, "https://git.example/pr/7", &id, &[])
        .assert_code(1)
        .assert_stderr_mentions(&["not the approval authority"]);

    approve_widening(&registry, &boss, "https://git.example/pr/7", &id, &[])
        .assert_success()
        .assert_stdout_mentions(&["Approved scopes", "valid until 2026-06-08T00:00:00Z, once"]);
    workspace
        .plan()
        .assert_code(2)
        .assert_mentions(&["scopes change approved", "approvals@example.com approved"]);
    workspace.apply();
    assert_eq!(
        registry.get(&format!("/v1/clients/{id}"))["scopes"],
        serde_json::json!(["a:read", "a:write"])
    );

    // Used once: narrowed again, the same plan under the same change fails.
    workspace.write_config(&required_config(&["a:read"]));
    workspace.apply();
    workspace.write_config(&required_config(&["a:read", "a:write"]));
    workspace
        .terraform(&["apply", "-auto-approve", "-input=false", "-no-color"])
        .assert_code(1)
        .assert_failure_mentions(&["needs an approval"]);

    // An expired approval is refused.
    workspace.env("PARTNER_CHANGE_REF", "https://git.example/pr/8");
    approve_widening(
        &registry,
        &boss,
        "https://git.example/pr/8",
        &id,
        &["--expires-in", "1h"],
    )
    .assert_success();
    registry.set_clock("2026-06-01T02:00:00Z");
    workspace
        .terraform(&["apply", "-auto-approve", "-input=false", "-no-color"])
        .assert_code(1)
        .assert_failure_mentions(&["needs an approval", "https://git.example/pr/8"]);
    // The org's own widenings too: its contract extended.
    workspace.env("PARTNER_CHANGE_REF", "https://git.example/pr/9");
    workspace.write_config(&required_config(&["a:read"]).replace("2030-12-31", "2031-12-31"));
    workspace.plan().assert_code(2).assert_mentions(&[
        "Org \"acme\": contract_end change needs an approval",
        "--attribute contract_end --old '2030-12-31' --new '2031-12-31'",
    ]);
    workspace
        .terraform(&["apply", "-auto-approve", "-input=false", "-no-color"])
        .assert_code(1)
        .assert_failure_mentions(&["contract_end", "needs an approval", "approvals@example.com"]);
    let change = ("contract_end", "2030-12-31", "2031-12-31");
    let pr9 = "https://git.example/pr/9";
    approve_change(
        &registry,
        &boss,
        pr9,
        &org_id,
        change,
        "2026-06-01T02:00:00Z",
        &[],
    )
    .assert_success();
    workspace.apply();
    assert_eq!(
        registry.get(&format!("/v1/orgs/{org_id}"))["contract_end"],
        "2031-12-31"
    );
    assert_eq!(
        registry.get(&format!("/v1/clients/{id}"))["expires_at"],
        "2031-12-31T23:59:59Z",
        "the client follows its contract under the org's approval"
    );

    let (_, audit) = registry.request("GET", "/v1/audit?limit=200", None);
    let used: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "approval.use")
        .collect();
    assert_eq!(used.len(), 3, "each approval used once");
    assert_eq!(used[0]["change_ref"], "https://git.example/pr/6");
    assert_eq!(used[1]["change_ref"], "https://git.example/pr/7");
    assert_eq!(used[0]["after"]["approver"], "approvals@example.com");
}

#[test]
fn a_private_key_jwt_client_made_with_terraform_introspects_by_signed_assertion_only() {
    use acceptance_tests::keys::{AUDIENCE, TestKey, assertion_body};
    let registry = RegistryServer::start_at(T0);
    let workspace = Workspace::new(&registry);
    let (key, other) = (TestKey::generate("k1"), TestKey::generate("k2"));
    let config = |keys: &[&TestKey]| format!("{}{}", acme_org("2030-12-31"), signer_block(keys));
    workspace.write_config(&config(&[&key]));
    workspace.apply();
    let state = workspace.resource("partner_client.signer");
    assert_eq!(state["auth_method"], "private_key_jwt");
    assert_eq!(
        state["client_secret"],
        Value::Null,
        "no secret exists: {state:#}"
    );
    workspace.assert_no_changes();
    let client_id = string(&state, "client_id");

    // 2026-06-01T00:00:00Z, the registry's clock.
    let now = 1_780_272_000;
    let introspect = |assertion: &str| {
        let (status, body) = registry.request(
            "POST",
            "/v1/introspect",
            Some(assertion_body(&client_id, assertion)),
        );
        assert_eq!(status, 200, "{body}");
        body["active"] == true
    };
    assert!(introspect(&key.assertion(
        &client_id,
        AUDIENCE,
        now + 60,
        "a1"
    )));
    assert!(
        !introspect(&key.assertion(&client_id, AUDIENCE, now + 60, "a1")),
        "replayed jti"
    );
    assert!(
        !introspect(&other.assertion(&client_id, AUDIENCE, now + 60, "a2")),
        "wrong key"
    );
    assert!(
        !introspect(&key.assertion(&client_id, "https://other.example", now + 60, "a3")),
        "wrong audience"
    );
    assert!(
        !introspect(&key.assertion(&client_id, AUDIENCE, now - 1, "a4")),
        "expired"
    );

    // Rotation by adding a key, which the plan names.
    workspace.write_config(&config(&[&key, &other]));
    workspace
        .plan()
        .assert_code(2)
        .assert_mentions(&["its keys change", "approvals@example.com"]);
    workspace.apply();
    assert!(introspect(&other.assertion(
        &client_id,
        AUDIENCE,
        now + 60,
        "a5"
    )));
    workspace.assert_no_changes();

    // A secret for it fails the plan; revoked, it is inactive.
    workspace.write_config(&format!(
        "variable \"s\" {{\n  type = string\n  ephemeral = true\n  default = \"{SHARED}\"\n}}\n{}",
        config(&[&key, &other]).replace(
            "  auth_method",
            "  client_secret_wo = var.s\n  client_secret_wo_version = 1\n  auth_method"
        )
    ));
    workspace
        .plan()
        .assert_code(1)
        .assert_failure_mentions(&["No secret for private_key_jwt"]);
    workspace.write_config(&config(&[&key, &other]));
    workspace.destroy();
    assert!(
        !introspect(&key.assertion(&client_id, AUDIENCE, now + 60, "a6")),
        "revoked"
    );
}

#[test]
fn under_require_a_key_added_and_room_for_more_clients_apply_only_approved() {
    use acceptance_tests::keys::{TestKey, key_list};
    let registry = RegistryServer::start_at(T0);
    let mut workspace = Workspace::new(&registry);
    let (k1, k2) = (TestKey::generate("k1"), TestKey::generate_rsa("k2"));
    let config = |policy: &str, max_clients: u32, keys: &[&TestKey]| {
        let terms = format!("  approval_policy = \"{policy}\"\n  max_clients = {max_clients}");
        org("acme", "acme", "2030-12-31", &["a:read"], &terms) + &signer_block(keys)
    };
    // Made under "warn", then put under "require" (which needs no approval).
    workspace.write_config(&config("warn", 5, &[&k1]));
    workspace.apply();
    workspace.write_config(&config("require", 5, &[&k1]));
    workspace.apply();
    let (org_id, client) = (
        string(&workspace.resource("partner_org.acme"), "id"),
        workspace.resource("partner_client.signer"),
    );
    let (id, client_id) = (string(&client, "id"), string(&client, "client_id"));

    workspace.env("PARTNER_CHANGE_REF", "https://git.example/pr/11");
    workspace.write_config(&config("require", 8, &[&k1, &k2]));
    let (one, both) = (key_list(&[&k1]), key_list(&[&k1, &k2]));
    let key_change = format!("--resource {id} --attribute jwks --old '{one}' --new '{both}'");
    let room = format!("--resource {org_id} --attribute max_clients --old '5' --new '8'");
    let flat = |r: &acceptance_tests::Run| {
        r.combined()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let plan = workspace.plan();
    plan.assert_code(2).assert_mentions(&[
        "jwks change needs an approval",
        "max_clients change needs an approval",
        "approvals@example.com",
    ]);
    for command in [&key_change, &room] {
        assert!(
            flat(&plan).contains(command.as_str()),
            "{command} not in:\n{plan}"
        );
    }
    let failed = workspace.terraform(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    failed
        .assert_code(1)
        .assert_failure_mentions(&["needs an approval", "max_clients"]);
    assert_eq!(
        registry.get(&format!("/v1/orgs/{org_id}"))["max_clients"],
        5
    );
    let introspect = |key: &TestKey, jti: &str| assertion_active(&registry, &client_id, key, jti);
    assert!(!introspect(&k2, "before"), "the new key is no way in yet");

    let boss = approver_token(&registry, "boss", "approvals@example.com");
    for (resource, change) in [
        (id.as_str(), ("jwks", one.as_str(), both.as_str())),
        (org_id.as_str(), ("max_clients", "5", "8")),
    ] {
        let pr11 = "https://git.example/pr/11";
        approve_change(&registry, &boss, pr11, resource, change, T0, &[]).assert_success();
    }
    workspace
        .plan()
        .assert_code(2)
        .assert_mentions(&["jwks change approved", "max_clients change approved"]);
    workspace.apply();
    assert_eq!(
        registry.get(&format!("/v1/orgs/{org_id}"))["max_clients"],
        8
    );
    assert!(introspect(&k2, "after"), "the approved RSA key");
    workspace.assert_no_changes();
}

#[test]
fn a_client_with_a_jwks_uri_made_with_terraform_introspects_by_the_published_keys() {
    use acceptance_tests::jwks_server::JwksServer;
    use acceptance_tests::keys::{TestKey, jwks};
    let registry = RegistryServer::start_at(T0);
    let workspace = Workspace::new(&registry);
    let (key, next) = (TestKey::generate_rsa("k1"), TestKey::generate("k2"));
    let (first, second) = (
        JwksServer::start(&jwks(&[&key])),
        JwksServer::start(&jwks(&[&next])),
    );
    let config = |uri: &str| {
        acme_with_client(
            "2030-12-31",
            "signer",
            &format!("  auth_method = \"private_key_jwt\"\n  jwks_uri = \"{uri}\""),
        )
    };
    // Both, or plain http to another host, fail the plan on the attribute.
    workspace.write_config(&config(&first.url).replace(
        "  auth_method",
        &format!("  jwks = jsonencode({})\n  auth_method", jwks(&[&key])),
    ));
    workspace
        .plan()
        .assert_code(1)
        .assert_failure_mentions(&["jwks_uri cannot be given with jwks"]);
    workspace.write_config(&config("http://keys.acme.example/jwks.json"));
    workspace
        .plan()
        .assert_code(1)
        .assert_failure_mentions(&["Invalid jwks_uri", "not loopback"]);

    workspace.write_config(&config(&first.url));
    workspace.apply();
    let state = workspace.resource("partner_client.signer");
    assert_eq!(state["jwks_uri"], first.url.as_str());
    assert_eq!(state["jwks"], Value::Null);
    workspace.assert_no_changes();
    let client_id = string(&state, "client_id");
    let introspect = |k: &TestKey, jti: &str| assertion_active(&registry, &client_id, k, jti);
    assert!(introspect(&key, "a1"), "signed with the published RSA key");
    assert!(!introspect(&next, "a2"), "a key published elsewhere");
    assert_eq!(first.hits(), 1);

    // Another URI (by name: the registry's resolver) — the plan names who
    // approves; then its keys prove the client.
    let by_name = second.url.replace("127.0.0.1", "localhost");
    workspace.write_config(&config(&by_name));
    workspace
        .plan()
        .assert_code(2)
        .assert_mentions(&["its keys move to another URI", "approvals@example.com"]);
    workspace.apply();
    assert!(introspect(&next, "a3"), "the key at the new URI");
    assert!(!introspect(&key, "a4"), "the old URI's key");
    workspace.assert_no_changes();
}

/// Whether an assertion of `key` for `client_id` (expiring a minute after
/// 2026-06-01T00:00:00Z, the registry's clock) introspects active.
fn assertion_active(
    registry: &RegistryServer,
    client_id: &str,
    key: &acceptance_tests::keys::TestKey,
    jti: &str,
) -> bool {
    use acceptance_tests::keys::{AUDIENCE, assertion_body};
    let now = 1_780_272_000;
    let assertion = key.assertion(client_id, AUDIENCE, now + 60, jti);
    let (status, body) = registry.request(
        "POST",
        "/v1/introspect",
        Some(assertion_body(client_id, &assertion)),
    );
    assert_eq!(status, 200, "{body}");
    body["active"] == true
}

/// The `partner_client.signer` of org `acme`: a `private_key_jwt` client
/// registering `keys`.
fn signer_block(keys: &[&acceptance_tests::keys::TestKey]) -> String {
    acme_client(
        "signer",
        &format!(
            "  auth_method = \"private_key_jwt\"\n  jwks = jsonencode({})",
            acceptance_tests::keys::jwks(keys)
        ),
    )
}

#[test]
fn a_client_moved_into_an_org_under_require_is_a_new_client_that_needs_approving() {
    let registry = RegistryServer::start_at(T0);
    let mut workspace = Workspace::new(&registry);
    let config = |org_ref: &str| {
        let orgs = org("old", "old", "2030-12-31", &["a:read"], "")
            + &org(
                "acme",
                "acme",
                "2030-12-31",
                &["a:read"],
                "  approval_policy = \"require\"",
            );
        orgs + &client("sync", org_ref, "dev@example.com", &["a:read"], "")
    };
    workspace.write_config(&config("partner_org.old.id"));
    workspace.apply();
    let (old_id, acme_id) = (
        string(&workspace.resource("partner_client.sync"), "id"),
        string(&workspace.resource("partner_org.acme"), "id"),
    );

    // In Terraform a move is a replacement: a new client in org acme, which
    // acme's approval authority approves like any grant.
    workspace.env("PARTNER_CHANGE_REF", "https://git.example/pr/21");
    workspace.write_config(&config("partner_org.acme.id"));
    let grant = "name=sync; owner=dev@example.com; scopes=a:read";
    let command = format!("--resource {acme_id} --attribute client --old '' --new '{grant}'");
    let plan = workspace.plan();
    plan.assert_code(2).assert_mentions(&[
        "moves to another org",
        "New client \"sync\": creation needs an approval",
    ]);
    let flat = plan
        .combined()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(flat.contains(&command), "{command} not in:\n{plan}");

    let boss = approver_token(&registry, "boss", "approvals@example.com");
    let change = ("client", "", grant);
    approve_change(
        &registry,
        &boss,
        "https://git.example/pr/21",
        &acme_id,
        change,
        T0,
        &[],
    )
    .assert_success();
    workspace
        .plan()
        .assert_code(2)
        .assert_mentions(&["New client \"sync\": creation approved"]);
    workspace.apply();
    let moved = workspace.resource("partner_client.sync");
    assert_eq!(moved["org_id"], acme_id.as_str());
    assert_eq!(
        registry.get(&format!("/v1/clients/{old_id}"))["status"],
        "revoked"
    );
    workspace.assert_no_changes();
}
