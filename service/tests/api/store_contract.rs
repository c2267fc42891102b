//! One contract, two stores: every case runs on the embedded store and on
//! DynamoDB (moto), through the same `Store` port.

use std::sync::Arc;

use astro_authorizer::Role;
use astro_proto::{
    storage::{StoredEntity, timestamp_key},
    v1::{
        BoardChangeKind, CreateProspectRecord, MemberState, Prospect, ProspectEvent, ProspectEventKind, ProspectStatus,
        SignInFailures, SignInSubjectKind, User,
    },
};
use astro_service::domain::board;
use astro_service::store::{
    Column, ColumnPosition, CreateOutcome, NewProspect, ProspectChange, Store, StoreError, dynamodb::DynamoStore,
    embedded::EmbeddedStore,
};
use astro_testkit::moto::dynamodb_client;

use crate::helpers::fresh_table;

/// Keeps what a store needs alive (its data dir).
pub struct Opened(pub Arc<dyn Store>, #[allow(dead_code)] Option<tempfile::TempDir>);

pub async fn embedded() -> Opened {
    let dir = tempfile::tempdir().unwrap();
    Opened(Arc::new(EmbeddedStore::open(dir.path()).unwrap()), Some(dir))
}

pub async fn dynamodb() -> Opened {
    let client = dynamodb_client(None);
    let table = fresh_table(&client).await;
    Opened(Arc::new(DynamoStore::new(client, table)), None)
}

fn at(seconds: i64, micros: i32) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds, nanos: micros * 1_000 }
}

fn new_prospect(seconds: i64) -> NewProspect {
    let id = uuid::Uuid::now_v7().to_string();
    let prospect = Prospect {
        id: id.clone(),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        email: format!("{id}@example.com"),
        status: ProspectStatus::New as i32,
        created_at: Some(at(seconds, 0)),
        updated_at: Some(at(seconds, 0)),
        version: 1,
        ..Default::default()
    };
    let created = ProspectEvent {
        id: uuid::Uuid::now_v7().to_string(),
        prospect_id: id,
        kind: ProspectEventKind::Created as i32,
        actor: "admin@example.com".into(),
        created_at: Some(at(seconds, 0)),
        ..Default::default()
    };
    let change = board::change(
        BoardChangeKind::Created,
        &prospect.id,
        Some(&prospect),
        ProspectStatus::Unspecified,
        "admin@example.com",
        prost_types::Timestamp::from(std::time::SystemTime::now()),
    );
    NewProspect { prospect, created, request: None, change, notifications: Vec::new(), insights: Vec::new() }
}

fn deletion(id: &str) -> astro_proto::v1::BoardChange {
    let now = prost_types::Timestamp::from(std::time::SystemTime::now());
    board::change(BoardChangeKind::Deleted, id, None, ProspectStatus::Unspecified, "admin@example.com", now)
}

fn move_to(p: &Prospect, status: ProspectStatus, second: i64) -> ProspectChange {
    let before = ProspectStatus::try_from(p.status).unwrap();
    let next = Prospect { status: status as i32, version: p.version + 1, ..p.clone() };
    let event = ProspectEvent {
        id: uuid::Uuid::now_v7().to_string(),
        prospect_id: p.id.clone(),
        kind: ProspectEventKind::StatusChanged as i32,
        from_status: before as i32,
        to_status: status as i32,
        created_at: Some(at(second, 0)),
        ..Default::default()
    };
    let now = prost_types::Timestamp::from(std::time::SystemTime::now());
    let board = board::change(BoardChangeKind::Moved, &next.id, Some(&next), before, "admin@example.com", now);
    ProspectChange {
        prospect: next,
        expected_version: p.version,
        previous_status: before,
        events: vec![event],
        board,
        notifications: Vec::new(),
        insights: Vec::new(),
    }
}

async fn count(store: &Arc<dyn Store>, status: ProspectStatus) -> i64 {
    store.status_counts().await.unwrap().iter().find(|c| c.status == status as i32).map_or(0, |c| c.count)
}

async fn create(store: &Arc<dyn Store>, seconds: i64) -> Prospect {
    let new = new_prospect(seconds);
    assert_eq!(
        store.create_prospect(new.clone()).await.unwrap(),
        CreateOutcome::Created(Box::new(new.prospect.clone()))
    );
    new.prospect
}

