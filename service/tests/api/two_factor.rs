//! Two-factor sign-in over native gRPC: enrolment, the second step with app
//! codes (each good once, two windows ago refused) and recovery codes, wrong
//! codes counted in the sign-in budget, the team's requirement and an
//! admin's reset. Runs on both stores.

use astro_authorizer::Role;
use astro_proto::v1::{
    CompleteSignInRequest, ConfirmTwoFactorEnrolmentRequest, ConfirmTwoFactorEnrolmentResponse,
    DisableTwoFactorRequest, ListMembersRequest, ListSecurityEventsRequest, LoginRequest, LoginResponse,
    ResetTwoFactorRequest, SecondStep, SecurityEventKind, StartTwoFactorEnrolmentRequest, TeamSettings,
    TwoFactorEnrolment, UpdateTeamSettingsRequest,
};
use astro_testkit::totp;
use tonic::Code;

use crate::{
    helpers::*,
    members::{PASSWORD, auth_with, join, member, members},
};

async fn password_step(app: &TestApp, email: &str) -> LoginResponse {
    let request = LoginRequest { email: email.into(), password: PASSWORD.into(), ..Default::default() };
    app.auth().await.login(request).await.expect("the password is right").into_inner()
}

fn second_step(answer: &LoginResponse) -> SecondStep {
    assert!(answer.token.is_empty(), "no token before the second step: {answer:?}");
    answer.second_step.clone().expect("a second step is asked")
}

async fn complete(app: &TestApp, ticket: &str, code: &str) -> Result<LoginResponse, tonic::Status> {
    let request = CompleteSignInRequest { ticket: ticket.into(), code: code.into() };
    app.auth().await.complete_sign_in(request).await.map(|r| r.into_inner())
}

/// Enrols the signed-in member: the secret shown and the recovery codes.
async fn enrol(app: &TestApp, token: &str) -> (TwoFactorEnrolment, ConfirmTwoFactorEnrolmentResponse) {
    let mut auth = auth_with(app, token).await;
    let start = StartTwoFactorEnrolmentRequest { current_password: PASSWORD.into(), ..Default::default() };
    let shown = auth.start_two_factor_enrolment(start).await.expect("enrolment starts").into_inner();
    let confirm = ConfirmTwoFactorEnrolmentRequest { code: totp::code(&shown.secret, 0), ..Default::default() };
    let confirmed = auth.confirm_two_factor_enrolment(confirm).await.expect("the app's code confirms").into_inner();
    (shown, confirmed)
}

async fn log_kinds(app: &TestApp) -> Vec<(SecurityEventKind, String, String)> {
    let admin = app.admin_token().await;
    let request = ListSecurityEventsRequest { page_size: 200, ..Default::default() };
    let page = members(app, &admin).await.list_security_events(request).await.unwrap().into_inner();
    page.events.into_iter().map(|e| (e.kind(), e.subject, e.detail)).collect()
}

