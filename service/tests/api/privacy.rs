//! The rights of the people in the data: an admin sees everything held on
//! one address and erases it; afterwards nothing of theirs is anywhere in
//! the store — a scan of the embedded file's bytes, or of the whole moto
//! table, finds neither the address nor the names — the counts match the
//! cards, and only a record of the erasure (without their data) stays.

use astro_authorizer::Role;
use astro_proto::v1::{
    ErasePersonalDataRequest, ErasureReason, GetPersonalDataRequest, ListErasuresRequest, ListProspectsRequest,
    Prospect, ProspectStatus, UpdateProspectRequest, privacy_service_client::PrivacyServiceClient,
};
use prost_types::FieldMask;
use tonic::{Code, service::interceptor::InterceptedService, transport::Channel};

use crate::helpers::*;

type Privacy = PrivacyServiceClient<InterceptedService<Channel, Bearer>>;

async fn privacy(app: &TestApp, token: String) -> Privacy {
    PrivacyServiceClient::with_interceptor(app.channel().await, Bearer(Some(token)))
}

/// What the person gave: nothing else in the test holds these strings.
const EMAIL: &str = "erin.zephyr@example.com";
const TRACES: [&str; 6] = [EMAIL, "Zephyrine", "zephyrine", "Quillfeather", "quillfeather", "Xylophonic"];

fn theirs(first_name: &str) -> Prospect {
    Prospect {
        first_name: first_name.into(),
        last_name: "Quillfeather".into(),
        company: "Xylophonic Works".into(),
        phone: "+33 6 98 76 54 32".into(),
        ..prospect("x", EMAIL)
    }
}

/// Every place the store keeps bytes: the embedded file and its log, or
/// every item of the table.
async fn whole_store(app: &TestApp) -> String {
    match &app.table {
        Some(table) => {
            let client = astro_testkit::moto::dynamodb_client(None);
            let mut all = String::new();
            let mut start = None;
            loop {
                let page = client.scan().table_name(table).set_exclusive_start_key(start).send().await.expect("scan");
                for item in page.items() {
                    all.push_str(&format!("{item:?}\n"));
                }
                match page.last_evaluated_key().filter(|k| !k.is_empty()) {
                    Some(key) => start = Some(key.clone()),
                    None => return all,
                }
            }
        }
        None => {
            let dir = app.data_dir().expect("the embedded store's directory");
            let mut all = Vec::new();
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.file_name().unwrap().to_string_lossy().starts_with("astro.sqlite3") {
                    all.extend(std::fs::read(&path).unwrap());
                }
            }
            String::from_utf8_lossy(&all).into_owned()
        }
    }
}

