//! The team: roles from the contract's permission table on every method,
//! members managed by admins, sessions that end at once, and the last admin
//! who cannot go. Runs on both stores.

use astro_authorizer::Role;
use astro_proto::v1::{
    DeleteMemberRequest, DeleteProspectRequest, GetProspectRequest, ListMembersRequest, ListNotificationsRequest,
    LoginRequest, Member, MemberState, Prospect, ProspectStatus, SignOutEverywhereRequest, UpdateMemberRequest,
    UpdateProspectRequest, auth_service_client::AuthServiceClient, member_service_client::MemberServiceClient,
};
use tonic::{Code, service::interceptor::InterceptedService, transport::Channel};

use crate::helpers::*;

pub(crate) const PASSWORD: &str = "a long team password";

type MemberClient = MemberServiceClient<InterceptedService<Channel, Bearer>>;

pub(crate) async fn members(app: &TestApp, token: &str) -> MemberClient {
    MemberServiceClient::with_interceptor(app.channel().await, Bearer(Some(token.to_owned())))
}

pub(crate) async fn auth_with(app: &TestApp, token: &str) -> AuthServiceClient<InterceptedService<Channel, Bearer>> {
    AuthServiceClient::with_interceptor(app.channel().await, Bearer(Some(token.to_owned())))
}

/// Signs in over native gRPC: the token, or the refusal.
pub(crate) async fn login(app: &TestApp, email: &str, password: &str) -> Result<String, tonic::Status> {
    let request = LoginRequest { email: email.into(), password: password.into(), ..Default::default() };
    app.auth().await.login(request).await.map(|r| r.into_inner().token)
}

/// Adds a member as the command line does, and signs them in.
pub(crate) async fn join(app: &TestApp, email: &str, role: Role) -> String {
    app.add_member(email, PASSWORD, role).await;
    login(app, email, PASSWORD).await.expect("a new member signs in")
}

pub(crate) async fn member(app: &TestApp, admin: &str, email: &str) -> Member {
    let listed = members(app, admin).await.list_members(ListMembersRequest::default()).await.unwrap().into_inner();
    listed.members.into_iter().find(|m| m.email == email).expect("the member is listed")
}

async fn update(app: &TestApp, admin: &str, member: Member, paths: &[&str]) -> Result<Member, tonic::Status> {
    let mask = prost_types::FieldMask { paths: paths.iter().map(|p| (*p).to_owned()).collect() };
    let request = UpdateMemberRequest { member: Some(member), update_mask: Some(mask) };
    members(app, admin).await.update_member(request).await.map(|r| r.into_inner())
}

#[tokio::test]
async fn a_viewer_reads_and_every_write_is_refused_unchanged() {
    let app = spawn_app().await;
    let mut admin = app.admin().await;
    let card = create(&mut admin, "Ada", "ada@example.com").await;
    let viewer = join(&app, "vera@example.com", Role::Viewer).await;
    let mut as_viewer = app.prospects_with(Some(viewer.clone())).await;

    assert_eq!(list(&mut as_viewer, ProspectStatus::New, 50, "").await.prospects.len(), 1);
    let read = as_viewer.get_prospect(GetProspectRequest { id: card.id.clone(), view: 0 }).await.unwrap();
    assert_eq!(read.into_inner().first_name, "Ada");

    let denied =
        assert_code(as_viewer.create_prospect(create_request("Bob", "bob@example.com")).await, Code::PermissionDenied);
    assert!(denied.message().contains("viewer"), "{denied:?}");
    let moved = Prospect {
        id: card.id.clone(),
        version: card.version,
        status: ProspectStatus::Won as i32,
        ..Default::default()
    };
    let mask = prost_types::FieldMask { paths: vec!["status".into()] };
    let update = UpdateProspectRequest { prospect: Some(moved), update_mask: Some(mask) };
    assert_code(as_viewer.update_prospect(update).await, Code::PermissionDenied);
    let delete = DeleteProspectRequest { id: card.id.clone(), version: 0 };
    assert_code(as_viewer.delete_prospect(delete).await, Code::PermissionDenied);
    assert_code(as_viewer.list_notifications(ListNotificationsRequest::default()).await, Code::PermissionDenied);
    let mut team = members(&app, &viewer).await;
    let anyone = Member { email: ADMIN_EMAIL.into(), version: 1, ..Default::default() };
    let demote = UpdateMemberRequest {
        member: Some(anyone),
        update_mask: Some(prost_types::FieldMask { paths: vec!["role".into()] }),
    };
    assert_code(team.update_member(demote).await, Code::PermissionDenied);

    // Nothing changed: one card, still in New, at its version.
    let after = list(&mut admin, ProspectStatus::New, 50, "").await;
    assert_eq!(after.prospects.len(), 1);
    assert_eq!(after.prospects[0].version, card.version);
    assert_eq!(count(&after, ProspectStatus::Won), 0);
}

