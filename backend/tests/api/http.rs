//! The HTTP conventions every route keeps: problem+json for bad input (never a 5xx), headers that do not parse, bodies too large, 405/415/409, Idempotency-Key, the `Date` header from the registry's clock, and the OpenAPI document.

use crate::helpers::*;
use serde_json::{Value, json};

/// Every answer carries `Date` from the registry's clock, once, in IMF-fixdate form.
#[tokio::test]
async fn date_header_comes_from_the_registry_clock_on_every_answer() {
    let app = TestApp::spawn().await;
    let client = app
        .create_client_in_new_org("dated", "shop", &["orders:read"])
        .await;
    let big = json!({"name": "x".repeat(70 * 1024)});
    for (now, want) in [
        (START, "Fri, 01 Jan 2027 00:00:00 GMT"),
        ("2026-11-29T08:10:00Z", "Sun, 29 Nov 2026 08:10:00 GMT"),
        ("2027-03-05T23:59:59+01:00", "Fri, 05 Mar 2027 22:59:59 GMT"),
    ] {
        app.set_time(now);
        let answers = [
            app.send("GET", "/healthz", None, None, &[]).await,
            app.send("GET", "/v1/openapi.json", None, None, &[]).await,
            app.send("GET", "/v1/nope", None, None, &[]).await,
            app.send("DELETE", "/healthz", None, None, &[]).await,
            app.send("GET", "/v1/orgs", None, None, &[]).await,
            app.get("/v1/orgs", &app.admin).await,
            app.get("/v1/orgs?limit=0", &app.admin).await,
            app.post("/v1/orgs", &app.admin, big.clone()).await,
            app.introspect(
                &app.admin,
                client["client_id"].as_str().unwrap(),
                "pcs_wrong",
            )
            .await,
            app.send(
                "PUT",
                "/v1/clock",
                Some(&app.admin),
                Some(json!({"now": now})),
                &[],
            )
            .await,
        ];
        let statuses: Vec<u16> = answers.iter().map(|r| r.status.as_u16()).collect();
        assert_eq!(statuses, [200, 200, 404, 405, 401, 200, 422, 413, 200, 200]);
        for r in &answers {
            let dates: Vec<_> = r.headers.get_all("date").iter().collect();
            assert_eq!(dates, [want], "{} {}", r.status, r.text);
        }
    }
    app.shutdown().await;
}

#[tokio::test]
async fn bad_input_never_5xx() {
    let app = TestApp::spawn().await;
    let big = "x".repeat(70 * 1024);
    let r = app.post_raw("/v1/orgs", big).await;
    assert_eq!(r.status().as_u16(), 413);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    for body in ["", "{", "[]", "null", "42", "\"s\"", "{\"name\":", "\u{0}"] {
        for path in ["/v1/orgs", "/v1/clients", "/v1/introspect"] {
            let r = app.post_raw(path, body.to_string()).await;
            // Introspection answers any JSON with {"active":false}; only non-JSON is a 400.
            let json = serde_json::from_str::<Value>(body).is_ok();
            let want = if path == "/v1/introspect" && json {
                200
            } else {
                400
            };
            assert_eq!(r.status().as_u16(), want, "{path} {body:?}");
        }
    }
    for (m, p, want) in [
        ("GET", "/nope", 404),
        ("PUT", "/v1/orgs", 405),
        ("GET", "/v1/orgs/a/b", 404),
        ("POST", "/healthz", 405),
        ("DELETE", "/v1/orgs", 405),
    ] {
        app.send(m, p, Some(&app.admin), None, &[])
            .await
            .expect(want);
    }
    app.patch("/v1/orgs/nope", &app.admin, json!({"name": 1}))
        .await
        .expect(404);
    app.get("/v1/clients?expiring_within=soon", &app.admin)
        .await
        .expect(422);
    app.get("/v1/audit?after=-3", &app.admin).await.expect(422);
    app.shutdown().await;
}

