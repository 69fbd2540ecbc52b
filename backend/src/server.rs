//! The HTTP/1.1 server: the accept loop, and hyper serving the routes on each
//! connection behind a check of every request's framing.
//!
//! hyper answers a request it cannot parse (a space in the request target, a
//! duplicate `Content-Length`, more than 100 header fields) with a bare `400`
//! and no body. The check in [`Framed`] reads each request head before hyper
//! does, with the same parser (`httparse`) and the same limits, and holds a
//! head that hyper would refuse back from it: hyper finishes the answers it
//! owes, and the connection then gets a problem+json answer that says what is
//! wrong, like every other refusal of this API.

use crate::App;
use crate::error::Error;
use crate::telemetry;
use crate::tls::Tls;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpListener;

/// The most header fields a request may have (hyper's own limit).
pub const MAX_HEADERS: usize = 100;

/// The largest request head (request line and header fields) read.
pub const MAX_HEAD: usize = 64 * 1024;

/// How long a client may take, and how many connections there may be: a
/// slow or stalled client is cut off instead of holding a connection (and
/// a task) forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// From the first byte of a request head to its end; then 408.
    pub header_timeout: Duration,
    /// From the end of a head to the end of the body it declares.
    pub body_timeout: Duration,
    /// How long a keep-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// Connections served at once; one more is answered 503 and closed.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
        }
    }
}

/// Serves `routes` on `listener` (over TLS with `tls`) until `stop`
/// resolves, then finishes the requests in flight and returns. Every
/// address the registry listens on is served here, so that each has the
/// same limits, request ids, log lines and metrics.
pub async fn serve<F>(
    listener: TcpListener,
    routes: F,
    app: App,
    limits: Limits,
    tls: Option<Arc<Tls>>,
    stop: impl Future<Output = ()>,
) where
    F: warp::Filter + Clone + Send + Sync + Unpin + 'static,
    F::Extract: warp::Reply,
{
    let service = warp::service(routes);
    let (closing, _) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let mut stop = std::pin::pin!(stop);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: pause instead of spinning.
                    if !is_connection_error(&e) {
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                    continue;
                }
            },
            () = &mut stop => break,
        };
        while connections.try_join_next().is_some() {}
        let slot = Arc::clone(&slots).try_acquire_owned().ok();
        let service = hyper_util::service::TowerToHyperService::new(service.clone());
        let acceptor = tls.as_ref().map(|tls| tls.acceptor());
        let (app, closing) = (app.clone(), closing.subscribe());
        connections.spawn(async move {
            match acceptor {
                None => serve_stream(stream, slot, service, app, limits, closing).await,
                Some(acceptor) => {
                    // A handshake is a head of its own: it gets the same time.
                    let handshake =
                        tokio::time::timeout(limits.header_timeout, acceptor.accept(stream));
                    if let Ok(Ok(stream)) = handshake.await {
                        serve_stream(stream, slot, service, app, limits, closing).await;
                    }
                }
            }
        });
    }
    drop(listener);
    let _ = closing.send(true);
    while connections.join_next().await.is_some() {}
}

