//! Provider configuration failures are clear diagnostics, not transport errors.

use acceptance_tests::{RegistryServer, Workspace};

use crate::config::org;

#[test]
fn unreachable_registry_names_the_endpoint() {
    // Bind and drop a listener to find a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let mut workspace = Workspace::unconfigured();
    workspace
        .env("PARTNER_REGISTRY_ENDPOINT", &endpoint)
        .env("PARTNER_REGISTRY_TOKEN", "prt_not_checked");
    workspace.write_config(&org("acme", "acme", "2030-12-31", &["a:read"], ""));
    workspace
        .plan()
        .assert_failure_mentions(&[&endpoint, "reach"])
        .assert_not_mentions("panicked");
}

#[test]
fn rejected_token_says_what_to_check() {
    let registry = RegistryServer::start();
    let workspace = Workspace::with_token(&registry, "prt_wrong_token");
    workspace.write_config(&org("acme", "acme", "2030-12-31", &["a:read"], ""));
    workspace
        .plan()
        .assert_failure_mentions(&[&registry.url, "token"])
        .assert_not_mentions("prt_wrong_token");
}

#[test]
fn change_ref_is_recorded_in_the_audit_trail() {
    let registry = RegistryServer::start();
    let mut workspace = Workspace::new(&registry);
    workspace.env("PARTNER_CHANGE_REF", "https://git.example/pr/42");
    workspace.write_config(&org("acme", "acme", "2030-12-31", &["a:read"], ""));
    workspace.apply();
    let audit = registry.get("/v1/audit");
    let text = audit.to_string();
    assert!(text.contains("https://git.example/pr/42"), "{audit:#}");
}

/// A missing token is reported as missing, not as rejected.
#[test]
fn a_missing_token_is_named_missing() {
    let registry = RegistryServer::start();
    let mut workspace = Workspace::unconfigured();
    workspace.env("PARTNER_REGISTRY_ENDPOINT", &registry.url);
    workspace.env("PARTNER_REGISTRY_TOKEN", "");
    workspace.write_config(&org("acme", "acme", "2030-12-31", &["a:read"], ""));
    workspace
        .plan()
        .assert_failure_mentions(&["Missing partner registry token", "PARTNER_REGISTRY_TOKEN"])
        .assert_not_mentions("rejected");
}

/// Https:// against a registry that serves plain HTTP says so.
#[test]
fn https_against_a_plain_http_registry_says_so() {
    let registry = RegistryServer::start();
    let endpoint = registry.url.replace("http://", "https://");
    let mut workspace = Workspace::with_token(&registry, &registry.admin_token);
    workspace.env("PARTNER_REGISTRY_ENDPOINT", &endpoint);
    workspace.write_config(&org("acme", "acme", "2030-12-31", &["a:read"], ""));
    workspace
        .plan()
        .assert_failure_mentions(&["TLS handshake failed", "use an http:// endpoint"]);
}
