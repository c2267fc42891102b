//! Configuration: command-line flags, each with an `ASTRO_` environment
//! variable and a local default, so `astro-service` alone runs on a laptop.

use std::{fmt, net::SocketAddr, path::PathBuf};

use clap::Args;

/// A configuration value that must never be printed.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

/// How the server runs. Every field reads its `ASTRO_` variable.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address of the native gRPC (HTTP/2) and gRPC-web (HTTP/1.1) listener.
    #[arg(long, env = "ASTRO_GRPC_ADDR", default_value = "127.0.0.1:50051")]
    pub grpc_addr: SocketAddr,

    #[command(flatten)]
    pub store: StoreConfig,

    /// Email of an admin created at start when no user has it.
    #[arg(long, env = "ASTRO_ADMIN_EMAIL")]
    pub admin_email: Option<String>,

    /// Password of that admin (only used to create it).
    #[arg(long, env = "ASTRO_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<Secret>,

    /// HS256 signing secret for access tokens, at least 32 bytes. When unset,
    /// one is generated at first start and kept in the data directory.
    #[arg(long, env = "ASTRO_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,

    /// Secrets Manager id of the token secret (e.g.
    /// `astro-qualif/jwt-secret-production`); takes precedence over
    /// `ASTRO_JWT_SECRET`. Reread every `ASTRO_SECRET_REFRESH_SECS`.
    #[arg(long, env = "ASTRO_JWT_SECRET_ID")]
    pub jwt_secret_id: Option<String>,

    /// Secrets Manager id of the bootstrap admin, a JSON
    /// `{"email": …, "password": …}` (e.g. `astro-qualif/admin-credentials-production`).
    #[arg(long, env = "ASTRO_ADMIN_SECRET_ID")]
    pub admin_secret_id: Option<String>,

    /// Seconds between two reads of the token secret from Secrets Manager.
    #[arg(long, env = "ASTRO_SECRET_REFRESH_SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    pub secret_refresh_secs: u64,

    /// Browser origins allowed to call gRPC-web (comma-separated).
    #[arg(
        long,
        env = "ASTRO_CORS_ORIGINS",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:8080,http://localhost:8080,http://127.0.0.1:5173,http://localhost:5173"
    )]
    pub cors_origins: Vec<String>,

    /// Log format: `json` (structured, one object a line) or `text`.
    #[arg(long, env = "ASTRO_LOG_FORMAT", default_value = "json")]
    pub log_format: LogFormat,
}

/// Where data lives.
#[derive(Debug, Clone, Args)]
pub struct StoreConfig {
    /// `embedded` (SQLite file in the data directory) or `dynamodb` (region,
    /// credentials and `AWS_ENDPOINT_URL` from the standard AWS chain).
    #[arg(long = "store", env = "ASTRO_STORE", default_value = "embedded")]
    pub kind: StoreKind,

    /// The DynamoDB table, with `ASTRO_STORE=dynamodb`.
    #[arg(long, env = "ASTRO_DYNAMODB_TABLE", default_value = "astro-qualif")]
    pub dynamodb_table: String,

    /// Directory of the embedded store and the generated token secret.
    #[arg(long, env = "ASTRO_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// bcrypt cost of new password hashes (10–15).
    #[arg(long, env = "ASTRO_BCRYPT_COST", default_value_t = 12, value_parser = clap::value_parser!(u32).range(10..=15))]
    pub bcrypt_cost: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    Embedded,
    Dynamodb,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}
