//! Wiring and serving: store, secrets, domain, gRPC services and the HTTP
//! layers around them (request ids, logs, CORS, gRPC-web).

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use astro_authorizer::TokenSecret;
use astro_proto::v1::{
    auth_service_server::AuthServiceServer, form_service_server::FormServiceServer,
    import_service_server::ImportServiceServer, insights_service_server::InsightsServiceServer,
    member_service_server::MemberServiceServer, privacy_service_server::PrivacyServiceServer,
    prospect_service_server::ProspectServiceServer, scoring_service_server::ScoringServiceServer,
};
use http::{HeaderName, HeaderValue, Method};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tonic::transport::{Server, server::TcpIncoming};
use tower_http::{
    LatencyUnit,
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer},
};
use tracing::Level;

use crate::{
    api::{
        access::AccessLayer, auth::AuthApi, forms::FormApi, imports::ImportApi, insights::InsightsApi,
        members::MemberApi, privacy::PrivacyApi, prospects::ProspectApi, scoring::ScoringApi,
    },
    background::{Background, Mode},
    captcha::Captcha,
    config::{CaptchaProvider, ServeConfig, StoreConfig, StoreKind},
    domain::{
        auth::{Accounts, PasswordHasher, load_or_create_secret},
        clock::Clock,
        insights::Insights,
        invitations::Invitations,
        mail::MemberMail,
        members::Members,
        prospects::Prospects,
        scoring::Scoring,
        sign_in::{self, SignIn, SignInGuard},
        two_factor::TwoFactorKey,
    },
    keys::KeyRing,
    secrets::SecretsManager,
    store::{Store, dynamodb::DynamoStore, embedded::EmbeddedStore},
};

/// The domain services over one store, with the token keys.
#[derive(Clone)]
pub struct Services {
    pub prospects: Prospects,
    pub accounts: Accounts,
    pub members: Members,
    pub invitations: Invitations,
    pub insights: Insights,
    pub imports: crate::domain::imports::Imports,
    pub forms: crate::domain::forms::Forms,
    pub keys: KeyRing,
}

/// Opens the configured store.
pub async fn open_store(config: &StoreConfig) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match config.kind {
        StoreKind::Embedded => Arc::new(EmbeddedStore::open(&config.data_dir).context("opening the embedded store")?),
        StoreKind::Dynamodb => Arc::new(DynamoStore::new(dynamodb_client().await, &config.dynamodb_table)),
    })
}

/// A DynamoDB client configured by the standard AWS chain (region,
/// credentials, `AWS_ENDPOINT_URL`).
pub async fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    // Throttling and 5xx answers are retried by the SDK (jittered backoff)
    // before the store reports UNAVAILABLE.
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(5))
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&shared)
}

/// The token keys: from Secrets Manager (`ASTRO_JWT_SECRET_ID`), else
/// `ASTRO_JWT_SECRET`, else the secret kept in the data directory.
pub async fn key_ring(config: &ServeConfig) -> anyhow::Result<KeyRing> {
    if let Some(id) = &config.jwt_secret_id {
        return SecretsManager::from_environment().await.key_ring(id).await;
    }
    local_key_ring(config)
}

/// The token keys for a long-running process: as [`key_ring`], and when they
/// come from Secrets Manager, reread every `ASTRO_SECRET_REFRESH_SECS`.
/// Where to reach an address bound on a wildcard (`0.0.0.0:50051` in a
/// container): the loopback address of the same family.
pub fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, a.port())),
        SocketAddr::V6(a) if a.ip().is_unspecified() => SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, a.port())),
        a => a,
    }
}

/// The container's health check (`astro-service health`): the standard gRPC
/// health service at `addr` answers SERVING within 3 s.
pub async fn probe(addr: SocketAddr) -> anyhow::Result<()> {
    use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};
    let url = format!("http://{}", reachable(addr));
    let check = async {
        let channel = tonic::transport::Endpoint::from_shared(url.clone())?.connect().await?;
        let answer = HealthClient::new(channel).check(HealthCheckRequest::default()).await?;
        anyhow::Ok(answer.into_inner().status())
    };
    let status = tokio::time::timeout(Duration::from_secs(3), check)
        .await
        .with_context(|| format!("{url}: no answer within 3 s"))?
        .with_context(|| format!("{url}: health check"))?;
    println!("{url}: {}", status.as_str_name());
    anyhow::ensure!(status == ServingStatus::Serving, "{url} is {}", status.as_str_name());
    Ok(())
}