#[tokio::test]
async fn idempotency_key_replays_and_conflicts() {
    let app = TestApp::spawn().await;
    let key = [("idempotency-key", "k-1")];
    let a = app.post_with("/v1/orgs", org_body("acme"), &key).await;
    a.expect(201);
    let b = app.post_with("/v1/orgs", org_body("acme"), &key).await;
    assert_eq!(b.expect(201), &a.body);
    assert_eq!(b.header("location"), a.header("location"));
    assert_eq!(b.header("idempotent-replayed"), "true");
    assert_eq!(
        app.get("/v1/orgs", &app.admin).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = app.post_with("/v1/orgs", org_body("other"), &key).await;
    r.expect(422);
    assert_eq!(r.error_fields(), vec!["Idempotency-Key"]);

    let oid = a.body["id"].as_str().unwrap();
    let ck = [("idempotency-key", "c-1")];
    let c1 = app
        .post_with("/v1/clients", client_body(oid, "shop", &[]), &ck)
        .await;
    c1.expect(201);
    let secret = c1.body["client_secret"].as_str().unwrap().to_string();
    let c2 = app
        .post_with("/v1/clients", client_body(oid, "shop", &[]), &ck)
        .await;
    c2.expect(201);
    assert!(
        c2.body.get("client_secret").is_none(),
        "a replay must not return the secret: {}",
        c2.text
    );
    let mut without = c1.body.clone();
    without.as_object_mut().unwrap().remove("client_secret");
    assert_eq!(c2.body, without);
    assert!(!c2.text.contains(&secret));
    assert_eq!(
        app.get("/v1/clients", &app.admin).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // The original secret still works.
    assert_eq!(
        app.introspect(&app.admin, c1.body["client_id"].as_str().unwrap(), &secret)
            .await
            .body["active"],
        true
    );
    app.shutdown().await;
}

/// The OpenAPI document the registry serves, unauthenticated.
async fn openapi(app: &TestApp) -> Value {
    app.send("GET", "/v1/openapi.json", None, None, &[])
        .await
        .expect(200)
        .clone()
}

#[tokio::test]
async fn openapi_describes_every_route() {
    let app = TestApp::spawn().await;
    let doc = openapi(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let mut documented = 0;
    for (path, ops) in paths {
        documented += ops.as_object().unwrap().len();
        let _ = path;
    }
    assert_eq!(
        documented,
        partner_registry::filters::ROUTES.len(),
        "documented operations vs routes"
    );
    for (method, path) in partner_registry::filters::ROUTES {
        assert!(
            doc["paths"][path][method.to_lowercase()].is_object(),
            "{method} {path} missing from the OpenAPI document"
        );
        // And the server really has it (not the unknown-route 404).
        let concrete = path.replace("{id}", "zzz");
        let r = if path.starts_with("/ui/") {
            app.page(method, &concrete).await
        } else {
            app.send(method, &concrete, Some(&app.admin), Some(json!({})), &[])
                .await
        };
        assert!(
            r.body["detail"] != "no such route",
            "{method} {path} is documented but not served"
        );
    }
    app.shutdown().await;
}

/// The OpenAPI document's schemas are the API's types (`partner-api`): what
/// the registry serves reads into `OrgView` and `ClientView` and back without
/// losing or adding a field, the documented properties are those fields, each
/// request body documents exactly the fields the registry accepts, and the
/// documented statuses are the types' statuses.
#[tokio::test]
async fn openapi_schemas_are_the_api_types() {
    use partner_api::{ClientStatus, ClientView, OrgStatus, OrgView};
    use std::collections::BTreeSet;
    let app = TestApp::spawn().await;
    let doc = openapi(&app).await;
    let org = app.create_org("typed").await;
    let client = app
        .create_client(org["id"].as_str().unwrap(), "typed", &["orders:read"])
        .await;
    assert!(client["client_secret"].is_string(), "{client}");
    let org_view: OrgView = serde_json::from_value(org.clone()).unwrap();
    assert_eq!(serde_json::to_value(&org_view).unwrap(), org);
    let client_view: ClientView = serde_json::from_value(client.clone()).unwrap();
    assert_eq!(serde_json::to_value(&client_view).unwrap(), client);

    let keys = |v: &Value| -> BTreeSet<String> {
        v.as_object()
            .unwrap_or_else(|| panic!("not an object: {v}"))
            .keys()
            .cloned()
            .collect()
    };
    let names =
        |list: &[&str]| -> BTreeSet<String> { list.iter().map(|s| s.to_string()).collect() };
    let schemas = &doc["components"]["schemas"];
    assert_eq!(keys(&schemas["Org"]["properties"]), keys(&org));
    assert_eq!(keys(&schemas["Client"]["properties"]), keys(&client));
    let body = |path: &str, method: &str, media: &str| {
        keys(&doc["paths"][path][method]["requestBody"]["content"][media]["schema"]["properties"])
    };
    for (path, method, media, fields) in [
        (
            "/v1/orgs",
            "post",
            "application/json",
            partner_api::ORG_CREATE_FIELDS,
        ),
        (
            "/v1/orgs/{id}",
            "patch",
            "application/merge-patch+json",
            partner_api::ORG_FIELDS,
        ),
        (
            "/v1/clients",
            "post",
            "application/json",
            partner_api::CLIENT_CREATE_FIELDS,
        ),
        (
            "/v1/clients/{id}",
            "patch",
            "application/merge-patch+json",
            partner_api::CLIENT_PATCH_FIELDS,
        ),
    ] {
        assert_eq!(body(path, method, media), names(fields), "{method} {path}");
    }
    let statuses = |schema: &str| -> Vec<String> {
        serde_json::from_value(schemas[schema]["properties"]["status"]["enum"].clone()).unwrap()
    };
    let spelled = |all: Vec<&str>| -> Vec<String> { all.into_iter().map(String::from).collect() };
    assert_eq!(
        statuses("Org"),
        spelled(OrgStatus::ALL.iter().map(|s| s.as_str()).collect())
    );
    assert_eq!(
        statuses("Client"),
        spelled(ClientStatus::ALL.iter().map(|s| s.as_str()).collect())
    );
    app.shutdown().await;
}

/// One request written on a raw TCP socket, as a client library would refuse
/// to send it; the answer's status, head and body.
async fn raw_request(app: &TestApp, head: &[u8], body: &[u8]) -> (u16, String, String) {
    let addr = app.url.trim_start_matches("http://");
    let mut request = head.to_vec();
    request.extend_from_slice(
        format!(
            "Host: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    request.extend_from_slice(body);
    let answers = raw_exchange(app, &request).await;
    let (status, head, body) = answers.into_iter().next().unwrap_or_default();
    (status, head, body)
}

/// `bytes` written as they are on one connection, read until the server
/// closes it: every answer on it (status, lower-cased head, body), in order.
async fn raw_exchange(app: &TestApp, bytes: &[u8]) -> Vec<(u16, String, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let mut rest = String::from_utf8_lossy(&answer).to_string();
    let mut answers = Vec::new();
    while let Some((head, after)) = rest.split_once("\r\n\r\n") {
        let head = head.to_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(after.len());
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let (body, after) = after.split_at(length.min(after.len()));
        answers.push((status, head, body.to_string()));
        rest = after.to_string();
    }
    answers
}

/// Requests hyper itself would refuse with a bare 400 are answered in
/// problem+json saying what is wrong, after every answer owed before them on
/// the connection; well-framed requests (chunked ones too) are served.
#[tokio::test]
async fn requests_that_are_not_http_get_a_problem_naming_the_fault() {
    let app = TestApp::spawn().await;
    let auth = format!("Authorization: Bearer {}\r\n", app.admin);
    let get = |target: &str| format!("GET {target} HTTP/1.1\r\nHost: x\r\n{auth}\r\n");
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (
            format!("GET /v1/orgs?name=a b HTTP/1.1\r\nHost: x\r\n{auth}\r\n").into_bytes(),
            400,
            "percent-encode a space",
        ),
        (
            format!(
                "POST /v1/orgs HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 2\r\nContent-Length: 2\r\n\r\n{{}}"
            )
            .into_bytes(),
            400,
            "more than one Content-Length",
        ),
        (
            format!(
                "POST /v1/orgs HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{{}}"
            )
            .into_bytes(),
            400,
            "both Transfer-Encoding and Content-Length",
        ),
        (
            format!(
                "GET /v1/orgs HTTP/1.1\r\nHost: x\r\n{auth}{}\r\n",
                (0..100).map(|i| format!("X-Field-{i}: {i}\r\n")).collect::<String>()
            )
            .into_bytes(),
            431,
            "more than 100 header fields",
        ),
        (
            format!(
                "GET /v1/orgs HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
                "b".repeat(70 * 1024)
            )
            .into_bytes(),
            431,
            "larger than 64 KiB",
        ),
        (
            b"GET /v1/orgs HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n".to_vec(),
            400,
            "header field name",
        ),
    ];
    for (request, status, says) in cases {
        let answers = raw_exchange(&app, &request).await;
        let [(got, head, body)] = answers.as_slice() else {
            panic!("one answer expected for {says:?}, got {answers:?}");
        };
        assert_eq!(*got, status, "{says}: {head}\n{body}");
        assert!(
            head.contains("content-type: application/problem+json"),
            "{head}"
        );
        assert!(head.contains("date: "), "{head}");
        let problem: Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["status"], status);
        assert!(
            problem["detail"].as_str().unwrap().contains(says),
            "{says}: {problem}"
        );
    }

    // On one connection: a good request, a chunked create, another good
    // request, then a broken one: three answers in order, then the problem.
    let create = serde_json::to_vec(&org_body("chunked")).unwrap();
    let (first, second) = create.split_at(10);
    let mut pipelined = get("/v1/orgs").into_bytes();
    pipelined.extend_from_slice(
        format!(
            "POST /v1/orgs HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x};note=split\r\n",
            first.len()
        )
        .as_bytes(),
    );
    pipelined.extend_from_slice(first);
    pipelined.extend_from_slice(format!("\r\n{:x}\r\n", second.len()).as_bytes());
    pipelined.extend_from_slice(second);
    pipelined.extend_from_slice(b"\r\n0\r\nX-Trailer: t\r\n\r\n");
    pipelined.extend_from_slice(get("/v1/orgs").as_bytes());
    pipelined.extend_from_slice(get("/v1/orgs x").as_bytes());
    let answers = raw_exchange(&app, &pipelined).await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
    assert_eq!(statuses, [200, 201, 200, 400], "{answers:?}");
    assert!(answers[2].2.contains("\"chunked\""), "{}", answers[2].2);
    assert!(answers[3].1.contains("application/problem+json"));
}

#[tokio::test]
async fn headers_that_do_not_parse_are_refused_naming_them() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let id = org["id"].as_str().unwrap().to_string();
    let auth = format!("Authorization: Bearer {}\r\n", app.admin);
    let patch = br#"{"tenant":"changed"}"#;

    let with = |line: &[u8]| {
        let mut head = format!("PATCH /v1/orgs/{id} HTTP/1.1\r\n{auth}").into_bytes();
        head.extend_from_slice(line);
        head.extend_from_slice(b"\r\n");
        head
    };
    for (line, header) in [
        (&b"If-Match: \"1\"\xff"[..], "If-Match"),
        (&b"X-Change-Ref: PR \xc3\xa9"[..], "X-Change-Ref"),
        (
            format!("X-Change-Ref: {}", "r".repeat(1001)).as_bytes(),
            "X-Change-Ref",
        ),
    ] {
        let (status, head, body) = raw_request(&app, &with(line), patch).await;
        assert_eq!(status, 400, "{header}: {head}\n{body}");
        assert!(head.contains("application/problem+json"), "{head}");
        assert!(body.contains(header), "{body}");
    }
    let now = app.get(&format!("/v1/orgs/{id}"), &app.admin).await;
    assert_eq!(
        now.expect(200)["tenant"],
        Value::Null,
        "the update went through"
    );

    // A weak tag never matches (strong comparison).
    app.send(
        "PATCH",
        &format!("/v1/orgs/{id}"),
        Some(&app.admin),
        Some(json!({"tenant": "x"})),
        &[("If-Match", "W/\"1\"")],
    )
    .await
    .expect(412);

    // Idempotency-Key: not ASCII, or too long.
    let create = serde_json::to_vec(&org_body("globex")).unwrap();
    for line in [
        b"Idempotency-Key: k\xe9y".to_vec(),
        format!("Idempotency-Key: {}", "k".repeat(256)).into_bytes(),
    ] {
        let mut head = format!("POST /v1/orgs HTTP/1.1\r\n{auth}").into_bytes();
        head.extend_from_slice(&line);
        head.extend_from_slice(b"\r\n");
        let (status, head, body) = raw_request(&app, &head, &create).await;
        assert_eq!(status, 400, "{head}\n{body}");
        assert!(body.contains("Idempotency-Key"), "{body}");
    }
    let orgs = app.get("/v1/orgs", &app.admin).await;
    assert_eq!(orgs.expect(200)["items"].as_array().unwrap().len(), 1);

    // A non-ASCII Authorization is a bad credential: 401 problem+json.
    let (status, head, body) = raw_request(
        &app,
        b"GET /v1/orgs HTTP/1.1\r\nAuthorization: Bearer prt_\xff\xfe\r\n",
        b"",
    )
    .await;
    assert_eq!(status, 401, "{head}\n{body}");
    assert!(head.contains("application/problem+json"), "{head}");
}

/// A body over the limit names the field that makes it so large, down to a
/// label or a list item; one too large to look at is refused unread.
#[tokio::test]
async fn a_body_too_large_names_the_field_that_makes_it_so() {
    let app = TestApp::spawn().await;
    let mut scopes: Vec<String> = (0..10).map(|i| format!("s{i}:read")).collect();
    scopes[3] = format!("{}:read", "w".repeat(70 * 1024));
    for (field, value) in [
        ("purpose", json!("p".repeat(70 * 1024))),
        (
            "labels",
            json!({"team": "t".repeat(70 * 1024), "env": "prod"}),
        ),
        ("allowed_scopes", json!(scopes)),
    ] {
        let mut body = org_body("acme");
        body[field] = value;
        let r = app.post("/v1/orgs", &app.admin, body).await;
        r.expect(413);
        let detail = r.body["detail"].as_str().unwrap();
        let named = match field {
            "labels" => "`labels.team`",
            "allowed_scopes" => "`allowed_scopes[3]`",
            _ => "`purpose`",
        };
        assert!(detail.contains(named), "{field}: {detail}");
    }
    let r = app
        .post(
            "/v1/orgs",
            &app.admin,
            json!({"purpose": "p".repeat(2 << 20)}),
        )
        .await;
    r.expect(413);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("at most 65536 bytes"),
        "{}",
        r.body
    );
    let orgs = app.get("/v1/orgs", &app.admin).await;
    assert_eq!(orgs.expect(200)["items"], json!([]));
}

#[tokio::test]
async fn the_http_conventions_405_415_and_409() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let oid = org["id"].as_str().unwrap();

    // A known route asked with a method it lacks: 405 naming what it has.
    let r = app
        .send(
            "PUT",
            &format!("/v1/orgs/{oid}"),
            Some(&app.admin),
            None,
            &[],
        )
        .await;
    r.expect(405);
    assert_eq!(r.header("allow"), "GET, PATCH, DELETE");
    assert_eq!(r.header("content-type"), "application/problem+json");
    let r = app
        .send("DELETE", "/v1/orgs", Some(&app.admin), None, &[])
        .await;
    r.expect(405);
    assert_eq!(r.header("allow"), "POST, GET");
    app.send("GET", "/v1/nothing", Some(&app.admin), None, &[])
        .await
        .expect(404);

    // A body that is not JSON by its media type: 415.
    let r = app
        .http
        .post(format!("{}/v1/orgs", app.url))
        .bearer_auth(&app.admin)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=acme")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    assert_eq!(r.headers()["content-type"], "application/problem+json");

    // A client name another live client of the org holds: 409, errors[] kept;
    // together with a malformed field it stays 422.
    app.create_client(oid, "sync", &[]).await;
    let r = app
        .post("/v1/clients", &app.admin, client_body(oid, "sync", &[]))
        .await;
    r.expect(409);
    assert_eq!(r.error_fields(), vec!["name"]);
    let mut both = client_body(oid, "sync", &[]);
    both["owner"] = json!("nobody");
    let r = app.post("/v1/clients", &app.admin, both).await;
    r.expect(422);
}

