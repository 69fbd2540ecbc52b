//! Connections: slow and idle clients are cut off after their timeouts,
//! the connection limit holds, and the API keeps answering meanwhile.

use crate::helpers::*;
use partner_registry::server::Limits;
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn short_limits(max_connections: usize) -> Limits {
    Limits {
        header_timeout: Duration::from_millis(600),
        body_timeout: Duration::from_millis(600),
        idle_timeout: Duration::from_millis(600),
        max_connections,
    }
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.url.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Everything the server sends until it closes the connection; a server
/// that keeps it open fails the test (after far longer than any timeout).
async fn read_until_closed(stream: &mut TcpStream, what: &str) -> String {
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer))
        .await
        .unwrap_or_else(|_| panic!("the server keeps {what} open"))
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn stalled_clients_are_cut_off_while_the_api_keeps_answering() {
    let app = TestApp::spawn_with_limits(short_limits(64)).await;
    let client = app.create_client_in_new_org("acme", "shop", &[]).await;
    let (cid, secret) = (
        client["client_id"].as_str().unwrap().to_string(),
        client["client_secret"].as_str().unwrap().to_string(),
    );

    let mut partial_heads = Vec::new();
    let mut short_bodies = Vec::new();
    let mut idle = Vec::new();
    for _ in 0..10 {
        let mut s = connect(&app).await;
        s.write_all(b"GET /v1/orgs HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        partial_heads.push(s);
        let mut s = connect(&app).await;
        let head = format!(
            "POST /v1/orgs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\"",
            app.admin
        );
        s.write_all(head.as_bytes()).await.unwrap();
        short_bodies.push(s);
        idle.push(connect(&app).await);
    }
    // A keep-alive connection after a complete request is idle too.
    let mut kept = connect(&app).await;
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();

    // Meanwhile the API answers everyone else.
    app.get("/healthz", &app.admin).await.expect(200);
    let r = app.introspect(&app.admin, &cid, &secret).await;
    assert_eq!(r.expect(200)["active"], true);

    for mut s in partial_heads {
        let answer = read_until_closed(&mut s, "a partial head").await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("application/problem+json"), "{answer}");
        assert!(answer.contains("did not arrive within 0.6 s"), "{answer}");
    }
    for mut s in short_bodies {
        // The create never happens: the body did not come.
        read_until_closed(&mut s, "a short body").await;
    }
    for mut s in idle {
        let answer = read_until_closed(&mut s, "an idle connection").await;
        assert_eq!(answer, "", "an idle connection is closed silently");
    }
    let answer = read_until_closed(&mut kept, "a kept-alive connection").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(answer.matches("HTTP/1.1").count(), 1, "{answer}");

    // On a new connection: the client's pooled one was idle too long and is closed.
    let orgs: Value = reqwest::Client::new()
        .get(format!("{}/v1/orgs", app.url))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(orgs["items"].as_array().unwrap().len(), 1, "{orgs}");
}

#[tokio::test]
async fn a_connection_over_the_limit_is_answered_503_and_the_slot_comes_back() {
    let app = TestApp::spawn_with_limits(short_limits(2)).await;
    let held = [connect(&app).await, connect(&app).await];
    let mut third = connect(&app).await;
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut third, "a connection over the limit").await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("retry-after: 1"), "{answer}");
    assert!(answer.contains("maximum of 2 connections"), "{answer}");
    // Once the idle ones are cut off, their slots serve again.
    for mut s in held {
        read_until_closed(&mut s, "an idle connection").await;
    }
    app.get("/healthz", &app.admin).await.expect(200);
}

/// HEAD answers on every GET route, with the GET's status and headers and
/// no body.
#[tokio::test]
async fn head_answers_on_every_get_route_without_a_body() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let oid = org["id"].as_str().unwrap();
    for path in [
        "/healthz",
        "/v1/orgs",
        &format!("/v1/orgs/{oid}"),
        "/v1/whoami",
    ] {
        let mut s = connect(&app).await;
        let head = format!(
            "HEAD {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            app.admin
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let answer = read_until_closed(&mut s, "a HEAD request").await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{path}: {answer}");
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert_eq!(body, "", "{path}");
        let get = app.get(path, &app.admin).await;
        let length = serde_json::to_vec(get.expect(200)).unwrap().len();
        assert!(
            head.to_lowercase()
                .contains(&format!("content-length: {length}")),
            "{path}: {head}"
        );
    }
    let r = app.send("HEAD", "/v1/orgs", None, None::<Value>, &[]).await;
    r.expect(401);
}
