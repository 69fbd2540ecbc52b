//! A JSON Web Key Set served over plain HTTP on 127.0.0.1 by the test itself
//! (a `std` listener on a thread of its own), standing for a partner's
//! `jwks_uri`: the test changes what it serves, makes it fail, and counts
//! how often the registry fetched it.

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// What the server answers: a status, a body and an optional
/// `Cache-Control` value.
#[derive(Clone)]
struct Answer {
    status: u16,
    body: String,
    cache_control: Option<String>,
}

/// The server; stops when dropped.
pub struct JwksServer {
    /// `http://127.0.0.1:PORT/jwks.json`.
    pub url: String,
    answer: Arc<Mutex<Answer>>,
    hits: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    addr: std::net::SocketAddr,
}

impl JwksServer {
    /// Serves `jwks` (a key set) from now on.
    pub fn start(jwks: &Value) -> JwksServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port on 127.0.0.1");
        let addr = listener.local_addr().expect("its address");
        let answer = Arc::new(Mutex::new(Answer {
            status: 200,
            body: jwks.to_string(),
            cache_control: None,
        }));
        let (hits, stop) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (a, h, s) = (answer.clone(), hits.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    h.fetch_add(1, Ordering::SeqCst);
                    let answer = a.lock().unwrap().clone();
                    serve(conn, &answer);
                }
            }
        });
        JwksServer {
            url: format!("http://{addr}/jwks.json"),
            answer,
            hits,
            stop,
            addr,
        }
    }

    /// Serves `jwks` with 200 from now on.
    pub fn serve(&self, jwks: &Value) {
        let mut a = self.answer.lock().unwrap();
        a.status = 200;
        a.body = jwks.to_string();
    }

    /// Answers `status` with an empty body from now on.
    pub fn fail_with(&self, status: u16) {
        let mut a = self.answer.lock().unwrap();
        a.status = status;
        a.body = String::new();
    }

    /// Sends this `Cache-Control` value from now on.
    pub fn cache_control(&self, value: &str) {
        self.answer.lock().unwrap().cache_control = Some(value.to_string());
    }

    /// Requests answered so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Reads one request head and answers it, closing the connection.
fn serve(mut conn: TcpStream, answer: &Answer) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        match conn.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let cache = answer
        .cache_control
        .as_deref()
        .map(|v| format!("Cache-Control: {v}\r\n"))
        .unwrap_or_default();
    let reply = format!(
        "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{cache}Connection: close\r\n\r\n{}",
        answer.status,
        answer.body.len(),
        answer.body
    );
    let _ = conn.write_all(reply.as_bytes());
}