#[tokio::test]
async fn an_erasure_leaves_nothing_of_the_person_and_only_its_record() {
    // A webhook that never answers: its notifications stay queued, each
    // with a copy of the card.
    let app = spawn_app_with(|c| {
        c.notify.webhook_urls = vec!["http://127.0.0.1:9/hook".into()];
        c.notify.webhook_secret = Some("webhook-test-key-0123456789".parse().unwrap());
        c.notify.webhook_allow_private = true;
        c.notify.notify_retry_ms = 60_000;
    })
    .await;
    let token = app.admin_token().await;
    let mut admin = app.prospects_with(Some(token.clone())).await;
    let create = |p: Prospect| astro_proto::v1::CreateProspectRequest { prospect: Some(p), request_id: String::new() };
    let first = admin.create_prospect(create(theirs("Zephyrine"))).await.unwrap().into_inner();
    let second = admin.create_prospect(create(theirs("Zephyrine"))).await.unwrap().into_inner();
    assert_eq!(second.duplicate_of, first.id);
    let other = create_other(&mut admin).await;
    // A move and an edit: history, and board changes showing the card.
    let moved = admin
        .update_prospect(UpdateProspectRequest {
            prospect: Some(Prospect {
                id: first.id.clone(),
                version: first.version,
                status: ProspectStatus::Contacted as i32,
                message: "Call back on Tuesday, Zephyrine prefers mornings".into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask { paths: vec!["status".into(), "message".into()] }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.version, 2);
    // An import updates their newest card: its report keeps the card as it was.
    let mut imports = crate::imports::imports_on(app.channel().await, token.clone());
    let csv = format!("Prénom;Nom;Courriel;Société\nZephyrine;Quillfeather;{EMAIL};Imported Co\n");
    let imported = crate::imports::import_all(&mut imports, &csv, astro_proto::v1::DuplicateMode::Update).await;
    assert_eq!(imported.updated, 1);
    let before = whole_store(&app).await;
    assert!(TRACES.iter().all(|t| before.contains(t)), "the scan sees the person's data while it is held");

    let mut privacy = privacy(&app, token.clone()).await;
    let held = privacy
        .get_personal_data(GetPersonalDataRequest { email: "Erin.Zephyr@Example.com ".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(held.email, EMAIL);
    assert_eq!(held.prospects.iter().map(|p| p.id.clone()).collect::<Vec<_>>(), [second.id.clone(), first.id.clone()]);
    assert_eq!(held.prospects[1].events.len(), 3, "created, moved, edited");
    assert!(held.prospects.iter().all(|p| p.consent.as_ref().is_some_and(|c| c.given && c.given_at.is_some())));
    assert_eq!(held.notifications.len(), 2, "one webhook per card");
    assert!(held.board_changes.len() >= 3, "created twice, edited: {:?}", held.board_changes.len());
    assert_eq!(held.import_rows.len(), 1);
    assert_eq!(held.import_rows[0].previous.as_ref().unwrap().company, "Xylophonic Works");

    let erased =
        privacy.erase_personal_data(ErasePersonalDataRequest { email: EMAIL.into() }).await.unwrap().into_inner();
    assert_eq!((erased.prospects, erased.events, erased.notifications, erased.import_rows), (2, 5, 2, 1));
    assert_eq!(erased.board_changes, held.board_changes.len() as i64);
    assert_eq!((erased.actor.as_str(), erased.reason), (ADMIN_EMAIL, ErasureReason::Request as i32));

    // Nothing of theirs by any method.
    let after = whole_store(&app).await;
    for trace in TRACES {
        assert!(!after.contains(trace), "{trace} is still in the store after the erasure");
    }
    assert!(after.contains("Other"), "the other person's card stays");
    let held = privacy.get_personal_data(GetPersonalDataRequest { email: EMAIL.into() }).await.unwrap().into_inner();
    assert!(held.prospects.is_empty() && held.notifications.is_empty() && held.board_changes.is_empty());
    assert!(held.import_rows.is_empty());
    let searched = admin
        .list_prospects(ListProspectsRequest { query: "zephyrine".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert!(searched.prospects.is_empty());
    let page = list(&mut admin, ProspectStatus::Unspecified, 50, "").await;
    assert_eq!(page.prospects.iter().map(|p| p.id.clone()).collect::<Vec<_>>(), std::slice::from_ref(&other.id));
    assert_eq!((count(&page, ProspectStatus::New), count(&page, ProspectStatus::Contacted)), (1, 0));

    // The record, without their data; a second erasure finds nothing.
    let again = privacy.erase_personal_data(ErasePersonalDataRequest { email: EMAIL.into() }).await.unwrap();
    assert_eq!(again.into_inner().prospects, 0);
    let log = privacy.list_erasures(ListErasuresRequest::default()).await.unwrap().into_inner();
    assert_eq!(log.erasures.len(), 1, "an erasure that found nothing is not recorded");
    assert_eq!(log.erasures[0].id, erased.id);
    assert!(!format!("{:?}", log.erasures).contains("zephyr"));
}

async fn create_other(admin: &mut Prospects) -> Prospect {
    create(admin, "Other", "other.person@example.com").await
}

#[tokio::test]
async fn only_admins_reach_personal_data_and_a_bad_address_is_named() {
    let app = spawn_app().await;
    app.add_member("sam@example.com", "a long team password", Role::Sales).await;
    let mut sales = privacy(&app, token("sam@example.com", Role::Sales)).await;
    let refused = sales.get_personal_data(GetPersonalDataRequest { email: EMAIL.into() }).await;
    assert_code(refused, Code::PermissionDenied);
    let refused = sales.erase_personal_data(ErasePersonalDataRequest { email: EMAIL.into() }).await;
    assert_code(refused, Code::PermissionDenied);
    let mut admin = privacy(&app, app.admin_token().await).await;
    let bad = assert_code(
        admin.erase_personal_data(ErasePersonalDataRequest { email: "nope".into() }).await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&bad), ["email"]);
}

/// An instance of the service on `store` and `clock`.
async fn instance(
    store: std::sync::Arc<dyn astro_service::store::Store>,
    clock: &astro_service::domain::clock::Clock,
    dir: &std::path::Path,
) -> TestApp {
    let running = astro_service::start_with_clock(test_config(dir), store, clock.clone()).await.expect("starts");
    TestApp::from_running(running)
}

const MONTH: std::time::Duration = std::time::Duration::from_secs(31 * 24 * 3600);

#[tokio::test]
async fn cards_past_their_columns_retention_are_erased_across_a_restart_and_no_others() {
    use crate::speed_to_lead::{move_to, settle};
    use astro_proto::v1::{KeepFor, TeamSettings};
    let opened =
        if on_dynamodb() { crate::store_contract::dynamodb().await } else { crate::store_contract::embedded().await };
    let clock = astro_service::domain::clock::Clock::system();
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let first = instance(opened.0.clone(), &clock, dirs[0].path()).await;
    let token = first.admin_token().await;
    let mut admin = first.prospects_with(Some(token.clone())).await;
    let mut lost = Vec::new();
    for i in 0..3 {
        let card = create(&mut admin, &format!("Lost{i}"), &format!("lost{i}@example.com")).await;
        lost.push(move_to(&mut admin, &card, ProspectStatus::Lost).await);
    }
    let won = create(&mut admin, "Won", "won@example.com").await;
    let won = move_to(&mut admin, &won, ProspectStatus::Won).await;
    let new = create(&mut admin, "Fresh", "fresh@example.com").await;
    let late_loss = create(&mut admin, "LateLoss", "late@example.com").await;
    let retention = vec![
        KeepFor { status: ProspectStatus::Lost as i32, months: 12 },
        KeepFor { status: ProspectStatus::New as i32, months: 24 },
    ];
    let settings = TeamSettings { retention, ..Default::default() };
    let saved = settle(token.clone(), &first, settings, &["retention"]).await;
    assert_eq!(saved.retention.len(), 2);

    // Eleven months on, one more card is lost: its time in Lost starts now.
    clock.advance(11 * MONTH);
    let late_loss = move_to(&mut admin, &late_loss, ProspectStatus::Lost).await;
    drop(admin);
    first.stop().await;

    // Thirteen months after the first losses, a new instance's first pass.
    clock.advance(2 * MONTH);
    let second = instance(opened.0.clone(), &clock, dirs[1].path()).await;
    let mut admin = second.prospects_with(Some(second.admin_token().await)).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let page = loop {
        let page = list(&mut admin, ProspectStatus::Unspecified, 50, "").await;
        if count(&page, ProspectStatus::Lost) == 1 || std::time::Instant::now() > deadline {
            break page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let mut kept: Vec<(String, i64)> = page.prospects.iter().map(|p| (p.id.clone(), p.version)).collect();
    kept.sort();
    let mut expected =
        vec![(won.id.clone(), won.version), (new.id.clone(), new.version), (late_loss.id.clone(), late_loss.version)];
    expected.sort();
    assert_eq!(kept, expected, "the three lost thirteen months ago are erased, the others untouched");
    assert_eq!(
        (count(&page, ProspectStatus::Lost), count(&page, ProspectStatus::Won), count(&page, ProspectStatus::New)),
        (1, 1, 1)
    );
    for card in &lost {
        let gone = admin.get_prospect(astro_proto::v1::GetProspectRequest { id: card.id.clone(), view: 0 }).await;
        assert_code(gone, Code::NotFound);
    }
    let mut privacy = privacy(&second, second.admin_token().await).await;
    let log = privacy.list_erasures(ListErasuresRequest::default()).await.unwrap().into_inner();
    assert_eq!(log.erasures.len(), 1);
    let record = &log.erasures[0];
    assert_eq!(
        (record.reason, record.actor.as_str(), record.prospects),
        (ErasureReason::Retention as i32, "retention", 3)
    );
    assert_eq!(record.events, 6, "each lost card's creation and move");
    drop(admin);
    second.stop().await;
}
