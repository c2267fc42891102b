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

    /// Async worker threads (default: one per core, less one with the
    /// embedded store, whose own threads do the SQLite work).
    #[arg(long, env = "ASTRO_WORKER_THREADS", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub worker_threads: Option<u16>,

    #[command(flatten)]
    pub sign_in: SignInConfig,

    #[command(flatten)]
    pub captcha: CaptchaConfig,

    #[command(flatten)]
    pub notify: NotifyConfig,

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

    /// The key that seals members' two-factor secrets at rest (AES-256-GCM)
    /// and keys their recovery codes' hashes: at least 32 bytes. When unset,
    /// one is generated at first start and kept in the data directory. It
    /// does not rotate: a new key makes every enrolment unreadable.
    #[arg(long, env = "ASTRO_TWO_FACTOR_KEY", hide_env_values = true)]
    pub two_factor_key: Option<Secret>,

    /// Secrets Manager id of the two-factor key (e.g.
    /// `astro-qualif/two-factor-key-production`); takes precedence over
    /// `ASTRO_TWO_FACTOR_KEY`.
    #[arg(long, env = "ASTRO_TWO_FACTOR_KEY_SECRET_ID")]
    pub two_factor_key_id: Option<String>,

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

    /// Milliseconds between two reads of the board's changes while someone
    /// watches through this instance (changes made through this instance
    /// are seen at once; this is for the others').
    #[arg(long, env = "ASTRO_WATCH_POLL_MS", default_value_t = 500, value_parser = clap::value_parser!(u64).range(50..=60_000))]
    pub watch_poll_ms: u64,
    /// Seconds between two passes of the team's retention (the cards past
    /// it are erased; the first pass runs at start).
    #[arg(long, env = "ASTRO_RETENTION_EVERY_SECS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub retention_every_secs: u64,
    /// Where people reach the web app: the base of the links the service
    /// hands out (invitations).
    #[arg(long, env = "ASTRO_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
    pub public_url: String,
    /// How the background work runs: in loops (a long-running process), or
    /// a pass at a time when asked (AWS Lambda, which sets it).
    #[arg(skip)]
    pub background: crate::background::Mode,
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

/// The sign-in guard: failed-sign-in budgets, shared by every transport and
/// every instance (they live in the store), and the attempt rate per address.
#[derive(Debug, Clone, Args)]
pub struct SignInConfig {
    /// Failed sign-ins one account (a lower-cased email, known or not) may
    /// have in `ASTRO_LOGIN_FAILURE_WINDOW_SECS` before its sign-ins need a
    /// solved captcha as well as the password.
    #[arg(long, env = "ASTRO_LOGIN_FAILURES_PER_ACCOUNT", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub login_failures_per_account: u32,

    /// Failed sign-ins one client address may have in the window before its
    /// sign-ins need a captcha.
    #[arg(long, env = "ASTRO_LOGIN_FAILURES_PER_IP", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub login_failures_per_ip: u32,

    /// The window of the failed-sign-in budgets, in seconds.
    #[arg(long, env = "ASTRO_LOGIN_FAILURE_WINDOW_SECS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..))]
    pub login_failure_window_secs: u64,

    /// Sign-in attempts one client address may make per minute, on every
    /// transport (each instance counts its own).
    #[arg(long, env = "ASTRO_LOGIN_ATTEMPTS_PER_IP_PER_MIN", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub login_attempts_per_ip_per_min: u32,
}

/// Which captcha guards the public form and sign-ins past their budget.
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

    pub fn from_name(name: &str) -> Option<Self> {
        <Self as clap::ValueEnum>::from_str(name, false).ok()
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

/// Who is told of each new prospect, and how hard the worker tries.
#[derive(Debug, Clone, Args)]
pub struct NotifyConfig {
    /// Webhook URLs (comma-separated): each new prospect is POSTed to each,
    /// as signed JSON (docs/notifications.md).
    #[arg(long, env = "ASTRO_WEBHOOK_URLS", value_delimiter = ',')]
    pub webhook_urls: Vec<String>,

    /// The key webhook bodies are signed with (HMAC-SHA256).
    #[arg(long, env = "ASTRO_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<Secret>,

    /// Secrets Manager id of that key; takes precedence.
    #[arg(long, env = "ASTRO_WEBHOOK_SECRET_ID")]
    pub webhook_secret_id: Option<String>,

    /// Allow webhook targets on loopback, link-local or private addresses
    /// (a receiver inside the network). The instance metadata address is
    /// refused anyway.
    #[arg(long, env = "ASTRO_WEBHOOK_ALLOW_PRIVATE", default_value_t = false)]
    pub webhook_allow_private: bool,

    /// Email recipients told of every new prospect (comma-separated).
    #[arg(long, env = "ASTRO_NOTIFY_EMAILS", value_delimiter = ',')]
    pub notify_emails: Vec<String>,

    /// The emails' sender, e.g. `Astro Qualif <leads@example.com>`.
    #[arg(long, env = "ASTRO_NOTIFY_FROM")]
    pub notify_from: Option<String>,

    /// The SMTP server: `smtp://host:25` (plain, a local relay),
    /// `smtp://host:587?tls=required` (STARTTLS, e.g. SES's SMTP interface)
    /// or `smtps://host:465`.
    #[arg(long, env = "ASTRO_SMTP_URL")]
    pub smtp_url: Option<String>,

    /// SMTP user name (SES: the SMTP credentials' user name).
    #[arg(long, env = "ASTRO_SMTP_USERNAME")]
    pub smtp_username: Option<String>,

    /// SMTP password.
    #[arg(long, env = "ASTRO_SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<Secret>,

    /// Secrets Manager id of that password; takes precedence.
    #[arg(long, env = "ASTRO_SMTP_PASSWORD_ID")]
    pub smtp_password_id: Option<String>,

    /// How long a worker holds a notification it sends (one send may take a
    /// third of it); a worker that dies mid-send is followed by another try
    /// after this.
    #[arg(long, env = "ASTRO_NOTIFY_LEASE_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub notify_lease_secs: u64,

    /// Tries of one notification before it is kept as failed.
    #[arg(long, env = "ASTRO_NOTIFY_ATTEMPTS", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub notify_attempts: u32,

    /// The first retry's delay in milliseconds; each next one doubles (up to
    /// an hour), with jitter.
    #[arg(long, env = "ASTRO_NOTIFY_RETRY_MS", default_value_t = 2_000, value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
    pub notify_retry_ms: u64,

    /// Milliseconds between two looks at the outbox (a local submission
    /// wakes the worker at once).
    #[arg(long, env = "ASTRO_NOTIFY_POLL_MS", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub notify_poll_ms: u64,
}
