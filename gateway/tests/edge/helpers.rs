//! A whole stack per test: the gateway and the in-process service on free
//! ports, a fresh embedded store, and clients that speak to it over HTTP.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::Path,
    process::{Child, Command, Stdio},
    sync::Once,
    time::{SystemTime, UNIX_EPOCH},
};

use astro_authorizer::{Role, TokenIssuer, TokenSecret};
use astro_gateway::{RunningGateway, config::GatewayConfig};
use astro_service::captcha::pow::{self, Challenge};
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
    /// The service's native gRPC address.
    pub grpc: SocketAddr,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
    _running: RunningGateway,
}

/// The store a test stack runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    /// A fresh table on the tests' moto server.
    Dynamodb,
}

pub const BACKENDS: [Backend; 2] = [Backend::Embedded, Backend::Dynamodb];

/// A fresh DynamoDB store: a new table on the tests' moto server.
pub async fn dynamodb_store() -> (std::sync::Arc<dyn astro_service::store::Store>, String) {
    let client = astro_testkit::moto::dynamodb_client(None);
    let table = astro_testkit::moto::table_name();
    astro_service::store::dynamodb::create_table(&client, &table).await.expect("create the table");
    (std::sync::Arc::new(astro_service::store::dynamodb::DynamoStore::new(client, &table)), table)
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
    spawn_on(Backend::Embedded, extra).await
}

/// A stack on `backend`, with `extra` flags.
pub async fn spawn_on(backend: Backend, extra: &[&str]) -> Stack {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    let store = match backend {
        Backend::Embedded => None,
        Backend::Dynamodb => Some(dynamodb_store().await.0),
    };
    let running = astro_gateway::start_with_store(config(dir.path(), extra), store).await.expect("the stack starts");
    Stack {
        url: format!("http://{}", running.addr),
        grpc: running.grpc_addr().expect("the service runs in-process"),
        http: reqwest::Client::new(),
        _dir: dir,
        _running: running,
    }
}

/// A gateway in front of a service running elsewhere (`--service-url`), as
/// on AWS, spending captcha solutions in `store` when given one.
pub async fn spawn_in_front_of(
    service: SocketAddr,
    store: Option<std::sync::Arc<dyn astro_service::store::Store>>,
    extra: &[&str],
) -> Stack {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://{service}");
    let mut flags = vec!["--service-url", url.as_str()];
    flags.extend_from_slice(extra);
    let running = astro_gateway::start_with_store(config(dir.path(), &flags), store).await.expect("the gateway starts");
    assert_eq!(running.grpc_addr(), None, "no service in the gateway's process");
    Stack {
        url: format!("http://{}", running.addr),
        grpc: service,
        http: reqwest::Client::new(),
        _dir: dir,
        _running: running,
    }
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
        "consentVersion": "2026-11",
        "consentLanguage": "en",
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

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        let body = json!({"email": email, "password": password});
        self.http.post(self.at("/auth/login")).json(&body).send().await.unwrap()
    }

    /// The verdict of `POST /verify-recaptcha` on `token`.
    pub async fn verify_captcha(&self, token: &str) -> Value {
        let response = self.http.post(self.at("/verify-recaptcha")).json(&json!({"token": token})).send().await;
        response.unwrap().json().await.unwrap()
    }

    pub fn admin(&self) -> String {
        token(ADMIN_EMAIL, Role::Admin)
    }

    /// Adds a member to the in-process service's team (as `astro-service
    /// user add` does) and returns a token of theirs.
    pub async fn member(&self, email: &str, role: Role) -> String {
        let accounts = self._running.accounts().expect("the service runs in this process");
        accounts.add_user(email, "a long team password", role, "").await.expect("the member is added");
        token(email, role)
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

/// A message in a gRPC-web data frame.
pub fn grpc_web_frame(message: &impl prost::Message) -> Vec<u8> {
    let body = message.encode_to_vec();
    let mut out = vec![0u8];
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// A gateway over HTTP: one in this process or a built binary.
pub trait Edge {
    fn url(&self, path: &str) -> String;
    fn http(&self) -> &reqwest::Client;
}

impl Edge for Stack {
    fn url(&self, path: &str) -> String {
        self.at(path)
    }
    fn http(&self) -> &reqwest::Client {
        &self.http
    }
}

impl Edge for GatewayProcess {
    fn url(&self, path: &str) -> String {
        self.at(path)
    }
    fn http(&self) -> &reqwest::Client {
        &self.http_client
    }
}

/// A gRPC-web call through the edge, decoded as a tonic client would: the
/// message, or the status from the headers (trailers-only) or from the
/// trailer frame. `headers` are added as sent (a token, forgeries…).
pub async fn grpc_web<R: prost::Message + Default>(
    stack: &impl Edge,
    method: &str,
    message: &impl prost::Message,
    headers: &[(&str, &str)],
) -> Result<R, tonic::Status> {
    let mut request = stack
        .http()
        .post(stack.url(method))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(grpc_web_frame(message));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    if response.status() == 429 {
        return Err(tonic::Status::resource_exhausted("HTTP 429 at the edge"));
    }
    assert_eq!(response.status(), 200);
    if let Some(status) = tonic::Status::from_header_map(response.headers()) {
        return Err(status);
    }
    let bytes = response.bytes().await.unwrap();
    let (mut at, mut reply) = (0, None);
    while at + 5 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at + 1..at + 5].try_into().unwrap()) as usize;
        let frame = &bytes[at + 5..at + 5 + len];
        if bytes[at] & 0x80 == 0 {
            reply = Some(R::decode(frame).unwrap());
        } else {
            let mut trailers = http::HeaderMap::new();
            for line in String::from_utf8_lossy(frame).split("\r\n").filter(|l| !l.is_empty()) {
                let (name, value) = line.split_once(':').unwrap();
                trailers.insert(
                    http::HeaderName::from_bytes(name.trim().as_bytes()).unwrap(),
                    value.trim().parse().unwrap(),
                );
            }
            let status = tonic::Status::from_header_map(&trailers).expect("a grpc-status trailer");
            if status.code() != tonic::Code::Ok {
                return Err(status);
            }
        }
        at += 5 + len;
    }
    reply.ok_or_else(|| tonic::Status::internal("no message"))
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

