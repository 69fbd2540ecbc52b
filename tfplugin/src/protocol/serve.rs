//! The go-plugin handshake and the gRPC server.
use super::goplugin as gp;
use super::server::ProviderService;
use super::side;
use super::tfplugin6::provider_server::ProviderServer;
use super::tls;
use crate::provider::{Provider, ProviderInfo};
use base64::Engine as _;
use std::io::Write;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tonic::transport::server::Connected;

/// The magic cookie Terraform sets for its plugins.
const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
const MAGIC_COOKIE_VALUE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// gRPC message size limit in both directions.
const MAX_MESSAGE: usize = 256 << 20;

/// What a binary started by hand prints, as go-plugin does, with a word on
/// how to debug it.
fn not_by_hand(name: &str) -> String {
    format!(
        "This binary is a plugin. These are not meant to be executed directly.
Please execute the program that consumes these plugins, which will
load any plugins automatically.

terraform-provider-{name} is a Terraform provider: it is started by Terraform
(for example by `terraform plan`), not by hand. To debug it, run it with
--debug and set TF_REATTACH_PROVIDERS as it tells you.
"
    )
}

/// The variable that makes the provider listen on TCP instead of a unix
/// socket, `<NAME>_PLUGIN_NETWORK=tcp`.
fn network_variable(name: &str) -> String {
    format!("{}_PLUGIN_NETWORK", name.to_ascii_uppercase())
}

/// A bound listening socket.
pub enum Sock {
    Unix(tokio::net::UnixListener),
    Tcp(tokio::net::TcpListener),
}

/// Where the server listens, and the temporary directory holding the unix
/// socket (removed on exit).
pub struct Bound {
    pub sock: Sock,
    pub network: &'static str,
    pub addr: String,
    pub dir: Option<tempfile::TempDir>,
}

/// A unix socket in a fresh temporary directory (under
/// PLUGIN_UNIX_SOCKET_DIR when set).
pub fn listen_unix() -> std::io::Result<Bound> {
    let mut b = tempfile::Builder::new();
    b.prefix("plugin");
    let dir = match std::env::var_os("PLUGIN_UNIX_SOCKET_DIR") {
        Some(d) if !d.is_empty() => b.tempdir_in(d)?,
        _ => b.tempdir()?,
    };
    let path = dir.path().join("provider.sock");
    let listener = tokio::net::UnixListener::bind(&path)?;
    Ok(Bound {
        sock: Sock::Unix(listener),
        network: "unix",
        addr: path.display().to_string(),
        dir: Some(dir),
    })
}