#[tokio::test]
async fn a_salesperson_works_the_board_takes_cards_and_deletes_only_their_own() {
    let app = spawn_app().await;
    let mut admin = app.admin().await;
    let mine = create(&mut admin, "Ada", "ada@example.com").await;
    let theirs = create(&mut admin, "Bob", "bob@example.com").await;
    let sales = join(&app, "sam@example.com", Role::Sales).await;
    let mut as_sales = app.prospects_with(Some(sales)).await;
    let created = as_sales.create_prospect(create_request("Cy", "cy@example.com")).await.unwrap().into_inner();
    assert_eq!(created.owner, "", "a new card has no owner until it is given one");

    let set_owner = |card: &Prospect, owner: &str| UpdateProspectRequest {
        prospect: Some(Prospect {
            id: card.id.clone(),
            version: card.version,
            owner: owner.into(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["owner".into()] }),
    };
    // Taking an unowned card for oneself: yes. For someone else: no.
    let taken = as_sales.update_prospect(set_owner(&mine, "sam@example.com")).await.unwrap().into_inner();
    assert_eq!(taken.owner, "sam@example.com");
    assert_code(as_sales.update_prospect(set_owner(&theirs, ADMIN_EMAIL)).await, Code::PermissionDenied);
    // An admin gives a card to an admin; a salesperson cannot take it back.
    let given = admin.update_prospect(set_owner(&theirs, ADMIN_EMAIL)).await.unwrap().into_inner();
    assert_code(as_sales.update_prospect(set_owner(&given, "sam@example.com")).await, Code::PermissionDenied);
    // Only to an active admin or salesperson.
    let refused =
        assert_code(admin.update_prospect(set_owner(&given, "nobody@example.com")).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&refused), ["prospect.owner"]);

    let delete = |card: &Prospect| DeleteProspectRequest { id: card.id.clone(), version: 0 };
    assert_code(as_sales.delete_prospect(delete(&given)).await, Code::PermissionDenied);
    assert_eq!(list(&mut admin, ProspectStatus::New, 50, "").await.prospects.len(), 3, "nothing deleted");
    as_sales.delete_prospect(delete(&taken)).await.unwrap();
    assert_eq!(list(&mut admin, ProspectStatus::New, 50, "").await.prospects.len(), 2);
}