pub async fn live_key_ring(config: &ServeConfig, secrets: Option<&SecretsManager>) -> anyhow::Result<KeyRing> {
    let Some(id) = &config.jwt_secret_id else { return local_key_ring(config) };
    let own;
    let secrets = match secrets {
        Some(secrets) => secrets,
        None => {
            own = SecretsManager::from_environment().await;
            &own
        }
    };
    let keys = secrets.key_ring(id).await?;
    secrets.keep_fresh(id.clone(), keys.clone(), Duration::from_secs(config.secret_refresh_secs));
    Ok(keys)
}

/// The key of members' second factors: from Secrets Manager
/// (`ASTRO_TWO_FACTOR_KEY_SECRET_ID`), else `ASTRO_TWO_FACTOR_KEY`, else the
/// key kept in the data directory.
async fn two_factor_key(config: &ServeConfig, secrets: Option<&SecretsManager>) -> anyhow::Result<TwoFactorKey> {
    if let Some(id) = &config.two_factor_key_id {
        let text = match secrets {
            Some(secrets) => secrets.string(id).await?,
            None => SecretsManager::from_environment().await.string(id).await?,
        };
        return TwoFactorKey::new(text.trim().as_bytes()).map_err(|e| anyhow::anyhow!("secret {id}: {e}"));
    }
    match &config.two_factor_key {
        Some(key) => {
            TwoFactorKey::new(key.expose().as_bytes()).map_err(|e| anyhow::anyhow!("ASTRO_TWO_FACTOR_KEY: {e}"))
        }
        None => TwoFactorKey::load_or_create(&config.store.data_dir).map_err(anyhow::Error::msg),
    }
}

fn local_key_ring(config: &ServeConfig) -> anyhow::Result<KeyRing> {
    let secret = match &config.jwt_secret {
        Some(secret) => TokenSecret::new(secret.expose().as_bytes().to_vec()).context("ASTRO_JWT_SECRET")?,
        None => load_or_create_secret(&config.store.data_dir).map_err(anyhow::Error::msg)?,
    };
    Ok(KeyRing::new(secret))
}

/// The domain over `store`, on `clock`; `public_url`: where people reach
/// the web app (links).
pub fn services(store: Arc<dyn Store>, keys: KeyRing, bcrypt_cost: u32, public_url: &str, clock: Clock) -> Services {
    let members = Members::new(store.clone(), keys.clone());
    let accounts =
        Accounts::new(store.clone(), PasswordHasher::new(bcrypt_cost), keys.clone()).with_members(members.clone());
    let scoring = Scoring::new(store.clone(), clock.clone(), keys.clone());
    let forms = crate::domain::forms::Forms::new(store.clone(), clock.clone());
    let prospects = Prospects::new(store.clone(), keys.clone())
        .with_team(members.clone())
        .with_scoring(scoring)
        .with_forms(forms.clone());
    Services {
        insights: Insights::new(store.clone(), clock),
        imports: crate::domain::imports::Imports::new(prospects.clone()),
        forms,
        prospects,
        invitations: Invitations::new(store, keys.clone(), accounts.clone(), public_url),
        accounts,
        members,
        keys,
    }
}

/// A running server: its address, its token keys, and how to stop it.
pub struct RunningService {
    pub addr: SocketAddr,
    /// The keys the service signs and verifies tokens with (kept fresh when
    /// they come from Secrets Manager); an in-process edge shares them.
    pub keys: KeyRing,
    /// The captcha of sign-ins; an in-process edge uses the same for the
    /// form, so a solution is good for one use across both.
    pub captcha: Arc<Captcha>,
    /// The service itself, to call with no socket (an in-process gateway).
    pub in_process: GrpcService,
    /// The members' accounts (adding one, as the command line does).
    pub accounts: Accounts,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
    sweeper: JoinHandle<()>,
    /// The background work's loops ([`Mode::Loops`]): the notifications,
    /// the re-scoring, the imports, the retention.
    loops: Vec<JoinHandle<()>>,
    /// The background work, run a pass at a time ([`Mode::Passes`]).
    background: Option<Arc<Background>>,
    /// The service's clock (tests move it).
    pub clock: Clock,
}

