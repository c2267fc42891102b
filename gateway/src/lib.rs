//! The Astro Qualif gateway: the REST face of the prospect service (the
//! seed's endpoint table, the public form's captcha), and locally the edge
//! that API Gateway and CloudFront are on AWS — one origin serving the web
//! app, the REST API and gRPC-web, with the throttles and the token check.
//!
//! `rest` (handlers) → the service over gRPC (tonic client); `edge` (gRPC-web
//! forwarding, headers, static files); `limits`; `openapi`. The captcha and
//! the sign-in guard are the service's (`astro_service::captcha`).

// A `Problem` is the error of most handlers and is built once per refused
// request, on its way to becoming a response: boxing it would buy nothing.
#![allow(clippy::result_large_err)]

pub mod config;
pub mod edge;
pub mod embedding;
pub mod lambda;
pub mod limits;
pub mod openapi;
pub mod problem;
pub mod rest;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use astro_proto::v1::{auth_service_client::AuthServiceClient, prospect_service_client::ProspectServiceClient};
use astro_service::{
    RunningService, captcha::Captcha, config::StoreKind, keys::KeyRing, server::GrpcService, store::Store,
};
use axum::{
    Router,
    extract::DefaultBodyLimit,
    middleware,
    routing::{get, post},
    serve::ListenerExt as _,
};
use http::{HeaderName, HeaderValue, Method};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tonic::transport::Endpoint;
use tower_http::{
    LatencyUnit,
    cors::CorsLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;

use crate::{config::GatewayConfig, edge::Public, limits::Limits};

/// Largest REST body accepted (a submission is a few kilobytes).
const MAX_BODY: usize = 64 * 1024;

/// What the handlers share.
pub struct Gateway {
    pub prospects: ProspectServiceClient<GrpcService>,
    pub forms: astro_proto::v1::form_service_client::FormServiceClient<GrpcService>,
    pub health: tonic_health::pb::health_client::HealthClient<GrpcService>,
    pub auth: AuthServiceClient<GrpcService>,
    /// The service itself (gRPC-web calls are forwarded into it).
    pub grpc: GrpcService,
    /// The service's token keys: the edge verifies with them and signs the
    /// public form's service identity.
    pub keys: KeyRing,
    /// The form's captcha: the in-process service's own, else one of ours.
    pub captcha: Arc<Captcha>,
    pub limits: Limits,
    /// Which origins may embed which form.
    pub embedding: embedding::Embedding,
    /// Where `/f/<name>` loads the embed script from: this edge's own
    /// `/embed.js` when it serves the web app, else the web app's
    /// (`ASTRO_PUBLIC_URL`: CloudFront on AWS).
    pub embed_script: String,
    /// The edge's Content-Security-Policy.
    pub csp: String,
}

/// A running gateway (and the service, when it runs in this process).
pub struct RunningGateway {
    pub addr: SocketAddr,
    service: Option<RunningService>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    sweeper: JoinHandle<()>,
}

impl RunningGateway {
    /// Stops accepting, lets in-flight requests finish, then stops the
    /// in-process service.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.finish().await
    }

    /// Waits until the gateway ends (on `stop` or an error).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.finish().await
    }

    /// The in-process service's native gRPC address (none with `ASTRO_SERVICE_URL`).
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.service.as_ref().map(|s| s.addr)
    }

    /// The in-process service's member accounts (as `astro-service user add`
    /// reaches them), when the service runs in this process.
    pub fn accounts(&self) -> Option<&astro_service::domain::auth::Accounts> {
        self.service.as_ref().map(|s| &s.accounts)
    }

    pub fn shutdown_handle(&mut self) -> Option<oneshot::Sender<()>> {
        self.shutdown.take()
    }

    async fn finish(mut self) -> anyhow::Result<()> {
        let served = (&mut self.task).await.context("gateway task")?.context("gateway");
        self.sweeper.abort();
        if let Some(service) = self.service.take() {
            service.stop().await?;
        }
        served
    }
}

/// The container's health check (`astro-gateway health`): whether the edge
/// at `addr` answers `/healthz` at all. A 503 (the service behind it is
/// down) still passes: replacing the gateway would not bring the service
/// back. Readiness is the load balancer's own check of `/healthz`.
pub async fn probe(addr: SocketAddr) -> anyhow::Result<()> {
    let url = format!("http://{}/healthz", astro_service::server::reachable(addr));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(3)).build()?;
    let response = client.get(&url).send().await.with_context(|| format!("GET {url}"))?;
    println!("{url}: {}", response.status());
    Ok(())
}

/// Starts the service in this process unless `ASTRO_SERVICE_URL` names one,
/// then binds `ASTRO_HTTP_ADDR` (port 0 picks a free one) and serves.
pub async fn start(config: GatewayConfig) -> anyhow::Result<RunningGateway> {
    start_with_store(config, None).await
}