#[tokio::test]
async fn a_changed_role_a_deactivation_and_a_removal_end_sessions_at_once() {
    let app = spawn_app().await;
    let admin = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap();
    let old = join(&app, "sam@example.com", Role::Sales).await;

    let listed = members(&app, &admin).await.list_members(ListMembersRequest::default()).await.unwrap().into_inner();
    let emails: Vec<&str> = listed.members.iter().map(|m| m.email.as_str()).collect();
    assert_eq!(emails, [ADMIN_EMAIL, "sam@example.com"]);

    // Role: sales → viewer. The old token stops at once; a new one is a viewer's.
    let sam = member(&app, &admin, "sam@example.com").await;
    assert_eq!((sam.role, sam.state), (Role::Sales as i32, MemberState::Active as i32));
    let viewer = update(&app, &admin, Member { role: Role::Viewer as i32, ..sam }, &["role"]).await.unwrap();
    assert_eq!(viewer.role, Role::Viewer as i32);
    let mut with_old = app.prospects_with(Some(old.clone())).await;
    let ended = assert_code(
        with_old.list_prospects(astro_proto::v1::ListProspectsRequest::default()).await,
        Code::Unauthenticated,
    );
    assert!(ended.message().contains("session has ended"), "{ended:?}");
    let new = login(&app, "sam@example.com", PASSWORD).await.unwrap();
    let mut with_new = app.prospects_with(Some(new.clone())).await;
    assert_code(with_new.create_prospect(create_request("Ada", "ada@example.com")).await, Code::PermissionDenied);
    with_new.list_prospects(astro_proto::v1::ListProspectsRequest::default()).await.unwrap();

    // Deactivated: the session ends and sign-in fails as a wrong password does.
    let deactivated =
        update(&app, &admin, Member { state: MemberState::Deactivated as i32, ..viewer }, &["state"]).await.unwrap();
    assert_code(with_new.list_prospects(astro_proto::v1::ListProspectsRequest::default()).await, Code::Unauthenticated);
    let refused = login(&app, "sam@example.com", PASSWORD).await.unwrap_err();
    assert_eq!((refused.code(), refused.message()), (Code::Unauthenticated, "wrong email or password"));
    // Reactivated: signs in again; the token from before stays refused.
    let back =
        update(&app, &admin, Member { state: MemberState::Active as i32, ..deactivated }, &["state"]).await.unwrap();
    let again = login(&app, "sam@example.com", PASSWORD).await.unwrap();
    app.prospects_with(Some(again.clone()))
        .await
        .list_prospects(astro_proto::v1::ListProspectsRequest::default())
        .await
        .unwrap();
    assert_code(with_new.list_prospects(astro_proto::v1::ListProspectsRequest::default()).await, Code::Unauthenticated);

    // Removed: gone from the team, the session over, no sign-in.
    let mut team = members(&app, &admin).await;
    team.delete_member(DeleteMemberRequest { email: "sam@example.com".into(), version: back.version }).await.unwrap();
    let mut with_again = app.prospects_with(Some(again)).await;
    assert_code(
        with_again.list_prospects(astro_proto::v1::ListProspectsRequest::default()).await,
        Code::Unauthenticated,
    );
    assert_code(login(&app, "sam@example.com", PASSWORD).await, Code::Unauthenticated);
    let listed = team.list_members(ListMembersRequest::default()).await.unwrap().into_inner();
    assert_eq!(listed.members.len(), 1);
    // The email can join again as a new member.
    join(&app, "sam@example.com", Role::Sales).await;
}

#[tokio::test]
async fn sign_out_everywhere_ends_every_session_and_a_new_sign_in_works_in_the_same_second() {
    let app = spawn_app().await;
    let first = join(&app, "sam@example.com", Role::Sales).await;
    let second = login(&app, "sam@example.com", PASSWORD).await.unwrap();
    auth_with(&app, &first).await.sign_out_everywhere(SignOutEverywhereRequest {}).await.unwrap();
    for token in [first, second] {
        let mut client = app.prospects_with(Some(token)).await;
        assert_code(
            client.list_prospects(astro_proto::v1::ListProspectsRequest::default()).await,
            Code::Unauthenticated,
        );
    }
    let fresh = login(&app, "sam@example.com", PASSWORD).await.unwrap();
    app.prospects_with(Some(fresh))
        .await
        .list_prospects(astro_proto::v1::ListProspectsRequest::default())
        .await
        .unwrap();
    // A machine identity is no member: its tokens end with the secret.
    let machine = token("crm@example.com", Role::Service);
    let refused = assert_code(
        auth_with(&app, &machine).await.sign_out_everywhere(SignOutEverywhereRequest {}).await,
        Code::FailedPrecondition,
    );
    assert!(refused.message().contains("rotate"), "{refused:?}");
}

