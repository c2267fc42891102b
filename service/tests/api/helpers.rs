use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Once,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use astro_authorizer::{Role, TokenIssuer, TokenSecret};
use astro_proto::v1::{
    Consent, CreateProspectRequest, ListProspectsRequest, LoginRequest, Prospect, ProspectStatus,
    auth_service_client::AuthServiceClient, prospect_service_client::ProspectServiceClient,
};
use astro_service::{RunningService, config::ServeConfig};
use clap::Parser;
use tonic::{
    Code, Request, Status,
    service::{Interceptor, interceptor::InterceptedService},
    transport::Channel,
};

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";
pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// Adds `authorization: Bearer <token>` to every call, when there is a token.
#[derive(Clone)]
pub struct Bearer(pub Option<String>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(token) = &self.0 {
            request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        Ok(request)
    }
}

pub type Prospects = ProspectServiceClient<InterceptedService<Channel, Bearer>>;

pub struct TestApp {
    pub addr: SocketAddr,
    /// On DynamoDB, the test's table.
    pub table: Option<String>,
    /// Kept so the data dir lives as long as the server.
    _dir: Option<tempfile::TempDir>,
    _running: RunningService,
}

fn init_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            astro_service::telemetry::init(astro_service::config::LogFormat::Text);
        }
    });
}

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    serve: ServeConfig,
}

/// Configuration for a test server: port 0, the data dir, a known secret and
/// admin, the cheapest bcrypt cost allowed.
pub fn test_config(dir: &Path) -> ServeConfig {
    Args::parse_from([
        "test",
        "--grpc-addr",
        "127.0.0.1:0",
        "--data-dir",
        dir.to_str().unwrap(),
        "--admin-email",
        ADMIN_EMAIL,
        "--admin-password",
        ADMIN_PASSWORD,
        "--jwt-secret",
        JWT_SECRET,
        "--bcrypt-cost",
        "10",
    ])
    .serve
}

/// Whether this run of the suite is on DynamoDB (`ASTRO_TEST_STORE=dynamodb`)
/// rather than the embedded store.
pub fn on_dynamodb() -> bool {
    std::env::var("ASTRO_TEST_STORE").is_ok_and(|s| s == "dynamodb")
}

/// Starts the service in this process on a free port with a fresh data dir
/// (and, on DynamoDB, a fresh table).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// [`spawn_app`], with the configuration changed by `configure`.
pub async fn spawn_app_with(configure: impl FnOnce(&mut ServeConfig)) -> TestApp {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    configure(&mut config);
    let mut table = None;
    let running = if on_dynamodb() {
        let client = astro_testkit::moto::dynamodb_client(None);
        let name = fresh_table(&client).await;
        table = Some(name.clone());
        let store = std::sync::Arc::new(astro_service::store::dynamodb::DynamoStore::new(client, name));
        astro_service::start_with_store(config, store).await
    } else {
        astro_service::start(config).await
    }
    .expect("the service starts");
    TestApp { addr: running.addr, table, _dir: Some(dir), _running: running }
}

/// [`spawn_app`] on `clock` (e.g. a fixed one, for exact durations).
pub async fn spawn_app_on(clock: astro_service::domain::clock::Clock) -> TestApp {
    spawn_app_on_with(clock, |_| {}).await
}

/// [`spawn_app_on`], with the configuration changed by `configure`.
pub async fn spawn_app_on_with(
    clock: astro_service::domain::clock::Clock,
    configure: impl FnOnce(&mut ServeConfig),
) -> TestApp {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    configure(&mut config);
    let mut table = None;
    let store: std::sync::Arc<dyn astro_service::store::Store> = if on_dynamodb() {
        let client = astro_testkit::moto::dynamodb_client(None);
        let name = fresh_table(&client).await;
        table = Some(name.clone());
        std::sync::Arc::new(astro_service::store::dynamodb::DynamoStore::new(client, name))
    } else {
        astro_service::server::open_store(&config.store).await.expect("the store opens")
    };
    let running = astro_service::start_with_clock(config, store, clock).await.expect("the service starts");
    TestApp { addr: running.addr, table, _dir: Some(dir), _running: running }
}

