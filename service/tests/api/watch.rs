//! The live board (`WatchProspects`, `ListProspectChanges`): watchers see
//! every change, in order, with versions; a reconnect with the cursor misses
//! nothing and repeats nothing; two instances on one DynamoDB table see each
//! other's changes.

use std::time::Duration;

use astro_proto::v1::{
    BoardChange, BoardChangeKind, DeleteProspectRequest, ListProspectChangesRequest, ListProspectsRequest, Prospect,
    ProspectStatus, UpdateProspectRequest, WatchProspectsRequest, WatchProspectsResponse,
};
use base64::Engine as _;
use tonic::{Code, Streaming};

use crate::helpers::*;

/// The changes a watcher receives until it has `n` (keep-alives skipped),
/// with the last cursor.
async fn next_changes(stream: &mut Streaming<WatchProspectsResponse>, n: usize) -> (Vec<BoardChange>, String) {
    let mut changes = Vec::new();
    let mut cursor = String::new();
    while changes.len() < n {
        let response = tokio::time::timeout(Duration::from_secs(5), stream.message())
            .await
            .unwrap_or_else(|_| panic!("only {} of {n} changes within 5 s: {changes:?}", changes.len()))
            .expect("the stream stays up")
            .expect("the stream does not end");
        changes.extend(response.changes);
        cursor = response.cursor;
    }
    (changes, cursor)
}

/// Nothing more comes within a moment.
async fn quiet(stream: &mut Streaming<WatchProspectsResponse>) {
    if let Ok(Ok(Some(response))) = tokio::time::timeout(Duration::from_millis(700), stream.message()).await {
        assert!(response.changes.is_empty(), "unexpected: {:?}", response.changes);
    }
}

async fn watch(client: &mut Prospects, cursor: &str) -> Streaming<WatchProspectsResponse> {
    // Live once the answer's headers are back: the stream starts from the
    // cursor (or from the time of the call), whatever happens next.
    client.watch_prospects(WatchProspectsRequest { cursor: cursor.to_owned() }).await.unwrap().into_inner()
}

fn kinds(changes: &[BoardChange]) -> Vec<(BoardChangeKind, String, i64)> {
    changes.iter().map(|c| (c.kind(), c.prospect_id.clone(), c.version)).collect()
}

/// Sets the field `path` of `card` (as `set` writes it) at its version.
async fn update(client: &mut Prospects, card: &Prospect, path: &str, set: impl FnOnce(&mut Prospect)) -> Prospect {
    let mut update = Prospect { id: card.id.clone(), version: card.version, ..Default::default() };
    set(&mut update);
    let mask = prost_types::FieldMask { paths: vec![path.into()] };
    client
        .update_prospect(UpdateProspectRequest { prospect: Some(update), update_mask: Some(mask) })
        .await
        .unwrap()
        .into_inner()
}

async fn move_to(client: &mut Prospects, card: &Prospect, status: ProspectStatus) -> Prospect {
    update(client, card, "status", |p| p.status = status as i32).await
}

async fn edit_company(client: &mut Prospects, card: &Prospect, company: &str) -> Prospect {
    update(client, card, "company", |p| p.company = company.into()).await
}

/// Create, move, edit, delete through `writer`; each watcher sees all four,
/// in order, with the card's versions.
async fn four_changes_seen_by(writer: &mut Prospects, watchers: &mut [Streaming<WatchProspectsResponse>]) {
    let card = create(writer, "Ada", "ada@example.com").await;
    let moved = move_to(writer, &card, ProspectStatus::Qualified).await;
    let edited = edit_company(writer, &moved, "Analytical Engines Ltd").await;
    writer.delete_prospect(DeleteProspectRequest { id: card.id.clone(), version: 0 }).await.unwrap();
    for stream in watchers.iter_mut() {
        let (changes, _) = next_changes(stream, 4).await;
        assert_eq!(
            kinds(&changes),
            [
                (BoardChangeKind::Created, card.id.clone(), 1),
                (BoardChangeKind::Moved, card.id.clone(), 2),
                (BoardChangeKind::Edited, card.id.clone(), 3),
                (BoardChangeKind::Deleted, card.id.clone(), 4),
            ]
        );
        assert_eq!(changes[0].prospect.as_ref().unwrap().first_name, "Ada");
        assert_eq!(changes[1].from_status(), ProspectStatus::New);
        assert_eq!(changes[1].prospect.as_ref().unwrap().status(), ProspectStatus::Qualified);
        assert_eq!(changes[2].prospect.as_ref().unwrap().company, edited.company);
        assert_eq!(changes[3].from_status(), ProspectStatus::Qualified);
        assert!(changes.iter().all(|c| c.actor == ADMIN_EMAIL));
        quiet(stream).await;
    }
}

#[tokio::test]
async fn two_watchers_see_every_change_in_order_with_versions() {
    let app = spawn_app().await;
    let mut admin = app.admin().await;
    let mut watchers = [watch(&mut app.admin().await, "").await, watch(&mut app.admin().await, "").await];
    four_changes_seen_by(&mut admin, &mut watchers).await;
}