#[tokio::test]
async fn enrolment_then_every_sign_in_needs_a_code_good_once() {
    let app = spawn_app().await;
    let sam = join(&app, "sam@example.com", Role::Sales).await;
    let mut auth = auth_with(&app, &sam).await;

    // Enrolment needs the password, and changes nothing until confirmed.
    let refused = assert_code(
        auth.start_two_factor_enrolment(StartTwoFactorEnrolmentRequest::default()).await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&refused), ["current_password"]);
    let start = StartTwoFactorEnrolmentRequest { current_password: PASSWORD.into(), ..Default::default() };
    let shown = auth.start_two_factor_enrolment(start).await.unwrap().into_inner();
    assert_eq!(shown.secret.len(), 32, "160 bits in base32: {}", shown.secret);
    assert!(shown.otpauth_uri.starts_with("otpauth://totp/Astro%20Qualif:sam%40example.com?"));
    assert!(shown.otpauth_uri.contains(&format!("secret={}", shown.secret)));
    assert!(shown.qr_code_svg.contains("<svg"));
    let admin = app.admin_token().await;
    assert!(!member(&app, &admin, "sam@example.com").await.two_factor_enabled);
    assert!(!password_step(&app, "sam@example.com").await.token.is_empty(), "not on before it is confirmed");

    let wrong = ConfirmTwoFactorEnrolmentRequest { code: "123456".into(), ..Default::default() };
    let refused = assert_code(auth.confirm_two_factor_enrolment(wrong).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&refused), ["code"]);
    let enrolled = totp::code(&shown.secret, 0);
    let confirm = ConfirmTwoFactorEnrolmentRequest { code: enrolled.clone(), ..Default::default() };
    let confirmed = auth.confirm_two_factor_enrolment(confirm).await.unwrap().into_inner();
    assert_eq!(confirmed.recovery_codes.len(), 10);
    assert!(confirmed.sign_in.is_none(), "signed in already");
    assert!(member(&app, &admin, "sam@example.com").await.two_factor_enabled);
    let listed = members(&app, &admin).await.list_members(ListMembersRequest::default()).await.unwrap();
    assert!(!format!("{:?}", listed.into_inner()).contains(&shown.secret), "the secret is never returned");

    // The password alone gives no token, only a ticket.
    let ticket = second_step(&password_step(&app, "sam@example.com").await);
    assert!(!ticket.enrol);
    let ticket = ticket.ticket;
    for (code, why) in [
        (enrolled.as_str(), "the enrolment's code, replayed"),
        (&totp::code(&shown.secret, -2), "a code from two windows ago"),
        ("000000", "a wrong code"),
    ] {
        let refused = assert_code(complete(&app, &ticket, code).await, Code::InvalidArgument);
        assert_eq!(violated_fields(&refused), ["code"], "{why}");
    }
    // The next step's code (the phone a little ahead) signs in, once.
    let next = totp::code(&shown.secret, 1);
    let signed_in = complete(&app, &ticket, &next).await.expect("the app's next code signs in");
    assert_eq!((signed_in.email.as_str(), signed_in.role.as_str()), ("sam@example.com", "sales"));
    assert!(signed_in.second_step.is_none());
    let mut team = members(&app, &signed_in.token).await;
    team.list_members(ListMembersRequest::default()).await.expect("the token works");
    let ticket = second_step(&password_step(&app, "sam@example.com").await).ticket;
    assert_code(complete(&app, &ticket, &next).await, Code::InvalidArgument);

    // A recovery code, typed loosely, is good once.
    let recovery = &confirmed.recovery_codes[0];
    let typed = format!(" {} ", recovery.to_uppercase());
    let signed_in = complete(&app, &ticket, &typed).await.expect("a recovery code signs in");
    assert!(!signed_in.token.is_empty());
    let ticket = second_step(&password_step(&app, "sam@example.com").await).ticket;
    assert_code(complete(&app, &ticket, recovery).await, Code::InvalidArgument);

    let log = log_kinds(&app).await;
    assert!(log.iter().any(|(k, s, _)| *k == SecurityEventKind::TwoFactorEnabled && s == "sam@example.com"));
    assert!(log.iter().any(|(k, _, d)| *k == SecurityEventKind::RecoveryCodeUsed && d == "9 left"), "{log:?}");
    let wrong_codes = log
        .iter()
        .filter(|(k, s, d)| *k == SecurityEventKind::SignInFailed && s == "sam@example.com" && d.contains("code"))
        .count();
    assert!(wrong_codes >= 5, "wrong codes are failed sign-ins: {log:?}");
}

#[tokio::test]
async fn wrong_codes_spend_the_sign_in_budget_then_the_sign_in_starts_again() {
    let app = spawn_app().await;
    let sam = join(&app, "sam@example.com", Role::Sales).await;
    let (shown, _) = enrol(&app, &sam).await;
    let ticket = second_step(&password_step(&app, "sam@example.com").await).ticket;
    for _ in 0..5 {
        assert_code(complete(&app, &ticket, "000000").await, Code::InvalidArgument);
    }
    // Past the account's budget (5), even the right code waits for a new sign-in.
    let refused = assert_code(complete(&app, &ticket, &totp::code(&shown.secret, 1)).await, Code::FailedPrecondition);
    assert!(refused.message().contains("sign in again"), "{refused:?}");
    // And that sign-in needs the captcha, as after wrong passwords.
    let request = LoginRequest { email: "sam@example.com".into(), password: PASSWORD.into(), ..Default::default() };
    let refused = assert_code(app.auth().await.login(request).await, Code::Unauthenticated);
    assert!(refused.message().contains("solve the captcha"), "{refused:?}");
}