#[tokio::test]
async fn the_last_active_admin_cannot_be_demoted_deactivated_or_removed() {
    let app = spawn_app().await;
    let admin = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap();
    let me = member(&app, &admin, ADMIN_EMAIL).await;
    for (change, path) in [
        (Member { role: Role::Sales as i32, ..me.clone() }, "role"),
        (Member { state: MemberState::Deactivated as i32, ..me.clone() }, "state"),
    ] {
        let refused = assert_code(update(&app, &admin, change, &[path]).await, Code::FailedPrecondition);
        assert!(refused.message().contains("last active admin"), "{refused:?}");
    }
    let removal = DeleteMemberRequest { email: ADMIN_EMAIL.into(), version: 0 };
    assert_code(members(&app, &admin).await.delete_member(removal).await, Code::FailedPrecondition);
    assert_eq!(member(&app, &admin, ADMIN_EMAIL).await, me, "nothing changed");

    // With a second admin, the first may step down; then the second is the last.
    let other = join(&app, "ola@example.com", Role::Admin).await;
    update(&app, &admin, Member { role: Role::Sales as i32, ..me }, &["role"]).await.unwrap();
    let ola = member(&app, &other, "ola@example.com").await;
    let refused = update(&app, &other, Member { role: Role::Viewer as i32, ..ola }, &["role"]).await;
    assert_code(refused, Code::FailedPrecondition);
}

#[tokio::test]
async fn bad_member_changes_name_the_field_and_stale_ones_are_aborted() {
    let app = spawn_app().await;
    let admin = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap();
    join(&app, "sam@example.com", Role::Sales).await;
    let sam = member(&app, &admin, "sam@example.com").await;

    let refused = assert_code(update(&app, &admin, sam.clone(), &["password_hash"]).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&refused), ["update_mask"]);
    let refused =
        assert_code(update(&app, &admin, Member { role: 0, ..sam.clone() }, &["role"]).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&refused), ["member.role"]);
    let removed_state = Member { state: MemberState::Removed as i32, ..sam.clone() };
    let refused = assert_code(update(&app, &admin, removed_state, &["state"]).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&refused), ["member.state"]);
    let long = Member { display_name: "x".repeat(101), ..sam.clone() };
    assert_eq!(
        violated_fields(&assert_code(update(&app, &admin, long, &["display_name"]).await, Code::InvalidArgument)),
        ["member.display_name"]
    );

    let named = update(
        &app,
        &admin,
        Member { display_name: "Sam Seller".into(), away: true, ..sam.clone() },
        &["display_name", "away"],
    )
    .await
    .unwrap();
    assert_eq!((named.display_name.as_str(), named.away, named.version), ("Sam Seller", true, sam.version + 1));
    // From the version read before: someone changed it since.
    assert_code(update(&app, &admin, Member { role: Role::Viewer as i32, ..sam }, &["role"]).await, Code::Aborted);
    assert_eq!(member(&app, &admin, "sam@example.com").await, named);
    let unknown = Member { email: "nobody@example.com".into(), version: 1, ..Default::default() };
    assert_code(update(&app, &admin, unknown, &["away"]).await, Code::NotFound);
}

#[tokio::test]
async fn an_open_watch_ends_when_its_members_session_does() {
    let app = spawn_app().await;
    let admin = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap();
    let sales = join(&app, "sam@example.com", Role::Sales).await;
    let mut watcher = app.prospects_with(Some(sales)).await;
    let mut stream =
        watcher.watch_prospects(astro_proto::v1::WatchProspectsRequest::default()).await.unwrap().into_inner();
    let mut as_admin = app.prospects_with(Some(admin.clone())).await;
    create(&mut as_admin, "Ada", "ada@example.com").await;
    // Past the stream's first (empty) message, the card.
    let mut seen = Vec::new();
    while seen.is_empty() {
        let message = tokio::time::timeout(std::time::Duration::from_secs(10), stream.message()).await.unwrap();
        seen = message.unwrap().expect("the stream stays open").changes;
    }
    assert_eq!(seen.len(), 1, "an active member watches");

    let sam = member(&app, &admin, "sam@example.com").await;
    update(&app, &admin, Member { state: MemberState::Deactivated as i32, ..sam }, &["state"]).await.unwrap();
    create(&mut as_admin, "Bob", "bob@example.com").await;
    let next = tokio::time::timeout(std::time::Duration::from_secs(10), stream.message()).await.unwrap();
    assert_eq!(next.unwrap_err().code(), Code::Unauthenticated, "the change is not delivered");
}

