//! The admin command line: users are added and reset on the store the server uses.

use std::{
    io::Write,
    process::{Command, Stdio},
};

use astro_proto::v1::LoginRequest;
use tonic::Code;

use crate::helpers::*;

fn run(dir: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(binary())
        .args(args)
        .env_clear()
        .envs(store_env(dir))
        .env("ASTRO_JWT_SECRET", JWT_SECRET)
        .env("ASTRO_BCRYPT_COST", "10")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_added_and_reset_from_the_command_line_can_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let added =
        run(dir.path(), &["user", "add", "--email", "Sales@Example.com", "--role", "admin"], "first password 1\n");
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let again = run(dir.path(), &["user", "add", "--email", "sales@example.com"], "first password 1\n");
    assert!(!again.status.success(), "a second user with the same email is refused");
    let short = run(dir.path(), &["user", "add", "--email", "x@example.com"], "short\n");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("password"));

    let process = ServiceProcess::start(dir.path());
    let channel =
        tonic::transport::Channel::from_shared(format!("http://{}", process.addr)).unwrap().connect().await.unwrap();
    let mut auth = astro_proto::v1::auth_service_client::AuthServiceClient::new(channel);
    let login = |password: &str| LoginRequest {
        email: "sales@example.com".into(),
        password: password.into(),
        ..Default::default()
    };
    auth.login(login("first password 1")).await.expect("the added user signs in");

    let reset = run(dir.path(), &["user", "reset-password", "--email", "sales@example.com"], "second password 2\n");
    assert!(reset.status.success(), "{}", String::from_utf8_lossy(&reset.stderr));
    assert_code(auth.login(login("first password 1")).await, Code::Unauthenticated);
    auth.login(login("second password 2")).await.expect("the new password works");
    process.terminate();

    let unknown = run(dir.path(), &["user", "reset-password", "--email", "ghost@example.com"], "whatever password\n");
    assert!(!unknown.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issued_service_tokens_may_create_prospects() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["token", "issue", "--email", "crm@astro.internal", "--role", "service"], "");
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let process = ServiceProcess::start(dir.path());
    let mut client = process.prospects(Some(token)).await;
    create(&mut client, "Ada", "ada@example.com").await;
    process.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_command_passes_on_a_serving_service_and_fails_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let process = ServiceProcess::start(dir.path());
    // As a container checks itself: the wildcard address it binds.
    let wildcard = format!("0.0.0.0:{}", process.addr.port());
    let serving =
        Command::new(binary()).args(["health"]).env_clear().env("ASTRO_GRPC_ADDR", &wildcard).output().unwrap();
    assert!(serving.status.success(), "{}", String::from_utf8_lossy(&serving.stderr));
    assert!(String::from_utf8_lossy(&serving.stdout).contains("SERVING"));
    process.terminate();

    let gone = Command::new(binary()).args(["health"]).env_clear().env("ASTRO_GRPC_ADDR", &wildcard).output().unwrap();
    assert!(!gone.status.success(), "no service, no health");
}