async fn a_card_reads_back_with_its_history(store: Arc<dyn Store>) {
    let p = create(&store, 1_000).await;
    assert_eq!(store.get_prospect(&p.id, false).await.unwrap(), Some(p.clone()));
    store.update_prospect(move_to(&p, ProspectStatus::Contacted, 1_001)).await.unwrap();
    let full = store.get_prospect(&p.id, true).await.unwrap().unwrap();
    assert_eq!(full.version, 2);
    let kinds: Vec<i32> = full.events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [ProspectEventKind::Created as i32, ProspectEventKind::StatusChanged as i32]);
    assert_eq!(store.get_prospect(&uuid::Uuid::now_v7().to_string(), true).await.unwrap(), None);
}

async fn a_stale_version_conflicts_and_changes_nothing(store: Arc<dyn Store>) {
    let p = create(&store, 1_000).await;
    store.update_prospect(move_to(&p, ProspectStatus::Contacted, 1_001)).await.unwrap();
    let stale = store.update_prospect(move_to(&p, ProspectStatus::Lost, 1_002)).await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    let now = store.get_prospect(&p.id, true).await.unwrap().unwrap();
    assert_eq!((now.status, now.version, now.events.len()), (ProspectStatus::Contacted as i32, 2, 2));
    assert_eq!((count(&store, ProspectStatus::Contacted).await, count(&store, ProspectStatus::Lost).await), (1, 0));
    let gone = Prospect { id: uuid::Uuid::now_v7().to_string(), ..p.clone() };
    let missing = store.update_prospect(move_to(&gone, ProspectStatus::Won, 1_003)).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
}

async fn concurrent_moves_let_one_win_and_counters_stay_true(store: Arc<dyn Store>) {
    let p = create(&store, 1_000).await;
    let targets = [ProspectStatus::Contacted, ProspectStatus::Qualified, ProspectStatus::Won, ProspectStatus::Lost];
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let (store, change) = (store.clone(), move_to(&p, targets[i % 4], 1_001 + i as i64));
            tokio::spawn(async move { store.update_prospect(change).await })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => wins += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(wins, 1);
    let now = store.get_prospect(&p.id, false).await.unwrap().unwrap();
    let mut total = 0;
    for status in [
        ProspectStatus::New,
        ProspectStatus::Contacted,
        ProspectStatus::Qualified,
        ProspectStatus::Won,
        ProspectStatus::Lost,
    ] {
        let expected = i64::from(now.status == status as i32);
        assert_eq!(count(&store, status).await, expected, "{status:?}");
        total += count(&store, status).await;
    }
    assert_eq!(total, 1);
}

async fn a_column_pages_newest_first(store: Arc<dyn Store>) {
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(create(&store, 2_000 + i).await.id);
    }
    let moved = store.get_prospect(&ids[0], false).await.unwrap().unwrap();
    store.update_prospect(move_to(&moved, ProspectStatus::Won, 3_000)).await.unwrap();
    let first = store.list_column(&Column::all(ProspectStatus::New), None, 2).await.unwrap();
    assert_eq!(first.iter().map(|p| p.id.clone()).collect::<Vec<_>>(), [ids[4].clone(), ids[3].clone()]);
    let last = first.last().unwrap();
    let position = ColumnPosition { sort: timestamp_key(last.created_at.as_ref().unwrap()), id: last.id.clone() };
    let second = store.list_column(&Column::all(ProspectStatus::New), Some(position), 10).await.unwrap();
    assert_eq!(second.iter().map(|p| p.id.clone()).collect::<Vec<_>>(), [ids[2].clone(), ids[1].clone()]);
    assert_eq!(store.list_column(&Column::all(ProspectStatus::Won), None, 10).await.unwrap().len(), 1);
    assert_eq!(count(&store, ProspectStatus::New).await, 4);
}

async fn delete_removes_the_card_its_history_and_its_count(store: Arc<dyn Store>) {
    let p = create(&store, 1_000).await;
    store.update_prospect(move_to(&p, ProspectStatus::Qualified, 1_001)).await.unwrap();
    assert!(matches!(store.delete_prospect(&p.id, Some(1), deletion(&p.id)).await, Err(StoreError::Conflict(_))));
    let deleted = store.delete_prospect(&p.id, Some(2), deletion(&p.id)).await.unwrap();
    assert_eq!(deleted.id, p.id);
    assert_eq!(store.get_prospect(&p.id, true).await.unwrap(), None);
    assert_eq!(count(&store, ProspectStatus::Qualified).await, 0);
    assert!(matches!(store.delete_prospect(&p.id, None, deletion(&p.id)).await, Err(StoreError::NotFound)));
}

