//! `terraform query`: list resources find exactly the clients and orgs
//! each filter matches, managed or not, and the generated configuration
//! imports with an empty plan.

use acceptance_tests::bodies;
use acceptance_tests::{RegistryServer, Workspace};
use serde_json::Value;
use std::collections::BTreeSet;

use crate::config::{client, org};
use crate::{found, query, require_terraform_1_14};

fn ids(results: &[Value], address: &str) -> BTreeSet<String> {
    results
        .iter()
        .map(|r| &r["list_resource_found"])
        .filter(|r| r["address"] == address)
        .map(|r| r["identity"]["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

/// Writes the workspace's query file, `find.tfquery.hcl`.
fn write_query(workspace: &Workspace, hcl: &str) {
    std::fs::write(workspace.path().join("find.tfquery.hcl"), hcl).expect("write query");
}

#[test]
fn query_lists_what_each_filter_matches_and_generated_config_imports_cleanly() {
    require_terraform_1_14();
    let registry = RegistryServer::start_at("2026-03-01T00:00:00Z");
    let workspace = Workspace::new(&registry);
    let managed = format!(
        "{}{}",
        org("acme", "acme", "2030-12-31", &["a:read"], ""),
        client(
            "managed",
            "partner_org.acme.id",
            "team@acme.example",
            &["a:read"],
            ""
        )
    );
    workspace.write_config(&managed);
    workspace.apply();
    let org_id = id(&workspace.resource("partner_org.acme"));
    let managed_id = id(&workspace.resource("partner_client.managed"));

    // Behind Terraform's back: a shadow client, a short-lived one, a
    // revoked one, and a client of another org.
    let shadow = registry.create(
        "/v1/clients",
        bodies::client(&org_id, "shadow", &["a:read"]),
    );
    let mut soon = bodies::client(&org_id, "soon", &["a:read"]);
    soon["expires_at"] = "2026-03-10T00:00:00Z".into();
    let soon = registry.create("/v1/clients", soon);
    let gone = registry.create("/v1/clients", bodies::client(&org_id, "gone", &["a:read"]));
    registry.request("DELETE", &format!("/v1/clients/{}", id(&gone)), None);
    let other_org = registry.create("/v1/orgs", bodies::org("globex", "2026-04-30", &["g:read"]));
    let other = registry.create(
        "/v1/clients",
        bodies::client(&id(&other_org), "other", &["g:read"]),
    );

    // Three days on, only the shadow client is used.
    registry.set_clock("2026-03-04T00:00:00Z");
    let used = registry.introspect(
        shadow["client_id"].as_str().unwrap(),
        shadow["client_secret"].as_str().unwrap(),
    );
    assert_eq!(used["active"], true, "{used}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    while registry.get(&format!("/v1/clients/{}", id(&shadow)))["last_used_at"].is_null() {
        assert!(
            std::time::Instant::now() < deadline,
            "last use never recorded"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }

    write_query(
        &workspace,
        &format!(
            r#"
list "partner_client" "all" {{
  provider = partner
}}
list "partner_client" "of_acme" {{
  provider = partner
  config {{
    org_id = "{org_id}"
  }}
}}
list "partner_client" "outside_owner" {{
  provider = partner
  config {{
    owner = "OUTSIDE@example.com"
  }}
}}
list "partner_client" "expiring" {{
  provider = partner
  config {{
    expiring_within = "240h"
  }}
}}
list "partner_client" "unused" {{
  provider = partner
  config {{
    unused_for = "48h"
  }}
}}
list "partner_client" "revoked" {{
  provider = partner
  config {{
    status = "revoked"
  }}
}}
list "partner_org" "ending" {{
  provider = partner
  config {{
    expiring_within = "2160h"
  }}
}}
list "partner_org" "all" {{
  provider = partner
}}
"#
        ),
    );
    let run = query(&workspace, &["-json"]);
    run.assert_success();
    let results = found(&run);
    let set = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let (m, s, so, o) = (managed_id.as_str(), &id(&shadow), &id(&soon), &id(&other));
    assert_eq!(
        ids(&results, "list.partner_client.all"),
        set(&[m, s, so, o])
    );
    assert_eq!(
        ids(&results, "list.partner_client.of_acme"),
        set(&[m, s, so])
    );
    assert_eq!(
        ids(&results, "list.partner_client.outside_owner"),
        set(&[s, so, o])
    );
    assert_eq!(ids(&results, "list.partner_client.expiring"), set(&[so]));
    assert_eq!(
        ids(&results, "list.partner_client.unused"),
        set(&[m, so, o])
    );
    assert_eq!(
        ids(&results, "list.partner_client.revoked"),
        set(&[&id(&gone)])
    );
    assert_eq!(
        ids(&results, "list.partner_org.ending"),
        set(&[&id(&other_org)])
    );
    assert_eq!(
        ids(&results, "list.partner_org.all"),
        set(&[&org_id, &id(&other_org)])
    );
    let shown: Vec<_> = results
        .iter()
        .map(|r| {
            r["list_resource_found"]["display_name"]
                .as_str()
                .unwrap_or_default()
        })
        .collect();
    assert!(
        shown.contains(&"acme/shadow") && shown.contains(&"globex"),
        "{shown:?}"
    );

    // The guide's recipe: identities in state are managed, the rest are not.
    let state = workspace.state().to_string();
    let unmanaged: BTreeSet<_> = ids(&results, "list.partner_client.all")
        .into_iter()
        .filter(|i| !state.contains(i.as_str()))
        .collect();
    assert_eq!(unmanaged, set(&[s, so, o]));

    // Generated configuration for the unmanaged clients of acme imports
    // with no change afterwards.
    write_query(
        &workspace,
        &format!(
            r#"
list "partner_client" "shadow" {{
  provider = partner
  include_resource = true
  config {{
    org_id = "{org_id}"
    owner  = "outside@example.com"
  }}
}}
"#
        ),
    );
    query(&workspace, &["-generate-config-out=generated.tf"]).assert_success();
    let generated = std::fs::read_to_string(workspace.path().join("generated.tf")).unwrap();
    assert!(
        generated.contains("identity") && !generated.contains("client_id "),
        "{generated}"
    );
    workspace
        .apply()
        .assert_mentions(&["2 imported, 0 added, 0 changed, 0 destroyed"]);
    workspace.assert_no_changes();
}

#[test]
fn invalid_list_filters_fail_the_query() {
    require_terraform_1_14();
    let registry = RegistryServer::start();
    let workspace = Workspace::new(&registry);
    workspace.write_config("");
    write_query(
        &workspace,
        r#"
list "partner_client" "bad" {
  provider = partner
  config {
    status     = "lost"
    unused_for = "a while"
  }
}
"#,
    );
    query(&workspace, &[]).assert_failure_mentions(&["Invalid status", "Invalid duration"]);
}