#[tokio::test]
async fn a_ticket_that_is_not_genuine_or_whose_sessions_ended_is_refused() {
    let app = spawn_app().await;
    let sam = join(&app, "sam@example.com", Role::Sales).await;
    let (shown, _) = enrol(&app, &sam).await;
    let ticket = second_step(&password_step(&app, "sam@example.com").await).ticket;
    let code = totp::code(&shown.secret, 1);

    let mut tampered = ticket.clone().into_bytes();
    tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
    let refused =
        assert_code(complete(&app, &String::from_utf8(tampered).unwrap(), &code).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&refused), ["ticket"]);
    // A session token is not a ticket either.
    assert_code(complete(&app, &sam, &code).await, Code::InvalidArgument);

    // An admin resets the second factor: the sessions end, the ticket with them.
    let admin = app.admin_token().await;
    let reset = ResetTwoFactorRequest { email: "sam@example.com".into() };
    let member = members(&app, &admin).await.reset_two_factor(reset).await.unwrap().into_inner();
    assert!(!member.two_factor_enabled);
    assert_code(complete(&app, &ticket, &code).await, Code::FailedPrecondition);
    assert_code(members(&app, &sam).await.list_members(ListMembersRequest::default()).await, Code::Unauthenticated);
    // Without a second factor, the password signs in again.
    assert!(!password_step(&app, "sam@example.com").await.token.is_empty());
    let log = log_kinds(&app).await;
    assert!(
        log.iter().any(|(k, s, d)| *k == SecurityEventKind::TwoFactorDisabled
            && s == "sam@example.com"
            && d == "reset by an admin"),
        "{log:?}"
    );
    // Only admins reset.
    let viewer = join(&app, "vera@example.com", Role::Viewer).await;
    let reset = ResetTwoFactorRequest { email: "sam@example.com".into() };
    assert_code(members(&app, &viewer).await.reset_two_factor(reset).await, Code::PermissionDenied);
}

#[tokio::test]
async fn when_the_team_requires_it_members_enrol_at_sign_in() {
    let app = spawn_app().await;
    let vera = join(&app, "vera@example.com", Role::Viewer).await;
    let admin = app.admin_token().await;
    let mut team = members(&app, &admin).await;
    let require = UpdateTeamSettingsRequest {
        settings: Some(TeamSettings { require_two_factor: true, ..Default::default() }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["require_two_factor".into()] }),
    };
    let settings = team.update_team_settings(require).await.unwrap().into_inner();
    assert!(settings.require_two_factor && !settings.auto_assign, "only the field named changes");
    // A token from before still works (the requirement applies at sign-in).
    members(&app, &vera).await.list_members(ListMembersRequest::default()).await.unwrap();

    let step = second_step(&password_step(&app, "vera@example.com").await);
    assert!(step.enrol, "enrolment is asked");
    // An enrolment ticket is no code ticket.
    assert_code(complete(&app, &step.ticket, "123456").await, Code::InvalidArgument);
    let mut auth = app.auth().await;
    let start = StartTwoFactorEnrolmentRequest { ticket: step.ticket.clone(), ..Default::default() };
    let shown = auth.start_two_factor_enrolment(start).await.unwrap().into_inner();
    let confirm = ConfirmTwoFactorEnrolmentRequest { ticket: step.ticket.clone(), code: totp::code(&shown.secret, 0) };
    let confirmed = auth.confirm_two_factor_enrolment(confirm).await.unwrap().into_inner();
    assert_eq!(confirmed.recovery_codes.len(), 10);
    let signed_in = confirmed.sign_in.expect("the enrolment signs in");
    assert_eq!(signed_in.email, "vera@example.com");
    assert!(!signed_in.token.is_empty());

    // While required, it cannot be turned off.
    let disable = DisableTwoFactorRequest { current_password: PASSWORD.into() };
    assert_code(auth_with(&app, &signed_in.token).await.disable_two_factor(disable).await, Code::FailedPrecondition);
    // Without a ticket or a token, enrolment is refused.
    let anonymous = StartTwoFactorEnrolmentRequest { current_password: PASSWORD.into(), ..Default::default() };
    assert_code(app.auth().await.start_two_factor_enrolment(anonymous).await, Code::Unauthenticated);
    // Machines are not asked.
    app.add_member("robot@example.com", PASSWORD, Role::Service).await;
    assert!(!password_step(&app, "robot@example.com").await.token.is_empty());
}

#[tokio::test]
async fn a_member_turns_it_off_with_the_password() {
    let app = spawn_app().await;
    let sam = join(&app, "sam@example.com", Role::Sales).await;
    enrol(&app, &sam).await;
    let mut auth = auth_with(&app, &sam).await;
    let again = StartTwoFactorEnrolmentRequest { current_password: PASSWORD.into(), ..Default::default() };
    assert_code(auth.start_two_factor_enrolment(again).await, Code::FailedPrecondition);
    let wrong = DisableTwoFactorRequest { current_password: "not my password at all".into() };
    let refused = assert_code(auth.disable_two_factor(wrong).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&refused), ["current_password"]);
    second_step(&password_step(&app, "sam@example.com").await);
    auth.disable_two_factor(DisableTwoFactorRequest { current_password: PASSWORD.into() }).await.unwrap();
    assert!(!password_step(&app, "sam@example.com").await.token.is_empty());
}
