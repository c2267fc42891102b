//! Who may call what: tokens, roles, and sign-in.

use astro_authorizer::Role;
use astro_proto::v1::{CreateProspectRequest, GetProspectRequest, ListProspectsRequest, LoginRequest, ProspectStatus};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use tonic::Code;

use crate::helpers::*;

fn list_request() -> ListProspectsRequest {
    ListProspectsRequest { status: ProspectStatus::New as i32, ..Default::default() }
}

#[tokio::test]
async fn every_method_but_login_needs_a_token() {
    let app = spawn_app().await;
    let mut anonymous = app.anonymous().await;
    assert_code(anonymous.list_prospects(list_request()).await, Code::Unauthenticated);
    assert_code(
        anonymous
            .create_prospect(CreateProspectRequest {
                prospect: Some(prospect("Ada", "ada@example.com")),
                request_id: String::new(),
            })
            .await,
        Code::Unauthenticated,
    );
    assert_code(
        anonymous.get_prospect(GetProspectRequest { id: uuid::Uuid::nil().to_string(), view: 0 }).await,
        Code::Unauthenticated,
    );
    // Nothing was stored by the refused create.
    assert_eq!(count(&list(&mut app.admin().await, ProspectStatus::New, 10, "").await, ProspectStatus::New), 0);
}

#[tokio::test]
async fn bad_tokens_are_unauthenticated() {
    let app = spawn_app().await;
    let good = token(ADMIN_EMAIL, Role::Admin);

    let other_secret = astro_authorizer::TokenIssuer::new(&astro_authorizer::TokenSecret::new(vec![7; 32]).unwrap())
        .issue(ADMIN_EMAIL, Role::Admin, now())
        .unwrap()
        .0;
    let expired = astro_authorizer::TokenIssuer::new(
        &astro_authorizer::TokenSecret::new(JWT_SECRET.as_bytes().to_vec()).unwrap(),
    )
    .issue(ADMIN_EMAIL, Role::Admin, now() - 2 * 86_400)
    .unwrap()
    .0;
    let claims = format!(r#"{{"email":"{ADMIN_EMAIL}","role":"admin","iat":{},"exp":{}}}"#, now(), now() + 3600);
    let alg_none = format!("{}.{}.", B64.encode(r#"{"alg":"none","typ":"JWT"}"#), B64.encode(&claims));
    let service_token = token("gateway@astro.internal", Role::Service);
    let mut parts: Vec<&str> = service_token.split('.').collect();
    let promoted = B64.encode(format!(
        r#"{{"email":"gateway@astro.internal","role":"admin","iat":{},"exp":{}}}"#,
        now(),
        now() + 3600
    ));
    parts[1] = &promoted;
    let tampered = parts.join(".");

    for (name, bad) in [
        ("wrong secret", other_secret),
        ("expired", expired),
        ("alg none", alg_none),
        ("tampered payload", tampered),
        ("garbage", "not.a.jwt".to_owned()),
    ] {
        let mut client = app.prospects_with(Some(bad)).await;
        let status = assert_code(client.list_prospects(list_request()).await, Code::Unauthenticated);
        assert!(!status.message().is_empty(), "{name}");
    }
    // The same call with a good token works.
    app.prospects_with(Some(good)).await.list_prospects(list_request()).await.expect("a valid token is accepted");
}

#[tokio::test]
async fn the_service_role_may_only_create() {
    let app = spawn_app().await;
    let mut service = app.service().await;
    let created = create(&mut service, "Ada", "ada@example.com").await;
    assert_eq!(created.status, ProspectStatus::New as i32);
    assert_code(service.list_prospects(list_request()).await, Code::PermissionDenied);
    assert_code(
        service.get_prospect(GetProspectRequest { id: created.id.clone(), view: 0 }).await,
        Code::PermissionDenied,
    );
    // The admin sees what the service created.
    let page = list(&mut app.admin().await, ProspectStatus::New, 10, "").await;
    assert_eq!(page.prospects.len(), 1);
    assert_eq!(page.prospects[0].events.len(), 0, "lists return cards without history");
}

#[tokio::test]
async fn login_returns_a_24_hour_token_and_fails_alike_for_unknown_emails() {
    let app = spawn_app().await;
    let mut auth = app.auth().await;
    let ok = auth
        .login(LoginRequest {
            email: " Admin@Example.com ".into(),
            password: ADMIN_PASSWORD.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.role, "admin");
    assert_eq!(ok.email, ADMIN_EMAIL);
    let expires = ok.expires_at.unwrap().seconds;
    assert!((expires - now() - 86_400).abs() <= 5, "exp = iat + 24h");

    let wrong = assert_code(
        auth.login(LoginRequest { email: ADMIN_EMAIL.into(), password: "wrong password".into(), ..Default::default() })
            .await,
        Code::Unauthenticated,
    );
    let unknown = assert_code(
        auth.login(LoginRequest {
            email: "nobody@example.com".into(),
            password: "wrong password".into(),
            ..Default::default()
        })
        .await,
        Code::Unauthenticated,
    );
    assert_eq!(wrong.message(), unknown.message(), "the answer does not reveal which emails exist");

    let empty = assert_code(auth.login(LoginRequest::default()).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&empty), ["email", "password"]);
}

#[tokio::test]
async fn an_unknown_email_costs_a_bcrypt_check_too() {
    let app = spawn_app().await;
    let auth = app.auth().await;
    // Median of a few attempts each, taken in turns so both see the same
    // load (on DynamoDB the tests share one moto): an unknown email must not
    // answer in a fraction of the time of a wrong password (no early return
    // before bcrypt). Five each: all within the failed-sign-in budget.
    let mut samples = [Vec::new(), Vec::new()];
    for _ in 0..5 {
        for (i, email) in [ADMIN_EMAIL, "nobody@example.com"].into_iter().enumerate() {
            let start = std::time::Instant::now();
            let request = LoginRequest { email: email.into(), password: "wrong password".into(), ..Default::default() };
            let _ = auth.clone().login(request).await;
            samples[i].push(start.elapsed());
        }
    }
    let [known, unknown] = samples.map(|mut s| {
        s.sort();
        s[s.len() / 2]
    });
    assert!(unknown * 2 > known, "unknown email {unknown:?} vs wrong password {known:?}");
}
