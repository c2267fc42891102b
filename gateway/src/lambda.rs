//! The proof of concept's function: this same edge, with the service in
//! its process and the DynamoDB store, answering API Gateway's REST proxy
//! events on AWS Lambda (`lambda_http`) instead of listening on a port.
//!
//! The app is the one [`crate::build`] makes for `make run`: every route,
//! the throttles and the token checks. API Gateway passes gRPC-web bodies
//! base64-encoded (its binary media types) and `lambda_http` decodes them
//! and encodes binary answers back. The client's address is API Gateway's
//! `sourceIp` (no `X-Forwarded-For` to trust: there is no proxy between).
//! Streaming answers (the board's watch) are not: the board falls back to
//! its polling twin, `ListProspectChanges`.

use std::{
    convert::Infallible,
    net::{IpAddr, Ipv4Addr, SocketAddr},
};

use axum::extract::ConnectInfo;
use lambda_http::{Request, RequestExt as _, request::RequestContext};
use tower::ServiceExt as _;

use crate::{Built, config::GatewayConfig};

/// The caller's address as API Gateway saw it.
fn source(request: &Request) -> SocketAddr {
    let ip = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => {
            context.identity.source_ip.as_deref().and_then(|ip| ip.parse().ok())
        }
        _ => None,
    };
    SocketAddr::new(ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)), 0)
}

/// Serves API Gateway's events until the function is shut down.
pub async fn serve(config: GatewayConfig) -> anyhow::Result<()> {
    let Built { app, gateway, service } = crate::build(&config, None).await?;
    tokio::spawn(crate::sweep(gateway));
    let app = app
        .map_request(|mut request: Request| {
            let peer = source(&request);
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        })
        .map_err(|never: Infallible| -> lambda_http::Error { match never {} });
    tracing::info!("serving API Gateway's events (AWS Lambda)");
    let served = lambda_http::run(app).await.map_err(|e| anyhow::anyhow!("{e}"));
    if let Some(service) = service {
        service.stop().await?;
    }
    served
}
