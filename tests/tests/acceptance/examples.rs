//! Every example folder applies and destroys cleanly with real Terraform.

use acceptance_tests::{RegistryServer, Workspace};

#[track_caller]
fn apply_plan_destroy(example: &str) -> (RegistryServer, Workspace) {
    apply_plan_destroy_on(RegistryServer::start(), example)
}

#[track_caller]
fn apply_plan_destroy_on(registry: RegistryServer, example: &str) -> (RegistryServer, Workspace) {
    let workspace = Workspace::new(&registry);
    workspace.copy_example(example);
    workspace.apply();
    workspace.assert_no_changes();
    (registry, workspace)
}

#[test]
fn quickstart() {
    quickstart_on(RegistryServer::start());
}

/// The same run against a registry on PostgreSQL.
#[test]
fn quickstart_on_postgresql() {
    quickstart_on(RegistryServer::start_on_postgres());
}

#[track_caller]
fn quickstart_on(registry: RegistryServer) {
    let (registry, workspace) = apply_plan_destroy_on(registry, "quickstart");
    let ids = workspace.output("client_ids");
    let secrets = workspace.output("client_secrets");
    for name in ["acme_shipping", "acme_tracking", "globex_invoices"] {
        let client_id = ids[name].as_str().expect("client id");
        let secret = secrets[name].as_str().expect("client secret");
        assert_eq!(
            registry.introspect(client_id, secret)["active"],
            true,
            "{name}"
        );
    }
    workspace.destroy();
    let client_id = ids["acme_shipping"].as_str().expect("client id");
    let secret = secrets["acme_shipping"].as_str().expect("client secret");
    assert_eq!(
        registry.introspect(client_id, secret),
        serde_json::json!({"active": false})
    );
}

#[test]
fn resource_and_data_source_examples() {
    for example in [
        "resources/partner_org",
        "resources/partner_client",
        "data-sources/partner_org",
        "data-sources/partner_clients",
        "data-sources/partner_client",
        "data-sources/partner_orgs",
        "ephemeral-resources/partner_client_secret",
    ] {
        let (_registry, workspace) = apply_plan_destroy(example);
        workspace.destroy();
    }
}

#[test]
fn provider_example_configures_endpoint_and_change_ref() {
    let registry = RegistryServer::start();
    let workspace = Workspace::new(&registry);
    workspace.copy_example("provider");
    workspace.copy_example("resources/partner_org");
    // The example names the default local endpoint; point it at this test's registry.
    let provider_tf = workspace.path().join("provider.tf");
    let text = std::fs::read_to_string(&provider_tf).expect("provider.tf");
    assert!(text.contains("http://127.0.0.1:8080"), "{text}");
    std::fs::write(
        &provider_tf,
        text.replace("http://127.0.0.1:8080", &registry.url),
    )
    .expect("rewrite provider.tf");
    workspace.apply();
    let audit = registry.get("/v1/audit").to_string();
    assert!(
        audit.contains("https://git.example/partners/pull/42"),
        "{audit}"
    );
    workspace.destroy();
}

#[test]
fn make_demo_applies_the_quickstart_and_tears_it_down() {
    let demo = tempfile::tempdir().expect("temp dir");
    let script = acceptance_tests::repo_root().join("tools/demo.sh");
    let step = |action: &str| {
        acceptance_tests::run(
            std::process::Command::new(&script)
                .arg(action)
                .env("DEMO_DIR", demo.path())
                .env("DEMO_SKIP_BUILD", "1")
                .env("TERRAFORM", acceptance_tests::terraform_binary())
                .env("TF_IN_AUTOMATION", "1")
                .env_remove("PARTNER_REGISTRY_ENDPOINT")
                .env_remove("PARTNER_REGISTRY_TOKEN"),
        )
    };
    let up = step("up");
    // Stop the registry whatever happens, then judge.
    let destroy = step("destroy");
    let stop = step("stop");
    up.assert_success().assert_mentions(&[
        "Apply complete! Resources: 5 added",
        "acme_shipping",
        "Entitlement review",
        "make demo-destroy",
    ]);
    destroy
        .assert_success()
        .assert_mentions(&["Destroy complete! Resources: 5 destroyed"]);
    stop.assert_success().assert_mentions(&["registry stopped"]);
}
