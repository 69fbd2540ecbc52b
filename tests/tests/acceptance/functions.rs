//! Provider functions (Terraform 1.8+): results in `check` blocks and outputs, and errors
//! naming the argument at fault.

use acceptance_tests::{RegistryServer, Workspace};

#[test]
fn functions_answer_in_checks_and_outputs() {
    let registry = RegistryServer::start();
    let workspace = Workspace::new(&registry);
    let id = format!("pc_{}", "A1b2".repeat(6));
    workspace.write_config(&format!(
        r#"
variable "client_scopes" {{
  default = ["a:read", "a:write"]
}}
variable "expires_at" {{
  default = "2031-01-01T00:00:00Z"
}}
check "scopes" {{
  assert {{
    condition     = provider::partner::scopes_within(var.client_scopes, ["a:read"])
    error_message = "client scopes exceed the org's allowed_scopes"
  }}
}}
check "expiry" {{
  assert {{
    condition     = provider::partner::expiry_within_contract(var.expires_at, "2030-12-31")
    error_message = "expiry after the contract"
  }}
}}
output "within" {{
  value = provider::partner::scopes_within(toset(["a:read"]), ["a:read", "b:read"])
}}
output "last_second" {{
  value = provider::partner::expiry_within_contract("2030-12-31T23:59:59Z", "2030-12-31")
}}
output "parsed" {{
  value = provider::partner::parse_client_id("{id}")
}}
"#
    ));
    let apply = workspace.apply();
    apply.assert_mentions(&[
        "client scopes exceed the org's allowed_scopes",
        "expiry after the contract",
    ]);
    assert_eq!(workspace.output("within"), true);
    assert_eq!(workspace.output("last_second"), true);
    assert_eq!(
        workspace.output("parsed"),
        serde_json::json!({ "prefix": "pc_", "random": "A1b2".repeat(6) })
    );
}

#[test]
fn function_errors_name_the_argument() {
    let registry = RegistryServer::start();
    let workspace = Workspace::new(&registry);
    for (call, needle) in [
        (
            r#"provider::partner::parse_client_id("cli_abc")"#,
            "is not a client_id",
        ),
        (
            r#"provider::partner::expiry_within_contract("2030-01-01T00:00:00Z", "soon")"#,
            "contract_end \"soon\" is not a date",
        ),
        (
            r#"provider::partner::scopes_within(["bad scope"], [])"#,
            "which is not a scope",
        ),
    ] {
        workspace
            .plan_with_config(&format!("output \"x\" {{\n  value = {call}\n}}\n"))
            .assert_failure_mentions(&["Invalid function argument", needle]);
    }
}
