//! The members' emails through the outbox, caught by a real SMTP server:
//! an invitation's link, "forgot password" and its one-time link, and the
//! owner told of a prospect assigned to them. Runs on both stores.

use astro_authorizer::Role;
use astro_proto::v1::{
    AcceptInvitationRequest, InviteMemberRequest, ListMembersRequest, LoginRequest, Prospect,
    RequestPasswordResetRequest, ResetPasswordRequest, TeamSettings, UpdateProspectRequest, UpdateTeamSettingsRequest,
};
use astro_testkit::smtp::{SmtpSink, link_after};
use tonic::Code;

use crate::{
    helpers::*,
    members::{PASSWORD, join, login, members},
};

async fn with_email(sink: &SmtpSink) -> TestApp {
    let smtp = sink.url();
    spawn_app_with(move |c| {
        c.notify.notify_from = Some("Astro Qualif <team@example.com>".into());
        c.notify.smtp_url = Some(smtp);
        c.notify.notify_poll_ms = 50;
        c.notify.notify_retry_ms = 50;
        c.public_url = "https://astro.example.com".into();
        c.sign_in.login_failures_per_ip = 6;
    })
    .await
}

fn token_of(link: &str) -> String {
    link.split_once('#').expect("a link with its token after #").1.to_owned()
}

#[tokio::test]
async fn an_invitation_is_emailed_with_its_link_and_the_link_is_not_in_the_answer() {
    let sink = SmtpSink::start();
    let app = with_email(&sink).await;
    let admin = app.admin_token().await;
    let invite =
        InviteMemberRequest { email: "ivy@example.com".into(), role: Role::Sales as i32, ..Default::default() };
    let sent = members(&app, &admin).await.invite_member(invite).await.unwrap().into_inner();
    assert!(sent.emailed && sent.link.is_empty(), "emailed, not shown: {sent:?}");

    let email = sink.wait_for("ivy@example.com").await;
    assert!(email.contains("Subject: You are invited to join the team on Astro Qualif"), "{email}");
    assert!(email.contains(&format!("{ADMIN_EMAIL} invited you")), "{email}");
    let link = link_after(&email, "https://astro.example.com/admin/join#").expect("the link");
    let accept = AcceptInvitationRequest {
        token: token_of(&link),
        display_name: "Ivy".into(),
        password: "ivy's own long passphrase".into(),
    };
    let joined = app.auth().await.accept_invitation(accept.clone()).await.expect("the emailed link joins");
    assert_eq!(joined.into_inner().role, "sales");
    let again = assert_code(app.auth().await.accept_invitation(accept).await, Code::FailedPrecondition);
    assert!(again.message().contains("used already"), "{again:?}");
}

#[tokio::test]
async fn forgot_password_answers_alike_emails_members_only_and_the_link_works_once() {
    let sink = SmtpSink::start();
    let app = with_email(&sink).await;
    let sam = join(&app, "sam@example.com", Role::Sales).await;
    let mut auth = app.auth().await;
    let ask = |email: &str| RequestPasswordResetRequest { email: email.into(), ..Default::default() };

    // Known and unknown addresses get the same answer.
    let known = auth.request_password_reset(ask("Sam@Example.com")).await.unwrap().into_inner();
    let unknown = auth.request_password_reset(ask("nobody@example.com")).await.unwrap().into_inner();
    assert_eq!(known, unknown);
    let refused = assert_code(auth.request_password_reset(ask("not an address")).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&refused), ["email"]);
    let email = sink.wait_for("sam@example.com").await;
    assert!(email.contains("Subject: Set a new Astro Qualif password"), "{email}");
    let first = token_of(&link_after(&email, "https://astro.example.com/admin/reset#").expect("the link"));

    // A second request replaces the first link.
    auth.request_password_reset(ask("sam@example.com")).await.unwrap();
    let second = loop {
        let links: Vec<String> = sink
            .decoded()
            .iter()
            .filter(|m| m.contains("To: sam@example.com"))
            .filter_map(|m| link_after(m, "https://astro.example.com/admin/reset#"))
            .map(|link| token_of(&link))
            .filter(|token| *token != first)
            .collect();
        if let Some(token) = links.into_iter().next() {
            break token;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(!sink.decoded().iter().any(|m| m.contains("To: nobody@example.com")), "no email to an unknown address");
    let reset =
        |token: &str, password: &str| ResetPasswordRequest { token: token.into(), new_password: password.into() };
    let replaced =
        assert_code(auth.reset_password(reset(&first, "sam's new long passphrase")).await, Code::FailedPrecondition);
    assert!(replaced.message().contains("replaced"), "{replaced:?}");

    // Tampered, then too short: named, nothing changes.
    let mut tampered = second.clone().into_bytes();
    tampered[4] = if tampered[4] == b'A' { b'B' } else { b'A' };
    let refused = assert_code(
        auth.reset_password(reset(&String::from_utf8(tampered).unwrap(), "sam's new long passphrase")).await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&refused), ["token"]);
    let refused = assert_code(auth.reset_password(reset(&second, "short")).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&refused), ["new_password"]);
    assert!(login(&app, "sam@example.com", PASSWORD).await.is_ok(), "the old password still works");

    // The link sets the password, signs in and ends the other sessions.
    let signed_in = auth.reset_password(reset(&second, "sam's new long passphrase")).await.unwrap().into_inner();
    assert_eq!(signed_in.email, "sam@example.com");
    assert!(!signed_in.token.is_empty());
    assert_code(members(&app, &sam).await.list_members(ListMembersRequest::default()).await, Code::Unauthenticated);
    assert_code(login(&app, "sam@example.com", PASSWORD).await, Code::Unauthenticated);
    assert!(login(&app, "sam@example.com", "sam's new long passphrase").await.is_ok());
    let used =
        assert_code(auth.reset_password(reset(&second, "yet another passphrase")).await, Code::FailedPrecondition);
    assert!(used.message().contains("used already"), "{used:?}");

    // Every request counted against the address's budget (6 here: 3
    // requests and a wrong password so far), then the captcha is asked.
    for _ in 0..2 {
        auth.request_password_reset(ask("someone@example.com")).await.expect("within the budget");
    }
    let refused = assert_code(auth.request_password_reset(ask("sam@example.com")).await, Code::Unauthenticated);
    assert!(refused.message().contains("captcha"), "{refused:?}");
    let request = LoginRequest { email: "sam@example.com".into(), password: PASSWORD.into(), ..Default::default() };
    assert_code(auth.login(request).await, Code::Unauthenticated);
}