/// Turns automatic assignment on, as an admin.
async fn assign_automatically(app_url_token: (&TestApp, &str)) {
    let (app, admin) = app_url_token;
    let mut team = members(app, admin).await;
    let current = team.get_team_settings(astro_proto::v1::GetTeamSettingsRequest {}).await.unwrap().into_inner();
    assert!(!current.auto_assign, "off by default");
    let on = astro_proto::v1::TeamSettings { auto_assign: true, ..current };
    let request = astro_proto::v1::UpdateTeamSettingsRequest {
        settings: Some(on),
        update_mask: Some(prost_types::FieldMask { paths: vec!["auto_assign".into()] }),
    };
    let saved = team.update_team_settings(request).await.unwrap().into_inner();
    assert!(saved.auto_assign);
    assert_eq!((saved.version, saved.updated_by.as_str()), (1, ADMIN_EMAIL));
}

/// How many of `cards` each of `owners` got.
fn shares(cards: &[Prospect], owners: &[&str]) -> Vec<usize> {
    owners.iter().map(|o| cards.iter().filter(|c| c.owner == *o).count()).collect()
}

#[tokio::test]
async fn new_prospects_go_round_robin_to_active_salespeople_not_away() {
    let app = spawn_app().await;
    let admin = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap();
    let form = &mut app.service().await;
    // Off by default: a card has no owner.
    assert_eq!(create(form, "Before", "before@example.com").await.owner, "");

    for email in ["ann@example.com", "ben@example.com", "cat@example.com", "dan@example.com"] {
        app.add_member(email, PASSWORD, Role::Sales).await;
    }
    app.add_member("vic@example.com", PASSWORD, Role::Viewer).await;
    let dan = member(&app, &admin, "dan@example.com").await;
    update(&app, &admin, Member { away: true, ..dan }, &["away"]).await.unwrap();
    assign_automatically((&app, &admin)).await;

    let mut cards = Vec::new();
    for n in 0..9 {
        cards.push(create(form, "Lead", &format!("lead{n}@example.com")).await);
    }
    let owners = ["ann@example.com", "ben@example.com", "cat@example.com", "dan@example.com", "vic@example.com"];
    assert_eq!(shares(&cards, &owners), [3, 3, 3, 0, 0], "three each; none to the away one nor the viewer");

    // "Mine", and by owner: from OwnerIndex, one column or the whole board.
    let ann = login(&app, "ann@example.com", PASSWORD).await.unwrap();
    let mut as_ann = app.prospects_with(Some(ann)).await;
    let mine = astro_proto::v1::ListProspectsRequest {
        owner: "me".into(),
        status: ProspectStatus::New as i32,
        ..Default::default()
    };
    let page = as_ann.list_prospects(mine).await.unwrap().into_inner();
    assert_eq!(page.prospects.len(), 3);
    assert!(page.prospects.iter().all(|p| p.owner == "ann@example.com"));
    assert_eq!(count(&page, ProspectStatus::New), 10, "the counts stay the whole board's");
    let bens =
        astro_proto::v1::ListProspectsRequest { owner: "ben@example.com".into(), page_size: 2, ..Default::default() };
    let first = as_ann.list_prospects(bens.clone()).await.unwrap().into_inner();
    assert_eq!(first.prospects.len(), 2);
    let next = astro_proto::v1::ListProspectsRequest { page_token: first.next_page_token, ..bens };
    let second = as_ann.list_prospects(next).await.unwrap().into_inner();
    assert_eq!((second.prospects.len(), second.next_page_token.as_str()), (1, ""));
    let bad = astro_proto::v1::ListProspectsRequest { owner: "not an email".into(), ..Default::default() };
    assert_eq!(violated_fields(&assert_code(as_ann.list_prospects(bad).await, Code::InvalidArgument)), ["owner"]);

    // A card moved keeps its owner's index in step.
    let moved = Prospect {
        id: cards[0].id.clone(),
        version: cards[0].version,
        status: ProspectStatus::Won as i32,
        ..Default::default()
    };
    let mask = prost_types::FieldMask { paths: vec!["status".into()] };
    as_ann.update_prospect(UpdateProspectRequest { prospect: Some(moved), update_mask: Some(mask) }).await.unwrap();
    let won = astro_proto::v1::ListProspectsRequest {
        owner: cards[0].owner.clone(),
        status: ProspectStatus::Won as i32,
        ..Default::default()
    };
    assert_eq!(as_ann.list_prospects(won).await.unwrap().into_inner().prospects.len(), 1);
}