async fn a_request_id_replays_the_first_create(store: Arc<dyn Store>) {
    let mut first = new_prospect(1_000);
    let record = CreateProspectRecord {
        caller: "gateway".into(),
        request_id: "r1".into(),
        prospect_id: first.prospect.id.clone(),
        expires_at: Some(at(i64::from(u32::MAX), 0)),
    };
    first.request = Some(record.clone());
    assert!(matches!(store.create_prospect(first.clone()).await.unwrap(), CreateOutcome::Created(_)));
    let mut second = new_prospect(1_001);
    second.request = Some(CreateProspectRecord { prospect_id: second.prospect.id.clone(), ..record });
    assert_eq!(
        store.create_prospect(second.clone()).await.unwrap(),
        CreateOutcome::Replayed(first.prospect.id.clone())
    );
    assert_eq!(store.get_prospect(&second.prospect.id, false).await.unwrap(), None, "the replay stored nothing");
    assert_eq!(count(&store, ProspectStatus::New).await, 1);
}

async fn email_search_finds_every_card_and_the_first(store: Arc<dyn Store>) {
    let mut a = new_prospect(1_000);
    a.prospect.email = "same@example.com".into();
    let mut b = new_prospect(1_001);
    b.prospect.email = "same@example.com".into();
    let CreateOutcome::Created(first) = store.create_prospect(a.clone()).await.unwrap() else { panic!("created") };
    let CreateOutcome::Created(second) = store.create_prospect(b.clone()).await.unwrap() else { panic!("created") };
    create(&store, 1_002).await;
    let found = store.list_by_email("same@example.com", None, 10).await.unwrap();
    assert_eq!(found.iter().map(|p| p.id.clone()).collect::<Vec<_>>(), [b.prospect.id.clone(), a.prospect.id.clone()]);
    let after = store.list_by_email("same@example.com", Some(b.prospect.id.clone()), 10).await.unwrap();
    assert_eq!(after.len(), 1);
    // The create links a card to the first with its address, as stored.
    assert_eq!(first.duplicate_of, "");
    assert_eq!(second.duplicate_of, a.prospect.id);
    let stored = store.get_prospect(&b.prospect.id, false).await.unwrap().unwrap();
    assert_eq!(stored.duplicate_of, a.prospect.id);
    assert_eq!(store.get_prospect(&a.prospect.id, false).await.unwrap().unwrap().duplicate_of, "");
}

fn member(email: &str, role: &str) -> astro_proto::v1::User {
    astro_service::domain::members::new_member(
        email.into(),
        "h1".into(),
        Role::from_claim(role).unwrap(),
        String::new(),
    )
}