#[tokio::test]
async fn the_owner_is_emailed_of_a_prospect_assigned_to_them() {
    let sink = SmtpSink::start();
    let app = with_email(&sink).await;
    join(&app, "sam@example.com", Role::Sales).await;
    let admin = app.admin_token().await;
    let on = UpdateTeamSettingsRequest {
        settings: Some(TeamSettings { auto_assign: true, ..Default::default() }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["auto_assign".into()] }),
    };
    members(&app, &admin).await.update_team_settings(on).await.unwrap();
    let mut service = app.service().await;
    let card = create(&mut service, "Ada", "ada@example.com").await;
    assert_eq!(card.owner, "sam@example.com");
    let email = sink.wait_for("sam@example.com").await;
    assert!(email.contains("Subject: A new prospect for you: Ada "), "{email}");
    assert!(email.contains(&card.id) && email.contains("https://astro.example.com/admin"), "{email}");

    // An admin gives a card to Bea in the drawer: she is told too.
    join(&app, "bea@example.com", Role::Sales).await;
    let mut admin_cards = app.prospects_with(Some(admin.clone())).await;
    let given =
        Prospect { id: card.id.clone(), version: card.version, owner: "bea@example.com".into(), ..Default::default() };
    let mask = prost_types::FieldMask { paths: vec!["owner".into()] };
    let update = UpdateProspectRequest { prospect: Some(given), update_mask: Some(mask) };
    admin_cards.update_prospect(update).await.unwrap();
    let email = sink.wait_for("bea@example.com").await;
    assert!(email.contains("Subject: A new prospect for you: Ada "), "{email}");
}

#[tokio::test]
async fn a_reset_link_opens_only_its_own_members_account() {
    let sink = SmtpSink::start();
    let app = with_email(&sink).await;
    join(&app, "sam@example.com", Role::Sales).await;
    join(&app, "bea@example.com", Role::Sales).await;
    let mut auth = app.auth().await;
    for email in ["sam@example.com", "bea@example.com"] {
        let ask = RequestPasswordResetRequest { email: email.into(), ..Default::default() };
        auth.request_password_reset(ask).await.unwrap();
    }
    let beas = sink.wait_for("bea@example.com").await;
    sink.wait_for("sam@example.com").await;
    let token = token_of(&link_after(&beas, "https://astro.example.com/admin/reset#").unwrap());
    let reset = ResetPasswordRequest { token, new_password: "bea's new long passphrase".into() };
    let signed_in = auth.reset_password(reset).await.unwrap().into_inner();
    assert_eq!(signed_in.email, "bea@example.com", "Bea's link is Bea's");
    assert!(login(&app, "sam@example.com", PASSWORD).await.is_ok(), "Sam's password is untouched");
    assert_code(login(&app, "bea@example.com", PASSWORD).await, Code::Unauthenticated);
}