/// 127.0.0.1 on the first free port in PLUGIN_MIN_PORT..=PLUGIN_MAX_PORT
/// (used where unix sockets are not available, or when
/// `<NAME>_PLUGIN_NETWORK=tcp`).
pub fn listen_tcp() -> std::io::Result<Bound> {
    let env_port = |k: &str, d: u16| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (min, max) = (
        env_port("PLUGIN_MIN_PORT", 10000),
        env_port("PLUGIN_MAX_PORT", 25000),
    );
    let mut last = std::io::Error::other(format!("no free port in {min}..={max}"));
    for port in min..=max {
        match std::net::TcpListener::bind(("127.0.0.1", port)) {
            Ok(l) => {
                l.set_nonblocking(true)?;
                let addr = l.local_addr()?.to_string();
                return Ok(Bound {
                    sock: Sock::Tcp(tokio::net::TcpListener::from_std(l)?),
                    network: "tcp",
                    addr,
                    dir: None,
                });
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Any accepted connection, plain or TLS, unix or TCP.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

pub struct Conn(Box<dyn Io>);

impl Connected for Conn {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}
impl AsyncRead for Conn {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}
impl AsyncWrite for Conn {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut *self.0).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut *self.0).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut *self.0).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut *self.0).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

/// Accepts connections, completing TLS handshakes concurrently, and feeds
/// them to the gRPC server.
fn incoming(
    sock: Sock,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> tokio_stream::wrappers::ReceiverStream<std::io::Result<Conn>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Conn>>(16);
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    tokio::spawn(async move {
        loop {
            let conn: Box<dyn Io> = match &sock {
                Sock::Unix(l) => match l.accept().await {
                    Ok((s, _)) => Box::new(s),
                    Err(e) => {
                        crate::error!("accept failed: {e}");
                        continue;
                    }
                },
                Sock::Tcp(l) => match l.accept().await {
                    Ok((s, _)) => {
                        let _ = s.set_nodelay(true);
                        Box::new(s)
                    }
                    Err(e) => {
                        crate::error!("accept failed: {e}");
                        continue;
                    }
                },
            };
            let tx = tx.clone();
            match &acceptor {
                None => {
                    if tx.send(Ok(Conn(conn))).await.is_err() {
                        return;
                    }
                }
                Some(acc) => {
                    let acc = acc.clone();
                    tokio::spawn(async move {
                        match acc.accept(conn).await {
                            Ok(s) => {
                                let _ = tx.send(Ok(Conn(Box::new(s)))).await;
                            }
                            Err(e) => {
                                crate::warn!("TLS handshake with the plugin client failed: {e}")
                            }
                        }
                    });
                }
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// Serves until the controller asks to shut down (or forever in debug
/// mode). Returns when the process should exit.
async fn serve_on<P: Provider>(
    provider: P,
    info: ProviderInfo,
    bound_sock: Sock,
    tls: Option<Arc<rustls::ServerConfig>>,
    debug_mode: bool,
) -> Result<(), String> {
    let shutdown = Arc::new(tokio::sync::Notify::new());
    let provider = ProviderServer::new(ProviderService::new(provider, info))
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_service_status("plugin", tonic_health::ServingStatus::Serving)
        .await;
    let controller = gp::grpc_controller_server::GrpcControllerServer::new(side::Controller {
        shutdown: shutdown.clone(),
    });
    let stdio = gp::grpc_stdio_server::GrpcStdioServer::new(side::Stdio);
    let broker = gp::grpc_broker_server::GrpcBrokerServer::new(side::Broker);
    let server = tonic::transport::Server::builder()
        .initial_connection_window_size(Some(8 << 20))
        .initial_stream_window_size(Some(4 << 20))
        .add_service(provider)
        .add_service(health)
        .add_service(controller)
        .add_service(stdio)
        .add_service(broker)
        .serve_with_incoming(incoming(bound_sock, tls));
    if debug_mode {
        tokio::select! {
            r = server => r.map_err(|e| e.to_string()),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    } else {
        // Terraform forwards Ctrl-C to the whole process group; like Go
        // plugins, ignore it and wait for Terraform's Shutdown.
        tokio::spawn(async {
            loop {
                if tokio::signal::ctrl_c().await.is_err() {
                    return;
                }
                crate::debug!("interrupt received; waiting for Terraform to stop the provider");
            }
        });
        tokio::select! {
            r = server => r.map_err(|e| e.to_string()),
            _ = shutdown.notified() => {
                // Let the Shutdown response reach the client.
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                Ok(())
            }
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the runtime: {e}"))
}

fn offers_protocol_6(v: &str) -> bool {
    v.split(',').any(|x| x.trim() == "6")
}

/// Runs `provider` as the plugin Terraform started, or with `--debug` in
/// the command line as a server to attach Terraform to; returns the
/// process exit code.
pub fn serve<P: Provider>(provider: P, info: ProviderInfo) -> i32 {
    crate::logging::set_module(info.name);
    let debug_mode = std::env::args()
        .skip(1)
        .any(|a| a == "--debug" || a == "-debug");
    let result = if debug_mode {
        run_debug(provider, info)
    } else {
        run_plugin(provider, info)
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("Error: {e}");
            1
        }
    }
}

fn run_plugin<P: Provider>(provider: P, info: ProviderInfo) -> Result<(), String> {
    if std::env::var(MAGIC_COOKIE_KEY).ok().as_deref() != Some(MAGIC_COOKIE_VALUE) {
        eprint!("{}", not_by_hand(info.name));
        return Err("this binary must be started by Terraform".into());
    }
    if let Ok(v) = std::env::var("PLUGIN_PROTOCOL_VERSIONS") {
        if !v.is_empty() && !offers_protocol_6(&v) {
            return Err(format!(
                "Terraform offers plugin protocol versions {v:?}, but this provider speaks only version 6; use Terraform 1.0 or later"
            ));
        }
    }
    let rt = runtime()?;
    rt.block_on(async {
        let bound =
            if cfg!(unix) && std::env::var(network_variable(info.name)).as_deref() != Ok("tcp") {
                listen_unix()
            } else {
                listen_tcp()
            }
            .map_err(|e| format!("could not listen: {e}"))?;
        let (tls, cert_b64) = match std::env::var("PLUGIN_CLIENT_CERT") {
            Ok(pem) if !pem.is_empty() => {
                let client = tls::parse_client_cert(&pem)?;
                let cert = tls::generate_cert(&format!("terraform-provider-{}", info.name))?;
                let cfg = tls::server_config(client, &cert)?;
                let b64 =
                    base64::engine::general_purpose::STANDARD_NO_PAD.encode(cert.der.as_ref());
                (Some(Arc::new(cfg)), b64)
            }
            _ => (None, String::new()),
        };
        let line = format!("1|6|{}|{}|grpc|{}\n", bound.network, bound.addr, cert_b64);
        {
            let mut out = std::io::stdout().lock();
            out.write_all(line.as_bytes()).map_err(|e| e.to_string())?;
            out.flush().map_err(|e| e.to_string())?;
        }
        crate::debug!(
            "{} {} serving plugin protocol 6 on {} {}",
            info.name,
            info.version,
            bound.network,
            bound.addr
        );
        let Bound { sock, dir, .. } = bound;
        let r = serve_on(provider, info, sock, tls, false).await;
        drop(dir);
        r
    })?;
    // Don't wait for lingering streams (stdio, broker) to wind down.
    drop(rt);
    Ok(())
}

fn run_debug<P: Provider>(provider: P, info: ProviderInfo) -> Result<(), String> {
    let rt = runtime()?;
    rt.block_on(async {
        let bound = listen_unix().map_err(|e| format!("could not listen: {e}"))?;
        let reattach = serde_json::json!({
            info.address: {
                "Protocol": "grpc",
                "ProtocolVersion": 6,
                "Pid": std::process::id(),
                "Test": true,
                "Addr": { "Network": bound.network, "String": bound.addr },
            }
        });
        println!(
            "Provider started. To attach Terraform CLI, set the TF_REATTACH_PROVIDERS environment variable with the following:\n\n\tTF_REATTACH_PROVIDERS='{reattach}'\n"
        );
        let _ = std::io::stdout().flush();
        let Bound { sock, dir, .. } = bound;
        let r = serve_on(provider, info, sock, None, true).await;
        drop(dir);
        r
    })
}
