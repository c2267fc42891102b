//! The gateway's configuration: flags, each with an `ASTRO_` variable and a
//! local default. The service's own settings are flattened in, since without
//! `ASTRO_SERVICE_URL` the gateway runs the service in the same process.

use std::{net::SocketAddr, path::PathBuf};

use astro_service::config::ServeConfig;
use clap::Args;
use ipnet::IpNet;

#[derive(Debug, Clone, Args)]
pub struct GatewayConfig {
    /// Address of the edge: REST API, gRPC-web, the web app.
    #[arg(long, env = "ASTRO_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,

    /// The service to call (e.g. `http://service.internal:50051`). When unset,
    /// the service runs in this process at `ASTRO_GRPC_ADDR`.
    #[arg(long, env = "ASTRO_SERVICE_URL")]
    pub service_url: Option<String>,

    /// The built web app, served with a fallback to its `index.html`.
    #[arg(long, env = "ASTRO_WEB_DIR", default_value = "frontend/dist")]
    pub web_dir: PathBuf,

    #[command(flatten)]
    pub limits: LimitsConfig,

    #[command(flatten)]
    pub service: ServeConfig,
}

/// Throttles, as API Gateway applies them in front of the API.
#[derive(Debug, Clone, Args)]
pub struct LimitsConfig {
    /// Requests per second the API accepts, all clients together.
    #[arg(long, env = "ASTRO_THROTTLE_RPS", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub throttle_rps: u32,

    /// Requests the API accepts at once above the steady rate.
    #[arg(long, env = "ASTRO_THROTTLE_BURST", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub throttle_burst: u32,

    /// Requests per minute one client address may make to each public
    /// endpoint (the form, the captcha, login).
    #[arg(long, env = "ASTRO_PUBLIC_PER_IP_PER_MIN", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub public_per_ip_per_min: u32,

    /// Proxies in front of the edge (addresses or CIDR blocks, comma-separated).
    /// A request from one of them is attributed to the last address before
    /// them in `X-Forwarded-For`; from anyone else, to the socket's address.
    #[arg(long, env = "ASTRO_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_net)]
    pub trusted_proxies: Vec<IpNet>,
}

fn parse_net(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{text:?} is neither an IP address nor a CIDR block"))
}
