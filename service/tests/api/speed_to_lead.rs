//! Speed to lead: the first-contact deadline, counted on the service's
//! clock (moved, never slept on); a card past it listed as overdue and its
//! owner (or the team) reminded once through the outbox — across a restart
//! and with two instances on one store; a card moved in time gets nothing;
//! a card too long in its column listed as stale.

use std::{sync::Arc, time::Duration};

use astro_authorizer::Role;
use astro_proto::v1::{
    ListNotificationsRequest, ListProspectsRequest, NotificationState, Prospect, ProspectStatus, StaleAfter,
    TeamSettings, UpdateProspectRequest, UpdateTeamSettingsRequest, member_service_client::MemberServiceClient,
};
use astro_service::{domain::clock::Clock, store::Store};
use prost_types::FieldMask;
use tonic::Code;

use crate::{
    helpers::{Bearer, Prospects, TestApp, assert_code, create, on_dynamodb, spawn_app, test_config, violated_fields},
    notify::{KEY, receiver},
};

pub(crate) async fn settle(app_token: String, app: &TestApp, settings: TeamSettings, paths: &[&str]) -> TeamSettings {
    let mut members = MemberServiceClient::with_interceptor(app.channel().await, Bearer(Some(app_token)));
    let current = members.get_team_settings(astro_proto::v1::GetTeamSettingsRequest {}).await.unwrap().into_inner();
    let request = UpdateTeamSettingsRequest {
        settings: Some(TeamSettings { version: current.version, ..settings }),
        update_mask: Some(FieldMask { paths: paths.iter().map(|p| (*p).to_owned()).collect() }),
    };
    members.update_team_settings(request).await.unwrap().into_inner()
}

pub(crate) async fn move_to(client: &mut Prospects, card: &Prospect, status: ProspectStatus) -> Prospect {
    let request = UpdateProspectRequest {
        prospect: Some(Prospect {
            id: card.id.clone(),
            version: card.version,
            status: status as i32,
            ..Default::default()
        }),
        update_mask: Some(FieldMask { paths: vec!["status".into()] }),
    };
    client.update_prospect(request).await.unwrap().into_inner()
}

async fn overdue(client: &mut Prospects) -> Vec<String> {
    let request = ListProspectsRequest { overdue: true, ..Default::default() };
    client.list_prospects(request).await.unwrap().into_inner().prospects.into_iter().map(|p| p.first_name).collect()
}

/// An instance of the service on `store` and `clock`, posting to `hook`.
async fn instance(store: Arc<dyn Store>, clock: &Clock, hook: &str, dir: &std::path::Path) -> TestApp {
    let mut config = test_config(dir);
    config.notify.webhook_urls = vec![hook.to_owned()];
    config.notify.webhook_secret = Some(KEY.parse().unwrap());
    config.notify.webhook_allow_private = true;
    config.notify.notify_retry_ms = 20;
    config.notify.notify_poll_ms = 50;
    let running = astro_service::start_with_clock(config, store, clock.clone()).await.expect("the service starts");
    TestApp::from_running(running)
}

