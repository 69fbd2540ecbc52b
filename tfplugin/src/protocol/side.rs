//! go-plugin's side services: controller (shutdown), stdio and broker.
use super::goplugin as gp;
use std::pin::Pin;
use std::sync::Arc;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// GRPCController: `Shutdown` asks the process to end cleanly.
pub struct Controller {
    pub shutdown: Arc<tokio::sync::Notify>,
}

#[tonic::async_trait]
impl gp::grpc_controller_server::GrpcController for Controller {
    async fn shutdown(&self, _: Request<gp::Empty>) -> Result<Response<gp::Empty>, Status> {
        crate::debug!("shutdown requested by the plugin client");
        self.shutdown.notify_one();
        Ok(Response::new(gp::Empty {}))
    }
}

/// GRPCStdio: this provider never writes to stdout after the handshake and
/// logs to stderr directly, so the stream stays open and silent.
pub struct Stdio;

#[tonic::async_trait]
impl gp::grpc_stdio_server::GrpcStdio for Stdio {
    type StreamStdioStream = BoxStream<gp::StdioData>;
    async fn stream_stdio(
        &self,
        _: Request<()>,
    ) -> Result<Response<Self::StreamStdioStream>, Status> {
        Ok(Response::new(Box::pin(tokio_stream::pending())))
    }
}

/// GRPCBroker: the provider opens no extra connections; the stream is held
/// open and whatever the client sends is read and dropped.
pub struct Broker;

#[tonic::async_trait]
impl gp::grpc_broker_server::GrpcBroker for Broker {
    type StartStreamStream = BoxStream<gp::ConnInfo>;
    async fn start_stream(
        &self,
        req: Request<Streaming<gp::ConnInfo>>,
    ) -> Result<Response<Self::StartStreamStream>, Status> {
        let mut inbound = req.into_inner();
        tokio::spawn(async move { while let Ok(Some(_)) = inbound.message().await {} });
        Ok(Response::new(Box::pin(tokio_stream::pending())))
    }
}