async fn users_are_unique_and_change_only_from_the_version_read(store: Arc<dyn Store>) {
    let user = member("a@example.com", "admin");
    store.create_user(user.clone()).await.unwrap();
    assert!(matches!(store.create_user(user.clone()).await, Err(StoreError::Conflict(_))));
    let changed = User { password_hash: "h2".into(), version: 2, ..user.clone() };
    store.save_user(&changed, 1, None).await.unwrap();
    assert_eq!(store.get_user("a@example.com").await.unwrap().unwrap().password_hash, "h2");
    // From a stale read: refused, nothing written.
    let stale = User { password_hash: "h3".into(), version: 2, ..user.clone() };
    assert!(matches!(store.save_user(&stale, 1, None).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.get_user("a@example.com").await.unwrap().unwrap().password_hash, "h2");
    let nobody = member("b@example.com", "admin");
    assert!(matches!(store.save_user(&nobody, 1, None).await, Err(StoreError::NotFound)));
    assert_eq!(user.pk(), "USER#a@example.com");

    // A record from before versions (none stored) changes from version 0.
    let old = User { email: "old@example.com".into(), role: "admin".into(), ..Default::default() };
    store.create_user(old.clone()).await.unwrap();
    store.save_user(&User { version: 1, ..old.clone() }, 0, None).await.unwrap();
    assert!(matches!(store.save_user(&User { version: 1, ..old }, 0, None).await, Err(StoreError::Conflict(_))));
}

async fn the_team_lists_by_email_without_removed_members(store: Arc<dyn Store>) {
    for email in ["c@team.test", "a@team.test", "b@team.test"] {
        store.create_user(member(email, "sales")).await.unwrap();
    }
    // Out of the listing: a record from before the team, and a removed member.
    store.create_user(User { email: "0@team.test".into(), role: "admin".into(), ..Default::default() }).await.unwrap();
    let removed = User {
        member_partition: String::new(),
        state: MemberState::Removed as i32,
        version: 2,
        ..member("b@team.test", "sales")
    };
    store.save_user(&removed, 1, None).await.unwrap();
    let emails = |users: Vec<User>| users.into_iter().map(|u| u.email).collect::<Vec<_>>();
    assert_eq!(emails(store.list_members(None, 10).await.unwrap()), ["a@team.test", "c@team.test"]);
    assert_eq!(emails(store.list_members(None, 1).await.unwrap()), ["a@team.test"]);
    assert_eq!(emails(store.list_members(Some("a@team.test".into()), 10).await.unwrap()), ["c@team.test"]);
}

async fn of_two_admins_demoting_each_other_one_wins(store: Arc<dyn Store>) {
    let (a, b) = (member("a@admins.test", "admin"), member("b@admins.test", "admin"));
    store.create_user(a.clone()).await.unwrap();
    store.create_user(b.clone()).await.unwrap();
    // Each demotion holds on the other admin staying as read.
    let a_demoted = User { role: "sales".into(), version: 2, ..a.clone() };
    let b_demoted = User { role: "sales".into(), version: 2, ..b.clone() };
    store.save_user(&a_demoted, 1, Some(&b)).await.unwrap();
    let second = store.save_user(&b_demoted, 1, Some(&a)).await;
    assert!(matches!(second, Err(StoreError::Conflict(_))), "{second:?}");
    assert_eq!(store.get_user("b@admins.test").await.unwrap().unwrap().role, "admin");
}

fn window(kind: SignInSubjectKind, subject: &str, start: i64) -> SignInFailures {
    SignInFailures {
        kind: kind as i32,
        subject: subject.into(),
        window_start: Some(at(start, 0)),
        count: 0,
        expires_at: Some(at(start + 900, 0)),
    }
}

async fn sign_in_failures_count_atomically_per_window_and_clear(store: Arc<dyn Store>) {
    let account = window(SignInSubjectKind::Account, "ada@example.com", 1_800);
    let address = window(SignInSubjectKind::Address, "203.0.113.9", 1_800);
    let next_window = window(SignInSubjectKind::Account, "ada@example.com", 2_700);
    let both = [account.clone(), address.clone()];
    assert_eq!(store.sign_in_failures(&both).await.unwrap(), [0, 0]);

    // Concurrent failures (two instances, say) all count.
    let mut failures = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let (store, both) = (store.clone(), both.clone());
        failures.spawn(async move { store.add_sign_in_failure(&both).await.unwrap() });
    }
    failures.join_all().await;
    let all = [account.clone(), address.clone(), next_window.clone()];
    assert_eq!(store.sign_in_failures(&all).await.unwrap(), [12, 12, 0], "another window starts at zero");

    store.clear_sign_in_failures(&account).await.unwrap();
    assert_eq!(store.sign_in_failures(&all).await.unwrap(), [0, 12, 0], "only the account's count is cleared");
    store.clear_sign_in_failures(&next_window).await.unwrap();
}

async fn a_captcha_solution_is_spent_once_until_it_expires(store: Arc<dyn Store>) {
    use astro_proto::v1::SpentCaptcha;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let spent = |digest: &str, key: &str, expires: i64| SpentCaptcha {
        digest: digest.into(),
        idempotency_key: key.into(),
        expires_at: Some(at(expires, 0)),
    };
    assert_eq!(store.spend_captcha(spent("aa", "key-1", now + 600)).await.unwrap(), None);
    assert_eq!(store.spend_captcha(spent("aa", "key-2", now + 600)).await.unwrap(), Some("key-1".into()));
    assert_eq!(store.spend_captcha(spent("bb", "", now + 600)).await.unwrap(), None, "another solution");
    // Past its expiry it may be spent again (it cannot verify anyway).
    assert_eq!(store.spend_captcha(spent("cc", "old", now - 1)).await.unwrap(), None);
    assert_eq!(store.spend_captcha(spent("cc", "new", now + 600)).await.unwrap(), None);

    // Two instances racing with one solution: exactly one wins.
    let mut racers = tokio::task::JoinSet::new();
    for i in 0..8 {
        let store = store.clone();
        let s = spent("dd", &format!("racer-{i}"), now + 600);
        racers.spawn(async move { store.spend_captcha(s).await.unwrap() });
    }
    let winners = racers.join_all().await.into_iter().filter(Option::is_none).count();
    assert_eq!(winners, 1);
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod on_embedded {
            $(
                #[tokio::test]
                async fn $case() {
                    let opened = super::embedded().await;
                    super::$case(opened.0.clone()).await;
                }
            )*
        }
        mod on_dynamodb {
            $(
                #[tokio::test]
                async fn $case() {
                    let opened = super::dynamodb().await;
                    super::$case(opened.0.clone()).await;
                }
            )*
        }
    };
}

