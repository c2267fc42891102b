//! The built `astro-gateway` binary as `make run` starts it: the whole system
//! from one process — the edge over HTTP and the service over native gRPC —
//! with the proof-of-work captcha on, and a clean exit on SIGTERM.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Command, Stdio},
};

use astro_proto::v1::{ListProspectsRequest, prospect_service_client::ProspectServiceClient};
use serde_json::Value;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_the_edge_and_native_grpc_then_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_astro-gateway"))
        .env("ASTRO_HTTP_ADDR", "127.0.0.1:0")
        .env("ASTRO_GRPC_ADDR", "127.0.0.1:0")
        .env("ASTRO_DATA_DIR", dir.path())
        .env("ASTRO_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("ASTRO_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("ASTRO_JWT_SECRET", JWT_SECRET)
        .env("ASTRO_BCRYPT_COST", "10")
        .env("ASTRO_LOG_FORMAT", "json")
        .env_remove("ASTRO_CAPTCHA")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut http, mut grpc, mut captcha) = (None, None, None);
    while http.is_none() || grpc.is_none() {
        let line = lines.next().expect("the binary logs its addresses").unwrap();
        assert!(!line.contains(JWT_SECRET) && !line.contains(ADMIN_PASSWORD), "a secret in the logs: {line}");
        let json: Value = serde_json::from_str(&line).unwrap();
        let addr = || json["addr"].as_str().map(|a| a.parse::<SocketAddr>().unwrap());
        match json["message"].as_str().unwrap_or_default() {
            m if m.starts_with("serving native gRPC") => grpc = addr(),
            m if m.starts_with("serving the REST API") => {
                http = addr();
                captcha = json["captcha"].as_str().map(str::to_owned);
            }
            _ => {}
        }
    }
    assert_eq!(captcha.as_deref(), Some("pow"), "the proof of work is the default");
    let (http, grpc) = (http.unwrap(), grpc.unwrap());

    let settings: Value = reqwest::get(format!("http://{http}/captcha")).await.unwrap().json().await.unwrap();
    assert_eq!(settings["provider"], "pow");
    assert_eq!(settings["challengeUrl"], "/captcha/challenge");

    let mut client = ProspectServiceClient::connect(format!("http://{grpc}")).await.unwrap();
    let mut request = tonic::Request::new(ListProspectsRequest::default());
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", token(ADMIN_EMAIL, astro_authorizer::Role::Admin)).parse().unwrap(),
    );
    assert!(client.list_prospects(request).await.unwrap().into_inner().prospects.is_empty());

    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "{status:?}");
}
