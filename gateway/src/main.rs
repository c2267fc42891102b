//! `astro-gateway`: the REST API, gRPC-web and the web app on one origin
//! (`ASTRO_HTTP_ADDR`, default 127.0.0.1:8080). Without `ASTRO_SERVICE_URL`
//! it also runs the service in this process (native gRPC at
//! `ASTRO_GRPC_ADDR`, default 127.0.0.1:50051): the whole system, one command.
//! On AWS Lambda (`AWS_LAMBDA_RUNTIME_API` set) it answers API Gateway's
//! events instead (`astro_gateway::lambda`).

use astro_gateway::config::GatewayConfig;
use astro_service::{
    config::StoreKind,
    process,
    server::{serve_until_signal, shutdown_signal},
    telemetry,
};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "astro-gateway", version, about = "The Astro Qualif edge: REST API, gRPC-web, web app")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: GatewayConfig,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the edge (the default).
    Serve,
    /// Exit 0 when the edge at `ASTRO_HTTP_ADDR` answers (the container's
    /// health check; `/healthz` itself says whether the service is up).
    Health,
}

#[global_allocator]
static ALLOCATOR: process::Allocator = process::Allocator;

fn main() -> anyhow::Result<()> {
    process::return_freed_memory();
    let cli = Cli::parse();
    let config = &cli.config;
    // The embedded store runs here only with the service in this process.
    let embedded = config.service_url.is_none() && config.service.store.kind == StoreKind::Embedded;
    process::runtime(config.service.worker_threads, embedded)?.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.config;
    if let Some(Command::Health) = cli.command {
        return astro_gateway::probe(config.http_addr).await;
    }
    telemetry::init(config.service.log_format);
    // On AWS Lambda (the proof of concept): API Gateway's events, no port.
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return astro_gateway::lambda::serve(config).await;
    }
    let signal = shutdown_signal();
    let mut running = astro_gateway::start(config).await?;
    let stop = running.shutdown_handle();
    serve_until_signal(running.wait(), stop, signal).await
}