/// Errors of one connection that leave the listener healthy.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves one connection. Without a `slot` (the server serves its maximum
/// of connections) it answers 503 and closes it; with one, hyper serves it
/// until the client leaves, the server closes, or a request head is
/// refused; a refused head is answered last. The slot is given back when
/// the connection ends.
async fn serve_stream<I, S>(
    mut stream: I,
    slot: Option<tokio::sync::OwnedSemaphorePermit>,
    service: S,
    app: App,
    limits: Limits,
    mut closing: tokio::sync::watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<
            hyper::Request<hyper::body::Incoming>,
            Response = warp::reply::Response,
            Error = std::convert::Infallible,
        > + Send
        + Unpin
        + 'static,
    S::Future: Send + 'static,
{
    let Some(_slot) = slot else {
        let busy = Error::Unavailable(format!(
            "the registry is serving its maximum of {} connections; retry shortly",
            limits.max_connections
        ));
        answer_and_close(&mut stream, &busy, &app).await;
        return;
    };
    let progress = Arc::new(Progress::default());
    let io = hyper_util::rt::TokioIo::new(Framed::new(stream, Arc::clone(&progress), limits));
    let mut conn = hyper::server::conn::http1::Builder::new()
        .max_headers(MAX_HEADERS)
        .serve_connection(
            io,
            Counted::new(service, Arc::clone(&progress), app.clone()),
        );
    let mut server_closing = std::pin::pin!(closing.wait_for(|closing| *closing));
    let mut shutting_down = false;
    let served = std::future::poll_fn(|cx| {
        loop {
            if !shutting_down
                && (server_closing.as_mut().poll(cx).is_ready() || progress.refused_and_answered())
            {
                // Answer what is in flight, then end (at once when idle).
                Pin::new(&mut conn).graceful_shutdown();
                shutting_down = true;
            }
            match conn.poll_without_shutdown(cx) {
                // Serving a request may have been the last thing a refusal
                // waited for: look again before sleeping.
                Poll::Pending if !shutting_down && progress.refused_and_answered() => continue,
                other => return other,
            }
        }
    })
    .await;
    if served.is_err() {
        return;
    }
    let mut stream = conn.into_parts().io.into_inner().stream;
    // hyper may have closed before answering every request it was handed (one
    // whose body a handler left unread): then the refusal has no place.
    match progress
        .refused_and_answered()
        .then(|| progress.take_refusal())
        .flatten()
    {
        Some(refusal) => answer_and_close(&mut stream, &refusal, &app).await,
        None => {
            let _ = stream.shutdown().await;
        }
    }
}

/// Writes the problem+json answer of `refusal` and closes the connection.
async fn answer_and_close<I: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut I,
    refusal: &Error,
    app: &App,
) {
    let answer = refusal_answer(refusal, app);
    let _ = stream.write_all(&answer).await;
    let _ = stream.shutdown().await;
    // Closing with the client's bytes unread would reset the connection and
    // could destroy the answer before the client reads it: read what it is
    // still sending, for a while, first.
    let mut sink = [0u8; 8 * 1024];
    let _ = tokio::time::timeout(LINGER, async {
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
}

/// How long a refused connection is read after its answer, before it closes.
const LINGER: Duration = Duration::from_secs(2);

/// The bytes of a problem+json answer to a refused request head; the
/// connection closes after it.
fn refusal_answer(refusal: &Error, app: &App) -> Vec<u8> {
    let body = serde_json::to_vec(&refusal.problem()).unwrap_or_default();
    let status = refusal.status();
    let mut head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\nconnection: close\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error"),
        body.len()
    );
    if let Some(date) = crate::filters::http_date(app.clock.now().unix_timestamp()) {
        if let Ok(date) = date.to_str() {
            head.push_str(&format!("date: {date}\r\n"));
        }
    }
    if let Error::Unavailable(_) = refusal {
        head.push_str("retry-after: 1\r\n");
    }
    head.push_str("\r\n");
    let mut answer = head.into_bytes();
    answer.extend_from_slice(&body);
    answer
}

/// What the framing check and the service have seen of one connection,
/// shared between them and the connection's task (one task: no contention).
#[derive(Default)]
struct Progress {
    /// Request heads handed to hyper.
    passed: AtomicUsize,
    /// Answers the service has produced.
    answered: AtomicUsize,
    /// The head held back from hyper, and why.
    refusal: Mutex<Option<Error>>,
}

impl Progress {
    /// A head was refused and every request before it has its answer: the
    /// moment to let hyper finish.
    fn refused_and_answered(&self) -> bool {
        self.answered.load(Ordering::Relaxed) == self.passed.load(Ordering::Relaxed)
            && self.refusal.lock().is_ok_and(|r| r.is_some())
    }

    fn take_refusal(&self) -> Option<Error> {
        self.refusal.lock().ok().and_then(|mut r| r.take())
    }
}

/// The service, counting the answers it produces, giving each request its
/// id, and logging and measuring each.
struct Counted<S> {
    inner: S,
    progress: Arc<Progress>,
    app: App,
}

impl<S> Counted<S> {
    fn new(inner: S, progress: Arc<Progress>, app: App) -> Self {
        Counted {
            inner,
            progress,
            app,
        }
    }
}

impl<S, B> hyper::service::Service<hyper::Request<B>> for Counted<S>
where
    S: hyper::service::Service<hyper::Request<B>, Response = warp::reply::Response>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn call(&self, mut req: hyper::Request<B>) -> Self::Future {
        let started = std::time::Instant::now();
        let method = req.method().to_string();
        // HEAD is GET without the body, on every GET route: hyper itself
        // leaves the body out, knowing the request's method from its head.
        if req.method() == hyper::Method::HEAD {
            *req.method_mut() = hyper::Method::GET;
        }
        let route = crate::filters::route_template(req.uri().path());
        let request_id = request_id(&mut req);
        let change_ref = req
            .headers()
            .get("x-change-ref")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let answer = telemetry::with_caller(self.inner.call(req));
        let (progress, app) = (Arc::clone(&self.progress), self.app.clone());
        Box::pin(async move {
            let (mut out, caller) = answer.await;
            progress.answered.fetch_add(1, Ordering::Relaxed);
            if let Ok(resp) = &mut out {
                if let Ok(v) = hyper::header::HeaderValue::from_str(&request_id) {
                    resp.headers_mut().entry("x-request-id").or_insert(v);
                }
                let answered = telemetry::Answered {
                    method: &method,
                    route,
                    status: resp.status().as_u16(),
                    elapsed: started.elapsed(),
                    request_id: &request_id,
                    caller: caller.as_ref(),
                    change_ref: change_ref.as_deref(),
                };
                app.metrics.request(&answered);
                if app.access_log {
                    telemetry::log_request(&answered);
                }
            }
            // hyper may have last read while this was in flight, with no
            // timeout to wait on then: have it read once more, so that the
            // idle timeout starts.
            std::future::poll_fn(|cx| {
                cx.waker().wake_by_ref();
                Poll::Ready(())
            })
            .await;
            out
        })
    }
}