/// Forgets, every 30 s, the per-address counts and spent solutions that no
/// longer matter.
pub async fn sweep(gateway: Arc<Gateway>) {
    let mut ticks = tokio::time::interval(Duration::from_secs(30));
    loop {
        ticks.tick().await;
        gateway.limits.sweep();
        gateway.captcha.sweep();
    }
}

/// The edge before anything listens: its app, what its handlers share, and
/// the service when it runs in this process.
pub struct Built {
    pub app: Router,
    pub gateway: Arc<Gateway>,
    pub service: Option<RunningService>,
}

/// [`start`], over a store opened by the caller (tests point it at their own
/// DynamoDB table): the in-process service's, or with `ASTRO_SERVICE_URL`
/// where this gateway spends captcha solutions.
pub async fn start_with_store(config: GatewayConfig, store: Option<Arc<dyn Store>>) -> anyhow::Result<RunningGateway> {
    let Built { app, gateway, service } = build(&config, store).await?;
    let listener =
        TcpListener::bind(config.http_addr).await.with_context(|| format!("binding {}", config.http_addr))?;
    let addr = listener.local_addr()?;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
    });
    let sweeper = tokio::spawn(sweep(gateway));
    let captcha = config.service.captcha.provider.name();
    tracing::info!(%addr, captcha, "serving the REST API, gRPC-web and the web app");
    Ok(RunningGateway { addr, service, shutdown: Some(tx), task, sweeper })
}

/// The edge's app and the in-process service (unless `ASTRO_SERVICE_URL`),
/// over `store` when given (see [`start_with_store`]).
pub async fn build(config: &GatewayConfig, store: Option<Arc<dyn Store>>) -> anyhow::Result<Built> {
    let captcha_config = &config.service.captcha;
    if captcha_config.provider == astro_service::config::CaptchaProvider::Off && !config.http_addr.ip().is_loopback() {
        anyhow::bail!(
            "ASTRO_CAPTCHA=off is for development only: it is refused on {}, a non-loopback address",
            config.http_addr
        );
    }
    // The service in this process is called directly (no socket); one
    // elsewhere over an HTTP/2 channel. Both are the same tower service type.
    let (service, channel, keys, captcha): (_, GrpcService, _, _) = match &config.service_url {
        Some(url) => {
            let keys = astro_service::server::live_key_ring(&config.service, None).await?;
            // Several gateways behind one load balancer accept a captcha
            // solution once between them: with `ASTRO_STORE=dynamodb` they
            // spend it in the service's table (one conditional write, gone
            // by TTL). On one machine, this process's memory is enough.
            let spent = match (store, config.service.store.kind) {
                (Some(store), _) => Some(store),
                (None, StoreKind::Dynamodb) => Some(astro_service::server::open_store(&config.service.store).await?),
                (None, StoreKind::Embedded) => None,
            };
            let captcha = Arc::new(Captcha::from_config(captcha_config, spent).await?);
            use tower::ServiceExt as _;
            let url = url.trim_end_matches('/').to_owned();
            let channel = Endpoint::from_shared(url.clone())
                .with_context(|| format!("ASTRO_SERVICE_URL: {url:?}"))?
                .tcp_nodelay(true)
                .connect_timeout(Duration::from_secs(5))
                .http2_keep_alive_interval(Duration::from_secs(30))
                .connect_lazy();
            let channel =
                tower::util::BoxCloneSyncService::new(channel.map_err(|e| astro_service::server::CallError(e.into())));
            (None, channel, keys, captcha)
        }
        None => {
            let service = match store {
                Some(store) => astro_service::start_with_store(config.service.clone(), store).await?,
                None => astro_service::start(config.service.clone()).await?,
            };
            let (channel, keys, captcha) = (service.in_process.clone(), service.keys.clone(), service.captcha.clone());
            (Some(service), channel, keys, captcha)
        }
    };
    let policy = edge::content_security_policy(captcha.provider());
    let csp = HeaderValue::try_from(policy.as_str())?;
    let forms = astro_proto::v1::form_service_client::FormServiceClient::new(channel.clone());
    let embed_script = match tokio::fs::try_exists(config.web_dir.join("embed.js")).await {
        Ok(true) => "/embed.js".to_owned(),
        _ => format!("{}/embed.js", config.service.public_url.trim_end_matches('/')),
    };
    let gateway = Arc::new(Gateway {
        prospects: ProspectServiceClient::new(channel.clone()),
        embedding: embedding::Embedding::new(forms.clone(), keys.clone(), &config.service.cors_origins),
        forms,
        embed_script,
        csp: policy,
        health: tonic_health::pb::health_client::HealthClient::new(channel.clone()),
        auth: AuthServiceClient::new(channel.clone()),
        grpc: channel,
        keys,
        captcha,
        limits: Limits::new(&config.limits),
    });

    let app = router(gateway.clone(), config, csp)?;
    Ok(Built { app, gateway, service })
}