#[tokio::test]
async fn new_routes_refuse_bad_input_without_5xx() {
    let app = TestApp::spawn().await;
    let c = app.create_client_in_new_org("acme", "shop", &[]).await;
    let path = format!("/v1/clients/{}/rotate", c["id"].as_str().unwrap());
    for body in ["{", "[]", "null", "42", "\"s\"", "\u{0}"] {
        let r = app.post_raw(&path, body.to_string()).await;
        assert_eq!(r.status().as_u16(), 400, "{body:?}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    let r = app.post_raw(&path, "x".repeat(70 * 1024)).await;
    assert_eq!(r.status().as_u16(), 413);
    app.send("POST", &path, None, Some(json!({})), &[])
        .await
        .expect(401);
    app.send("GET", &path, Some(&app.admin), None, &[])
        .await
        .expect(405);
    app.send("GET", "/v1/reviews", None, None, &[])
        .await
        .expect(401);
    app.send(
        "POST",
        "/v1/reviews",
        Some(&app.admin),
        Some(json!({})),
        &[],
    )
    .await
    .expect(405);
    // Nothing above rotated the secret.
    let got = app
        .get(
            &format!("/v1/clients/{}", c["id"].as_str().unwrap()),
            &app.admin,
        )
        .await;
    assert_eq!(got.expect(200)["version"], 1);
    app.shutdown().await;
}
