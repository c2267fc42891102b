//! `astro-gateway`: the REST API, gRPC-web and the web app on one origin
//! (`ASTRO_HTTP_ADDR`, default 127.0.0.1:8080). Without `ASTRO_SERVICE_URL`
//! it also runs the service in this process (native gRPC at
//! `ASTRO_GRPC_ADDR`, default 127.0.0.1:50051): the whole system, one command.

use astro_gateway::config::GatewayConfig;
use astro_service::{server::shutdown_signal, telemetry};
use clap::Parser;

#[derive(Parser)]
#[command(name = "astro-gateway", version, about = "The Astro Qualif edge: REST API, gRPC-web, web app")]
struct Cli {
    #[command(flatten)]
    config: GatewayConfig,
}

/// In-flight requests get this long to finish after SIGTERM/Ctrl-C.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(10);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Cli::parse().config;
    telemetry::init(config.service.log_format);
    let mut running = astro_gateway::start(config).await?;
    let stop = running.shutdown_handle();
    let (stopping_tx, stopping) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
        let _ = stopping_tx.send(());
    });
    let gateway = running.wait();
    tokio::pin!(gateway);
    tokio::select! {
        result = &mut gateway => result,
        _ = async { let _ = stopping.await; tokio::time::sleep(DRAIN).await } => {
            tracing::warn!("connections still open after the drain period; exiting");
            Ok(())
        }
    }
}