#[tokio::test]
async fn two_instances_on_one_table_see_each_others_changes() {
    // Two service instances on one moto table: a change made through one
    // reaches a watcher connected to the other (no in-process bus).
    let client = astro_testkit::moto::dynamodb_client(None);
    let table = fresh_table(&client).await;
    let (one_dir, other_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let start = |dir: &std::path::Path| {
        let mut config = test_config(dir);
        config.watch_poll_ms = 100;
        let store = std::sync::Arc::new(astro_service::store::dynamodb::DynamoStore::new(
            astro_testkit::moto::dynamodb_client(None),
            table.clone(),
        ));
        astro_service::start_with_store(config, store)
    };
    let one = start(one_dir.path()).await.unwrap();
    let other = start(other_dir.path()).await.unwrap();
    let client_of = |addr: std::net::SocketAddr| async move {
        let channel =
            tonic::transport::Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
        astro_proto::v1::prospect_service_client::ProspectServiceClient::with_interceptor(
            channel,
            Bearer(Some(token(ADMIN_EMAIL, astro_authorizer::Role::Admin))),
        )
    };
    let mut watchers =
        [watch(&mut client_of(other.addr).await, "").await, watch(&mut client_of(one.addr).await, "").await];
    four_changes_seen_by(&mut client_of(one.addr).await, &mut watchers).await;
    // And the other way round.
    let mut writer = client_of(other.addr).await;
    let card = create(&mut writer, "Grace", "grace@example.com").await;
    for stream in watchers.iter_mut() {
        let (changes, _) = next_changes(stream, 1).await;
        assert_eq!(kinds(&changes), [(BoardChangeKind::Created, card.id.clone(), 1)]);
    }
    // Stopping ends the open streams (they would hold the shutdown up).
    one.stop().await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(5), watchers[1].message()).await.expect("the stream ends");
    assert!(matches!(ended, Ok(None) | Err(_)), "{ended:?}");
    other.stop().await.unwrap();
}

#[tokio::test]
async fn a_reconnect_with_the_cursor_misses_nothing_and_repeats_nothing() {
    let app = spawn_app().await;
    let mut admin = app.admin().await;
    // The board as a client opens it: a page, then a watch from its cursor.
    let page = admin.list_prospects(ListProspectsRequest::default()).await.unwrap().into_inner();
    let first = create(&mut admin, "Ada", "ada@example.com").await;
    let mut stream = watch(&mut app.admin().await, &page.watch_cursor).await;
    let (changes, cursor) = next_changes(&mut stream, 1).await;
    assert_eq!(kinds(&changes), [(BoardChangeKind::Created, first.id.clone(), 1)], "made after the page was read");
    drop(stream);

    // Disconnected: changes go on.
    let moved = move_to(&mut admin, &first, ProspectStatus::Contacted).await;
    let second = create(&mut admin, "Grace", "grace@example.com").await;

    let mut stream = watch(&mut app.admin().await, &cursor).await;
    let (changes, _) = next_changes(&mut stream, 2).await;
    assert_eq!(
        kinds(&changes),
        [(BoardChangeKind::Moved, first.id.clone(), moved.version), (BoardChangeKind::Created, second.id.clone(), 1)],
        "both changes made while away, and not the creation seen before"
    );
    quiet(&mut stream).await;

    // The polling twin gives the same answer from the same cursor.
    let polled = admin
        .list_prospect_changes(ListProspectChangesRequest { cursor: cursor.clone(), page_size: 0 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(kinds(&polled.changes), kinds(&changes));
    let again = admin
        .list_prospect_changes(ListProspectChangesRequest { cursor: polled.cursor, page_size: 0 })
        .await
        .unwrap()
        .into_inner();
    assert!(again.changes.is_empty(), "nothing twice: {:?}", again.changes);
}

#[tokio::test]
async fn an_old_or_foreign_cursor_is_refused_with_what_to_do() {
    let app = spawn_app().await;
    let mut admin = app.admin().await;
    let two_hours_ago = (now() - 2 * 3600) * 1_000_000;
    let old = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{{\"t\":{two_hours_ago},\"s\":[]}}"));
    let status = assert_code(
        admin.list_prospect_changes(ListProspectChangesRequest { cursor: old.clone(), page_size: 0 }).await,
        Code::FailedPrecondition,
    );
    let details = tonic_types::StatusExt::get_error_details(&status);
    assert_eq!(details.error_info().unwrap().reason, "CURSOR_EXPIRED");
    assert!(status.message().contains("reload"));
    let mut stream = admin.watch_prospects(WatchProspectsRequest { cursor: old }).await.unwrap().into_inner();
    assert_eq!(stream.message().await.unwrap_err().code(), Code::FailedPrecondition);

    for (cursor, code) in [("", Code::InvalidArgument), ("not a cursor", Code::InvalidArgument)] {
        let status = assert_code(
            admin.list_prospect_changes(ListProspectChangesRequest { cursor: cursor.into(), page_size: 0 }).await,
            code,
        );
        assert_eq!(violated_fields(&status), ["cursor"]);
    }
    let status = assert_code(
        admin.watch_prospects(WatchProspectsRequest { cursor: "not a cursor".into() }).await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&status), ["cursor"]);
    // Admins only.
    assert_code(app.service().await.watch_prospects(WatchProspectsRequest::default()).await, Code::PermissionDenied);
    assert_code(app.anonymous().await.watch_prospects(WatchProspectsRequest::default()).await, Code::Unauthenticated);
}
