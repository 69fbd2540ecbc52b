//! Provider configuration failures are clear diagnostics, not transport errors.

use acceptance_tests::certs::TestCa;
use acceptance_tests::{RegistryServer, Workspace};

use crate::config::{acme_org, string};

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
    workspace.write_config(&acme_org("2030-12-31"));
    workspace
        .plan()
        .assert_failure_mentions(&[&endpoint, "reach"])
        .assert_not_mentions("panicked");
}

#[test]
fn rejected_token_says_what_to_check() {
    let registry = RegistryServer::start();
    let workspace = Workspace::with_token(&registry, "prt_wrong_token");
    workspace.write_config(&acme_org("2030-12-31"));
    let plan = workspace.plan();
    plan.assert_failure_mentions(&[&registry.url, "token", "(request id tfp-"])
        .assert_not_mentions("prt_wrong_token");
    // The registry's log has the same request id.
    let id = plan
        .combined()
        .split("(request id ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap()
        .to_string();
    assert!(
        registry.log().contains(&id),
        "{id} not in {}",
        registry.log()
    );
}

#[test]
fn change_ref_is_recorded_in_the_audit_trail() {
    let registry = RegistryServer::start();
    let mut workspace = Workspace::new(&registry);
    workspace.env("PARTNER_CHANGE_REF", "https://git.example/pr/42");
    workspace.write_config(&acme_org("2030-12-31"));
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
    workspace.write_config(&acme_org("2030-12-31"));
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
    workspace.write_config(&acme_org("2030-12-31"));
    workspace
        .plan()
        .assert_failure_mentions(&["TLS handshake failed", "use an http:// endpoint"]);
}

/// The provider against a registry serving HTTPS with a private CA: trusted
/// with `ca_file`, and refused without it with an error that says what to
/// check.
#[test]
fn an_https_registry_is_trusted_through_ca_file_and_refused_without() {
    let ca = TestCa::new("registry-ca");
    let registry = RegistryServer::start_tls(&ca, &ca.server("registry"), None);
    assert!(
        registry.url.starts_with("https://127.0.0.1:"),
        "{}",
        registry.url
    );
    let mut workspace = Workspace::new(&registry);
    workspace.write_config(&acme_org("2030-12-31"));
    workspace.plan().assert_failure_mentions(&[
        &registry.url,
        "the registry's certificate is not trusted",
        "ca_file",
    ]);
    workspace.env("PARTNER_REGISTRY_CA_FILE", &ca.file.display().to_string());
    workspace.apply();
    assert_eq!(workspace.resource("partner_org.acme")["status"], "active");
    // Another CA's certificate is no substitute.
    let other = TestCa::new("other-ca");
    workspace.env(
        "PARTNER_REGISTRY_CA_FILE",
        &other.file.display().to_string(),
    );
    workspace
        .plan()
        .assert_failure_mentions(&["the registry's certificate is not trusted"]);
}

/// A registry that requires client certificates (mutual TLS) serves a
/// provider given `client_cert` and `client_key`, and refuses one without.
#[test]
fn mutual_tls_needs_the_client_certificate() {
    let ca = TestCa::new("registry-ca");
    let client = ca.client("terraform");
    let registry = RegistryServer::start_tls(&ca, &ca.server("registry"), Some((&ca, &client)));
    let mut workspace = Workspace::new(&registry);
    workspace.env("PARTNER_REGISTRY_CA_FILE", &ca.file.display().to_string());
    let config = acme_org("2030-12-31");
    workspace.write_config(&config);
    workspace
        .plan()
        .assert_failure_mentions(&[&registry.url, "client_cert", "client_key"]);
    workspace.write_config(&format!(
        "provider \"partner\" {{\n  client_cert = {:?}\n  client_key  = {:?}\n}}\n{config}",
        client.cert.display().to_string(),
        client.key.display().to_string()
    ));
    workspace.apply();
    assert_eq!(workspace.resource("partner_org.acme")["status"], "active");
}

/// Under TF_LOG_PROVIDER=trace the provider logs one line per registry
/// request (method, path, status, request id, attempt) and the bodies with
/// every secret and token redacted; the registry logs the same request ids.
#[test]
fn provider_logs_each_request_and_never_a_secret() {
    let registry = RegistryServer::start();
    let mut workspace = Workspace::new(&registry);
    workspace.env("TF_LOG_PROVIDER", "trace");
    workspace.write_config(&crate::config::acme_with_client("2030-12-31", "shop", ""));
    let run = workspace.apply();
    let log = format!("{}{}", run.stdout, run.stderr);
    assert!(log.contains("registry POST /v1/clients -> 201"), "{log}");
    let line = log
        .lines()
        .find(|l| l.contains("registry POST /v1/clients -> 201"))
        .unwrap();
    // Terraform writes the provider's fields as key=value.
    let request_id = line
        .split(" request_id=")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("no request id in {line}"));
    assert!(request_id.starts_with("tfp-"), "{line}");
    assert!(
        line.contains(" attempt=1 ") && line.contains(" status=201"),
        "{line}"
    );
    assert!(log.contains("answer body"), "bodies are traced: {log}");
    assert!(log.contains("[redacted]"), "{log}");
    workspace.env("TF_LOG_PROVIDER", "");
    let secret = string(&workspace.resource("partner_client.shop"), "client_secret");
    for needle in [secret.as_str(), registry.admin_token.as_str()] {
        assert!(
            !log.contains(needle),
            "a secret or token in the provider's log:\n{log}"
        );
    }
    assert!(
        registry.log().contains(request_id),
        "the registry logs the provider's request id: {}",
        registry.log()
    );
}
