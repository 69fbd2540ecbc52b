//! The OpenAPI 3.1 description of every route.

use serde_json::{Value, json};

fn problem_responses(codes: &[&str]) -> Value {
    let mut m = serde_json::Map::new();
    for c in codes {
        m.insert(
            (*c).to_string(),
            json!({"description": "Problem", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}),
        );
    }
    Value::Object(m)
}

fn ok(code: &str, schema: Value, extra: &[&str]) -> Value {
    let mut r = problem_responses(extra);
    r[code] = json!({"description": "OK", "content": {"application/json": {"schema": schema}}});
    r
}

fn r(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn body(schema: Value, media: &str) -> Value {
    json!({"required": true, "content": {media: {"schema": schema}}})
}

fn q(name: &str, desc: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": {"type": "string"}, "description": desc})
}

fn h(name: &str, desc: &str) -> Value {
    json!({"name": name, "in": "header", "required": false, "schema": {"type": "string"}, "description": desc})
}

fn id_param(desc: &str) -> Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}, "description": desc})
}

/// A page of the review console: HTML, or a 303 to the sign-in page without a session.
fn ui(summary: &str) -> Value {
    json!({"summary": summary, "tags": ["console"], "security": [{"console_session": []}],
        "responses": {
            "200": {"description": "HTML page (Content-Security-Policy forbids every script and inline style)", "content": {"text/html": {"schema": {"type": "string"}}}},
            "303": {"description": "no live session (or, after a form, done): see Location"},
            "403": {"description": "a form without this session's CSRF token, or a write the token may not make"},
            "404": {"description": "no such record, or one this token may not see"}}})
}

/// A form of the review console (`application/x-www-form-urlencoded`, with `csrf`).
fn ui_form(summary: &str, fields: &[&str]) -> Value {
    let mut props = serde_json::Map::new();
    for f in fields {
        props.insert((*f).to_string(), json!({"type": "string"}));
    }
    let mut op = ui(summary);
    op["requestBody"] = body(
        json!({"type": "object", "properties": props, "required": ["csrf"]}),
        "application/x-www-form-urlencoded",
    );
    op
}