/// The request's id: the client's `X-Request-Id` when it is a usable one,
/// else a new one, set on the request for the routes to record.
fn request_id<B>(req: &mut hyper::Request<B>) -> String {
    let given = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|id| crate::filters::is_request_id(id))
        .map(str::to_string);
    given.unwrap_or_else(|| {
        let id = new_request_id();
        if let Ok(v) = hyper::header::HeaderValue::from_str(&id) {
            req.headers_mut().insert("x-request-id", v);
        }
        id
    })
}

/// A request id unique to this process and across restarts: a random
/// prefix drawn once, and a counter. It needs no secrecy, so no draw from
/// the OS per request (introspection is the hot path).
fn new_request_id() -> String {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let prefix =
        PREFIX.get_or_init(|| crate::crypto::new_id("req_").unwrap_or_else(|_| "req_".into()));
    format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Where the check stands in the bytes a client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    /// At the start of a request head.
    Head,
    /// In a body of a declared length: the bytes still to come.
    Body(u64),
    /// In a chunked body.
    Chunked(Chunk),
    /// The framing is hyper's alone from here on (a chunked body it will
    /// refuse itself, mid-body, where no answer of ours can be put in).
    Unchecked,
    /// A head was refused: nothing more reaches hyper.
    Refused,
}

/// The state of a chunked body's framing (RFC 9112 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// In a chunk-size line: the size so far, and whether an extension began.
    Size {
        size: u64,
        digits: u32,
        ext: bool,
    },
    /// After the chunk-size line's CR.
    SizeLf {
        size: u64,
    },
    /// In chunk data: the bytes still to come.
    Data(u64),
    /// After chunk data: the CR, then the LF.
    DataCr,
    DataLf,
    /// In the trailer section: whether the line so far is empty, and whether its CR came.
    Trailer {
        empty: bool,
        cr: bool,
    },
}

/// The stream as hyper reads it: bytes from the client are handed on only
/// as far as the framing has been checked.
struct Framed<I> {
    stream: I,
    progress: Arc<Progress>,
    /// Bytes read from the client and not yet handed to hyper; the first
    /// `checked` of them have been checked.
    pending: Vec<u8>,
    checked: usize,
    position: Position,
    limits: Limits,
    /// What the client is being waited for, and until when.
    waiting: Option<Wait>,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

/// What a connection waits for from its client, each with its own timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// The next request, with none in flight.
    Idle,
    /// The rest of a request head.
    Head,
    /// The rest of a request body.
    Body,
}

impl<I: AsyncRead + Unpin> Framed<I> {
    fn new(stream: I, progress: Arc<Progress>, limits: Limits) -> Self {
        Framed {
            stream,
            progress,
            pending: Vec::new(),
            checked: 0,
            position: Position::Head,
            limits,
            waiting: None,
            deadline: Box::pin(tokio::time::sleep(Duration::ZERO)),
        }
    }

    /// What the connection waits for now; `None` while hyper answers.
    fn wait(&self) -> Option<Wait> {
        match self.position {
            Position::Head if !self.pending.is_empty() => Some(Wait::Head),
            Position::Head => (self.progress.answered.load(Ordering::Relaxed)
                == self.progress.passed.load(Ordering::Relaxed))
            .then_some(Wait::Idle),
            Position::Body(_) | Position::Chunked(_) => Some(Wait::Body),
            Position::Unchecked | Position::Refused => None,
        }
    }