/// A fresh table on the tests' moto, created from the definition generated from `proto/`.
pub async fn fresh_table(client: &aws_sdk_dynamodb::Client) -> String {
    let table = astro_testkit::moto::table_name();
    astro_service::store::dynamodb::create_table(client, &table).await.expect("create the table");
    table
}

pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A token signed with the test secret.
pub fn token(email: &str, role: Role) -> String {
    TokenIssuer::new(&TokenSecret::new(JWT_SECRET.as_bytes().to_vec()).unwrap()).issue(email, role, now()).unwrap().0
}

impl TestApp {
    /// A service started by the caller (its data dir is theirs to keep).
    pub fn from_running(running: RunningService) -> Self {
        TestApp { addr: running.addr, table: None, _dir: None, _running: running }
    }

    /// Stops the service (in-flight calls finish).
    pub async fn stop(self) {
        self._running.stop().await.expect("the service stops");
    }

    /// The background work, when the service runs it a pass at a time.
    pub fn background(&self) -> Option<std::sync::Arc<astro_service::background::Background>> {
        self._running.background()
    }

    /// The data directory (the embedded store's file is in it).
    pub fn data_dir(&self) -> Option<&Path> {
        self._dir.as_ref().map(|d| d.path())
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.url()).unwrap().connect().await.expect("connect")
    }

    pub async fn auth(&self) -> AuthServiceClient<Channel> {
        AuthServiceClient::new(self.channel().await)
    }

    pub async fn prospects_with(&self, token: Option<String>) -> Prospects {
        ProspectServiceClient::with_interceptor(self.channel().await, Bearer(token))
    }

    /// A caller without a token.
    pub async fn anonymous(&self) -> Prospects {
        self.prospects_with(None).await
    }

    /// The bootstrap admin, signed in through AuthService.Login.
    pub async fn admin(&self) -> Prospects {
        let token = self.admin_token().await;
        self.prospects_with(Some(token)).await
    }

    /// Adds a member, as `astro-service user add` does.
    pub async fn add_member(&self, email: &str, password: &str, role: Role) {
        self._running.accounts.add_user(email, password, role, "").await.expect("the member is added");
    }

    /// The service's clock: tests move it instead of sleeping.
    pub fn clock(&self) -> &astro_service::domain::clock::Clock {
        &self._running.clock
    }

    /// A token of the bootstrap admin, signed in through AuthService.Login.
    pub async fn admin_token(&self) -> String {
        self.auth()
            .await
            .login(LoginRequest { email: ADMIN_EMAIL.into(), password: ADMIN_PASSWORD.into(), ..Default::default() })
            .await
            .expect("the bootstrap admin signs in")
            .into_inner()
            .token
    }

    /// An internal caller with the `service` role (the gateway's identity).
    pub async fn service(&self) -> Prospects {
        self.prospects_with(Some(token("gateway@astro.internal", Role::Service))).await
    }
}

/// A valid form submission.
pub fn prospect(first_name: &str, email: &str) -> Prospect {
    Prospect {
        first_name: first_name.into(),
        last_name: "Lovelace".into(),
        email: email.into(),
        company: "Analytical Engines".into(),
        message: "We need a qualification pipeline.".into(),
        consent: Some(Consent { given: true, ..Default::default() }),
        ..Default::default()
    }
}

/// A request creating [`prospect`].
pub fn create_request(first_name: &str, email: &str) -> CreateProspectRequest {
    CreateProspectRequest { prospect: Some(prospect(first_name, email)), request_id: String::new() }
}

pub async fn create(client: &mut Prospects, first_name: &str, email: &str) -> Prospect {
    client.create_prospect(create_request(first_name, email)).await.expect("create").into_inner()
}

