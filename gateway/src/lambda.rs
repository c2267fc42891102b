//! The proof of concept's function: this same edge, with the service in
//! its process and the DynamoDB store, answering API Gateway's REST proxy
//! events on AWS Lambda (`lambda_http`) instead of listening on a port.
//!
//! The app is the one [`crate::build`] makes for `make run`: every route,
//! the throttles and the token checks. API Gateway passes gRPC-web bodies
//! base64-encoded (its binary media types) and `lambda_http` decodes them
//! and encodes binary answers back. The client's address is API Gateway's
//! `sourceIp` (no `X-Forwarded-For` to trust: there is no proxy between).
//! Streaming answers are not: the board's watch is refused at once
//! (`UNIMPLEMENTED`) and the board polls its twin, `ListProspectChanges`.
//!
//! A process on Lambda runs only while it answers an event, so the
//! service's background work (the notifications outbox, the re-scoring,
//! the imports, the retention) does not run in loops here: a scheduled
//! EventBridge event (every minute) invokes the same function for one
//! [`Background::pass`] over it, as does a DynamoDB stream batch. The work
//! is in the table, written with the change that makes it, so a process
//! killed between the write and the delivery loses nothing: the next pass
//! delivers it.

use std::{
    convert::Infallible,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use astro_service::background::{Background, Mode};
use axum::{body::Body, extract::ConnectInfo};
use http::Response;
use lambda_http::{Request, RequestExt as _, request::RequestContext};
use serde_json::{Value, json};
use tokio::time::Instant;
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

/// Serves API Gateway's events (and the schedule's) until the function is
/// shut down.
pub async fn serve(mut config: GatewayConfig) -> anyhow::Result<()> {
    config.service.background = Mode::Passes;
    let Built { app, gateway, service } = crate::build(&config, None).await?;
    tokio::spawn(crate::sweep(gateway));
    let background = service.as_ref().and_then(|s| s.background());
    let handler = tower::service_fn(move |mut request: Request| {
        let (app, background) = (app.clone(), background.clone());
        async move {
            if let Some(RequestContext::PassThrough) = request.request_context_ref() {
                return work(&request, background.as_deref()).await;
            }
            if request.uri().path() == WATCH {
                return Ok(no_streams());
            }
            let peer = source(&request);
            request.extensions_mut().insert(ConnectInfo(peer));
            let answer = app.oneshot(request).await;
            answer.map_err(|never: Infallible| -> lambda_http::Error { match never {} })
        }
    });
    tracing::info!("serving API Gateway's events (AWS Lambda)");
    let served = lambda_http::run(handler).await.map_err(|e| anyhow::anyhow!("{e}"));
    if let Some(service) = service {
        service.stop().await?;
    }
    served
}

/// The board's stream: Lambda answers once a response is whole, so a
/// stream that lasts until the client leaves would only time out.
const WATCH: &str = "/astro.v1.ProspectService/WatchProspects";

/// gRPC-web's trailers-only answer `UNIMPLEMENTED`, at once: the board
/// polls `ListProspectChanges` instead.
fn no_streams() -> Response<Body> {
    Response::builder()
        .header(http::header::CONTENT_TYPE, "application/grpc-web+proto")
        .header("grpc-status", "12")
        .header("grpc-message", "streams%20are%20not%20served%20here%3A%20poll%20ListProspectChanges")
        .body(Body::empty())
        .expect("a valid answer")
}

/// Time kept back from the invocation's deadline at the end of a pass.
const MARGIN: Duration = Duration::from_secs(5);

/// An event that is not API Gateway's: the schedule's or a DynamoDB
/// stream's runs one pass of the background work; any other is refused
/// (an invocation error, counted in the function's `Errors`).
async fn work(request: &Request, background: Option<&Background>) -> Result<Response<Body>, lambda_http::Error> {
    let event: Value = serde_json::from_slice(request.body()).unwrap_or(Value::Null);
    let scheduled = event["source"] == "aws.events" && event["detail-type"] == "Scheduled Event";
    let streamed = event["Records"]
        .as_array()
        .is_some_and(|records| !records.is_empty() && records.iter().all(|r| r["eventSource"] == "aws:dynamodb"));
    if !scheduled && !streamed {
        return Err("not an event this function answers: API Gateway's, the schedule's or a DynamoDB stream's".into());
    }
    let background = background.ok_or("the background work runs where the service does (ASTRO_SERVICE_URL is set)")?;
    let deadline = match request.lambda_context_ref() {
        Some(context) => {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
            let left = Duration::from_millis(context.deadline).saturating_sub(now);
            Instant::now() + left.saturating_sub(MARGIN)
        }
        None => Instant::now() + MARGIN,
    };
    let pass = background.pass(deadline).await;
    tracing::info!(
        notifications = pass.notifications,
        rescored_pages = pass.rescored_pages,
        import_batches = pass.import_batches,
        erased = pass.erased,
        cut_short = pass.cut_short,
        "background pass"
    );
    let report = json!({
        "notifications": pass.notifications,
        "rescoredPages": pass.rescored_pages,
        "importBatches": pass.import_batches,
        "erased": pass.erased,
        "cutShort": pass.cut_short,
    });
    Ok(Response::builder()
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::from(report.to_string()))?)
}