fn router(gateway: Arc<Gateway>, config: &GatewayConfig, csp: HeaderValue) -> anyhow::Result<Router> {
    let public = |endpoint| middleware::from_fn_with_state((gateway.clone(), endpoint), edge::per_client);
    let api = Router::new()
        .route("/auth/login", post(rest::auth::login).layer(public(Public::Login)))
        .route("/auth/second-step", post(rest::auth::second_step).layer(public(Public::Login)))
        .route("/auth/forgot-password", post(rest::auth::forgot_password).layer(public(Public::Login)))
        .route("/auth/reset-password", post(rest::auth::reset_password).layer(public(Public::Login)))
        // The layer covers the form (POST) only: listing has a token.
        .route("/prospects", post(rest::prospects::submit).layer(public(Public::Form)).get(rest::prospects::list))
        .route("/prospects/export", get(rest::prospects::export))
        .route(
            "/prospects/{id}",
            get(rest::prospects::get).patch(rest::prospects::update).delete(rest::prospects::delete),
        )
        .route("/verify-recaptcha", post(rest::captcha::verify).layer(public(Public::Captcha)))
        .route("/captcha", get(rest::captcha::settings))
        .route("/forms/{name}", get(rest::forms::published))
        .route("/f/{name}", get(embedding::page))
        .route("/email-confirmations", post(rest::forms::confirm_email).layer(public(Public::Form)))
        .route("/captcha/challenge", get(rest::captcha::challenge).layer(public(Public::Captcha)))
        .route("/astro.v1.ProspectService/{method}", post(edge::grpc_web))
        .route("/astro.v1.MemberService/{method}", post(edge::grpc_web))
        .route("/astro.v1.ScoringService/{method}", post(edge::grpc_web))
        .route("/astro.v1.InsightsService/{method}", post(edge::grpc_web))
        .route("/astro.v1.PrivacyService/{method}", post(edge::grpc_web))
        // A file of up to 8 MB in one call: the gRPC-web body is streamed to
        // the service, whose own limit for this service is the file and a margin.
        .route("/astro.v1.ImportService/{method}", post(edge::grpc_web))
        .route("/astro.v1.FormService/{method}", post(edge::grpc_web))
        // Sign-in over gRPC-web has the same per-address budget as over REST.
        .route("/astro.v1.AuthService/{method}", post(edge::grpc_web).layer(public(Public::Login)))
        .route("/grpc.health.v1.Health/{method}", post(edge::grpc_web))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .route_layer(middleware::from_fn_with_state(gateway.clone(), edge::throttle))
        .with_state(gateway.clone());

    // Outside the throttle: load balancers ask often.
    let health = Router::new().route("/healthz", get(rest::health::check)).with_state(gateway.clone());
    let docs = Router::new()
        .route("/openapi.json", get(openapi::document))
        .route("/docs", get(openapi::docs))
        .route("/docs.css", get(openapi::stylesheet));

    let app = api.merge(health).merge(docs);
    let app = match edge::web_app(&config.web_dir) {
        Some(web) => {
            tracing::info!(dir = %config.web_dir.display(), "serving the web app");
            app.fallback_service(
                tower::ServiceBuilder::new().layer(middleware::from_fn(edge::cache_control)).service(web),
            )
        }
        None => {
            tracing::info!(dir = %config.web_dir.display(), "no built web app there: serving the API only");
            app.fallback(edge::no_web_app)
        }
    };

    let layers = tower::ServiceBuilder::new()
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &http::Request<_>| {
                    let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                    tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path())
                })
                .on_response(DefaultOnResponse::new().level(Level::DEBUG).latency_unit(LatencyUnit::Micros)),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(middleware::from_fn_with_state(csp, edge::security_headers))
        // Other sites' pages, for the public form's routes, before our own CORS.
        .layer(middleware::from_fn_with_state(gateway.clone(), embedding::cors))
        .layer(cors(&config.service.cors_origins)?);
    Ok(app.layer(layers))
}

fn cors(origins: &[String]) -> anyhow::Result<CorsLayer> {
    let names = |names: &[&'static str]| names.iter().map(|n| HeaderName::from_static(n)).collect::<Vec<_>>();
    Ok(CorsLayer::new()
        .allow_origin(astro_service::server::allowed_origins(origins)?)
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE, Method::OPTIONS])
        .allow_headers(names(&[
            "authorization",
            "content-type",
            "idempotency-key",
            "if-match",
            "x-grpc-web",
            "x-user-agent",
            "grpc-timeout",
            "x-request-id",
        ]))
        .expose_headers(names(&[
            "etag",
            "location",
            "retry-after",
            "x-request-id",
            "grpc-status",
            "grpc-message",
            "grpc-status-details-bin",
        ]))
        .max_age(Duration::from_secs(24 * 60 * 60)))
}