#[tokio::test]
async fn a_card_past_its_deadline_is_overdue_and_reminded_once_across_a_restart_and_two_instances() {
    let opened =
        if on_dynamodb() { crate::store_contract::dynamodb().await } else { crate::store_contract::embedded().await };
    let clock = Clock::system();
    let hook = receiver(200).await;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let first = instance(opened.0.clone(), &clock, &hook.url, dirs[0].path()).await;
    let token = first.admin_token().await;
    let saved = settle(
        token.clone(),
        &first,
        TeamSettings { first_contact_minutes: 60, ..Default::default() },
        &["first_contact_minutes"],
    )
    .await;
    assert_eq!(saved.first_contact_minutes, 60);

    let mut admin = first.prospects_with(Some(token.clone())).await;
    let waiting = create(&mut admin, "Ada", "ada@engines.example").await;
    let contacted = create(&mut admin, "Bob", "bob@engines.example").await;
    let due = waiting.first_contact_due.expect("a deadline");
    let created = waiting.created_at.unwrap();
    assert_eq!(due.seconds - created.seconds, 3600);
    assert_eq!(waiting.deadline_partition, "DUE");
    // Bob is called in time: his time to first contact is kept, his reminder will not go.
    clock.advance(Duration::from_secs(20 * 60));
    let called = move_to(&mut admin, &contacted, ProspectStatus::Contacted).await;
    let first_contact = called.first_contacted_at.expect("the first move out of NEW");
    assert!(first_contact.seconds - called.created_at.unwrap().seconds >= 20 * 60);
    assert!(overdue(&mut admin).await.is_empty(), "nothing is late yet");
    hook.until(2).await; // the two creations

    // The instance stops; two others share the store (and the clock).
    drop(admin);
    first.stop().await;
    let (b, c) = (
        instance(opened.0.clone(), &clock, &hook.url, dirs[1].path()).await,
        instance(opened.0.clone(), &clock, &hook.url, dirs[2].path()).await,
    );
    clock.advance(Duration::from_secs(41 * 60));
    let got = hook.until(3).await;
    let reminder: serde_json::Value = serde_json::from_slice(&got[2].body).unwrap();
    assert_eq!(reminder["type"], "prospect.overdue");
    assert_eq!(reminder["prospect"]["id"], waiting.id);
    let mut admin = b.prospects_with(Some(token.clone())).await;
    assert_eq!(overdue(&mut admin).await, ["Ada"]);
    let mut other = c.prospects_with(Some(token.clone())).await;
    assert_eq!(overdue(&mut other).await, ["Ada"], "the same on every instance");

    // Nothing else goes: Bob's reminder is cancelled, Ada's went once.
    let until = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let pending = admin
            .list_notifications(ListNotificationsRequest { state: NotificationState::Pending as i32, page_size: 0 })
            .await
            .unwrap()
            .into_inner()
            .notifications;
        if pending.is_empty() {
            break;
        }
        assert!(std::time::Instant::now() < until, "still pending: {pending:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hook.received().len(), 3, "one reminder, once");

    // Contacted late: out of the overdue list, with its time to first contact.
    let ada = move_to(&mut admin, &waiting, ProspectStatus::Contacted).await;
    assert!(ada.first_contacted_at.unwrap().seconds - ada.created_at.unwrap().seconds >= 61 * 60);
    assert!(ada.deadline_partition.is_empty());
    assert!(overdue(&mut admin).await.is_empty());
    drop((b, c));
}

#[tokio::test]
async fn a_card_too_long_in_its_column_is_stale_and_bad_settings_are_refused() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let stale_after = vec![StaleAfter { status: ProspectStatus::Contacted as i32, days: 7 }];
    settle(token.clone(), &app, TeamSettings { stale_after, ..Default::default() }, &["stale_after"]).await;
    let mut admin = app.admin().await;
    let card = create(&mut admin, "Ada", "ada@engines.example").await;
    move_to(&mut admin, &card, ProspectStatus::Contacted).await;
    let stale = |admin: &mut Prospects| {
        let request =
            ListProspectsRequest { stale: true, status: ProspectStatus::Contacted as i32, ..Default::default() };
        let mut admin = admin.clone();
        async move { admin.list_prospects(request).await.unwrap().into_inner().prospects.len() }
    };
    assert_eq!(stale(&mut admin).await, 0);
    app.clock().advance(Duration::from_secs(7 * 86_400 + 60));
    assert_eq!(stale(&mut admin).await, 1);
    // Without a column: refused, naming it.
    let request = ListProspectsRequest { stale: true, ..Default::default() };
    assert_eq!(violated_fields(&assert_code(admin.list_prospects(request).await, Code::InvalidArgument)), ["status"]);

    // Settings out of bounds change nothing.
    let mut members = MemberServiceClient::with_interceptor(app.channel().await, Bearer(Some(token)));
    let current = members.get_team_settings(astro_proto::v1::GetTeamSettingsRequest {}).await.unwrap().into_inner();
    let request = UpdateTeamSettingsRequest {
        settings: Some(TeamSettings { first_contact_minutes: -5, ..current.clone() }),
        update_mask: Some(FieldMask { paths: vec!["first_contact_minutes".into()] }),
    };
    let refused = assert_code(members.update_team_settings(request).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&refused), ["settings.first_contact_minutes"]);
    let kept = members.get_team_settings(astro_proto::v1::GetTeamSettingsRequest {}).await.unwrap().into_inner();
    assert_eq!(kept.version, current.version);
    let _ = Role::Admin;
}