impl RunningService {
    /// Stops accepting, lets in-flight calls finish, and returns.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.wait().await
    }

    /// Waits until the server ends (it ends on `stop` or an error).
    pub async fn wait(mut self) -> anyhow::Result<()> {
        let served = (&mut self.task).await.context("server task")?.context("server");
        self.sweeper.abort();
        for work in &self.loops {
            work.abort();
        }
        served
    }

    /// The background work when it runs a pass at a time (the service was
    /// started with [`Mode::Passes`]); `None` when it runs in loops.
    pub fn background(&self) -> Option<Arc<Background>> {
        self.background.clone()
    }

    pub fn shutdown_handle(&mut self) -> Option<oneshot::Sender<()>> {
        self.shutdown.take()
    }
}

/// Opens the store, creates the bootstrap admin, binds `config.grpc_addr`
/// (port 0 picks a free port) and serves in the background.
pub async fn start(config: ServeConfig) -> anyhow::Result<RunningService> {
    let store = open_store(&config.store).await?;
    start_with_store(config, store).await
}

/// [`start`] over a store opened by the caller (tests use it to point the
/// DynamoDB adapter at their own server).
pub async fn start_with_store(config: ServeConfig, store: Arc<dyn Store>) -> anyhow::Result<RunningService> {
    start_with_clock(config, store, Clock::system()).await
}

/// [`start_with_store`] on `clock` (tests move it instead of sleeping; two
/// services on one clock see the same time).
pub async fn start_with_clock(
    config: ServeConfig,
    store: Arc<dyn Store>,
    clock: Clock,
) -> anyhow::Result<RunningService> {
    if config.captcha.provider == CaptchaProvider::Off && !config.grpc_addr.ip().is_loopback() {
        anyhow::bail!(
            "ASTRO_CAPTCHA=off is for development only: it is refused on {}, a non-loopback address",
            config.grpc_addr
        );
    }
    // One Secrets Manager client, only when a secret lives there.
    let secrets = match config.jwt_secret_id.is_some()
        || config.admin_secret_id.is_some()
        || config.two_factor_key_id.is_some()
    {
        true => Some(SecretsManager::from_environment().await),
        false => None,
    };
    let keys = live_key_ring(&config, secrets.as_ref()).await?;
    let captcha = Arc::new(Captcha::from_config(&config.captcha, Some(store.clone())).await?);
    let guard = Arc::new(SignInGuard::new(store.clone(), captcha.clone(), &config.sign_in));
    let notify = &config.notify;
    let mut channel_secrets = crate::notify::ChannelSecrets {
        webhook_key: notify.webhook_secret.as_ref().map(|s| s.expose().to_owned()),
        smtp_password: notify.smtp_password.as_ref().map(|s| s.expose().to_owned()),
    };
    if notify.webhook_secret_id.is_some() || notify.smtp_password_id.is_some() {
        let secrets = match &secrets {
            Some(s) => s.clone(),
            None => SecretsManager::from_environment().await,
        };
        if let Some(id) = &notify.webhook_secret_id {
            channel_secrets.webhook_key = Some(secrets.string(id).await?);
        }
        if let Some(id) = &notify.smtp_password_id {
            channel_secrets.smtp_password = Some(secrets.string(id).await?);
        }
    }
    let letters = Arc::new(MemberMail::new(store.clone(), keys.clone(), &config.public_url));
    let notifier = Arc::new(
        crate::notify::Notifier::new(store.clone(), notify, channel_secrets)?
            .with_letters(letters)
            .with_clock(clock.clone()),
    );
    let mut services = services(store, keys, config.store.bcrypt_cost, &config.public_url, clock.clone());
    services.forms = services.forms.with_mail(notifier.emails_members());
    services.prospects =
        services.prospects.with_watch_poll(Duration::from_millis(config.watch_poll_ms)).with_notifier(notifier.clone());
    services.invitations = services.invitations.with_notifier(notifier.clone());
    let two_factor_key = two_factor_key(&config, secrets.as_ref()).await?;
    let sign_in = SignIn::new(services.accounts.clone(), guard.clone(), services.members.clone(), two_factor_key)
        .with_notifier(notifier.clone());

    if let (Some(id), Some(secrets)) = (&config.admin_secret_id, &secrets) {
        let admin = secrets.admin_credentials(id).await?;
        if services
            .accounts
            .ensure_admin(&admin.email, &admin.password)
            .await
            .context("creating the bootstrap admin")?
        {
            tracing::info!(email = %admin.email, "bootstrap admin created from Secrets Manager");
        }
    }
    match (&config.admin_email, &config.admin_password) {
        (Some(email), Some(password)) => {
            if services.accounts.ensure_admin(email, password.expose()).await.context("creating the bootstrap admin")? {
                tracing::info!(%email, "bootstrap admin created");
            }
        }
        (Some(_), None) | (None, Some(_)) => {
            anyhow::bail!("set both ASTRO_ADMIN_EMAIL and ASTRO_ADMIN_PASSWORD, or neither")
        }
        (None, None) => {}
    }

    let listener =
        TcpListener::bind(config.grpc_addr).await.with_context(|| format!("binding {}", config.grpc_addr))?;
    let addr = listener.local_addr()?;
    let cors = cors(&config.cors_origins)?;
    let (tx, rx) = oneshot::channel::<()>();
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let keys = services.keys.clone();
    let board = services.prospects.board().clone();
    let work =
        Background::new(&services, notifier.clone(), clock.clone(), Duration::from_secs(config.retention_every_secs));
    let (loops, background) = match config.background {
        Mode::Loops => (work.spawn(), None),
        Mode::Passes => (Vec::new(), Some(Arc::new(work))),
    };
    let access = AccessLayer::new(services.keys.clone(), services.members.clone());
    let service = layered(routes(&services, sign_in).await, cors, access);
    let in_process = service.clone();
    let task = tokio::spawn(serve(service, incoming, async move {
        let _ = rx.await;
        // Open watch streams end first, or they would hold the shutdown up.
        board.close();
    }));
    let swept = captcha.clone();
    let sweeper = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(sign_in::SWEEP_EVERY);
        loop {
            ticks.tick().await;
            guard.sweep();
            swept.sweep();
        }
    });
    tracing::info!(%addr, captcha = config.captcha.provider.name(), "serving native gRPC and gRPC-web");
    let accounts = services.accounts.clone();
    Ok(RunningService {
        addr,
        keys,
        captcha,
        in_process,
        accounts,
        shutdown: Some(tx),
        task,
        sweeper,
        loops,
        background,
        clock,
    })
}

