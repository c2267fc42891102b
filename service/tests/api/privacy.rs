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

    let erased =
        privacy.erase_personal_data(ErasePersonalDataRequest { email: EMAIL.into() }).await.unwrap().into_inner();
    assert_eq!((erased.prospects, erased.events, erased.notifications), (2, 4, 2));
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