    /// Whether the client took longer than its limit for what the
    /// connection waits for (the timer restarts when that changes).
    fn poll_timed_out(&mut self, cx: &mut Context<'_>) -> Option<Wait> {
        let wait = self.wait();
        if wait != self.waiting {
            self.waiting = wait;
            let limit = match wait? {
                Wait::Idle => self.limits.idle_timeout,
                Wait::Head => self.limits.header_timeout,
                Wait::Body => self.limits.body_timeout,
            };
            self.deadline
                .as_mut()
                .reset(tokio::time::Instant::now() + limit);
        }
        let wait = wait?;
        self.deadline.as_mut().poll(cx).is_ready().then_some(wait)
    }

    /// Holds the head at `checked` back from hyper, to be answered with
    /// `refusal` once hyper has answered the requests before it.
    fn refuse(&mut self, refusal: Error) {
        if let Ok(mut r) = self.progress.refusal.lock() {
            *r = Some(refusal);
        }
        self.position = Position::Refused;
        self.pending.truncate(self.checked);
    }

    /// Checks as much of `pending` as can be: whole heads, and the bodies
    /// they declare.
    fn check(&mut self) {
        while self.checked < self.pending.len() {
            let rest = &self.pending[self.checked..];
            match self.position {
                Position::Head => match check_head(rest) {
                    Ok(Some((len, next))) => {
                        self.checked += len;
                        self.position = next;
                        self.progress.passed.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(None) => return,
                    Err(refusal) => {
                        self.refuse(refusal);
                        return;
                    }
                },
                Position::Body(left) => {
                    let take = left.min(rest.len() as u64);
                    self.checked += take as usize;
                    self.position = if take == left {
                        Position::Head
                    } else {
                        Position::Body(left - take)
                    };
                }
                Position::Chunked(chunk) => {
                    let (used, next) = follow_chunks(chunk, rest);
                    self.checked += used;
                    self.position = next;
                }
                Position::Unchecked => self.checked = self.pending.len(),
                Position::Refused => return,
            }
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Framed<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.checked > 0 {
                let n = this.checked.min(buf.remaining());
                buf.put_slice(&this.pending[..n]);
                this.pending.drain(..n);
                this.checked -= n;
                return Poll::Ready(Ok(()));
            }
            if this.position == Position::Refused {
                // hyper waits here while it finishes; the connection's task
                // ends it (see `serve_stream`).
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if this.pending.len() >= MAX_HEAD {
                this.refuse(Error::HeadTooLarge(format!(
                    "the request head is larger than {} KiB",
                    MAX_HEAD / 1024
                )));
                continue;
            }
            let start = this.pending.len();
            this.pending.resize(start + 8 * 1024, 0);
            let mut read = ReadBuf::new(&mut this.pending[start..]);
            let polled = Pin::new(&mut this.stream).poll_read(cx, &mut read);
            let got = read.filled().len();
            this.pending.truncate(start + got);
            match polled {
                Poll::Ready(Ok(())) if got == 0 => {
                    // The client's end of the stream: hyper sees it once it
                    // has every checked byte (an unfinished head included,
                    // which it reports as such).
                    this.checked = this.pending.len();
                    if this.checked == 0 {
                        return Poll::Ready(Ok(()));
                    }
                }
                Poll::Ready(Ok(())) => this.check(),
                Poll::Pending => {
                    return match this.poll_timed_out(cx) {
                        None => Poll::Pending,
                        // hyper closes a connection whose client left.
                        Some(Wait::Idle) => Poll::Ready(Ok(())),
                        Some(Wait::Head) => {
                            this.refuse(Error::RequestTimeout(format!(
                                "the request head did not arrive within {} s",
                                this.limits.header_timeout.as_secs_f64()
                            )));
                            continue;
                        }
                        Some(Wait::Body) => Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!(
                                "the request body did not arrive within {} s",
                                this.limits.body_timeout.as_secs_f64()
                            ),
                        ))),
                    };
                }
                other => return other,
            }
        }
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Framed<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, data)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Checks the request head at the start of `bytes`: its length and what
/// follows it once complete, `None` while incomplete, or why it is refused.
fn check_head(bytes: &[u8]) -> Result<Option<(usize, Position)>, Error> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut fields);
    let len = match request.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Error::HeadTooLarge(format!(
                "the request has more than {MAX_HEADERS} header fields"
            )));
        }
        Err(e) => return Err(Error::BadRequest(malformed_head(e))),
    };
    let named = |name: &'static str| {
        request
            .headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
    };
    let lengths: Vec<&[u8]> = named("content-length").map(|h| h.value).collect();
    let codings: Vec<String> = named("transfer-encoding")
        .flat_map(|h| {
            String::from_utf8_lossy(h.value)
                .split(',')
                .map(|c| c.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
        .filter(|c| !c.is_empty())
        .collect();
    let next = match (lengths.as_slice(), codings.last()) {
        ([_, _, ..], _) => {
            return Err(Error::BadRequest(
                "the request has more than one Content-Length header".into(),
            ));
        }
        ([_], Some(_)) => {
            return Err(Error::BadRequest(
                "the request has both Transfer-Encoding and Content-Length: send one of them"
                    .into(),
            ));
        }
        ([length], None) => {
            let length = std::str::from_utf8(length)
                .ok()
                .filter(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|l| l.parse::<u64>().ok())
                .ok_or_else(|| {
                    Error::BadRequest(
                        "Content-Length must be a number of bytes (decimal digits only)".into(),
                    )
                })?;
            if length == 0 {
                Position::Head
            } else {
                Position::Body(length)
            }
        }
        ([], Some(last)) if last == "chunked" && request.version == Some(1) => {
            Position::Chunked(Chunk::Size {
                size: 0,
                digits: 0,
                ext: false,
            })
        }
        ([], Some(_)) => {
            return Err(Error::BadRequest(
                "Transfer-Encoding must end with chunked, on HTTP/1.1".into(),
            ));
        }
        ([], None) => Position::Head,
    };
    Ok(Some((len, next)))
}

/// What a parse error of a request head means, in the user's words.
fn malformed_head(e: httparse::Error) -> String {
    let what = match e {
        httparse::Error::Token | httparse::Error::Version => {
            "the request line must be `METHOD /target HTTP/1.1` with no space or control \
             character inside the target (percent-encode a space as %20)"
        }
        httparse::Error::HeaderName => {
            "a header field name holds a character HTTP does not allow (no spaces, no colon, \
             no control characters)"
        }
        httparse::Error::HeaderValue => "a header field value holds a control character",
        httparse::Error::NewLine => "a line of the request head does not end with CRLF",
        httparse::Error::Status | httparse::Error::TooManyHeaders => {
            "the request head is malformed"
        }
    };
    format!("the request is not valid HTTP/1.1: {what}")
}

/// Follows a chunked body over `bytes`: how many of them belong to it, and
/// where that leaves the check.
fn follow_chunks(mut chunk: Chunk, bytes: &[u8]) -> (usize, Position) {
    let mut used = 0;
    while used < bytes.len() {
        let b = bytes[used];
        chunk = match chunk {
            Chunk::Data(left) => {
                let take = left.min((bytes.len() - used) as u64);
                used += take as usize;
                chunk = if take == left {
                    Chunk::DataCr
                } else {
                    Chunk::Data(left - take)
                };
                continue;
            }
            Chunk::Size { size, digits, ext } => match b {
                b'\r' if digits > 0 => Chunk::SizeLf { size },
                _ if ext => Chunk::Size { size, digits, ext },
                b';' | b' ' | b'\t' if digits > 0 => Chunk::Size {
                    size,
                    digits,
                    ext: true,
                },
                _ => match (b as char).to_digit(16) {
                    Some(d) if digits < 16 => Chunk::Size {
                        size: size * 16 + u64::from(d),
                        digits: digits + 1,
                        ext,
                    },
                    _ => return (used, Position::Unchecked),
                },
            },
            Chunk::SizeLf { size } if b == b'\n' => {
                if size == 0 {
                    Chunk::Trailer {
                        empty: true,
                        cr: false,
                    }
                } else {
                    Chunk::Data(size)
                }
            }
            Chunk::DataCr if b == b'\r' => Chunk::DataLf,
            Chunk::DataLf if b == b'\n' => Chunk::Size {
                size: 0,
                digits: 0,
                ext: false,
            },
            Chunk::Trailer { empty, cr: true } if b == b'\n' => {
                if empty {
                    return (used + 1, Position::Head);
                }
                Chunk::Trailer {
                    empty: true,
                    cr: false,
                }
            }
            Chunk::Trailer { empty, cr: false } => Chunk::Trailer {
                empty: empty && b == b'\r',
                cr: b == b'\r',
            },
            _ => return (used, Position::Unchecked),
        };
        used += 1;
    }
    (used, Position::Chunked(chunk))
}
