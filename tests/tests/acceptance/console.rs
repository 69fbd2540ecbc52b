//! The review console in a real browser: the real registry with seeded data,
//! driven in headless Chromium by `tests/browser/console.mjs` (Playwright).
//! `make test` installs Chromium (tools/ensure-chromium.sh) and the script's
//! npm packages first. Screenshots of each page land in
//! `target/console-screenshots/`.

use acceptance_tests::{RegistryServer, repo_root};
use serde_json::{Value, json};
use std::process::Command;

const CHROMIUM: &str = "/usr/bin/chromium";

fn org(name: &str, contract_end: &str, sponsor: bool) -> Value {
    let mut body = json!({
        "name": name,
        "legal_entity": format!("{name} Ltd"),
        "technical_owner": format!("tech@{name}.example"),
        "approval_authority": format!("boss@{name}.example"),
        "contract_id": format!("C-{name}"),
        "contract_start": "2026-01-01",
        "contract_end": contract_end,
        "allowed_scopes": ["orders:read", "orders:write"],
    });
    if sponsor {
        body["commercial_sponsor"] = json!(format!("sales@{name}.example"));
    }
    body
}

fn client(registry: &RegistryServer, org: &Value, name: &str, expires_at: Option<&str>) -> Value {
    let mut body = json!({
        "org_id": org["id"], "name": name, "purpose": format!("{name} integration"),
        "owner": format!("{name}@partner.example"), "scopes": ["orders:read"],
    });
    if let Some(at) = expires_at {
        body["expires_at"] = json!(at);
    }
    registry.create("/v1/clients", body)
}

/// Every check the browser script makes, as it prints them.
const CHECKS: &[&str] = &[
    "an unsigned visit is sent to the sign-in page",
    "the session cookie is HttpOnly and SameSite=Strict",
    "the token is in neither the page, the URL nor the browser's storage",
    "the overview counts the API's active orgs",
    "the overview counts the API's active clients",
    "the overview's findings by kind are the review's",
    "contracts ending in 90 days list the org whose contract ends soon",
    "clients unused for 30 days list the idle client",
    "the org page shows the owner triad",
    "the timeline marks today on the registry's clock",
    "the timeline has a row per org with contract ends and client expiries",
    "the client page lists its audit events",
    "the audit trail shows the chain verified",
    "the audit filter keeps only the asked action",
    "a change reference that is a URL is a link",
    "introspection answers inactive for the revoked client",
    "a form post without the CSRF token is refused",
    "the refused form decided nothing",
    "after signing out the console sends back to sign-in",
    "the old session cookie is refused on the server",
    "an org token cannot open another org's page (404)",
    "an org token does not see the other org in /ui/campaigns",
];

const SCREENSHOTS: &[&str] = &[
    "login",
    "overview",
    "org",
    "timeline",
    "client",
    "audit",
    "campaign",
    "campaign-decided",
    "other-org-404",
];

#[test]
fn the_console_in_a_real_browser() {
    let root = repo_root();
    let script = root.join("tests/browser/console.mjs");
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .is_dir()
            && std::path::Path::new(CHROMIUM).exists(),
        "the browser test needs {CHROMIUM} and tests/browser/node_modules: `make browser` installs both"
    );
    let registry = RegistryServer::start_at("2026-11-01T00:00:00Z");
    let acme = registry.create("/v1/orgs", org("acme", "2027-03-01", true));
    let globex = registry.create("/v1/orgs", org("globex", "2027-12-31", true));
    registry.create("/v1/orgs", org("initech", "2027-09-30", false));
    let shop = client(&registry, &acme, "shop", Some("2027-02-15T00:00:00Z"));
    let billing = client(&registry, &acme, "billing", None);
    client(&registry, &acme, "legacy", None);
    let feed = client(&registry, &globex, "feed", Some("2027-06-30T00:00:00Z"));
    registry.set_clock("2027-01-01T00:00:00Z");
    for c in [&shop, &billing, &feed] {
        let used = registry.introspect(
            c["client_id"].as_str().unwrap(),
            c["client_secret"].as_str().unwrap(),
        );
        assert_eq!(used["active"], true, "{used}");
    }
    let change_ref = "https://git.example.com/partners/pull/42";
    let patched = reqwest::blocking::Client::new()
        .patch(format!(
            "{}/v1/orgs/{}",
            registry.url,
            acme["id"].as_str().unwrap()
        ))
        .bearer_auth(&registry.admin_token)
        .header("x-change-ref", change_ref)
        .json(&json!({"labels": {"tier": "gold"}}))
        .send()
        .unwrap();
    assert_eq!(patched.status().as_u16(), 200);
    let campaign = registry.create(
        "/v1/reviews/campaigns",
        json!({"org_id": acme["id"], "due_date": "2027-01-31", "note": "quarterly"}),
    );
    let reviewer = registry.create_token("security-review", "reviewer", None);
    let org_token = registry.create_token("globex-ci", "org", globex["id"].as_str());
    let screenshots = root.join("target/console-screenshots");
    let fixture = json!({
        "url": registry.url,
        "admin": registry.admin_token,
        "reviewer": reviewer,
        "org_token": org_token,
        "acme": acme["id"],
        "campaign": campaign["id"],
        "revoke_client": {"id": billing["id"], "name": "billing", "client_id": billing["client_id"], "client_secret": billing["client_secret"]},
        "keep_client_id": shop["id"],
        "ending_org_name": "acme",
        "idle_client_name": "legacy",
        "today": "2027-01-01",
        "change_ref": change_ref,
        "screenshots": screenshots,
    });
    let out = Command::new("node")
        .arg(&script)
        .env("CONSOLE_FIXTURE", fixture.to_string())
        .env("CHROMIUM", CHROMIUM)
        .current_dir(root.join("tests/browser"))
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = format!(
        "{stdout}\n--- stderr:\n{}\n--- registry log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        registry.log()
    );
    assert!(out.status.success(), "the browser run failed:\n{report}");
    assert!(!stdout.contains("not ok"), "{report}");
    for check in CHECKS {
        assert!(
            stdout.contains(&format!("ok - {check}\n")),
            "missing check {check:?}:\n{report}"
        );
    }
    for name in SCREENSHOTS {
        let png = std::fs::read(screenshots.join(format!("{name}.png")))
            .unwrap_or_else(|e| panic!("screenshot {name}: {e}"));
        assert!(png.starts_with(b"\x89PNG"), "{name}.png is not a PNG");
    }
    let revoked = registry.get(&format!("/v1/clients/{}", billing["id"].as_str().unwrap()));
    assert_eq!(revoked["status"], "revoked");
}