#[tokio::test]
async fn two_instances_on_one_table_share_the_round_robin_fairly() {
    if !on_dynamodb() {
        return; // Two processes on one embedded file are the command line's case, not the service's.
    }
    let client = astro_testkit::moto::dynamodb_client(None);
    let table = fresh_table(&client).await;
    let (one_dir, other_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let start = |dir: &std::path::Path| {
        let store = std::sync::Arc::new(astro_service::store::dynamodb::DynamoStore::new(
            astro_testkit::moto::dynamodb_client(None),
            table.clone(),
        ));
        astro_service::start_with_store(test_config(dir), store)
    };
    let one = start(one_dir.path()).await.unwrap();
    for email in ["ann@example.com", "ben@example.com", "cat@example.com"] {
        one.accounts.add_user(email, PASSWORD, Role::Sales, "").await.unwrap();
    }
    let channel = |addr: std::net::SocketAddr| async move {
        tonic::transport::Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap()
    };
    let admin = AuthServiceClient::new(channel(one.addr).await)
        .login(LoginRequest { email: ADMIN_EMAIL.into(), password: ADMIN_PASSWORD.into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .token;
    let mut settings = MemberServiceClient::with_interceptor(channel(one.addr).await, Bearer(Some(admin)));
    let request = astro_proto::v1::UpdateTeamSettingsRequest {
        settings: Some(astro_proto::v1::TeamSettings { auto_assign: true, version: 0, ..Default::default() }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["auto_assign".into()] }),
    };
    settings.update_team_settings(request).await.unwrap();
    // Started after the change, the other instance reads it from the table.
    let other = start(other_dir.path()).await.unwrap();

    let service = token("form@example.com", Role::Service);
    let mut clients = Vec::new();
    for addr in [one.addr, other.addr] {
        clients.push(astro_proto::v1::prospect_service_client::ProspectServiceClient::with_interceptor(
            channel(addr).await,
            Bearer(Some(service.clone())),
        ));
    }
    // Nine submissions at once, alternating between the instances.
    let mut calls = Vec::new();
    for n in 0..9 {
        let mut client = clients[n % 2].clone();
        calls.push(tokio::spawn(async move { create(&mut client, "Lead", &format!("lead{n}@example.com")).await }));
    }
    let mut cards = Vec::new();
    for call in calls {
        cards.push(call.await.unwrap());
    }
    assert_eq!(shares(&cards, &["ann@example.com", "ben@example.com", "cat@example.com"]), [3, 3, 3]);
}

#[tokio::test]
async fn the_security_log_records_sign_ins_and_the_teams_changes_newest_first_for_admins() {
    use astro_proto::v1::{ListSecurityEventsRequest, SecurityEventKind as Kind};
    let app = spawn_app().await;
    let admin = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap();
    let sam = join(&app, "sam@example.com", Role::Sales).await;
    assert_code(login(&app, "sam@example.com", "not the password at all").await, Code::Unauthenticated);
    let record = member(&app, &admin, "sam@example.com").await;
    update(&app, &admin, Member { role: Role::Viewer as i32, ..record }, &["role"]).await.unwrap();
    auth_with(&app, &admin).await.sign_out_everywhere(SignOutEverywhereRequest {}).await.unwrap();
    let admin = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap();

    let mut log = members(&app, &admin).await;
    let page = log.list_security_events(ListSecurityEventsRequest::default()).await.unwrap().into_inner();
    let lines: Vec<(Kind, &str, &str)> =
        page.events.iter().map(|e| (e.kind(), e.actor.as_str(), e.subject.as_str())).collect();
    assert_eq!(
        lines[..6],
        [
            (Kind::SignedIn, "", ADMIN_EMAIL),
            (Kind::SignedOutEverywhere, ADMIN_EMAIL, ADMIN_EMAIL),
            (Kind::MemberChanged, ADMIN_EMAIL, "sam@example.com"),
            (Kind::SignInFailed, "", "sam@example.com"),
            (Kind::SignedIn, "", "sam@example.com"),
            (Kind::MemberAdded, "", "sam@example.com"),
        ]
    );
    assert_eq!(page.events[2].detail, "role: sales → viewer");
    assert_eq!(page.events[3].client_address, "127.0.0.1");
    let event = &page.events[0];
    let (at, expires) = (event.at.unwrap().seconds, event.expires_at.unwrap().seconds);
    assert_eq!(expires - at, 365 * 86_400, "kept a year");

    // Paged: two lines at a time, nothing lost or repeated.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let request = ListSecurityEventsRequest { page_size: 2, page_token: token };
        let page = log.list_security_events(request).await.unwrap().into_inner();
        seen.extend(page.events.into_iter().map(|e| e.id));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    let all: Vec<String> = log
        .list_security_events(ListSecurityEventsRequest { page_size: 200, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .events
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(seen, all);

    // Admins only.
    let viewer = login(&app, "sam@example.com", PASSWORD).await.unwrap();
    let refused = members(&app, &viewer).await.list_security_events(ListSecurityEventsRequest::default()).await;
    assert_code(refused, Code::PermissionDenied);
    drop(sam);
}

#[tokio::test]
async fn a_member_changes_their_password_with_the_current_one_and_other_sessions_end() {
    use astro_proto::v1::ChangePasswordRequest;
    let app = spawn_app().await;
    let old = join(&app, "sam@example.com", Role::Sales).await;
    let other = login(&app, "sam@example.com", PASSWORD).await.unwrap();
    let mut auth = auth_with(&app, &old).await;
    let change =
        |current: &str, new: &str| ChangePasswordRequest { current_password: current.into(), new_password: new.into() };

    let wrong = assert_code(
        auth.change_password(change("not my password at all", "a brand new passphrase")).await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&wrong), ["current_password"]);
    let weak = assert_code(auth.change_password(change(PASSWORD, "password1234")).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&weak), ["new_password"]);
    // Nothing changed: the old password and both sessions still work.
    app.prospects_with(Some(other.clone()))
        .await
        .list_prospects(astro_proto::v1::ListProspectsRequest::default())
        .await
        .unwrap();

    let changed = auth.change_password(change(PASSWORD, "a brand new passphrase")).await.unwrap().into_inner();
    assert_eq!(changed.role, "sales");
    for ended in [old, other] {
        let mut client = app.prospects_with(Some(ended)).await;
        assert_code(
            client.list_prospects(astro_proto::v1::ListProspectsRequest::default()).await,
            Code::Unauthenticated,
        );
    }
    let mut going_on = app.prospects_with(Some(changed.token)).await;
    going_on.list_prospects(astro_proto::v1::ListProspectsRequest::default()).await.unwrap();
    assert_code(login(&app, "sam@example.com", PASSWORD).await, Code::Unauthenticated);
    login(&app, "sam@example.com", "a brand new passphrase").await.unwrap();
}

#[tokio::test]
async fn an_invitation_link_lets_one_person_join_once_with_the_role_given() {
    use astro_proto::v1::{
        AcceptInvitationRequest, InviteMemberRequest, ListInvitationsRequest, RevokeInvitationRequest,
    };
    let app = spawn_app().await;
    let admin = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap();
    let mut team = members(&app, &admin).await;
    let invite =
        |email: &str| InviteMemberRequest { email: email.into(), role: Role::Sales as i32, display_name: "Sam".into() };
    let sent = team.invite_member(invite("Sam@Example.com")).await.unwrap().into_inner();
    let invitation = sent.invitation.unwrap();
    assert_eq!((invitation.email.as_str(), invitation.role.as_str()), ("sam@example.com", "sales"));
    assert!(invitation.token_hash.is_empty(), "the hash stays in the table");
    let expiry = invitation.expires_at.unwrap().seconds - invitation.created_at.unwrap().seconds;
    assert_eq!(expiry, 7 * 24 * 3600);
    let token = sent.link.split_once("/admin/join#").expect("a link to the web app's join page").1.to_owned();
    let listed = team.list_invitations(ListInvitationsRequest {}).await.unwrap().into_inner().invitations;
    assert_eq!(listed.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), [invitation.id.as_str()]);

    let accept = |token: &str, password: &str| AcceptInvitationRequest {
        token: token.into(),
        display_name: "Sam Seller".into(),
        password: password.into(),
    };
    let mut auth = app.auth().await;
    // A weak password is refused and the link stays good.
    let weak = assert_code(auth.accept_invitation(accept(&token, "password1234")).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&weak), ["password"]);
    // A tampered link is not genuine.
    let tampered = format!("{}x", &token[..token.len() - 1]);
    let refused = assert_code(auth.accept_invitation(accept(&tampered, PASSWORD)).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&refused), ["token"]);

    let joined = auth.accept_invitation(accept(&token, PASSWORD)).await.unwrap().into_inner();
    assert_eq!((joined.email.as_str(), joined.role.as_str()), ("sam@example.com", "sales"));
    app.prospects_with(Some(joined.token))
        .await
        .list_prospects(astro_proto::v1::ListProspectsRequest::default())
        .await
        .unwrap();
    assert_eq!(member(&app, &admin, "sam@example.com").await.display_name, "Sam Seller");
    let used = assert_code(auth.accept_invitation(accept(&token, PASSWORD)).await, Code::FailedPrecondition);
    assert!(used.message().contains("used already"), "{used:?}");
    assert!(team.list_invitations(ListInvitationsRequest {}).await.unwrap().into_inner().invitations.is_empty());
    // A member is not invited twice.
    assert_code(team.invite_member(invite("sam@example.com")).await, Code::AlreadyExists);

    // Revoked: refused, saying so.
    let other = team.invite_member(invite("ola@example.com")).await.unwrap().into_inner();
    let other_token = other.link.split_once('#').unwrap().1.to_owned();
    team.revoke_invitation(RevokeInvitationRequest { id: other.invitation.unwrap().id }).await.unwrap();
    let withdrawn = assert_code(auth.accept_invitation(accept(&other_token, PASSWORD)).await, Code::FailedPrecondition);
    assert!(withdrawn.message().contains("withdrawn"), "{withdrawn:?}");
    assert_code(login(&app, "ola@example.com", PASSWORD).await, Code::Unauthenticated);
}