/// The built `astro-gateway` binary, started with the test stack's settings
/// plus `env`; its two addresses read from its JSON logs.
pub struct GatewayProcess {
    pub child: Child,
    pub http: SocketAddr,
    pub grpc: Option<SocketAddr>,
    /// The `captcha` field of the start line.
    pub captcha: String,
    /// Every line logged after the start line.
    pub logs: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    http_client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl GatewayProcess {
    pub fn start(env: &[(&str, &str)]) -> GatewayProcess {
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_astro-gateway"));
        command
            .env("ASTRO_HTTP_ADDR", "127.0.0.1:0")
            .env("ASTRO_GRPC_ADDR", "127.0.0.1:0")
            .env("ASTRO_DATA_DIR", dir.path())
            .env("ASTRO_WEB_DIR", dir.path())
            .env("ASTRO_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("ASTRO_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("ASTRO_JWT_SECRET", JWT_SECRET)
            .env("ASTRO_BCRYPT_COST", "10")
            .env("ASTRO_LOG_FORMAT", "json")
            .stdout(Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut grpc = None;
        let (http, captcha) = loop {
            let line = lines.next().expect("the binary logs its addresses").unwrap();
            assert!(!line.contains(JWT_SECRET) && !line.contains(ADMIN_PASSWORD), "a secret in the logs: {line}");
            let json: Value = serde_json::from_str(&line).unwrap();
            let addr = || json["addr"].as_str().map(|a| a.parse::<SocketAddr>().unwrap());
            match json["message"].as_str().unwrap_or_default() {
                m if m.starts_with("serving native gRPC") => grpc = addr(),
                m if m.starts_with("serving the REST API") => {
                    break (addr().unwrap(), json["captcha"].as_str().unwrap_or_default().to_owned());
                }
                _ => {}
            }
        };
        // Keep reading, so the log pipe never fills up and blocks the binary.
        let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = logs.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        });
        GatewayProcess { child, http, grpc, captcha, logs, http_client: reqwest::Client::new(), _dir: dir }
    }

    pub fn at(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
