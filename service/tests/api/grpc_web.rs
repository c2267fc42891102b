//! Browsers reach the same service over gRPC-web (HTTP/1.1), with CORS.

use astro_proto::v1::{LoginRequest, LoginResponse};
use prost::Message;

use crate::helpers::*;

fn frame(message: &impl Message) -> Vec<u8> {
    let body = message.encode_to_vec();
    let mut out = vec![0u8];
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

#[tokio::test]
async fn login_over_grpc_web_returns_a_token_and_trailers() {
    let app = spawn_app().await;
    let response = reqwest::Client::new()
        .post(format!("{}/astro.v1.AuthService/Login", app.url()))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .header("origin", "http://127.0.0.1:8080")
        .body(frame(&LoginRequest { email: ADMIN_EMAIL.into(), password: ADMIN_PASSWORD.into(), ..Default::default() }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    assert_eq!(response.headers()["access-control-allow-origin"], "http://127.0.0.1:8080");
    let body = response.bytes().await.unwrap();
    assert_eq!(body[0], 0, "a data frame first");
    let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
    let login = LoginResponse::decode(&body[5..5 + len]).unwrap();
    assert_eq!(login.role, "admin");
    let trailers = String::from_utf8_lossy(&body[5 + len + 5..]).to_lowercase();
    assert!(trailers.contains("grpc-status:0"), "{trailers}");
}

#[tokio::test]
async fn cors_preflight_allows_listed_origins_only() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        client
            .request(reqwest::Method::OPTIONS, format!("{}/astro.v1.ProspectService/ListProspects", app.url()))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization,content-type,x-grpc-web")
            .send()
    };
    let allowed = preflight("http://localhost:5173").await.unwrap();
    assert_eq!(allowed.headers()["access-control-allow-origin"], "http://localhost:5173");
    let allowed_headers = allowed.headers()["access-control-allow-headers"].to_str().unwrap().to_owned();
    assert!(allowed_headers.contains("authorization"), "{allowed_headers}");
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(refused.headers().get("access-control-allow-origin").is_none());
}
