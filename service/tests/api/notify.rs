//! Notifications of new prospects (webhooks): recorded with the prospect,
//! delivered signed by the worker, retried with backoff, kept as failed
//! after the last try and retried on demand; internal targets refused.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU16, Ordering},
    },
    time::{Duration, Instant},
};

use astro_proto::v1::{ListNotificationsRequest, Notification, NotificationState, RetryNotificationRequest};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::helpers::*;

pub(crate) const KEY: &str = "webhook-test-key-0123456789";

/// What the receiver got: headers of interest and the body.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    event_id: String,
    signature: String,
    pub(crate) body: Vec<u8>,
}

/// A local webhook receiver answering `status` (changeable).
pub(crate) struct Receiver {
    pub(crate) url: String,
    status: Arc<AtomicU16>,
    got: Arc<Mutex<Vec<Received>>>,
}

pub(crate) async fn receiver(status: u16) -> Receiver {
    receiver_taking(status, Duration::ZERO).await
}

/// A receiver that takes `delay` to answer each delivery.
async fn receiver_taking(status: u16, delay: Duration) -> Receiver {
    let status = Arc::new(AtomicU16::new(status));
    let got = Arc::new(Mutex::new(Vec::new()));
    let (answer, seen) = (status.clone(), got.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let (answer, seen) = (answer.clone(), seen.clone());
            async move {
                tokio::time::sleep(delay).await;
                let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                seen.lock().unwrap().push(Received {
                    event_id: header("astro-event-id"),
                    signature: header("astro-signature"),
                    body: body.to_vec(),
                });
                axum::http::StatusCode::from_u16(answer.load(Ordering::SeqCst)).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { url, status, got }
}

impl Receiver {
    pub(crate) fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    pub(crate) async fn until(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(Instant::now() < deadline, "{} of {n} deliveries within 10 s", got.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// What a receiver does (docs/notifications.md): recompute the signature
/// over `t.body` and compare.
fn verifies(signature: &str, body: &[u8], key: &str) -> bool {
    let Some((t, v1)) = signature.split_once(',') else { return false };
    let (Some(t), Some(v1)) = (t.strip_prefix("t="), v1.strip_prefix("v1=")) else { return false };
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&hex::decode(v1).unwrap_or_default()).is_ok()
}

/// Runs the Python snippet of docs/notifications.md on a delivery.
fn documented_snippet_verifies(signature: &str, body: &[u8]) -> bool {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/notifications.md")).unwrap();
    let (_, rest) = doc.split_once("```python\n").expect("the snippet");
    let (snippet, _) = rest.split_once("```").unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("body"), body).unwrap();
    let program = format!(
        "{snippet}\nimport sys\nbody = open(sys.argv[1], 'rb').read()\nsys.exit(0 if verify({KEY:?}.encode(), sys.argv[2], body) else 1)\n"
    );
    let status = std::process::Command::new("python3")
        .args(["-c", &program, dir.path().join("body").to_str().unwrap(), signature])
        .status()
        .expect("python3 runs");
    status.success()
}

async fn app_notifying(url: &str, allow_private: bool, attempts: u32) -> TestApp {
    let url = url.to_owned();
    spawn_app_with(move |c| {
        c.notify.webhook_urls = vec![url];
        c.notify.webhook_secret = Some(KEY.parse().unwrap());
        c.notify.webhook_allow_private = allow_private;
        c.notify.notify_attempts = attempts;
        c.notify.notify_retry_ms = 20;
        c.notify.notify_poll_ms = 50;
    })
    .await
}

async fn listed(app: &TestApp, state: NotificationState) -> Vec<Notification> {
    let request = ListNotificationsRequest { state: state as i32, page_size: 0 };
    app.admin().await.list_notifications(request).await.unwrap().into_inner().notifications
}

async fn until_listed(app: &TestApp, state: NotificationState, n: usize) -> Vec<Notification> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = listed(app, state).await;
        if found.len() >= n {
            return found;
        }
        assert!(Instant::now() < deadline, "{} of {n} notifications {state:?} within 10 s", found.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_new_prospect_is_posted_to_the_webhook_signed_once() {
    let hook = receiver(200).await;
    let app = app_notifying(&hook.url, true, 8).await;
    let card = create(&mut app.admin().await, "Ada", "ada@example.com").await;
    let got = hook.until(1).await;
    let body: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["type"], "prospect.created");
    assert_eq!(body["prospect"]["id"], card.id);
    assert_eq!(body["prospect"]["firstName"], "Ada");
    assert_eq!(body["id"], got[0].event_id, "the event id, for deduplication");
    assert!(verifies(&got[0].signature, &got[0].body, KEY), "{}", got[0].signature);
    let mut changed = got[0].body.clone();
    changed[10] ^= 1;
    assert!(!verifies(&got[0].signature, &changed, KEY), "a changed body fails");
    assert!(!verifies(&got[0].signature, &got[0].body, "another key"));
    // The snippet docs/notifications.md gives receivers says the same.
    assert!(documented_snippet_verifies(&got[0].signature, &got[0].body));
    assert!(!documented_snippet_verifies(&got[0].signature, &changed));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hook.received().len(), 1, "delivered once");
    assert!(listed(&app, NotificationState::Pending).await.is_empty());
    assert!(listed(&app, NotificationState::Failed).await.is_empty());
}

#[tokio::test]
async fn a_hot_prospect_is_announced_as_its_own_event_at_once_and_an_edit_to_hot_once() {
    use astro_proto::v1::{Budget, CreateProspectRequest, Prospect, Timeline, UpdateProspectRequest};
    let hook = receiver(200).await;
    let app = app_notifying(&hook.url, true, 8).await;
    let mut admin = app.admin().await;
    let hot = Prospect {
        job_title: "CEO".into(),
        phone: "+33 6 12 34 56 78".into(),
        budget: Budget::Over50k as i32,
        timeline: Timeline::Immediate as i32,
        ..prospect("Grace", "grace@navy.example")
    };
    let card = admin
        .create_prospect(CreateProspectRequest { prospect: Some(hot), request_id: String::new() })
        .await
        .unwrap()
        .into_inner();
    let got = hook.until(2).await;
    let mut events: Vec<serde_json::Value> = got.iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect();
    events.sort_by_key(|e| e["type"].as_str().unwrap().to_owned());
    assert_eq!(events[0]["type"], "prospect.created");
    assert_eq!(events[1]["type"], "prospect.hot");
    assert_eq!(events[1]["prospect"]["id"], card.id);
    assert_eq!(events[1]["prospect"]["fit"]["score"], 90);
    assert_eq!(events[1]["prospect"]["fit"]["grade"], "FIT_GRADE_HOT");
    assert_ne!(events[0]["id"], events[1]["id"], "two events, two ids");

    // A cold card made hot by an edit is announced once; another edit of a
    // card already hot is not announced again.
    let cold = create(&mut admin, "Ada", "ada@engines.example").await;
    hook.until(3).await;
    let mut version = cold.version;
    for title in ["CEO", "Founder & CEO"] {
        let edit = Prospect {
            id: cold.id.clone(),
            version,
            job_title: title.into(),
            budget: Budget::Over50k as i32,
            timeline: Timeline::Immediate as i32,
            ..Default::default()
        };
        let paths = ["job_title", "budget", "timeline"].map(String::from).to_vec();
        let request =
            UpdateProspectRequest { prospect: Some(edit), update_mask: Some(prost_types::FieldMask { paths }) };
        version = admin.update_prospect(request).await.unwrap().into_inner().version;
    }
    let got = hook.until(4).await;
    let last: serde_json::Value = serde_json::from_slice(&got[3].body).unwrap();
    assert_eq!(
        (last["type"].as_str(), last["prospect"]["id"].as_str()),
        (Some("prospect.hot"), Some(cold.id.as_str()))
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hook.received().len(), 4, "no second announcement");
}

#[tokio::test]
async fn a_receiver_down_for_a_while_gets_it_when_back() {
    let hook = receiver(503).await;
    let app = app_notifying(&hook.url, true, 8).await;
    create(&mut app.admin().await, "Ada", "ada@example.com").await;
    hook.until(2).await;
    hook.status.store(200, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !listed(&app, NotificationState::Pending).await.is_empty() {
        assert!(Instant::now() < deadline, "still pending");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = hook.received();
    assert!(got.len() >= 3, "tried while down, then delivered: {}", got.len());
    assert!(got.windows(2).all(|w| w[0].event_id == w[1].event_id), "one event id on every try");
    assert!(listed(&app, NotificationState::Failed).await.is_empty());
}

#[tokio::test]
async fn a_receiver_failing_forever_ends_in_the_failed_list_and_a_retry_delivers_it() {
    let hook = receiver(500).await;
    let app = app_notifying(&hook.url, true, 3).await;
    let card = create(&mut app.admin().await, "Ada", "ada@example.com").await;
    let failed = until_listed(&app, NotificationState::Failed, 1).await;
    assert_eq!(failed[0].prospect_id, card.id);
    assert_eq!(failed[0].attempts, 3, "every try spent");
    assert!(failed[0].last_error.contains("HTTP 500"), "{}", failed[0].last_error);
    assert_eq!(hook.received().len(), 3);

    hook.status.store(200, Ordering::SeqCst);
    let retried = app
        .admin()
        .await
        .retry_notification(RetryNotificationRequest { id: failed[0].id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retried.state(), NotificationState::Pending);
    let got = hook.until(4).await;
    assert_eq!(got[3].event_id, failed[0].id, "the same event id as before");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !listed(&app, NotificationState::Pending).await.is_empty() {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(listed(&app, NotificationState::Failed).await.is_empty());
    // Only a failed one can be retried.
    let again = app.admin().await.retry_notification(RetryNotificationRequest { id: failed[0].id.clone() }).await;
    assert_code(again, tonic::Code::FailedPrecondition);
}

#[tokio::test]
async fn a_target_inside_our_network_is_refused_unless_allowed() {
    let hook = receiver(200).await;
    let app = app_notifying(&hook.url, false, 8).await;
    create(&mut app.admin().await, "Ada", "ada@example.com").await;
    let failed = until_listed(&app, NotificationState::Failed, 1).await;
    assert_eq!(failed[0].attempts, 1, "not tried again: the target is refused");
    assert!(failed[0].last_error.contains("loopback"), "{}", failed[0].last_error);
    assert!(hook.received().is_empty(), "nothing sent");
    // Admins only.
    assert_code(
        app.service().await.list_notifications(ListNotificationsRequest::default()).await,
        tonic::Code::PermissionDenied,
    );
}

#[tokio::test]
async fn two_instances_on_one_table_deliver_each_notification_once() {
    let hook = receiver(200).await;
    let client = astro_testkit::moto::dynamodb_client(None);
    let table = fresh_table(&client).await;
    let mut running = Vec::new();
    let mut dirs = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        config.notify.webhook_urls = vec![hook.url.clone()];
        config.notify.webhook_secret = Some(KEY.parse().unwrap());
        config.notify.webhook_allow_private = true;
        config.notify.notify_poll_ms = 20;
        let store = Arc::new(astro_service::store::dynamodb::DynamoStore::new(
            astro_testkit::moto::dynamodb_client(None),
            table.clone(),
        ));
        running.push(astro_service::start_with_store(config, store).await.unwrap());
        dirs.push(dir);
    }
    for (i, instance) in running.iter().enumerate().cycle().take(10) {
        let channel = tonic::transport::Channel::from_shared(format!("http://{}", instance.addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut admin = astro_proto::v1::prospect_service_client::ProspectServiceClient::with_interceptor(
            channel,
            Bearer(Some(token(ADMIN_EMAIL, astro_authorizer::Role::Admin))),
        );
        create(&mut admin, &format!("Ada{i}"), &format!("ada{}@example.com", uuid::Uuid::new_v4().simple())).await;
    }
    let got = hook.until(10).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut ids: Vec<String> = hook.received().into_iter().map(|r| r.event_id).collect();
    let all = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!((all, ids.len()), (10, 10), "each of the 10 once: {got:?}");
    for instance in running {
        instance.stop().await.unwrap();
    }
}

#[tokio::test]
async fn the_team_gets_an_email_even_from_an_smtp_server_that_comes_up_late() {
    use astro_testkit::smtp::{SmtpSink, free_port};
    let port = free_port();
    let app = spawn_app_with(move |c| {
        c.notify.notify_emails = vec!["sales@example.com".into(), "ceo@example.com".into()];
        c.notify.notify_from = Some("Astro Qualif <leads@example.com>".into());
        c.notify.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        c.notify.notify_retry_ms = 50;
        c.notify.notify_poll_ms = 50;
    })
    .await;
    let mut admin = app.admin().await;
    let first = create(&mut admin, "Ada", "ada@example.com").await;
    // The SMTP server is down: tries fail and are retried.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(listed(&app, NotificationState::Pending).await.len(), 1, "still pending, not lost");
    let sink = SmtpSink::start_on(port);
    let second = create(&mut admin, "Grace", "grace@example.com").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while sink.messages().len() < 2 {
        assert!(Instant::now() < deadline, "{} of 2 emails within 10 s", sink.messages().len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let messages = sink.messages();
    for (card, name) in [(&first, "Ada"), (&second, "Grace")] {
        let message = messages.iter().find(|m| m.contains(&card.id)).expect("an email per prospect");
        assert!(message.contains(&format!("Subject: New prospect: {name} ")), "{message}");
        assert!(message.contains("sales@example.com") && message.contains("ceo@example.com"));
        assert!(
            message.contains("From: \"Astro Qualif\" <leads@example.com>")
                || message.contains("From: Astro Qualif <leads@example.com>"),
            "{message}"
        );
        assert!(message.contains("Content-Type: text/plain"), "text only, never HTML from user data");
        assert!(message.contains("@astro-qualif>"), "the Message-ID comes from the event id");
    }
    assert!(listed(&app, NotificationState::Pending).await.is_empty());
}

#[tokio::test]
async fn a_service_killed_in_the_middle_of_deliveries_delivers_everything_after_a_restart() {
    // A slow receiver, so the kill lands while sends are in flight.
    let hook = receiver_taking(200, Duration::from_millis(150)).await;
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("ASTRO_WEBHOOK_URLS", hook.url.as_str()),
        ("ASTRO_WEBHOOK_SECRET", KEY),
        ("ASTRO_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("ASTRO_NOTIFY_POLL_MS", "50"),
        ("ASTRO_NOTIFY_RETRY_MS", "50"),
        ("ASTRO_NOTIFY_LEASE_SECS", "2"),
    ];
    let process = ServiceProcess::start_with(dir.path(), &env);
    let mut admin = process.prospects(Some(token(ADMIN_EMAIL, astro_authorizer::Role::Admin))).await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(create(&mut admin, &format!("Ada{i}"), &format!("ada{i}@example.com")).await.id);
    }
    // Every create was acknowledged; some deliveries are under way.
    hook.until(1).await;
    process.kill_9();
    let before = hook.received().len();
    assert!(before < 20, "killed before it delivered everything ({before})");

    let restarted = ServiceProcess::start_with(dir.path(), &env);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut delivered: Vec<String> = hook
            .received()
            .iter()
            .filter_map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).ok())
            .filter_map(|b| b["prospect"]["id"].as_str().map(str::to_owned))
            .collect();
        delivered.sort();
        delivered.dedup();
        if delivered.len() == ids.len() {
            ids.sort();
            assert_eq!(delivered, ids, "every prospect's notification, at least once");
            break;
        }
        assert!(Instant::now() < deadline, "{} of {} delivered after the restart", delivered.len(), ids.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    restarted.terminate();
}

#[tokio::test]
async fn a_submission_reaches_the_email_and_the_webhook_within_a_second() {
    use astro_testkit::smtp::SmtpSink;
    let hook = receiver(200).await;
    let sink = SmtpSink::start();
    let (url, smtp) = (hook.url.clone(), sink.url());
    let app = spawn_app_with(move |c| {
        c.notify.webhook_urls = vec![url];
        c.notify.webhook_secret = Some(KEY.parse().unwrap());
        c.notify.webhook_allow_private = true;
        c.notify.notify_emails = vec!["sales@example.com".into()];
        c.notify.notify_from = Some("leads@example.com".into());
        c.notify.smtp_url = Some(smtp);
    })
    .await;
    let mut admin = app.admin().await;
    let card = create(&mut admin, "Ada", "ada@example.com").await;
    // The worker is woken by the create itself: no polling interval to wait.
    let acknowledged = Instant::now();
    while hook.received().is_empty() || sink.messages().is_empty() {
        assert!(acknowledged.elapsed() < Duration::from_secs(1), "both channels within 1 s of the answer");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(hook.received()[0].body.windows(card.id.len()).any(|w| w == card.id.as_bytes()));
    assert!(sink.messages()[0].contains(&card.id));
}
