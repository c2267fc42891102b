//! The proof of concept's function: the built `astro-gateway` binary on a
//! local Lambda Runtime API, answering API Gateway REST proxy events, with
//! its service in the process on DynamoDB (moto's) and its token secret in
//! moto's Secrets Manager — the public form's submission with a solved
//! proof of work, a sign-in, and the board's gRPC-web `ListProspects`
//! (base64 both ways, as API Gateway's binary media types pass it).

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use astro_proto::v1::{ListProspectsRequest, ListProspectsResponse};
use astro_service::captcha::pow;
use astro_testkit::lambda::{RuntimeApi, function_env};
use base64::Engine as _;
use prost::Message as _;
use serde_json::{Value, json};

use crate::helpers::*;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// An API Gateway REST proxy event (the stage `poc`, a client at 203.0.113.7).
fn event(method: &str, path: &str, headers: &[(&str, &str)], body: Option<Vec<u8>>, binary: bool) -> Value {
    let headers: serde_json::Map<String, Value> =
        headers.iter().map(|(name, value)| ((*name).to_owned(), json!(value))).collect();
    let multi: serde_json::Map<String, Value> =
        headers.iter().map(|(name, value)| (name.clone(), json!([value]))).collect();
    let body = body.map(|b| if binary { B64.encode(b) } else { String::from_utf8(b).unwrap() });
    json!({
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": {"proxy": path.trim_start_matches('/')},
        "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012",
            "resourceId": "abc123",
            "stage": "poc",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "test"},
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "apiId": "a1b2c3d4e5",
            "path": format!("/poc{path}"),
            "protocol": "HTTP/1.1",
            "requestTimeEpoch": 1_767_225_600_000u64
        },
        "body": body,
        "isBase64Encoded": binary
    })
}

/// The answer's status and body bytes.
fn answer(outcome: &astro_testkit::lambda::Outcome) -> (u64, Vec<u8>) {
    assert_eq!(outcome.kind, "response", "{outcome:?}");
    let body = outcome.body["body"].as_str().unwrap_or_default();
    let bytes = match outcome.body["isBase64Encoded"].as_bool() {
        Some(true) => B64.decode(body).unwrap(),
        _ => body.as_bytes().to_vec(),
    };
    (outcome.body["statusCode"].as_u64().unwrap(), bytes)
}

#[tokio::test]
async fn the_poc_function_answers_api_gateways_events_on_dynamodb() {
    let (_store, table) = dynamodb_store().await;
    let secret = format!("astro-qualif/jwt-secret-poc-{}", std::process::id());
    let secrets = astro_testkit::moto::secrets_client(None);
    secrets.create_secret().name(&secret).secret_string(JWT_SECRET).send().await.unwrap();
    let dir = tempfile::tempdir().unwrap();

    let api = RuntimeApi::start(Vec::new());
    let mut child = Command::new(env!("CARGO_BIN_EXE_astro-gateway"))
        .env_clear()
        .envs(function_env(&api, "astro-poc"))
        .envs(astro_testkit::moto::aws_env())
        .env("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true")
        .env("ASTRO_STORE", "dynamodb")
        .env("ASTRO_DYNAMODB_TABLE", &table)
        .env("ASTRO_JWT_SECRET_ID", &secret)
        .env("ASTRO_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("ASTRO_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("ASTRO_CAPTCHA_SECRET", POW_KEY)
        .env("ASTRO_POW_MAX_NUMBER", "5000")
        .env("ASTRO_BCRYPT_COST", "10")
        .env("ASTRO_GRPC_ADDR", "127.0.0.1:0")
        .env("ASTRO_DATA_DIR", dir.path())
        .env("ASTRO_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let invoke = |event: Value| {
        let api = &api;
        answer(&api.invoke(event, Duration::from_secs(60)).expect("the function answers"))
    };

    // The public form: a challenge, solved, then the submission.
    let (status, challenge) = invoke(event("GET", "/captcha/challenge", &[], None, false));
    assert_eq!(status, 200);
    let solved = pow::solve(&serde_json::from_slice(&challenge).unwrap()).expect("solvable");
    let body = serde_json::to_vec(&submission("Ada", "ada@example.com", &solved)).unwrap();
    let json_headers = [("content-type", "application/json")];
    let (status, receipt) = invoke(event("POST", "/prospects", &json_headers, Some(body), false));
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&receipt));
    let id = serde_json::from_slice::<Value>(&receipt).unwrap()["id"].as_str().unwrap().to_owned();

    // A sign-in, then the board's listing over gRPC-web.
    let login = serde_json::to_vec(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).unwrap();
    let (status, signed_in) = invoke(event("POST", "/auth/login", &json_headers, Some(login), false));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&signed_in));
    let token = serde_json::from_slice::<Value>(&signed_in).unwrap()["token"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {token}");
    let frame = grpc_web_frame(&ListProspectsRequest::default());
    let grpc_headers =
        [("content-type", "application/grpc-web+proto"), ("x-grpc-web", "1"), ("authorization", &bearer)];
    let (status, reply) =
        invoke(event("POST", "/astro.v1.ProspectService/ListProspects", &grpc_headers, Some(frame), true));
    assert_eq!(status, 200);
    assert_eq!(reply[0], 0, "a data frame first");
    let length = u32::from_be_bytes(reply[1..5].try_into().unwrap()) as usize;
    let listed = ListProspectsResponse::decode(&reply[5..5 + length]).unwrap();
    assert_eq!(listed.prospects.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), [id.as_str()]);
    let trailers = String::from_utf8_lossy(&reply[5 + length + 5..]).to_lowercase();
    assert!(trailers.contains("grpc-status:0"), "{trailers}");

    let _ = child.kill();
    let _ = child.wait();
}
