//! The documentation's examples of list resources, actions and functions
//! are valid configurations for Terraform 1.14+.

use acceptance_tests::{RegistryServer, Workspace};

use crate::require_terraform_1_14;

#[test]
fn list_resource_action_and_function_examples_validate() {
    require_terraform_1_14();
    let registry = RegistryServer::start();
    for example in [
        "list-resources/partner_client",
        "list-resources/partner_org",
        "actions/partner_client_rotate_secret",
        "actions/partner_client_revoke",
        "actions/partner_org_offboard",
        "functions/scopes_within",
        "functions/expiry_within_contract",
        "functions/parse_client_id",
    ] {
        let workspace = Workspace::new(&registry);
        workspace.copy_example(example);
        let query_file = acceptance_tests::repo_root()
            .join("examples")
            .join(example)
            .join("list-resource.tfquery.hcl");
        if query_file.is_file() {
            std::fs::copy(&query_file, workspace.path().join("example.tfquery.hcl"))
                .expect("copy query example");
        }
        workspace
            .terraform(&["validate", "-query", "-no-color"])
            .assert_success()
            .assert_mentions(&["The configuration is valid"]);
    }
}