pub async fn list(
    client: &mut Prospects,
    status: ProspectStatus,
    page_size: i32,
    page_token: &str,
) -> astro_proto::v1::ListProspectsResponse {
    client
        .list_prospects(ListProspectsRequest {
            page_size,
            page_token: page_token.into(),
            status: status as i32,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
}

pub fn count(response: &astro_proto::v1::ListProspectsResponse, status: ProspectStatus) -> i64 {
    response.status_counts.iter().find(|c| c.status == status as i32).map_or(0, |c| c.count)
}

pub fn assert_code<T: std::fmt::Debug>(result: Result<T, Status>, code: Code) -> Status {
    match result {
        Err(status) => {
            assert_eq!(status.code(), code, "unexpected status: {status:?}");
            status
        }
        Ok(value) => panic!("expected {code:?}, got {value:?}"),
    }
}

/// The field paths of the `BadRequest` details of an INVALID_ARGUMENT status.
pub fn violated_fields(status: &Status) -> Vec<String> {
    use tonic_types::StatusExt;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let details = status.get_error_details();
    let bad_request = details.bad_request().expect("INVALID_ARGUMENT carries google.rpc.BadRequest");
    bad_request.field_violations.iter().map(|v| v.field.clone()).collect()
}

// ---------------------------------------------------------------- the binary

/// The built `astro-service` binary running as its own process.
pub struct ServiceProcess {
    pub child: Child,
    pub addr: SocketAddr,
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_astro-service"))
}

/// The store settings of a process over `dir`: the data dir, and on
/// DynamoDB a table of its own (created by `astro-service table create` the
/// first time) on the tests' moto server.
pub fn store_env(dir: &Path) -> Vec<(String, String)> {
    let mut env = vec![("ASTRO_DATA_DIR".to_owned(), dir.display().to_string())];
    if on_dynamodb() {
        let table_file = dir.join("test-table-name");
        let table = match std::fs::read_to_string(&table_file) {
            Ok(name) => name,
            Err(_) => astro_testkit::moto::table_name(),
        };
        env.push(("ASTRO_STORE".to_owned(), "dynamodb".to_owned()));
        env.push(("ASTRO_DYNAMODB_TABLE".to_owned(), table.clone()));
        env.extend(astro_testkit::moto::aws_env().into_iter().map(|(k, v)| (k.to_owned(), v)));
        if !table_file.exists() {
            let out = Command::new(binary()).args(["table", "create"]).env_clear().envs(env.clone()).output().unwrap();
            assert!(out.status.success(), "table create: {}", String::from_utf8_lossy(&out.stderr));
            assert!(String::from_utf8_lossy(&out.stdout).contains(&table));
            std::fs::write(&table_file, &table).unwrap();
        }
    }
    env
}

/// Reads a started binary's JSON logs until it says where it serves.
pub fn wait_for_address(child: &mut Child) -> SocketAddr {
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    let echo = std::env::var_os("TEST_LOG").is_some();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if echo {
                eprintln!("[astro-service] {line}");
            }
            if !sent && line.contains("serving native gRPC") {
                let json: serde_json::Value = serde_json::from_str(&line).unwrap();
                let _ = tx.send(json["addr"].as_str().unwrap().parse::<SocketAddr>().unwrap());
                sent = true;
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30)).expect("the service reports its address")
}

impl ServiceProcess {
    /// Starts the binary on a free port over `dir`; returns once it serves.
    pub fn start(dir: &Path) -> ServiceProcess {
        Self::start_with(dir, &[])
    }

    /// [`ServiceProcess::start`] with more environment.
    pub fn start_with(dir: &Path, extra: &[(&str, &str)]) -> ServiceProcess {
        let mut child = Command::new(binary())
            .env_clear()
            .env("ASTRO_GRPC_ADDR", "127.0.0.1:0")
            .envs(store_env(dir))
            .env("ASTRO_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("ASTRO_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("ASTRO_JWT_SECRET", JWT_SECRET)
            .env("ASTRO_BCRYPT_COST", "10")
            .env("ASTRO_LOG_FORMAT", "json")
            .envs(extra.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start astro-service");
        let addr = wait_for_address(&mut child);
        ServiceProcess { child, addr }
    }

    pub async fn prospects(&self, token: Option<String>) -> Prospects {
        let channel = Channel::from_shared(format!("http://{}", self.addr)).unwrap().connect().await.unwrap();
        ProspectServiceClient::with_interceptor(channel, Bearer(token))
    }

    pub fn terminate(mut self) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let status = self.child.wait().unwrap();
        assert!(status.success(), "graceful stop: {status:?}");
    }

    pub fn kill_9(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }
}
