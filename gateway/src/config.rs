//! The gateway's configuration: flags, each with an `ASTRO_` variable and a
//! local default. The service's own settings are flattened in, since without
//! `ASTRO_SERVICE_URL` the gateway runs the service in the same process.

use std::{net::SocketAddr, path::PathBuf};

use astro_service::config::{Secret, ServeConfig};
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
    pub captcha: CaptchaConfig,

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

    /// Failed logins one account may have in `ASTRO_LOGIN_FAILURE_WINDOW_SECS`
    /// before its logins are refused until the window ends.
    #[arg(long, env = "ASTRO_LOGIN_FAILURES_PER_ACCOUNT", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub login_failures_per_account: u32,

    /// Failed logins one client address may have in the window.
    #[arg(long, env = "ASTRO_LOGIN_FAILURES_PER_IP", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub login_failures_per_ip: u32,

    /// The window of the failed-login limits, in seconds.
    #[arg(long, env = "ASTRO_LOGIN_FAILURE_WINDOW_SECS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..))]
    pub login_failure_window_secs: u64,

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

/// Which captcha guards the public form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CaptchaProvider {
    /// Self-hosted proof of work (ALTCHA protocol): no third party, no network.
    Pow,
    #[value(name = "recaptcha-v3")]
    RecaptchaV3,
    #[value(name = "recaptcha-v2")]
    RecaptchaV2,
    Hcaptcha,
    Turnstile,
    /// No captcha at all: development only.
    Off,
}

impl CaptchaProvider {
    pub fn name(self) -> &'static str {
        match self {
            CaptchaProvider::Pow => "pow",
            CaptchaProvider::RecaptchaV3 => "recaptcha-v3",
            CaptchaProvider::RecaptchaV2 => "recaptcha-v2",
            CaptchaProvider::Hcaptcha => "hcaptcha",
            CaptchaProvider::Turnstile => "turnstile",
            CaptchaProvider::Off => "off",
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct CaptchaConfig {
    /// `pow` (default), `recaptcha-v3`, `recaptcha-v2`, `hcaptcha`, `turnstile`, or `off`.
    #[arg(long = "captcha", env = "ASTRO_CAPTCHA", default_value = "pow")]
    pub provider: CaptchaProvider,

    /// The provider's secret key; for `pow`, the key that signs challenges
    /// (random at each start when unset).
    #[arg(long, env = "ASTRO_CAPTCHA_SECRET", hide_env_values = true)]
    pub captcha_secret: Option<Secret>,

    /// Secrets Manager id of that secret (the seed's
    /// `astro-qualif/recaptcha-secret-<stage>`); takes precedence.
    #[arg(long, env = "ASTRO_CAPTCHA_SECRET_ID")]
    pub captcha_secret_id: Option<String>,

    /// The provider's public site key, given to the web app.
    #[arg(long, env = "ASTRO_CAPTCHA_SITE_KEY")]
    pub captcha_site_key: Option<String>,

    /// The provider's siteverify URL (defaults to the provider's own).
    #[arg(long, env = "ASTRO_CAPTCHA_VERIFY_URL")]
    pub captcha_verify_url: Option<String>,

    /// How long to wait for the provider before refusing the submission.
    #[arg(long, env = "ASTRO_CAPTCHA_TIMEOUT_MS", default_value_t = 3000, value_parser = clap::value_parser!(u64).range(1..))]
    pub captcha_timeout_ms: u64,

    /// Lowest reCAPTCHA v3 score accepted (0.0 bot … 1.0 human).
    #[arg(long, env = "ASTRO_CAPTCHA_MIN_SCORE", default_value_t = 0.5)]
    pub captcha_min_score: f64,

    /// The action the form reports (reCAPTCHA v3, Turnstile), checked when given.
    #[arg(long, env = "ASTRO_CAPTCHA_ACTION", default_value = "submit_prospect")]
    pub captcha_action: String,

    /// Hostnames the captcha may have been solved on (comma-separated).
    #[arg(long, env = "ASTRO_CAPTCHA_HOSTNAMES", value_delimiter = ',', default_value = "localhost,127.0.0.1")]
    pub captcha_hostnames: Vec<String>,

    /// Proof of work: the largest secret number (the work a client does is
    /// half of it on average, in SHA-256 hashes).
    #[arg(long, env = "ASTRO_POW_MAX_NUMBER", default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1_000..=100_000_000))]
    pub pow_max_number: u64,

    /// Proof of work: seconds a challenge stays valid.
    #[arg(long, env = "ASTRO_POW_EXPIRES_SECS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(10..=86_400))]
    pub pow_expires_secs: u64,
}