#[tokio::test]
async fn an_expired_invitation_is_refused() {
    use astro_service::domain::{auth::Accounts, invitations::Invitations};
    use astro_service::store::{Store, embedded::EmbeddedStore};
    let dir = tempfile::tempdir().unwrap();
    let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(EmbeddedStore::open(dir.path()).unwrap());
    let keys = astro_service::keys::KeyRing::new(astro_authorizer::TokenSecret::new(vec![7; 32]).unwrap());
    let accounts = Accounts::new(store.clone(), astro_service::domain::auth::PasswordHasher::new(4), keys.clone());
    let invitations = Invitations::new(store.clone(), keys, accounts, "http://127.0.0.1:8080");
    let admin = astro_authorizer::Claims { email: ADMIN_EMAIL.into(), role: Role::Admin, iat: 0, exp: i64::MAX };
    let (sent, link) = invitations.invite(&admin, "late@example.com", Role::Viewer as i32, "").await.unwrap();
    // Seven days later, as the table has it (no clock to wait on).
    let mut stored = store.get_invitation(&sent.id).await.unwrap().unwrap();
    stored.expires_at = Some(prost_types::Timestamp { seconds: now() - 1, nanos: 0 });
    stored.version += 1;
    store.save_invitation(&stored, sent.version).await.unwrap();
    let link = link.expect("no email configured: the link is shown");
    let token = link.split_once('#').unwrap().1;
    let expired = invitations.accept(token, "", PASSWORD).await.unwrap_err();
    assert!(expired.to_string().contains("expired"), "{expired}");
    assert_eq!(store.get_user("late@example.com").await.unwrap(), None);
}