/// The review console's pages and forms.
fn ui_paths() -> Value {
    json!({
            "/ui/": {"get": ui("The review console: the overview, or the sign-in page without a session")},
            "/ui/console.css": {"get": {"summary": "The console's stylesheet (compiled into the registry)", "tags": ["console"], "security": [], "responses": {"200": {"description": "CSS", "content": {"text/css": {"schema": {"type": "string"}}}}}}},
            "/ui/login": {
                "get": {"summary": "The sign-in form; sets a short-lived cookie its CSRF value is bound to", "tags": ["console"], "security": [], "responses": {"200": {"description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}}},
                "post": {"summary": "Sign in with an API token: a session on the server and an HttpOnly, SameSite=Strict session cookie (Secure over TLS) that expires with it, 8 hours; 401 with the form again for a token that does not authenticate", "tags": ["console"], "security": [],
                         "requestBody": body(json!({"type": "object", "properties": {"csrf": {"type": "string"}, "token": {"type": "string", "writeOnly": true}}, "required": ["csrf", "token"]}), "application/x-www-form-urlencoded"),
                         "responses": {"303": {"description": "signed in: to /ui/overview"}, "401": {"description": "HTML: the form again, saying why"}}}
            },
            "/ui/logout": {"post": ui_form("Sign out: the session ends on the server and its cookie is cleared", &["csrf"])},
            "/ui/overview": {"get": ui("Counts (active orgs, active clients, findings by kind), contracts ending in the next 90 days, clients unused for 30 days")},
            "/ui/timeline": {"get": ui("Client expiries and contract ends over the next 12 months by org, as SVG, with today (the registry's clock) marked")},
            "/ui/orgs/{id}": {"get": ui("An org: owners, contract, allowed scopes, quota use, review enforcement, its clients")},
            "/ui/clients/{id}": {"get": ui("A client, its suspension by an overdue access review if any, and its audit events (reviewer and admin tokens)")},
            "/ui/audit": {"get": ui("The audit trail's last 1000 events, filtered by org, client, actor, action or change reference (a URL is a link), with the chain's verification state")},
            "/ui/campaigns": {"get": ui("Access review campaigns")},
            "/ui/campaigns/{id}": {"get": ui("A campaign, with keep and revoke forms for reviewer and admin tokens")},
            "/ui/campaigns/{id}/decisions": {"post": ui_form("Decide one client of a campaign, as POST /v1/reviews/campaigns/{id}/decisions does", &["csrf", "client_id", "decision", "comment"])}
    })
}

/// The schema of an optional descriptive attribute, from its declaration.
fn attribute_schema(spec: &partner_api::AttributeSpec) -> Value {
    use partner_rules::fields::AttributeRule;
    let mut schema = json!({"type": ["string", "null"], "maxLength": spec.rule.max_chars(),
        "description": format!("optional: {}", spec.description)});
    if spec.rule == AttributeRule::Email {
        schema["format"] = "email".into();
    }
    schema
}

/// The document served at `GET /v1/openapi.json`.
pub fn document() -> Value {
    let mut metrics_responses = problem_responses(&["401", "403"]);
    metrics_responses["200"] = json!({"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}});
    let str_or_null = json!({"type": ["string", "null"]});
    let scopes = json!({"type": "array", "items": {"type": "string"}, "uniqueItems": true});
    let org_fields = json!({
        "name": {"type": "string", "pattern": "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"},
        "legal_entity": {"type": "string"},
        "technical_owner": {"type": "string", "format": "email"},
        "approval_authority": {"type": "string", "format": "email"},
        "commercial_sponsor": {"type": ["string", "null"], "format": "email"},
        "contract_id": {"type": "string"},
        "contract_start": {"type": ["string", "null"], "format": "date"},
        "contract_end": {"type": "string", "format": "date"},
        "tenant": str_or_null,
        "business_unit": str_or_null,
        "allowed_scopes": scopes,
        "max_clients": {"type": "integer", "default": 10, "minimum": 0},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "review_enforcement": {"type": "string", "enum": ["report", "suspend"], "default": "report",
            "description": "what an access review past its due date does to the clients still undecided in it: report them (review_overdue findings), or also suspend them (introspection answers inactive until each is decided)"},
        "approval_policy": {"type": "string", "enum": ["warn", "require"], "default": "warn", "description": format!("{}; see POST /v1/approvals", partner_rules::approvals::APPROVAL_POLICY_RULE)},
    });
    let mut org_create_fields = org_fields.clone();
    org_create_fields["id"] = json!({"type": "string", "pattern": "^org_[A-Za-z0-9]{20}$",
        "description": "optional: a client-chosen id in the server's own shape, never used before by any org (offboarded included); the server makes one when it is absent"});
    let mut org_props = org_fields.clone();
    for (k, v) in [
        ("id", json!({"type": "string"})),
        (
            "status",
            json!({"type": "string", "enum": partner_api::OrgStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>()}),
        ),
        (
            "created_at",
            json!({"type": "string", "format": "date-time"}),
        ),
        (
            "updated_at",
            json!({"type": "string", "format": "date-time"}),
        ),
        (
            "offboarded_at",
            json!({"type": ["string", "null"], "format": "date-time"}),
        ),
        ("version", json!({"type": "integer", "minimum": 1})),
    ] {
        org_props[k] = v;
    }
    let mut client_fields = json!({
        "org_id": {"type": "string"},
        "name": {"type": "string", "pattern": "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"},
        "purpose": {"type": "string"},
        "owner": {"type": "string", "format": "email"},
        "auth_method": {"type": "string", "enum": ["client_secret", "private_key_jwt"], "default": "client_secret", "description": format!("{}; set at creation, never changed. A private_key_jwt client has no secret (a supplied one is refused, rotation answers 409): rotate its key by adding the new public key to jwks, then removing the old one", partner_rules::keys::AUTH_METHOD_RULE)},
        "jwks": {"type": ["object", "null"], "description": format!("the public keys of a private_key_jwt client (it has exactly one of jwks and jwks_uri; refused for any other); {}", partner_rules::keys::JWKS_RULE)},
        "jwks_uri": {"type": ["string", "null"], "format": "uri", "description": format!("where a private_key_jwt client publishes its public keys, instead of jwks (exactly one of the two; refused for any other client); {}. The registry fetches it with a {} s timeout, at most {} bytes, no redirects, keeps it for the answer's Cache-Control max-age (default {} s, at least {} s, at most {} s) and fetches it again for an assertion naming an unknown kid (at most once per {} s). A failed fetch leaves the client's assertions inactive (partner_registry_jwks_fetches_total says why)", partner_rules::keys::JWKS_URI_RULE, crate::jwks_fetch::TIMEOUT.as_secs(), crate::jwks_fetch::MAX_BYTES, crate::jwks_fetch::DEFAULT_CACHE, crate::jwks_fetch::REFETCH_INTERVAL, crate::jwks_fetch::MAX_CACHE, crate::jwks_fetch::REFETCH_INTERVAL)},
        "operated_by": {"type": ["string", "null"], "description": format!("optional: the intermediary org that operates the client; {}. The client's own org stays the one whose contract, scopes and approval authority apply; offboarding the intermediary revokes the clients it operates", partner_rules::OPERATED_BY_RULE)},
        "scopes": scopes,
        "expires_at": {"type": ["string", "null"], "format": "date-time", "description": "default and maximum: <contract_end>T23:59:59Z"},
    });
    for spec in partner_api::ClientAttributes::SPECS {
        client_fields[spec.name] = attribute_schema(spec);
    }
    let mut client_props = client_fields.clone();
    for (k, v) in [
        ("id", json!({"type": "string"})),
        ("client_id", json!({"type": "string", "pattern": "^pc_"})),
        (
            "status",
            json!({"type": "string", "enum": partner_api::ClientStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>()}),
        ),
        (
            "created_at",
            json!({"type": "string", "format": "date-time"}),
        ),
        (
            "updated_at",
            json!({"type": "string", "format": "date-time"}),
        ),
        (
            "revoked_at",
            json!({"type": ["string", "null"], "format": "date-time"}),
        ),
        ("version", json!({"type": "integer", "minimum": 1})),
        (
            "secret_rotated_at",
            json!({"type": "string", "format": "date-time", "description": "when the current secret was made: the creation or the last rotation"}),
        ),
        (
            "previous_secret_expires_at",
            json!({"type": ["string", "null"], "format": "date-time", "description": "end of the grace period of the previous secret; null when no previous secret is valid"}),
        ),
        (
            "last_used_at",
            json!({"type": ["string", "null"], "format": "date-time", "description": "last successful introspection, coarse: stored at most once a minute per client; null until used"}),
        ),
        (
            "client_secret",
            json!({"type": "string", "pattern": "^pcs_", "description": "a server-made secret, only in the 201 response of a create or the 200 response of a rotation (never on an Idempotency-Key replay, never when the caller supplied the secret)"}),
        ),
    ] {
        client_props[k] = v;
    }
    let supplied_secret = json!({"type": "string", "minLength": 32, "maxLength": 1024, "pattern": "^[!-~]+$", "writeOnly": true,
        "description": format!("optional: the caller's own secret; only its HMAC is stored and it is never echoed. Rule: {}. A secret valid for another client (current, or previous within its grace period) answers 422: a secret is never shared between clients; the other client is named only to a token that may see it", crate::crypto::SUPPLIED_SECRET_RULE)});
    let mut client_create_fields = client_fields.clone();
    client_create_fields["client_secret"] = supplied_secret.clone();
    let page = |item: &str| json!({"type": "object", "properties": {"items": {"type": "array", "items": r(item)}, "next_cursor": {"type": ["string", "null"]}}, "required": ["items", "next_cursor"]});
    let idem = h(
        "Idempotency-Key",
        "a replay with the same body returns the original response (without client_secret); another body answers 422",
    );
    let change_ref = h(
        "X-Change-Ref",
        "recorded in the audit event (pull request, run reference)",
    );
    let if_match_rotate = h(
        "If-Match",
        "optional \"<version>\"; a stale one answers 412 and rotates nothing",
    );
    let if_match = h(
        "If-Match",
        "\"<version>\"; a stale one answers 412 and changes nothing",
    );
    let token_props = json!({
        "name": {"type": "string", "maxLength": 100},
        "role": {"type": "string", "enum": ["admin", "reviewer", "org", "approver"]},
        "org_id": {"type": ["string", "null"], "description": "the org an org token is bound to; null for the other roles"},
        "email": {"type": ["string", "null"], "format": "email", "description": "the person an approver token is bound to; null for the other roles"},
        "status": {"type": "string", "enum": ["active", "expired", "revoked", "org_offboarded"], "description": "at the registry's current time; only active authenticates (org_offboarded: its org was offboarded, which ends its tokens for good)"},
        "created_at": {"type": "string", "format": "date-time"},
        "created_by": {"type": "string", "description": "cli (made with `partner-registry token create`) or the name of the admin token that made it"},
        "expires_at": {"type": ["string", "null"], "format": "date-time", "description": "null: it works until revoked"},
        "last_used_at": {"type": ["string", "null"], "format": "date-time", "description": "last authenticated request, coarse: stored at most once a minute per token; null until used"},
        "revoked_at": {"type": ["string", "null"], "format": "date-time"},
        "token": {"type": "string", "pattern": "^prt_", "description": "the bearer token, only in the 201 answer of its creation: it is stored as a keyed hash and can never be shown again"},
    });
    let review_schema = json!({"type": "object", "required": ["generated_at", "within", "rotation_age", "unused_for", "findings"], "properties": {
                    "generated_at": {"type": "string", "format": "date-time"},
                    "within": {"type": "string", "description": "the expiry window, e.g. 720h"},
                    "rotation_age": {"type": "string"},
                    "unused_for": {"type": "string"},
                    "findings": {"type": "array", "description": "sorted by kind, org name, client name", "items": {"type": "object", "required": ["kind", "client", "org", "detail"], "properties": {
                        "kind": {"type": "string", "enum": ["contract_ended", "expiring_soon", "no_commercial_sponsor", "review_overdue", "secret_not_rotated", "unused", "usage_drift"]},
                        "client": {"type": ["object", "null"], "properties": {"id": {"type": "string"}, "client_id": {"type": "string"}, "name": {"type": "string"}, "owner": {"type": "string"}, "custodian": {"type": ["string", "null"]}, "operated_by": {"type": ["string", "null"], "description": "the intermediary org operating the client, beside its own org"}, "expires_at": {"type": "string", "format": "date-time"}, "secret_rotated_at": {"type": "string", "format": "date-time"}, "last_used_at": {"type": ["string", "null"], "format": "date-time"}}},
                        "org": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "approval_authority": {"type": "string"}}},
                        "detail": {"type": "string", "description": "one human sentence"}}}}}});
    let campaign_schema = json!({"type": "object", "properties": {
        "id": {"type": "string", "pattern": "^rvc_"},
        "org_id": {"type": "string"}, "org_name": {"type": "string"}, "approval_authority": {"type": "string"},
        "review_enforcement": {"type": "string", "enum": ["report", "suspend"], "description": "the org's, as it is now"},
        "cause": {"type": "string", "enum": ["manual", "contract_renewed", "scopes_widened", "usage_drift"], "description": "manual: opened by an admin; the others: opened by the registry when the org's contract was renewed or extended, its allowed scopes widened, or one client's daily introspections over the last 7 days differed from its previous 28-day daily mean by more than a factor of 5 (or it was used again after 30 days unused): that campaign holds that client alone"},
        "note": {"type": "string"}, "opened_by": {"type": "string"},
        "opened_at": {"type": "string", "format": "date-time"},
        "due_at": {"type": "string", "format": "date-time", "description": "the end (23:59:59Z) of the due date"},
        "status": {"type": "string", "enum": ["open", "overdue", "complete"], "description": "at the registry's current time"},
        "undecided": {"type": "integer"}, "kept": {"type": "integer"}, "revoked": {"type": "integer"},
        "items": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "string", "description": "the client's record id"}, "client_id": {"type": "string"}, "name": {"type": "string"}, "owner": {"type": "string"},
            "state": {"type": "string", "enum": ["undecided", "overdue", "suspended", "kept", "revoked", "revoked_elsewhere"], "description": "suspended: undecided after the due date under review_enforcement suspend, so introspection answers inactive; revoked_elsewhere: revoked without a decision here"},
            "decision": {"type": ["string", "null"], "enum": ["keep", "revoke", null]},
            "comment": str_or_null, "decided_by": str_or_null,
            "decided_at": {"type": ["string", "null"], "format": "date-time"}}}}}});
    let approval_schema = json!({"type": "object", "properties": {
                    "id": {"type": "string"}, "change_ref": {"type": "string"},
                    "entity_kind": {"type": "string", "enum": ["client", "org"]}, "entity_id": {"type": "string"},
                    "org_id": {"type": "string"}, "attribute": {"type": "string"}, "old": {"type": "string"}, "new": {"type": "string"},
                    "approver": {"type": "string", "format": "email"}, "token_name": {"type": "string"},
                    "created_at": {"type": "string", "format": "date-time"}, "expires_at": {"type": "string", "format": "date-time"},
                    "used_at": {"type": ["string", "null"], "format": "date-time"}, "used_by": {"type": ["string", "null"], "description": "the request id of the change that used it"},
                    "status": {"type": "string", "enum": ["valid", "used", "expired"]}}});
    let blast_radius_schema = json!({"type": "object", "required": ["query", "at", "clients", "orgs", "contacts"], "properties": {
                    "query": {"type": "object", "description": "the filters given"},
                    "at": {"type": "string", "format": "date-time"},
                    "clients": {"type": "array", "items": {"type": "object", "properties": {
                        "id": {"type": "string"}, "client_id": {"type": "string"}, "name": {"type": "string"},
                        "org_id": {"type": "string"}, "org_name": {"type": "string"}, "owner": {"type": "string"},
                        "custodian": {"type": ["string", "null"], "description": "the client's custodian, else the technical owner of its intermediary"},
                        "operated_by": str_or_null.clone(), "scopes": scopes.clone(),
                        "expires_at": {"type": "string", "format": "date-time"},
                        "why": {"type": "array", "items": {"type": "string"}}}}},
                    "orgs": {"type": "array", "items": {"type": "object", "properties": {
                        "id": {"type": "string"}, "name": {"type": "string"}, "technical_owner": {"type": "string"},
                        "approval_authority": {"type": "string"}, "commercial_sponsor": str_or_null.clone(),
                        "contract_end": {"type": "string", "format": "date"},
                        "why": {"type": "array", "items": {"type": "string"}}}}},
                    "contacts": {"type": "array", "items": {"type": "object", "properties": {"email": {"type": "string"}, "roles": {"type": "array", "items": {"type": "string"}}}}},
                    "revoked": {"type": "array", "items": {"type": "string"}, "description": "only in the answer of a revocation: the client_ids revoked"}}});
    // Its own object: one json! of every path passes the macro's recursion limit.
    let governance_paths = json!({
            "/v1/approvals": {
                "post": {"summary": "Approve one exact change for a change reference (approver tokens only)", "parameters": [h("X-Change-Ref", "required: the change reference (the pull request URL, say) the approval is for")],
                    "description": "Under an org's approval_policy \"require\", the registry refuses a change that widens or hands over access (client: scopes added, expires_at later, owner or operated_by changed, a public key added to jwks, another jwks_uri; org: allowed_scopes widened, contract_end later, approval_policy leaving require, max_clients raised; and every new client, as the org's attribute client from \"\" to \"name=…; owner=…; scopes=…\" with \"; operated_by=…\", \"; keys=…\" and \"; jwks_uri=…\" when it has them: a client moved to another org in Terraform is a new client there) unless an approval of exactly that change (resource, attribute, old and new value as the plan's warning and the refusal show them) exists for the request's X-Change-Ref. The approver token's email must be the org's approval_authority, and never the org's technical_owner nor the client's owner (for a new client: the owner it names) (403). An approval expires (expires_in, default 168h, at most 720h) and is used once; its creation and its use are audited (approval.create, approval.use). The CLI `partner-registry approve` does the same.",
                    "requestBody": body(json!({"type": "object", "additionalProperties": false, "required": ["resource", "attribute", "old", "new"], "properties": {
                        "resource": {"type": "string", "description": "the client's id or client_id, or the org's id"},
                        "attribute": {"type": "string", "enum": ["scopes", "expires_at", "owner", "operated_by", "jwks", "jwks_uri", "allowed_scopes", "contract_end", "approval_policy", "max_clients", "client"]},
                        "old": {"type": "string", "description": "canonical: scopes sorted and space-separated, instants as 2027-06-30T23:59:59Z, an absent intermediary as \"\", public keys as their RFC 7638 thumbprints sorted and space-separated, max_clients as a number, a new client's old value as \"\""},
                        "new": {"type": "string"},
                        "expires_in": {"type": "string", "description": crate::approvals::LIFETIME_RULE}}}), "application/json"),
                    "responses": ok("201", r("Approval"), &["400", "401", "403", "422"])},
                "get": {"summary": "The approvals of one change reference on one record (an org token: its own org's only)",
                    "parameters": [q("change_ref", "required"), q("resource", "required: a client's id or client_id, or an org's id")],
                    "responses": ok("200", json!({"type": "object", "properties": {"items": {"type": "array", "items": r("Approval")}}}), &["400", "401", "422"])}},
            "/v1/blast-radius": {"get": {"summary": "The blast radius (reviewer, admin): every active client and every live org that a departing person, a compromised intermediary or a leaked scope reaches, with the contacts to call. The CLI `partner-registry blast-radius --format json` prints the same document.",
                "description": "At least one filter; every filter given must hold for a client to be reached. owner matches a client's owner or custodian, or the technical owner of the intermediary that operates it, and also lists the orgs where the person is technical owner, approval authority or commercial sponsor. Each client and org says why it is reached; contacts list everyone accountable for what is reached, except the person asked about. 422 names a malformed filter; 403 for an org token.",
                "parameters": [q("owner", "a person's email"), q("org_id", "the clients of this org"), q("operated_by", "the clients this intermediary org operates"), q("scope", "the clients holding this scope")],
                "responses": ok("200", r("BlastRadius"), &["400", "401", "403", "422"])}},
            "/v1/blast-radius/revoke": {"post": {"summary": "Revoke every client a blast radius reaches (admin), in one transaction", "parameters": [change_ref.clone()],
                "description": "The body holds the filters of GET /v1/blast-radius. Each client is revoked with its own client.revoke audit event, and one blast_radius.revoke event records the query and the clients revoked; all of it commits at once or not at all. The answer is the blast radius as it was, with revoked listing the client_ids. The CLI `partner-registry blast-radius --revoke` does the same.",
                "requestBody": body(json!({"type": "object", "additionalProperties": false, "properties": {"owner": {"type": "string", "format": "email"}, "org_id": {"type": "string"}, "operated_by": {"type": "string"}, "scope": {"type": "string"}}}), "application/json"),
                "responses": ok("200", r("BlastRadius"), &["400", "401", "403", "422"])}}
    });
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {"title": "Partner registry", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Partner organisations, their API clients, secrets, audit trail and runtime introspection. Every non-2xx answer is application/problem+json (RFC 9457). Every answer carries a Date header (IMF-fixdate) from the registry's own clock, which is the fake time under serve --fake-clock. A known path asked with a method it does not have answers 405 with Allow; a body whose Content-Type is not JSON answers 415; a name or id another record holds answers 409 with the errors[] list (422 when other fields are malformed too); an If-Match, Idempotency-Key or X-Change-Ref header that is not printable ASCII or too long answers 400 naming it. A request that is not valid HTTP/1.1 answers 400 (431 for more than 100 header fields or a head over 64 KiB) in problem+json, then the connection closes; a body over 64 KiB answers 413 naming the field that makes it so large."},
        "security": [{"bearer": []}],
        "paths": {
            "/healthz": {"get": {"summary": "Liveness", "security": [], "responses": ok("200", json!({"type": "object"}), &[])}},
            "/readyz": {"get": {"summary": "Readiness: 200 only while the database answers and the credential cache is current; 503 problem+json saying which is not", "security": [], "responses": ok("200", json!({"type": "object"}), &["503"])}},
            "/metrics": {"get": {"summary": "Metrics in the Prometheus text format (requests by route and status, introspection outcomes, credential cache, database calls, write transactions, audit chain length), for reviewer and admin tokens; `serve --metrics-listen` also serves them without a token on an address of its own",
                "responses": metrics_responses}},
            "/v1/openapi.json": {"get": {"summary": "This document", "security": [], "responses": ok("200", json!({"type": "object"}), &[])}},
            "/v1/whoami": {"get": {"summary": "Who the caller's token is: its name, its role (admin, reviewer, org) and, for an org token, its org. A record of another org answers 404 to an org token: a client uses this to tell \"not visible to this token\" from \"gone\".",
                "responses": ok("200", json!({"type": "object", "required": ["name", "role", "org"], "properties": {"name": {"type": "string"}, "role": {"type": "string", "enum": ["admin", "reviewer", "org", "approver"]}, "org": {"type": ["string", "null"]}}}), &["401", "503"])}},
            "/v1/orgs": {
                "post": {"summary": "Create an org (admin); the id may be chosen by the caller", "parameters": [idem, change_ref], "requestBody": body(json!({"type": "object", "properties": org_create_fields, "required": ["name", "legal_entity", "technical_owner", "approval_authority", "contract_id", "contract_end", "allowed_scopes"], "additionalProperties": false}), "application/json"),
                         "responses": ok("201", r("Org"), &["400", "401", "403", "409", "413", "415", "422"])},
                "get": {"summary": "List orgs", "parameters": [q("name", "exact name"), q("status", "active|expired|offboarded"), q("limit", "1..1000, default 100"), q("cursor", "next_cursor of the previous page")],
                        "responses": ok("200", page("Org"), &["400", "401", "422"])}
            },
            "/v1/orgs/{id}": {
                "get": {"summary": "Read an org", "parameters": [id_param("org id")], "responses": ok("200", r("Org"), &["401", "404"])},
                "patch": {"summary": "Update an org (admin; JSON merge patch)", "parameters": [id_param("org id"), if_match.clone(), change_ref.clone()],
                          "requestBody": body(json!({"type": "object", "properties": org_fields, "additionalProperties": false}), "application/merge-patch+json"),
                          "responses": ok("200", r("Org"), &["400", "401", "403", "404", "409", "412", "413", "415", "422"])},
                "delete": {"summary": "Offboard an org and revoke its clients (admin)", "parameters": [id_param("org id"), change_ref.clone()], "responses": ok("200", r("Org"), &["401", "403", "404"])}
            },
            "/v1/clients": {
                "post": {"summary": "Create a client; the response carries client_secret once", "parameters": [h("Idempotency-Key", "see /v1/orgs"), change_ref.clone()],
                         "requestBody": body(json!({"type": "object", "properties": client_create_fields, "required": ["org_id", "name", "purpose", "owner", "scopes"], "additionalProperties": false}), "application/json"),
                         "responses": ok("201", r("Client"), &["400", "401", "403", "404", "409", "413", "415", "422"])},
                "get": {"summary": "List clients", "parameters": [q("org_id", "org id"), q("status", "active|expired|revoked"), q("expiring_within", "duration such as 720h"), q("limit", "1..1000, default 100"), q("cursor", "next_cursor of the previous page")],
                        "responses": ok("200", page("Client"), &["400", "401", "422"])}
            },
            "/v1/clients/{id}": {
                "get": {"summary": "Read a client", "parameters": [id_param("id or client_id")], "responses": ok("200", r("Client"), &["401", "404"])},
                "patch": {"summary": "Update a client (JSON merge patch); org_id never changes", "parameters": [id_param("id or client_id"), if_match, change_ref.clone()],
                          "requestBody": body(json!({"type": "object", "properties": client_fields, "additionalProperties": false}), "application/merge-patch+json"),
                          "responses": ok("200", r("Client"), &["400", "401", "403", "404", "409", "412", "413", "415", "422"])},
                "delete": {"summary": "Revoke a client: every secret of it stops at once", "parameters": [id_param("id or client_id"), change_ref.clone()], "responses": ok("200", r("Client"), &["401", "403", "404"])}
            },
            "/v1/clients/{id}/rotate": {
                "post": {"summary": "Rotate a client's secret (admin, or an org token for its own org). The previous secret keeps working for grace_period, then stops; at most two secrets are valid at once (a rotation during a grace period drops the oldest). The response carries a server-made client_secret once; a supplied one is never echoed. 409 for a revoked client.",
                         "parameters": [id_param("id or client_id"), if_match_rotate, change_ref],
                         "requestBody": {"required": false, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "properties": {
                             "grace_period": {"type": "string", "default": "24h", "pattern": "^([0-9]+[hms])+$", "description": "how long the previous secret keeps working: h/m/s units, at most 168h, 0s for none"},
                             "client_secret": supplied_secret}}}}},
                         "responses": ok("200", r("Client"), &["400", "401", "403", "404", "409", "412", "413", "422"])}
            },
            "/v1/introspect": {"post": {"summary": "Check a client credential (RFC 7662 style; fails closed)",
                "description": "Any valid API token may introspect. The answer is 200 with the active fields only for exactly this body shape, a matching secret and an active client of an active org. Every other JSON body (a field missing, null or of another type, an unknown field, an array or any non-object) answers 200 with exactly {\"active\":false}, as a wrong secret does. Other statuses only where the request is not an introspection at all: 401 for a missing or bad API token, 413 for a body over 64 KiB, 400 for a body that is not JSON.",
                "requestBody": body(json!({"oneOf": [
                    {"type": "object", "properties": {"client_id": {"type": "string"}, "client_secret": {"type": "string"}}, "required": ["client_id", "client_secret"], "additionalProperties": false},
                    {"type": "object", "description": "RFC 7523 client authentication of a private_key_jwt client: a JWT signed with one of its keys (its jwks, or the key set fetched from its jwks_uri; RS256 or ES256; kid, when given, selects the key), with iss = sub = client_id, aud naming the registry's audience (serve --assertion-audience; without one no assertion is active), exp in the future and at most 300 s ahead, and a jti never used before with this client_id (used jtis are kept in the database until their exp, so every replica and a restarted registry refuse a replay). Anything else answers {\"active\":false}; a registry that cannot check the jti (its database failing) answers 503 with Retry-After, never active.",
                     "properties": {"client_id": {"type": "string"}, "client_assertion_type": {"const": partner_rules::keys::ASSERTION_TYPE}, "client_assertion": {"type": "string"}}, "required": ["client_id", "client_assertion_type", "client_assertion"], "additionalProperties": false}]}), "application/json"),
                "responses": ok("200", r("Introspection"), &["400", "401", "413", "503"])}},
            "/v1/audit": {"get": {"summary": "Read the audit trail (reviewer, admin)", "parameters": [q("after", "sequence number to start after"), q("limit", "1..1000, default 100")],
                "responses": ok("200", page("AuditEvent"), &["400", "401", "403", "422"])}},
            "/v1/reviews": {"get": {"summary": "The entitlement review (reviewer, admin): what a periodic access review must look at. The CLI `partner-registry review --format json` prints the same document.",
                "parameters": [q("within", "expiry window, a duration; default 720h"), q("rotation_age", "secret age threshold, a duration; default 2160h (90 days)"), q("unused_for", "unused threshold, a duration; default 720h (30 days)")],
                "responses": ok("200", r("Review"), &["400", "401", "403", "422"])}},
            "/v1/reviews/campaigns": {
                "post": {"summary": "Open an access review campaign over every live client of an org (admin); audited as review.open on the org. The registry also opens one by itself when an org's contract is renewed or extended, or its allowed scopes widen.", "parameters": [change_ref.clone()],
                         "requestBody": body(json!({"type": "object", "additionalProperties": false, "required": ["org_id"], "properties": {
                             "org_id": {"type": "string"},
                             "due_date": {"type": "string", "format": "date", "description": format!("the campaign is due at the end of this day (UTC, the registry's clock): from today to {} days ahead; default {} days ahead", crate::campaigns::MAX_DUE_DAYS, crate::campaigns::DEFAULT_DUE_DAYS)},
                             "note": {"type": "string", "maxLength": crate::campaigns::MAX_TEXT_CHARS}}}), "application/json"),
                         "responses": ok("201", r("Campaign"), &["400", "401", "403", "413", "415", "422"])},
                "get": {"summary": "List access review campaigns, newest first; an org token sees its own org's only", "parameters": [q("org_id", "org id"), q("status", "open|overdue|complete, at the registry's current time")],
                        "responses": ok("200", json!({"type": "object", "properties": {"items": {"type": "array", "items": r("Campaign")}}, "required": ["items"]}), &["400", "401", "422"])}
            },
            "/v1/reviews/campaigns/{id}": {
                "get": {"summary": "Read an access review campaign and its clients' decisions", "parameters": [id_param("campaign id")], "responses": ok("200", r("Campaign"), &["401", "404"])}
            },
            "/v1/reviews/campaigns/{id}/decisions": {
                "post": {"summary": "Decide one client of a campaign (reviewer, admin, or an approver token bound to the org's approval_authority): keep it (a comment saying why is required) or revoke it (revoked at once, in the same transaction). Audited as review.keep or review.revoke on the client. A kept client that was suspended introspects active again at once. 409 for a client already decided.",
                         "parameters": [id_param("campaign id"), change_ref.clone()],
                         "requestBody": body(json!({"type": "object", "additionalProperties": false, "required": ["client_id", "decision"], "properties": {
                             "client_id": {"type": "string", "description": "the client's client_id or record id"},
                             "decision": {"type": "string", "enum": ["keep", "revoke"]},
                             "comment": {"type": "string", "maxLength": crate::campaigns::MAX_TEXT_CHARS, "description": "required for keep"}}}), "application/json"),
                         "responses": ok("200", r("Campaign"), &["400", "401", "403", "404", "409", "413", "415", "422"])}
            },
            "/v1/tokens": {
                "post": {"summary": "Create an API token (admin); the answer carries the token once", "parameters": [change_ref.clone()],
                         "description": "The answer's token is the only copy: the registry keeps a keyed hash of it. Audited as token.create (without the token); created_by is the calling token's name. A live token of the same name answers 409.",
                         "requestBody": body(json!({"type": "object", "additionalProperties": false, "required": ["name", "role"], "properties": {
                             "name": {"type": "string", "maxLength": 100},
                             "role": {"type": "string", "enum": ["admin", "reviewer", "org", "approver"]},
                             "org": {"type": "string", "description": "the id of a live org; required for, and only for, role org"},
                             "email": {"type": "string", "format": "email", "description": "the person who approves with it; required for, and only for, role approver (read-only like reviewer, plus POST /v1/approvals)"},
                             "expires_in": {"type": "string", "pattern": "^([0-9]+[hms])+$", "description": format!("how long it works from its creation; {}. Leave out expires_in and expires_at for a token that works until revoked", crate::requests::TOKEN_LIFETIME_RULE)},
                             "expires_at": {"type": "string", "format": "date-time", "description": "when it stops working, instead of expires_in: after the registry's current time, at most 87600h ahead"}}}), "application/json"),
                         "responses": ok("201", r("Token"), &["400", "401", "403", "409", "413", "415", "422"])},
                "get": {"summary": "List API tokens, live and revoked, with their status (admin); never the tokens themselves. `partner-registry token list --format json` prints the same document.",
                        "responses": ok("200", json!({"type": "object", "properties": {"items": {"type": "array", "items": r("Token")}}, "required": ["items"]}), &["400", "401", "403"])}
            },
            "/v1/tokens/{name}": {
                "delete": {"summary": "Revoke the live API token with this name (admin): it stops authenticating at once. Audited as token.revoke.",
                           "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}, "description": "the token's name, percent-encoded"}, change_ref.clone()],
                           "responses": ok("200", r("Token"), &["400", "401", "403", "404"])}
            },
            "/v1/clock": {"put": {"summary": "Set the fake clock (admin; only with serve --fake-clock, 404 otherwise); audited as clock.set with the time before and after", "parameters": [h("X-Change-Ref", "recorded in the audit event")],
                "requestBody": body(json!({"type": "object", "properties": {"now": {"type": "string", "format": "date-time"}}, "required": ["now"]}), "application/json"),
                "responses": ok("200", json!({"type": "object", "properties": {"now": {"type": "string"}}}), &["401", "403", "404", "422"])}}
        },
        "components": {
            "securitySchemes": {"console_session": {"type": "apiKey", "in": "cookie", "name": "pr_session", "description": "the review console's session, set by POST /ui/login"}, "bearer": {"type": "http", "scheme": "bearer", "description": "prt_… token from `partner-registry token create` or POST /v1/tokens; an expired token, a revoked one and one of an offboarded org answer 401"}},
            "schemas": {
                "Org": {"type": "object", "properties": org_props},
                "Client": {"type": "object", "properties": client_props},
                "Token": {"type": "object", "properties": token_props},
                "Introspection": {"type": "object", "description": "RFC 7662 fields, plus what a gateway needs for per-org policy and quota. No token_type: what is introspected is a client's credential, not an access token.",
                    "properties": {
                        "active": {"type": "boolean"},
                        "client_id": {"type": "string"},
                        "sub": {"type": "string", "description": "the client_id: the client is its own subject"},
                        "scope": {"type": "string", "description": "space-separated scopes"},
                        "exp": {"type": "integer", "description": "unix seconds: the client's expiry or its org's contract end, whichever is first"},
                        "iat": {"type": "integer", "description": "unix seconds: when the credential presented was issued (the secret's creation or rotation)"},
                        "org_id": {"type": "string", "description": "the org the client belongs to, whose contract, scopes and approval authority apply"},
                        "org_name": {"type": "string"},
                        "contract_end": {"type": "string", "format": "date", "description": "the last day of the org's contract"},
                        "operated_by": {"type": ["string", "null"], "description": "the id of the intermediary org (reseller, MSP, marketplace) that operates the client for its org; null when the org operates it itself"}},
                    "required": ["active"]},
                "AuditEvent": {"type": "object", "properties": {"seq": {"type": "integer"}, "at": {"type": "string", "format": "date-time"}, "actor": {"type": "string"}, "action": {"type": "string"}, "entity_kind": {"type": "string"}, "entity_id": {"type": "string"}, "org_id": {"type": ["string", "null"]}, "before": {"type": ["object", "null"]}, "after": {"type": ["object", "null"]}, "request_id": {"type": "string"}, "change_ref": {"type": ["string", "null"]}, "prev_hash": {"type": "string", "description": "hash of the event before (64 zeros for the first)"}, "hash": {"type": "string", "description": "hex HMAC-SHA256, under a key derived from the server key (kept outside the database), of the event's canonical form including seq and prev_hash; `partner-registry audit verify` checks the chain with that key and against the head file <db>.audit-head"}}},
                "Review": review_schema,
                "Campaign": campaign_schema,
                "Approval": approval_schema,
                "BlastRadius": blast_radius_schema,
                "Problem": {"type": "object", "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"},
                    "errors": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}}}}
            }
        }
    });
    if let Some(paths) = doc["paths"].as_object_mut() {
        for more in [governance_paths, ui_paths()] {
            if let Value::Object(more) = more {
                paths.extend(more);
            }
        }
    }
    doc
}
