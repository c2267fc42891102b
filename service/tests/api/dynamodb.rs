//! What only DynamoDB shows: the items as stored, and the requests each call costs.

use std::sync::Arc;

use astro_authorizer::{Claims, Role};
use astro_proto::v1::{FitGrade, ListProspectsRequest, Prospect, ProspectStatus, ProspectView};
use astro_service::{
    domain::prospects::Prospects,
    keys::KeyRing,
    store::{Store, dynamodb::DynamoStore},
};
use astro_testkit::moto::{RequestCounter, dynamodb_client};
use aws_sdk_dynamodb::types::AttributeValue;

use crate::helpers::{fresh_table, prospect};

fn admin() -> Claims {
    Claims { email: "admin@example.com".into(), role: Role::Admin, iat: 0, exp: i64::MAX }
}

async fn counted() -> (Prospects, Arc<dyn Store>, RequestCounter, aws_sdk_dynamodb::Client, String) {
    let counter = RequestCounter::default();
    let client = dynamodb_client(Some(counter.clone()));
    let table = fresh_table(&client).await;
    let store: Arc<dyn Store> = Arc::new(DynamoStore::new(client.clone(), table.clone()));
    counter.take();
    (
        Prospects::new(store.clone(), KeyRing::new(astro_authorizer::TokenSecret::new(vec![1; 32]).unwrap())),
        store,
        counter,
        client,
        table,
    )
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

/// The item under `pk` / `sk`, read straight from the table.
async fn stored_item(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    pk: &str,
    sk: &str,
) -> std::collections::HashMap<String, AttributeValue> {
    let out = client.get_item().table_name(table).key("PK", s(pk)).key("SK", s(sk)).send().await.unwrap();
    out.item.unwrap_or_else(|| panic!("no item under {pk} / {sk}"))
}

#[tokio::test]
async fn a_prospect_is_stored_under_the_seed_keys_and_found_through_both_indexes() {
    let (prospects, store, _, client, table) = counted().await;
    let created = prospects.create(&admin(), prospect("Ada", "Ada@Example.com"), "").await.unwrap();

    let item = stored_item(&client, &table, &format!("PROSPECT#{}", created.id), "METADATA").await;
    assert_eq!(item["firstName"], s("Ada"));
    assert_eq!(item["email"], s("ada@example.com"));
    assert_eq!(item["status"], s("NEW"));
    assert!(matches!(&item["createdAt"], AttributeValue::S(t) if t.ends_with('Z')));
    assert_eq!(item["version"], AttributeValue::N("1".into()));

    let by_status = client
        .query()
        .table_name(&table)
        .index_name("StatusIndex")
        .key_condition_expression("#s = :s")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":s", s("NEW"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_status.items().len(), 1);
    let by_email = client
        .query()
        .table_name(&table)
        .index_name("EmailIndex")
        .key_condition_expression("email = :e")
        .expression_attribute_values(":e", s("ada@example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_email.items()[0]["PK"], s(&format!("PROSPECT#{}", created.id)));

    store
        .create_user(astro_proto::v1::User {
            email: "sales@example.com".into(),
            password_hash: "$2b$10$hash".into(),
            role: "admin".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let user = stored_item(&client, &table, "USER#sales@example.com", "PROFILE").await;
    assert_eq!(user["passwordHash"], s("$2b$10$hash"));
    assert_eq!(user["role"], s("admin"));
}

#[tokio::test]
async fn each_call_costs_the_requests_the_design_allows_and_never_a_scan() {
    let (prospects, store, counter, _, _) = counted().await;
    let created = prospects.create(&admin(), prospect("Ada", "ada@example.com"), "").await.unwrap();
    // The scoring rules are read (once per instance every RULES_TTL), the
    // duplicate check reads EmailIndex; the create itself is one transaction.
    assert_eq!(counter.take(), ["GetItem", "Query", "TransactWriteItems"]);
    prospects.create(&admin(), prospect("Grace", "grace@example.com"), "").await.unwrap();
    assert_eq!(counter.take(), ["Query", "TransactWriteItems"], "the rules as read for the first");

    let column = |status: ProspectStatus| {
        let prospects = prospects.clone();
        async move {
            prospects
                .list(&admin(), ListProspectsRequest { status: status as i32, page_size: 50, ..Default::default() })
                .await
                .unwrap()
        }
    };
    let count = |page: &astro_proto::v1::ListProspectsResponse, status: ProspectStatus| {
        page.status_counts.iter().find(|c| c.status == status as i32).map_or(0, |c| c.count)
    };
    let page = column(ProspectStatus::New).await;
    assert_eq!(page.prospects.len(), 2);
    let mut calls = counter.take();
    calls.sort();
    assert_eq!(calls, ["Query", "Query"], "a first column page is one Query, the counts one more");
    assert_eq!(column(ProspectStatus::New).await.prospects.len(), 2);
    assert_eq!(counter.take(), ["Query"], "within a second, a column page is one Query");
    // Best first, or only one grade: one Query of ScoreIndex either way.
    for grade in [FitGrade::Unspecified, FitGrade::Cold] {
        let request = ListProspectsRequest {
            status: ProspectStatus::New as i32,
            order_by: "score desc".into(),
            grade: grade as i32,
            ..Default::default()
        };
        assert_eq!(prospects.list(&admin(), request).await.unwrap().prospects.len(), 2);
        assert_eq!(counter.take(), ["Query"], "a column by score is one Query ({grade:?})");
    }
    let request =
        ListProspectsRequest { status: ProspectStatus::New as i32, grade: FitGrade::Hot as i32, ..Default::default() };
    assert!(prospects.list(&admin(), request).await.unwrap().prospects.is_empty());
    assert_eq!(counter.take(), ["Query"]);

    let moved =
        Prospect { id: created.id.clone(), version: 1, status: ProspectStatus::Won as i32, ..Default::default() };
    prospects.update(&admin(), moved, &["status".to_owned()]).await.unwrap();
    assert_eq!(counter.take(), ["GetItem", "TransactWriteItems"], "a move is one transaction after the read");
    // The instance's own move is in the counts it answers with at once.
    let page = column(ProspectStatus::Won).await;
    assert_eq!(counter.take(), ["Query"]);
    assert_eq!((count(&page, ProspectStatus::New), count(&page, ProspectStatus::Won)), (1, 1));
    // A second on, the counts are read again, and agree.
    tokio::time::sleep(astro_service::store::dynamodb::COUNTS_FRESH).await;
    let page = column(ProspectStatus::Won).await;
    assert_eq!(counter.take().len(), 2);
    assert_eq!((count(&page, ProspectStatus::New), count(&page, ProspectStatus::Won)), (1, 1));

    // The pipeline's figures, a year of weeks: one Query per dimension.
    let insights = astro_service::domain::insights::Insights::new(store.clone(), Default::default());
    let request =
        astro_proto::v1::GetPipelineInsightsRequest { from_week: "2025-W49".into(), to_week: "2026-W48".into() };
    let page = insights.get(request).await.unwrap();
    assert_eq!(page.weeks.len(), 52);
    assert_eq!(counter.take(), ["Query", "Query", "Query"], "the insights page: three Queries, never a scan");

    let full = prospects.get(&created.id, ProspectView::Full as i32).await.unwrap();
    assert_eq!(full.events.len(), 2);
    assert_eq!(counter.take(), ["Query"], "a card with its history is one Query");

    prospects.delete(&admin(), &created.id, 0).await.unwrap();
    assert_eq!(counter.take(), ["Query", "TransactWriteItems"]);
}

#[tokio::test]
async fn failed_sign_ins_expire_by_the_tables_time_to_live_and_cost_one_request_each_way() {
    use astro_proto::v1::{SignInFailures, SignInSubjectKind};
    let (_, store, counter, client, table) = counted().await;
    let ttl = client.describe_time_to_live().table_name(&table).send().await.unwrap();
    let spec = ttl.time_to_live_description().expect("TTL is described");
    assert_eq!(spec.attribute_name(), Some("ttl"));
    assert_eq!(spec.time_to_live_status().map(|s| s.as_str()), Some("ENABLED"));
    counter.take();

    let window = |kind: SignInSubjectKind, subject: &str| SignInFailures {
        kind: kind as i32,
        subject: subject.into(),
        window_start: Some(prost_types::Timestamp { seconds: 1_800, nanos: 0 }),
        count: 0,
        expires_at: Some(prost_types::Timestamp { seconds: 2_700, nanos: 0 }),
    };
    let both = [window(SignInSubjectKind::Account, "ada@example.com"), window(SignInSubjectKind::Address, "::1")];
    store.add_sign_in_failure(&both).await.unwrap();
    assert_eq!(counter.take(), ["UpdateItem", "UpdateItem"], "one atomic ADD per budget");
    assert_eq!(store.sign_in_failures(&both).await.unwrap(), [1, 1]);
    assert_eq!(counter.take(), ["BatchGetItem"], "both budgets in one read");

    let item =
        stored_item(&client, &table, "SIGNIN#ACCOUNT#ada@example.com", "WINDOW#1970-01-01T00:30:00.000000Z").await;
    assert_eq!(item["ttl"], AttributeValue::N("2700".into()), "DynamoDB deletes it after its window");
    assert_eq!(item["count"], AttributeValue::N("1".into()));
}

#[tokio::test]
async fn a_search_reads_three_indexes_and_a_create_stays_one_write() {
    let (prospects, _, counter, client, table) = counted().await;
    let mut input = prospect("Élodie", "elodie@example.com");
    input.company = "Analytical Engines".into();
    let created = prospects.create(&admin(), input, "").await.unwrap();
    let writes: Vec<String> =
        counter.take().into_iter().filter(|op| !["Query", "GetItem"].contains(&op.as_str())).collect();
    assert_eq!(writes, ["TransactWriteItems"], "the search and score keys ride on the card's own write");

    let item = stored_item(&client, &table, &format!("PROSPECT#{}", created.id), "METADATA").await;
    assert_eq!(item["searchPartition"], s("PROSPECT"));
    assert_eq!(item["searchFirstName"], s("elodie"));
    assert_eq!(item["searchCompany"], s("analytical engines"));
    let AttributeValue::S(score_key) = &item["scoreKey"] else { panic!("a scoreKey: {item:?}") };
    assert!(score_key.starts_with("1#100010#"), "COLD, 10 points (a company address): {score_key}");
    counter.take();

    let request = ListProspectsRequest { query: "elo".into(), ..Default::default() };
    let page = prospects.list(&admin(), request).await.unwrap();
    assert_eq!(page.prospects.len(), 1);
    let mut calls = counter.take();
    calls.sort();
    assert_eq!(calls, ["Query", "Query", "Query", "Query"], "three search indexes and the counts; never a Scan");
}

#[tokio::test]
async fn an_assignment_costs_a_member_query_and_one_counter_update() {
    use astro_service::domain::{auth::Accounts, members::Members};
    let (prospects, store, counter, _, _) = counted().await;
    let keys = KeyRing::new(astro_authorizer::TokenSecret::new(vec![1; 32]).unwrap());
    let members = Members::new(store.clone(), keys.clone());
    let prospects = prospects.with_team(members.clone());
    // Assignment off: the settings are read at most once a second (and the
    // scoring rules at most once every RULES_TTL).
    prospects.create(&admin(), prospect("Ada", "ada@example.com"), "").await.unwrap();
    assert_eq!(counter.take(), ["GetItem", "GetItem", "Query", "TransactWriteItems"]);
    prospects.create(&admin(), prospect("Bob", "bob@example.com"), "").await.unwrap();
    assert_eq!(counter.take(), ["Query", "TransactWriteItems"]);

    let accounts = Accounts::new(store.clone(), astro_service::domain::auth::PasswordHasher::new(4), keys);
    accounts.add_user("sam@example.com", "a long team password", Role::Sales, "").await.unwrap();
    let on = astro_proto::v1::TeamSettings { auto_assign: true, ..Default::default() };
    members.update_settings(&admin(), on, &["auto_assign".to_owned()]).await.unwrap();
    counter.take();
    let card = prospects.create(&admin(), prospect("Cy", "cy@example.com"), "").await.unwrap();
    assert_eq!(card.owner, "sam@example.com");
    // The team (one Query of MemberIndex), the next turn (one UpdateItem),
    // then the create as before.
    assert_eq!(counter.take(), ["Query", "UpdateItem", "Query", "TransactWriteItems"]);
}

#[tokio::test]
async fn a_sign_in_with_two_factors_costs_these_requests_and_the_secret_is_sealed_in_the_table() {
    use astro_proto::v1::{
        CompleteSignInRequest, ConfirmTwoFactorEnrolmentRequest, LoginRequest, StartTwoFactorEnrolmentRequest,
        auth_service_client::AuthServiceClient,
    };
    use astro_testkit::totp;

    let counter = RequestCounter::default();
    let client = dynamodb_client(Some(counter.clone()));
    let table = fresh_table(&client).await;
    let store: Arc<dyn Store> = Arc::new(DynamoStore::new(client.clone(), table.clone()));
    let dir = tempfile::tempdir().unwrap();
    let running = astro_service::start_with_store(crate::helpers::test_config(dir.path()), store).await.unwrap();
    let password = "a long team password";
    running.accounts.add_user("sam@example.com", password, Role::Sales, "Sam").await.unwrap();
    let channel =
        tonic::transport::Channel::from_shared(format!("http://{}", running.addr)).unwrap().connect().await.unwrap();
    let mut auth = AuthServiceClient::new(channel.clone());
    let login = || LoginRequest { email: "sam@example.com".into(), password: password.into(), ..Default::default() };
    let token = auth.login(login()).await.unwrap().into_inner().token;
    let mut signed_in = AuthServiceClient::with_interceptor(channel, crate::helpers::Bearer(Some(token)));
    let start = StartTwoFactorEnrolmentRequest { current_password: password.into(), ..Default::default() };
    let shown = signed_in.start_two_factor_enrolment(start).await.unwrap().into_inner();
    let confirm = ConfirmTwoFactorEnrolmentRequest { code: totp::code(&shown.secret, 0), ..Default::default() };
    signed_in.confirm_two_factor_enrolment(confirm).await.unwrap();

    let item = stored_item(&client, &table, "USER#sam@example.com", "PROFILE").await;
    let AttributeValue::S(sealed) = &item["totpSecretSealed"] else { panic!("a sealed secret: {item:?}") };
    assert!(sealed.starts_with("v1.") && !sealed.contains(&shown.secret), "sealed, not the secret: {sealed}");
    let AttributeValue::L(hashes) = &item["recoveryCodeHashes"] else { panic!("recovery code hashes: {item:?}") };
    assert_eq!(hashes.len(), 10);
    assert!(!format!("{item:?}").contains(&shown.secret));

    counter.take();
    let ticket = auth.login(login()).await.unwrap().into_inner().second_step.unwrap().ticket;
    assert_eq!(counter.take(), ["BatchGetItem", "GetItem"], "the password step: the budgets, the member");
    let complete = CompleteSignInRequest { ticket, code: totp::code(&shown.secret, 1) };
    assert!(!auth.complete_sign_in(complete).await.unwrap().into_inner().token.is_empty());
    assert_eq!(
        counter.take(),
        ["GetItem", "BatchGetItem", "TransactWriteItems", "DeleteItem", "PutItem"],
        "the second step: the member, the budgets, the step used (conditioned), the account's count cleared, the security log"
    );
    running.stop().await.unwrap();
}
