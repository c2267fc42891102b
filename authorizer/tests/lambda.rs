//! The built Lambda binary, invoked through a Lambda Runtime API endpoint
//! served by this test, with its secret in moto's Secrets Manager.

use std::{
    collections::VecDeque,
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    process::{Command, Stdio},
    sync::{Arc, Mutex, mpsc},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use astro_authorizer::{Role, TokenIssuer, TokenSecret};

const SECRET: &str = "lambda-test-secret-lambda-test-secret-0123";
const ARN: &str = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/production/GET/prospects";

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Creates the secret in the tests' moto (shared with the other tests of
/// this binary, so every secret name is new).
fn create_secret(name: &str, value: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let client = astro_testkit::moto::secrets_client(None);
        client.create_secret().name(name).secret_string(value).send().await.unwrap();
    });
}

/// What the function sent back for one invocation.
#[derive(Debug)]
struct Outcome {
    kind: String,
    body: serde_json::Value,
}

/// A minimal Lambda Runtime API: hands out `events` one by one on
/// `invocation/next` and reports each response or error.
fn runtime_api(events: Vec<serde_json::Value>) -> (u16, mpsc::Receiver<Outcome>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let queue = Arc::new(Mutex::new(events.into_iter().enumerate().collect::<VecDeque<_>>()));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let (queue, tx) = (queue.clone(), tx.clone());
            std::thread::spawn(move || serve(stream, &queue, &tx));
        }
    });
    (port, rx)
}

fn serve(stream: TcpStream, queue: &Mutex<VecDeque<(usize, serde_json::Value)>>, tx: &mpsc::Sender<Outcome>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            if header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let path = request_line.split_whitespace().nth(1).unwrap_or("").to_owned();
        if path.ends_with("/invocation/next") {
            let next = queue.lock().unwrap().pop_front();
            let Some((id, event)) = next else {
                std::thread::sleep(Duration::from_secs(3600));
                return;
            };
            let payload = event.to_string();
            let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() + 30_000;
            write!(
                writer,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: req-{id}\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:eu-west-1:123456789012:function:astro-authorizer\r\nContent-Length: {}\r\n\r\n{payload}",
                payload.len()
            )
            .unwrap();
        } else {
            let kind = path.rsplit('/').next().unwrap_or("").to_owned();
            let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
            let _ = tx.send(Outcome { kind, body });
            write!(writer, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n").unwrap();
        }
    }
}

fn bearer(role: Role) -> String {
    let secret = TokenSecret::new(SECRET.as_bytes().to_vec()).unwrap();
    format!("Bearer {}", TokenIssuer::new(&secret).issue("ada@example.com", role, now()).unwrap().0)
}

fn event(token: &str) -> serde_json::Value {
    serde_json::json!({"type": "TOKEN", "authorizationToken": token, "methodArn": ARN})
}

#[test]
fn the_lambda_allows_denies_and_refuses_through_the_runtime_api() {
    let id = format!("astro-qualif/jwt-secret-{}", std::process::id());
    create_secret(&id, SECRET);
    let (port, outcomes) = runtime_api(vec![
        event(&bearer(Role::Admin)),
        event("Bearer forged.token.value"),
        event(&bearer(Role::Service)),
    ]);

    let mut child = Command::new(env!("CARGO_BIN_EXE_astro-authorizer"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "astro-authorizer")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/astro-authorizer")
        .envs(astro_testkit::moto::aws_env())
        .env("ASTRO_JWT_SECRET_ID", &id)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let next = || outcomes.recv_timeout(Duration::from_secs(30)).expect("the function answers");
    let (admin, forged, service) = (next(), next(), next());
    let _ = child.kill();
    let _ = child.wait();

    assert_eq!(admin.kind, "response", "{admin:?}");
    assert_eq!(admin.body["principalId"], "ada@example.com");
    assert_eq!(admin.body["policyDocument"]["Statement"][0]["Effect"], "Allow");
    assert_eq!(
        admin.body["policyDocument"]["Statement"][0]["Resource"][0],
        "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/production/*"
    );
    assert_eq!(admin.body["context"]["role"], "admin");

    assert_eq!(forged.kind, "error", "{forged:?}");
    assert_eq!(forged.body["errorMessage"], "Unauthorized", "API Gateway answers 401 on exactly this message");

    assert_eq!(service.kind, "response");
    let effects: Vec<&str> = service.body["policyDocument"]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Effect"].as_str().unwrap())
        .collect();
    assert_eq!(effects, ["Allow", "Deny"], "a service token may not read prospects");
}
