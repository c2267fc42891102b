//! The built `astro-gateway` binary: as `make run` starts it (the whole
//! system from one process, the proof-of-work captcha on, a clean exit on
//! SIGTERM); in front of a service running elsewhere (`ASTRO_SERVICE_URL`);
//! with its captcha secret in Secrets Manager (moto).

use std::{
    process::Command,
    time::{Duration, Instant},
};

use astro_authorizer::Role;
use astro_proto::v1::{ListProspectsRequest, prospect_service_client::ProspectServiceClient};
use serde_json::Value;

use crate::{helpers::*, providers};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_the_edge_and_native_grpc_then_stops_on_sigterm() {
    let mut gateway = GatewayProcess::start(&[]);
    assert_eq!(gateway.captcha, "pow", "the proof of work is the default");
    let grpc = gateway.grpc.expect("the service runs in-process");

    let settings: Value = reqwest::get(gateway.at("/captcha")).await.unwrap().json().await.unwrap();
    assert_eq!(settings["provider"], "pow");
    assert_eq!(settings["challengeUrl"], "/captcha/challenge");

    let mut client = ProspectServiceClient::connect(format!("http://{grpc}")).await.unwrap();
    let mut request = tonic::Request::new(ListProspectsRequest::default());
    let bearer = format!("Bearer {}", token(ADMIN_EMAIL, Role::Admin));
    request.metadata_mut().insert("authorization", bearer.parse().unwrap());
    assert!(client.list_prospects(request).await.unwrap().into_inner().prospects.is_empty());

    let killed = Command::new("kill").args(["-TERM", &gateway.child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = gateway.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "still running 15 s after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sign_in_is_logged_as_a_security_event_without_secrets() {
    let gateway = GatewayProcess::start(&[]);
    let http = reqwest::Client::new();
    let attempt = |password: &'static str| {
        http.post(gateway.at("/auth/login"))
            .json(&serde_json::json!({"email": ADMIN_EMAIL, "password": password}))
            .send()
    };
    assert_eq!(attempt("a-wrong-Guess-123").await.unwrap().status(), 401);
    let signed_in: Value = attempt(ADMIN_PASSWORD).await.unwrap().json().await.unwrap();
    let token = signed_in["token"].as_str().unwrap().to_owned();

    let deadline = Instant::now() + Duration::from_secs(5);
    let events: Vec<Value> = loop {
        let events: Vec<Value> = gateway
            .logs
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l["event"] == "sign_in")
            .collect();
        if events.len() >= 2 || Instant::now() > deadline {
            break events;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let outcomes: Vec<&str> = events.iter().map(|e| e["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["failure", "success"]);
    for event in &events {
        assert_eq!(event["target"], "astro::security");
        assert_eq!(event["account"], ADMIN_EMAIL);
        assert_eq!(event["client_address"], "127.0.0.1");
        assert_eq!(event["transport"], "rest");
    }
    for line in gateway.logs.lock().unwrap().iter() {
        assert!(!line.contains("a-wrong-Guess-123") && !line.contains(ADMIN_PASSWORD), "a password logged: {line}");
        assert!(!line.contains(&token), "a token logged: {line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_front_of_a_service_elsewhere_the_gateway_calls_it_over_grpc() {
    // The service in this process, the gateway a separate process: as two containers.
    let dir = tempfile::tempdir().unwrap();
    let service = astro_service::start(config(dir.path(), &[]).service).await.unwrap();
    let url = format!("http://{}", service.addr);
    let gateway = GatewayProcess::start(&[("ASTRO_SERVICE_URL", &url), ("ASTRO_POW_MAX_NUMBER", "5000")]);
    assert_eq!(gateway.grpc, None, "no service of its own");

    let http = reqwest::Client::new();
    let challenge = http.get(gateway.at("/captcha/challenge")).send().await.unwrap().json().await.unwrap();
    let solved = astro_service::captcha::pow::solve(&challenge).unwrap();
    let created = http.post(gateway.at("/prospects")).json(&submission("Ada", "ada@example.com", &solved)).send().await;
    assert_eq!(created.unwrap().status(), 201);

    // Visible at the service itself.
    let mut client = ProspectServiceClient::connect(url).await.unwrap();
    let mut request = tonic::Request::new(ListProspectsRequest::default());
    let bearer = format!("Bearer {}", token(ADMIN_EMAIL, Role::Admin));
    request.metadata_mut().insert("authorization", bearer.parse().unwrap());
    let page = client.list_prospects(request).await.unwrap().into_inner();
    assert_eq!(page.prospects.len(), 1);
    assert_eq!(page.prospects[0].first_name, "Ada");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_captcha_secret_comes_from_secrets_manager() {
    const ID: &str = "astro-qualif/recaptcha-secret-test";
    const SECRET: &str = "from-secrets-manager-6Lc";
    let secrets = astro_testkit::moto::secrets_client(None);
    secrets.create_secret().name(ID).secret_string(SECRET).send().await.unwrap();
    let aws = astro_testkit::moto::aws_env();

    let (verify_url, seen) = providers::fake_siteverify(providers::Provider::RecaptchaV3).await;
    let gateway = GatewayProcess::start(
        &[
            ("ASTRO_CAPTCHA", "recaptcha-v3"),
            ("ASTRO_CAPTCHA_SECRET_ID", ID),
            ("ASTRO_CAPTCHA_VERIFY_URL", &verify_url),
        ]
        .into_iter()
        .chain(aws.iter().map(|(k, v)| (*k, v.as_str())))
        .collect::<Vec<_>>(),
    );
    assert_eq!(gateway.captcha, "recaptcha-v3");
    let created = reqwest::Client::new()
        .post(gateway.at("/prospects"))
        .json(&submission("Ada", "ada@example.com", "human"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let forms = seen.lock().unwrap();
    assert!(forms[0].contains(&("secret".to_owned(), SECRET.to_owned())), "{:?}", forms[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_follows_the_service_behind_the_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let service = astro_service::start(config(dir.path(), &[]).service).await.unwrap();
    let gateway = GatewayProcess::start(&[("ASTRO_SERVICE_URL", &format!("http://{}", service.addr))]);
    let health = reqwest::get(gateway.at("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.json::<Value>().await.unwrap()["status"], "serving");

    let addr = format!("0.0.0.0:{}", gateway.http.port());
    let probe = || {
        Command::new(env!("CARGO_BIN_EXE_astro-gateway")).arg("health").env("ASTRO_HTTP_ADDR", &addr).output().unwrap()
    };
    assert!(probe().status.success(), "the container's health check passes");

    service.stop().await.unwrap();
    let health = reqwest::get(gateway.at("/healthz")).await.unwrap();
    assert_eq!(health.status(), 503);
    assert_eq!(health.json::<Value>().await.unwrap()["status"], "unavailable");
    // The API answers a 503 problem at once rather than hanging.
    let listed = reqwest::Client::new()
        .get(gateway.at("/prospects"))
        .bearer_auth(token(ADMIN_EMAIL, Role::Admin))
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 503);
    assert_eq!(listed.headers()["content-type"], "application/problem+json");
    // Liveness: the edge answers, so the container is kept.
    assert!(probe().status.success(), "a gateway whose service is down is still alive");
    drop(gateway);
    assert!(!probe().status.success(), "no gateway, no health");
}