async fn every_write_records_its_board_change_in_order(store: Arc<dyn Store>) {
    let since = prost_types::Timestamp::from(std::time::SystemTime::now());
    let p = create(&store, 1_000).await;
    store.update_prospect(move_to(&p, ProspectStatus::Qualified, 1_001)).await.unwrap();
    // A refused write records nothing.
    assert!(store.update_prospect(move_to(&p, ProspectStatus::Won, 1_002)).await.is_err());
    store.delete_prospect(&p.id, None, deletion(&p.id)).await.unwrap();

    let changes = store.board_changes(&since, 100).await.unwrap();
    let seen: Vec<(i32, i64, i32)> = changes.iter().map(|c| (c.kind, c.version, c.from_status)).collect();
    assert_eq!(
        seen,
        [
            (BoardChangeKind::Created as i32, 1, ProspectStatus::Unspecified as i32),
            (BoardChangeKind::Moved as i32, 2, ProspectStatus::New as i32),
            (BoardChangeKind::Deleted as i32, 3, ProspectStatus::Qualified as i32),
        ],
        "created, moved, deleted (the deleted version + 1, from its column)"
    );
    assert!(changes.iter().all(|c| c.prospect_id == p.id));
    assert_eq!(changes[1].prospect.as_ref().unwrap().status, ProspectStatus::Qualified as i32, "the card after");
    assert_eq!(changes[2].prospect, None);
    assert_eq!(store.board_changes(&since, 2).await.unwrap().len(), 2, "at most the limit");
    let later = changes[1].changed_at.unwrap();
    assert_eq!(store.board_changes(&later, 100).await.unwrap().len(), 2, "from a time on, inclusive");

    // Expired but not yet swept: skipped.
    let mut old = new_prospect(1_000);
    old.change.expires_at = Some(prost_types::Timestamp::from(std::time::SystemTime::now()));
    store.create_prospect(old).await.unwrap();
    assert_eq!(store.board_changes(&since, 100).await.unwrap().len(), 3);
}

contract!(
    every_write_records_its_board_change_in_order,
    a_card_reads_back_with_its_history,
    a_stale_version_conflicts_and_changes_nothing,
    concurrent_moves_let_one_win_and_counters_stay_true,
    a_column_pages_newest_first,
    delete_removes_the_card_its_history_and_its_count,
    a_request_id_replays_the_first_create,
    email_search_finds_every_card_and_the_first,
    users_are_unique_and_change_only_from_the_version_read,
    the_team_lists_by_email_without_removed_members,
    of_two_admins_demoting_each_other_one_wins,
    sign_in_failures_count_atomically_per_window_and_clear,
    a_captcha_solution_is_spent_once_until_it_expires,
);

#[tokio::test]
async fn the_embedded_store_deletes_expired_items() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let (old, current) = (
        window(SignInSubjectKind::Address, "203.0.113.9", now - 2_000),
        window(SignInSubjectKind::Address, "203.0.113.9", now - 100),
    );
    store.add_sign_in_failure(&[old.clone(), current.clone()]).await.unwrap();
    assert_eq!(store.delete_expired().await.unwrap(), 1);
    assert_eq!(store.sign_in_failures(&[old, current]).await.unwrap(), [0, 1]);
}

#[tokio::test]
async fn the_embedded_stores_counts_survive_a_restart() {
    // Kept in memory by the writer, counted again from the index at open.
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
    let p = create(&store, 1_000).await;
    create(&store, 1_001).await;
    store.update_prospect(move_to(&p, ProspectStatus::Contacted, 1_002)).await.unwrap();
    let stale = store.update_prospect(move_to(&p, ProspectStatus::Lost, 1_003)).await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    drop(store);
    let reopened: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
    let counts = [ProspectStatus::New, ProspectStatus::Contacted, ProspectStatus::Lost];
    let mut found = Vec::new();
    for status in counts {
        found.push(count(&reopened, status).await);
    }
    assert_eq!(found, [1, 1, 0]);
}
