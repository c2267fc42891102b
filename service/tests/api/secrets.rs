//! Secrets Manager (moto): read once, rotations picked up without a restart,
//! tokens of the previous secret still valid, the admin from its secret.

use std::time::{Duration, Instant};

use astro_authorizer::{Role, TokenIssuer, TokenSecret};
use astro_proto::v1::{ListProspectsRequest, LoginRequest, ProspectStatus};
use astro_service::secrets::SecretsManager;
use astro_testkit::moto::{RequestCounter, aws_env, secrets_client};

use crate::helpers::*;

fn secret_value(fill: char) -> String {
    std::iter::repeat_n(fill, 40).collect()
}

async fn create_secret(client: &aws_sdk_secretsmanager::Client, name: &str, value: &str) {
    client.create_secret().name(name).secret_string(value).send().await.unwrap();
}

/// A token of the admin the service's secret bootstraps (a member: only
/// members' tokens are honoured with a human role).
fn signed_by(value: &str) -> String {
    TokenIssuer::new(&TokenSecret::new(value.as_bytes().to_vec()).unwrap())
        .issue("boss@example.com", Role::Admin, now())
        .unwrap()
        .0
}

#[tokio::test]
async fn the_token_secret_is_read_once_and_a_rotation_is_picked_up() {
    let counter = RequestCounter::default();
    let client = secrets_client(Some(counter.clone()));
    let id = format!("astro-qualif/jwt-secret-{}", uuid::Uuid::new_v4().simple());
    create_secret(&client, &id, &secret_value('a')).await;
    counter.take();

    let source = SecretsManager::new(client.clone());
    let ring = source.key_ring(&id).await.unwrap();
    assert_eq!(counter.take(), ["GetSecretValue", "GetSecretValue"], "current and previous, once");
    let old = signed_by(&secret_value('a'));
    for _ in 0..50 {
        ring.verifier().verify(&old).expect("the secret from Secrets Manager verifies");
    }
    assert!(counter.take().is_empty(), "verifying reads the cached secret, not Secrets Manager");

    let _refresh = source.keep_fresh(id.clone(), ring.clone(), Duration::from_millis(200));
    client.put_secret_value().secret_id(&id).secret_string(secret_value('b')).send().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let new = signed_by(&secret_value('b'));
    while ring.verifier().verify(&new).is_err() {
        assert!(Instant::now() < deadline, "the rotation was not picked up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let issued = ring.issuer().issue("a@b.c", Role::Admin, now()).unwrap().0;
    assert!(
        astro_authorizer::TokenVerifier::new(&[TokenSecret::new(secret_value('b').into_bytes()).unwrap()])
            .verify(&issued)
            .is_ok(),
        "new tokens are signed with the new secret"
    );
    ring.verifier().verify(&old).expect("tokens signed before the rotation verify until they expire");
    assert!(ring.verifier().verify(&signed_by(&secret_value('z'))).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_takes_its_token_secret_and_admin_from_secrets_manager() {
    let client = secrets_client(None);
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let (jwt_id, admin_id) =
        (format!("astro-qualif/jwt-secret-{suffix}"), format!("astro-qualif/admin-credentials-{suffix}"));
    create_secret(&client, &jwt_id, &secret_value('s')).await;
    create_secret(&client, &admin_id, r#"{"email":"boss@example.com","password":"from secrets manager"}"#).await;
    let two_factor_id = format!("astro-qualif/two-factor-key-{suffix}");
    create_secret(&client, &two_factor_id, &secret_value('k')).await;

    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(binary())
        .env_clear()
        .envs(store_env(dir.path()))
        .envs(aws_env())
        .env("ASTRO_GRPC_ADDR", "127.0.0.1:0")
        .env("ASTRO_JWT_SECRET_ID", &jwt_id)
        .env("ASTRO_ADMIN_SECRET_ID", &admin_id)
        .env("ASTRO_TWO_FACTOR_KEY_SECRET_ID", &two_factor_id)
        .env("ASTRO_BCRYPT_COST", "10")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let addr = wait_for_address(&mut child);
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    let login = astro_proto::v1::auth_service_client::AuthServiceClient::new(channel.clone())
        .login(LoginRequest {
            email: "boss@example.com".into(),
            password: "from secrets manager".into(),
            ..Default::default()
        })
        .await
        .expect("the admin from the secret signs in")
        .into_inner();
    let verifier = astro_authorizer::TokenVerifier::new(&[TokenSecret::new(secret_value('s').into_bytes()).unwrap()]);
    verifier.verify(&login.token).expect("the service signs with the secret from Secrets Manager");
    let mut prospects = astro_proto::v1::prospect_service_client::ProspectServiceClient::with_interceptor(
        channel.clone(),
        Bearer(Some(signed_by(&secret_value('s')))),
    );
    prospects
        .list_prospects(ListProspectsRequest { status: ProspectStatus::New as i32, ..Default::default() })
        .await
        .expect("a token signed with the secret is accepted");

    // Two-factor secrets are sealed with the key from Secrets Manager: none
    // is made in the data directory, and an enrolment works end to end.
    use astro_proto::v1::{
        CompleteSignInRequest, ConfirmTwoFactorEnrolmentRequest, StartTwoFactorEnrolmentRequest,
        auth_service_client::AuthServiceClient,
    };
    let mut auth = AuthServiceClient::with_interceptor(channel.clone(), Bearer(Some(login.token.clone())));
    let start =
        StartTwoFactorEnrolmentRequest { current_password: "from secrets manager".into(), ..Default::default() };
    let shown = auth.start_two_factor_enrolment(start).await.unwrap().into_inner();
    let confirm =
        ConfirmTwoFactorEnrolmentRequest { code: astro_testkit::totp::code(&shown.secret, 0), ..Default::default() };
    auth.confirm_two_factor_enrolment(confirm).await.unwrap();
    assert!(!dir.path().join("two-factor-key").exists(), "the key is the secret's, not a local file");
    let mut anonymous = AuthServiceClient::new(channel);
    let password = LoginRequest {
        email: "boss@example.com".into(),
        password: "from secrets manager".into(),
        ..Default::default()
    };
    let ticket = anonymous.login(password).await.unwrap().into_inner().second_step.expect("a second step").ticket;
    let complete = CompleteSignInRequest { ticket, code: astro_testkit::totp::code(&shown.secret, 1) };
    assert!(!anonymous.complete_sign_in(complete).await.unwrap().into_inner().token.is_empty());
    let _ = child.kill();
    let _ = child.wait();
}
