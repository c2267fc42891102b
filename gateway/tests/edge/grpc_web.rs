//! gRPC-web through the edge (what the Kanban uses): forwarded to the service
//! after the token check; CORS for listed origins; the web app and headers.

use astro_authorizer::Role;
use astro_proto::v1::{ListProspectsRequest, ListProspectsResponse, LoginRequest, LoginResponse};

use crate::helpers::*;

#[tokio::test]
async fn the_kanban_signs_in_and_lists_through_the_edge() {
    let stack = spawn().await;
    let request = LoginRequest { email: ADMIN_EMAIL.into(), password: ADMIN_PASSWORD.into(), ..Default::default() };
    let login: LoginResponse =
        grpc_web(&stack, "/astro.v1.AuthService/Login", &request, &[]).await.expect("grpc-status 0 with a token");
    let r = stack.submit(&submission("Ada", "ada@example.com", &stack.solved().await), None).await;
    assert_eq!(r.status(), 201);

    let bearer = format!("Bearer {}", login.token);
    let list = ListProspectsRequest::default();
    let page: ListProspectsResponse =
        grpc_web(&stack, "/astro.v1.ProspectService/ListProspects", &list, &[("authorization", &bearer)])
            .await
            .expect("grpc-status 0 with the page");
    assert_eq!(page.prospects.len(), 1);
    assert_eq!(page.prospects[0].first_name, "Ada");
}

#[tokio::test]
async fn the_edge_answers_bad_tokens_and_closed_methods_itself() {
    let stack = spawn().await;
    let list = ListProspectsRequest::default();
    let refused = |headers: Vec<(&'static str, String)>| {
        let stack = &stack;
        let list = &list;
        async move {
            let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            grpc_web::<ListProspectsResponse>(stack, "/astro.v1.ProspectService/ListProspects", list, &headers)
                .await
                .expect_err("refused at the edge")
                .code()
        }
    };
    assert_eq!(refused(vec![]).await, tonic::Code::Unauthenticated);
    assert_eq!(refused(vec![("authorization", "Bearer not.a.token".into())]).await, tonic::Code::Unauthenticated);
    let service = format!("Bearer {}", token("robot@example.com", Role::Service));
    assert_eq!(refused(vec![("authorization", service)]).await, tonic::Code::PermissionDenied);
    // Reflection is for native gRPC (grpcurl at :50051), not the edge.
    let reflection = stack
        .http
        .post(stack.at("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"))
        .header("content-type", "application/grpc-web+proto")
        .bearer_auth(stack.admin())
        .body(grpc_web_frame(&list))
        .send()
        .await
        .unwrap();
    assert_eq!(reflection.status(), 404);
}

#[tokio::test]
async fn cors_allows_listed_origins_once() {
    let stack = spawn().await;
    let preflight = |origin: &'static str| {
        stack
            .http
            .request(reqwest::Method::OPTIONS, stack.at("/astro.v1.ProspectService/ListProspects"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization,content-type,x-grpc-web")
            .send()
    };
    let allowed = preflight("http://localhost:5173").await.unwrap();
    assert_eq!(allowed.headers()["access-control-allow-origin"], "http://localhost:5173");
    assert!(preflight("https://evil.example").await.unwrap().headers().get("access-control-allow-origin").is_none());

    // A forwarded call carries the edge's CORS headers, not the service's too.
    let response = stack
        .http
        .post(stack.at("/astro.v1.AuthService/Login"))
        .header("origin", "http://localhost:5173")
        .header("content-type", "application/grpc-web+proto")
        .body(grpc_web_frame(&LoginRequest {
            email: ADMIN_EMAIL.into(),
            password: ADMIN_PASSWORD.into(),
            ..Default::default()
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers().get_all("access-control-allow-origin").iter().count(), 1);
}

#[tokio::test]
async fn the_web_app_is_served_with_a_fallback_and_security_headers() {
    let web = tempfile::tempdir().unwrap();
    std::fs::write(
        web.path().join("index.html"),
        "<!doctype html><title>Astro</title><script src=/assets/app.js></script>",
    )
    .unwrap();
    std::fs::create_dir(web.path().join("assets")).unwrap();
    std::fs::write(web.path().join("assets/app.js"), "console.log('astro')").unwrap();
    let stack = spawn_with(&["--web-dir", web.path().to_str().unwrap()]).await;

    let deep = stack.http.get(stack.at("/admin/kanban")).send().await.unwrap();
    assert_eq!(deep.status(), 200);
    let headers = deep.headers().clone();
    assert!(deep.text().await.unwrap().contains("<title>Astro</title>"));
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "strict-origin-when-cross-origin");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self';") && !csp.contains("unsafe-eval"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");

    let asset = stack.http.get(stack.at("/assets/app.js")).send().await.unwrap();
    assert_eq!(asset.status(), 200);
    assert!(asset.headers()["cache-control"].to_str().unwrap().contains("immutable"));
    // The API still wins over the fallback.
    assert_eq!(stack.http.get(stack.at("/captcha")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn the_board_streams_its_changes_through_the_edge() {
    use astro_proto::v1::{WatchProspectsRequest, WatchProspectsResponse};
    use prost::Message as _;

    let stack = spawn().await;
    let mut response = stack
        .http
        .post(stack.at("/astro.v1.ProspectService/WatchProspects"))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .bearer_auth(stack.admin())
        .body(grpc_web_frame(&WatchProspectsRequest::default()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers().get("grpc-status"), None, "a stream, not a trailers-only refusal");

    // A submission through the form, while the stream is open.
    let r = stack.submit(&submission("Ada", "ada@example.com", &stack.solved().await), None).await;
    assert_eq!(r.status(), 201);
    let id = r.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

    // Frames arrive as they are sent (the edge does not buffer the stream).
    let mut buffer: Vec<u8> = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    let seen = 'read: loop {
        let chunk = tokio::time::timeout_at(deadline, response.chunk()).await.expect("the change within 5 s");
        buffer.extend_from_slice(&chunk.unwrap().expect("the stream stays open"));
        while buffer.len() >= 5 {
            let len = u32::from_be_bytes(buffer[1..5].try_into().unwrap()) as usize;
            if buffer.len() < 5 + len {
                break;
            }
            let frame: Vec<u8> = buffer.drain(..5 + len).collect();
            assert_eq!(frame[0], 0, "a data frame, not trailers");
            let message = WatchProspectsResponse::decode(&frame[5..]).unwrap();
            if let Some(change) = message.changes.into_iter().next() {
                break 'read change;
            }
        }
    };
    assert_eq!(seen.prospect_id, id);
    assert_eq!(seen.actor, astro_gateway::rest::prospects::FORM_IDENTITY);

    // Without a token, the edge refuses it before the service.
    let refused = stack
        .http
        .post(stack.at("/astro.v1.ProspectService/WatchProspects"))
        .header("content-type", "application/grpc-web+proto")
        .body(grpc_web_frame(&WatchProspectsRequest::default()))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.headers()["grpc-status"], "16");
}