/// The browser origins of `ASTRO_CORS_ORIGINS`, checked.
pub fn allowed_origins(origins: &[String]) -> anyhow::Result<AllowOrigin> {
    let origins = origins
        .iter()
        .filter(|o| !o.is_empty())
        .map(|o| HeaderValue::from_str(o).with_context(|| format!("ASTRO_CORS_ORIGINS: {o:?}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(AllowOrigin::list(origins))
}

fn cors(origins: &[String]) -> anyhow::Result<CorsLayer> {
    let header = |name: &'static str| HeaderName::from_static(name);
    Ok(CorsLayer::new()
        .allow_origin(allowed_origins(origins)?)
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers([
            header("authorization"),
            header("content-type"),
            header("x-grpc-web"),
            header("x-user-agent"),
            header("grpc-timeout"),
            header("x-request-id"),
        ])
        .expose_headers([
            header("grpc-status"),
            header("grpc-message"),
            header("grpc-status-details-bin"),
            header("x-request-id"),
        ])
        .max_age(Duration::from_secs(24 * 60 * 60)))
}

/// The whole service as one tower service: its gRPC routes (and health and
/// reflection) inside its layers (request id, tracing, CORS, gRPC-web). The
/// listener serves it; a gateway in the same process calls it directly —
/// the same guards, validation and layers, with no socket in between.
pub type GrpcService =
    tower::util::BoxCloneSyncService<http::Request<tonic::body::Body>, http::Response<tonic::body::Body>, CallError>;

/// Why a call through [`GrpcService`] failed before any answer: a transport
/// failure (networked), or a layer's (in-process). A concrete type, so that
/// clients' futures stay `Send` for any caller.
#[derive(Debug)]
pub struct CallError(pub tower::BoxError);

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for CallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.0.as_ref())
    }
}

