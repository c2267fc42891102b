//! A whole stack per test: the gateway and the in-process service on free
//! ports, a fresh embedded store, and clients that speak to it over HTTP.

use std::{
    path::Path,
    sync::Once,
    time::{SystemTime, UNIX_EPOCH},
};

use astro_authorizer::{Role, TokenIssuer, TokenSecret};
use astro_gateway::{
    RunningGateway,
    captcha::pow::{self, Challenge},
    config::GatewayConfig,
};
use clap::Parser;
use serde_json::{Value, json};

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";
pub const JWT_SECRET: &str = "gateway-test-secret-gateway-test-secret!";
/// The key the test gateways sign proof-of-work challenges with.
pub const POW_KEY: &str = "pow-test-key";

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    config: GatewayConfig,
}

fn init_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            astro_service::telemetry::init(astro_service::config::LogFormat::Text);
        }
    });
}

pub struct Stack {
    pub url: String,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
    _running: RunningGateway,
}

/// The configuration of a test stack: free ports, a fresh data dir, a known
/// secret and admin, cheap bcrypt, easy proof of work; then `extra` flags.
pub fn config(dir: &Path, extra: &[&str]) -> GatewayConfig {
    let dir = dir.to_str().unwrap();
    let defaults = [
        ("--http-addr", "127.0.0.1:0"),
        ("--grpc-addr", "127.0.0.1:0"),
        ("--data-dir", dir),
        ("--web-dir", dir),
        ("--admin-email", ADMIN_EMAIL),
        ("--admin-password", ADMIN_PASSWORD),
        ("--jwt-secret", JWT_SECRET),
        ("--bcrypt-cost", "10"),
        ("--captcha-secret", POW_KEY),
        ("--pow-max-number", "5000"),
    ];
    let mut args = vec!["test"];
    for (flag, value) in defaults {
        if !extra.contains(&flag) {
            args.extend([flag, value]);
        }
    }
    args.extend_from_slice(extra);
    Args::try_parse_from(args).expect("valid test flags").config
}

pub async fn spawn_with(extra: &[&str]) -> Stack {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    let running = astro_gateway::start(config(dir.path(), extra)).await.expect("the stack starts");
    Stack { url: format!("http://{}", running.addr), http: reqwest::Client::new(), _dir: dir, _running: running }
}

pub async fn spawn() -> Stack {
    spawn_with(&[]).await
}

pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A token signed with the test secret.
pub fn token(email: &str, role: Role) -> String {
    TokenIssuer::new(&TokenSecret::new(JWT_SECRET.as_bytes().to_vec()).unwrap()).issue(email, role, now()).unwrap().0
}

/// A form submission with every required field.
pub fn submission(first_name: &str, email: &str, captcha_token: &str) -> Value {
    json!({
        "firstName": first_name,
        "lastName": "Lovelace",
        "email": email,
        "company": "Analytical Engines",
        "budget": "5k_to_20k",
        "timeline": "within_3_months",
        "message": "We need <b>qualified</b> leads",
        "consent": true,
        "source": {"utmSource": "newsletter"},
        "captchaToken": captcha_token,
    })
}

impl Stack {
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    pub async fn challenge(&self) -> Challenge {
        let response = self.http.get(self.at("/captcha/challenge")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// A solved proof of work, as the widget would send it.
    pub async fn solved(&self) -> String {
        pow::solve(&self.challenge().await).expect("solvable")
    }

    pub async fn submit(&self, body: &Value, idempotency_key: Option<&str>) -> reqwest::Response {
        let mut request = self.http.post(self.at("/prospects")).json(body);
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        request.send().await.unwrap()
    }

    pub fn admin(&self) -> String {
        token(ADMIN_EMAIL, Role::Admin)
    }

    /// GET with the admin's token.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.at(path)).bearer_auth(self.admin()).send().await.unwrap()
    }

    /// How many prospects the admin API shows.
    pub async fn stored(&self) -> usize {
        let page: Value = self.get("/prospects?pageSize=100").await.json().await.unwrap();
        page["prospects"].as_array().unwrap().len()
    }
}

/// Asserts a problem answer: its status, content type, and the field it names.
pub async fn assert_problem(response: reqwest::Response, status: u16, field: Option<&str>) -> Value {
    assert_eq!(response.status(), status, "status");
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    if let Some(field) = field {
        let fields: Vec<&str> =
            body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert!(fields.contains(&field), "{field} not in {fields:?}: {body}");
    }
    body
}
