//! Everything that touches the wire: generated protobuf types and gRPC
//! services, the handshake, TLS and the service implementations. The
//! generated types do not leave this module (they are private to it).
// Generated code: the protocol has messages (and the namespaces grouping
// them) that this crate never builds.
#[allow(clippy::all, clippy::pedantic, missing_docs, dead_code)]
mod tfplugin6 {
    tonic::include_proto!("tfplugin6");
}
#[allow(clippy::all, clippy::pedantic, missing_docs, dead_code)]
mod goplugin {
    tonic::include_proto!("plugin");
}

mod catalogue;
mod convert;
pub mod serve;
mod server;
mod side;
mod tls;

#[cfg(test)]
mod tests;
