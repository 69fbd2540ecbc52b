//! Plans over many clients: each provider process reads an org and its
//! clients once for all their plans, each new `terraform plan` reads them
//! again (so a change made behind Terraform's back between two plans is
//! seen), and `max_requests_per_second` spaces the requests.

use acceptance_tests::bodies;
use std::time::{Duration, Instant};

use acceptance_tests::{RegistryServer, Workspace};

use crate::config::client;

/// Configuration of `count` new clients `c0`… of the existing org `org_id`.
fn clients_of(org_id: &str, count: usize, scopes: &[&str]) -> String {
    (0..count)
        .map(|i| {
            client(
                &format!("c{i}"),
                &format!("\"{org_id}\""),
                "dev@example.com",
                scopes,
                "",
            )
        })
        .collect()
}

/// The org's id, created through the API (Terraform does not manage it).
fn existing_org(registry: &RegistryServer, scopes: &[&str], max_clients: u32) -> String {
    let mut body = bodies::org("acme", "2030-12-31", scopes);
    body["max_clients"] = max_clients.into();
    registry.create("/v1/orgs", body)["id"]
        .as_str()
        .expect("org id")
        .to_string()
}

/// How many requests the registry logged so far whose line names `prefix`
/// (a method and a route template) and then its status.
fn logged(registry: &RegistryServer, prefix: &str) -> usize {
    // A request's log line reads `… INFO GET /v1/orgs/{id} 200 request_id=…`.
    let needle = format!(" {prefix} ");
    registry
        .log()
        .lines()
        .filter(|line| line.contains(&needle))
        .count()
}

#[test]
fn each_plan_sees_what_changed_in_the_registry_since_the_last() {
    let registry = RegistryServer::start();
    let org_id = existing_org(&registry, &["a:read"], 2);
    let holder = registry.create(
        "/v1/clients",
        bodies::client(&org_id, "holder", &["a:read"]),
    );
    let workspace = Workspace::new(&registry);
    workspace.write_config(&clients_of(&org_id, 1, &["b:write"]));
    workspace
        .plan()
        .assert_failure_mentions(&["scopes", "b:write"]);

    // The org is widened behind Terraform's back: the next plan knows it.
    let (status, body) = registry.request(
        "PATCH",
        &format!("/v1/orgs/{org_id}"),
        Some(serde_json::json!({"allowed_scopes": ["a:read", "b:write"]})),
    );
    assert_eq!(status, 200, "{body:#}");
    workspace.plan().assert_code(2);

    // A client made behind Terraform's back fills the quota: the next plan
    // refuses, naming the org's active clients.
    registry.create(
        "/v1/clients",
        bodies::client(&org_id, "sneaky", &["a:read"]),
    );
    workspace
        .plan()
        .assert_failure_mentions(&["client quota", "holder", "sneaky"]);

    // And one revoked behind its back frees a place again.
    let (status, body) = registry.request(
        "DELETE",
        &format!("/v1/clients/{}", holder["id"].as_str().expect("id")),
        None,
    );
    assert_eq!(status, 200, "{body:#}");
    workspace.plan().assert_code(2);
}

#[test]
fn one_plan_reads_an_org_and_its_clients_once_for_all_its_clients() {
    let registry = RegistryServer::start();
    // Exactly as many places as clients: the apply's checks count the
    // clients it has just created once, not twice.
    let org_id = existing_org(&registry, &["a:read"], 8);
    let workspace = Workspace::new(&registry);
    workspace.write_config(&clients_of(&org_id, 8, &["a:read"]));
    // Routes are logged by template; this registry has this one org.
    let org_path = "GET /v1/orgs/{id}";
    let (orgs, lists) = (
        logged(&registry, org_path),
        logged(&registry, "GET /v1/clients"),
    );
    workspace.plan().assert_code(2);
    assert_eq!(
        logged(&registry, org_path) - orgs,
        1,
        "org reads in one plan"
    );
    assert_eq!(
        logged(&registry, "GET /v1/clients") - lists,
        1,
        "client listings in one plan"
    );
    // An apply plans in one provider process and applies in another: each
    // reads once, and the eight creates are all checked and made, filling
    // the quota.
    workspace.apply();
    assert!(logged(&registry, "GET /v1/clients") - lists <= 3);
    let listed = registry.get(&format!("/v1/clients?org_id={org_id}"));
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(8));
}

#[test]
fn a_refresh_reads_the_clients_of_an_org_in_one_listing_and_sees_their_changes() {
    let registry = RegistryServer::start();
    let org_id = existing_org(&registry, &["a:read", "b:write"], 8);
    let workspace = Workspace::new(&registry);
    workspace.write_config(&clients_of(&org_id, 6, &["a:read"]));
    workspace.apply();

    let (reads, lists) = (
        logged(&registry, "GET /v1/clients/{id}"),
        logged(&registry, "GET /v1/clients"),
    );
    workspace.assert_no_changes();
    assert_eq!(
        logged(&registry, "GET /v1/clients/{id}") - reads,
        0,
        "single-client reads in one refresh"
    );
    assert_eq!(
        logged(&registry, "GET /v1/clients") - lists,
        1,
        "client listings in one refresh"
    );

    // Changed and revoked behind Terraform's back: the next refresh sees both.
    let id_of = |name: &str| {
        workspace.resource(&format!("partner_client.{name}"))["id"]
            .as_str()
            .expect("id")
            .to_string()
    };
    let (status, body) = registry.request(
        "PATCH",
        &format!("/v1/clients/{}", id_of("c1")),
        Some(serde_json::json!({"scopes": ["a:read", "b:write"]})),
    );
    assert_eq!(status, 200, "{body:#}");
    let (status, body) = registry.request("DELETE", &format!("/v1/clients/{}", id_of("c2")), None);
    assert_eq!(status, 200, "{body:#}");
    let plan = workspace.plan();
    plan.assert_code(2).assert_stdout_mentions(&[
        "partner_client.c1 will be updated in-place",
        "partner_client.c2 will be created",
        "1 to add, 1 to change, 0 to destroy",
    ]);
}

#[test]
fn max_requests_per_second_spaces_the_requests() {
    let registry = RegistryServer::start();
    let org_id = existing_org(&registry, &["a:read"], 20);
    let workspace = Workspace::new(&registry);
    let clients = clients_of(&org_id, 6, &["a:read"]);
    workspace.write_config(&clients);
    workspace.apply();

    // A plan sends a few requests (the org, its client list); at one a
    // second the plan cannot be faster than the spacing between them,
    // however fast the machine (a lower bound: a slow machine only adds to it).
    let per_second = 1.0;
    workspace.write_config(&format!(
        "provider \"partner\" {{\n  max_requests_per_second = {per_second}\n}}\n{clients}"
    ));
    let requests_so_far = || logged(&registry, "GET") + logged(&registry, "POST");
    let before = requests_so_far();
    let start = Instant::now();
    workspace.plan().assert_success();
    let elapsed = start.elapsed();
    let requests = requests_so_far() - before;
    assert!(requests >= 2, "{requests} requests");
    let spacing = Duration::from_secs_f64((requests - 1) as f64 / per_second);
    assert!(
        elapsed >= spacing,
        "{requests} requests in {elapsed:?}, less than {spacing:?} apart in all"
    );

    workspace.write_config(&format!(
        "provider \"partner\" {{\n  max_requests_per_second = 0\n}}\n{clients}"
    ));
    workspace
        .plan()
        .assert_failure_mentions(&["max_requests_per_second", "positive number"]);
}