async fn routes(services: &Services, sign_in: SignIn) -> tonic::service::Routes {
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<ProspectServiceServer<ProspectApi>>().await;
    health.set_serving::<AuthServiceServer<AuthApi>>().await;
    health.set_serving::<MemberServiceServer<MemberApi>>().await;
    health.set_serving::<ScoringServiceServer<ScoringApi>>().await;
    health.set_serving::<InsightsServiceServer<InsightsApi>>().await;
    health.set_serving::<PrivacyServiceServer<PrivacyApi>>().await;
    health.set_serving::<ImportServiceServer<ImportApi>>().await;
    health.set_serving::<FormServiceServer<FormApi>>().await;

    let reflection = |b: tonic_reflection::server::Builder<'static>| {
        // google.rpc too, so grpcurl can print error details (BadRequest…).
        b.register_encoded_file_descriptor_set(astro_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection(tonic_reflection::server::Builder::configure())
        .build_v1()
        .expect("the contract's descriptors are valid");
    let reflection_v1alpha = reflection(tonic_reflection::server::Builder::configure())
        .build_v1alpha()
        .expect("the contract's descriptors are valid");

    tonic::service::Routes::new(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(ProspectServiceServer::new(ProspectApi {
            prospects: services.prospects.clone(),
            members: services.members.clone(),
        }))
        .add_service(AuthServiceServer::new(AuthApi {
            sign_in,
            members: services.members.clone(),
            invitations: services.invitations.clone(),
            keys: services.keys.clone(),
        }))
        .add_service(MemberServiceServer::new(MemberApi {
            members: services.members.clone(),
            invitations: services.invitations.clone(),
        }))
        .add_service(ScoringServiceServer::new(ScoringApi { scoring: services.prospects.scoring().clone() }))
        .add_service(InsightsServiceServer::new(InsightsApi { insights: services.insights.clone() }))
        .add_service(PrivacyServiceServer::new(PrivacyApi { prospects: services.prospects.clone() }))
        .add_service(FormServiceServer::new(FormApi { forms: services.forms.clone() }))
        .add_service(
            ImportServiceServer::new(ImportApi { imports: services.imports.clone() })
                .max_decoding_message_size(crate::api::imports::MAX_REQUEST_BYTES),
        )
}

fn layered(routes: tonic::service::Routes, cors: CorsLayer, access: AccessLayer) -> GrpcService {
    use tower::ServiceExt as _;
    let service = tower::ServiceBuilder::new()
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(
            TraceLayer::new_for_grpc()
                .make_span_with(|request: &http::Request<tonic::body::Body>| {
                    let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                    tracing::info_span!("request", request_id = %id, method = %request.uri().path())
                })
                // A non-OK gRPC status is usually the caller's (bad input, no token):
                // logged as information; the handlers log real failures themselves.
                .on_failure(DefaultOnFailure::new().level(Level::INFO))
                .on_response(DefaultOnResponse::new().level(Level::DEBUG).latency_unit(LatencyUnit::Micros)),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(cors)
        .layer(tonic_web::GrpcWebLayer::new())
        // Inside gRPC-web: a refusal reaches a browser as gRPC-web.
        .layer(access)
        .service(routes);
    tower::util::BoxCloneSyncService::new(
        service.map_response(|response| response.map(tonic::body::Body::new)).map_err(|e| CallError(e.into())),
    )
}

async fn serve(
    service: GrpcService,
    incoming: TcpIncoming,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    Server::builder()
        .accept_http1(true)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        // Every route is inside `service`: the listener hands each request to it.
        .layer(tower::layer::layer_fn(move |_: tonic::service::Routes| service.clone()))
        .add_routes(tonic::service::Routes::default())
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}

/// In-flight calls get this long to finish after SIGTERM/Ctrl-C; idle
/// client connections do not hold the shutdown up longer.
const DRAIN: Duration = Duration::from_secs(10);

/// Awaits `server` until it ends, or until `signal` (a [`shutdown_signal`],
/// taken before the server started): then sends `stop` and gives in-flight
/// calls [`DRAIN`] to finish.
pub async fn serve_until_signal(
    server: impl Future<Output = anyhow::Result<()>>,
    stop: Option<oneshot::Sender<()>>,
    signal: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stopping_tx, stopping) = oneshot::channel::<()>();
    tokio::spawn(async move {
        signal.await;
        tracing::info!("shutting down");
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
        let _ = stopping_tx.send(());
    });
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => result,
        _ = async { let _ = stopping.await; tokio::time::sleep(DRAIN).await } => {
            tracing::warn!("connections still open after the drain period; exiting");
            Ok(())
        }
    }
}

/// Listens for SIGTERM from the moment it is called, and for Ctrl-C once
/// awaited; resolves on the first. Take it before the server says it is
/// serving: a SIGTERM sent right after that line must stop it gracefully,
/// not kill it (the default action while nothing listens).
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    async move {
        let interrupt = tokio::signal::ctrl_c();
        #[cfg(unix)]
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
        #[cfg(not(unix))]
        let _ = interrupt.await;
    }
}
