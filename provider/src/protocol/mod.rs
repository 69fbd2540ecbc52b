//! Everything that touches the wire: generated protobuf types and gRPC
//! services, the handshake, TLS and the service implementations. The
//! generated types do not leave this module.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod tfplugin6 {
    tonic::include_proto!("tfplugin6");
}
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod goplugin {
    tonic::include_proto!("plugin");
}

mod convert;
pub mod serve;
mod server;
mod side;
pub mod tls;

#[cfg(test)]
mod tests;
