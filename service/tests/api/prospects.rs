//! The pipeline: create, read, list, move, edit, delete.

use std::collections::HashSet;

use astro_proto::v1::{
    CreateProspectRequest, DeleteProspectRequest, GetProspectRequest, ListProspectsRequest, Prospect,
    ProspectEventKind, ProspectStatus, ProspectView, UpdateProspectRequest,
};
use prost_types::FieldMask;
use tonic::Code;

use crate::helpers::*;

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask { paths: paths.iter().map(|p| (*p).to_owned()).collect() })
}

fn moved(p: &Prospect, status: ProspectStatus) -> UpdateProspectRequest {
    UpdateProspectRequest {
        prospect: Some(Prospect { id: p.id.clone(), version: p.version, status: status as i32, ..Default::default() }),
        update_mask: mask(&["status"]),
    }
}

#[tokio::test]
async fn a_created_prospect_is_new_normalised_and_readable() {
    let app = spawn_app().await;
    let mut admin = app.admin().await;
    let mut input = prospect("  Ada ", "Ada@Example.COM");
    input.id = "chosen-by-client".into();
    input.version = 42;
    let created = admin
        .create_prospect(CreateProspectRequest { prospect: Some(input), request_id: String::new() })
        .await
        .unwrap()
        .into_inner();
    assert!(uuid::Uuid::parse_str(&created.id).is_ok(), "the server assigns the id");
    assert_eq!(created.first_name, "Ada");
    assert_eq!(created.email, "ada@example.com");
    assert_eq!(created.status, ProspectStatus::New as i32);
    assert_eq!(created.version, 1);
    assert!(created.created_at.is_some() && created.consent.as_ref().unwrap().given_at.is_some());

    let read = admin.get_prospect(GetProspectRequest { id: created.id.clone(), view: 0 }).await.unwrap().into_inner();
    assert_eq!(read, created);
    assert_code(
        admin.get_prospect(GetProspectRequest { id: uuid::Uuid::now_v7().to_string(), view: 0 }).await,
        Code::NotFound,
    );
}

#[tokio::test]
async fn a_column_pages_newest_first_with_counts() {
    let app = spawn_app().await;
    let mut admin = app.admin().await;
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(create(&mut admin, &format!("P{i}"), &format!("p{i}@example.com")).await.id);
    }
    // Move two to CONTACTED.
    for id in &ids[..2] {
        let p = admin.get_prospect(GetProspectRequest { id: id.clone(), view: 0 }).await.unwrap().into_inner();
        admin.update_prospect(moved(&p, ProspectStatus::Contacted)).await.unwrap();
    }

    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = list(&mut admin, ProspectStatus::New, 2, &token).await;
        assert_eq!(count(&page, ProspectStatus::New), 5);
        assert_eq!(count(&page, ProspectStatus::Contacted), 2);
        assert_eq!(page.status_counts.len(), 5, "every column has a count");
        seen.extend(page.prospects.iter().map(|p| p.id.clone()));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let expected: Vec<String> = ids[2..].iter().rev().cloned().collect();
    assert_eq!(seen, expected, "newest first, each card once");

    // The whole board, merged across columns, newest first.
    let all = list(&mut admin, ProspectStatus::Unspecified, 4, "").await;
    let next = list(&mut admin, ProspectStatus::Unspecified, 4, &all.next_page_token).await;
    let board: Vec<String> = all.prospects.iter().chain(&next.prospects).map(|p| p.id.clone()).collect();
    assert_eq!(board, ids.iter().rev().cloned().collect::<Vec<_>>());
    assert!(next.next_page_token.is_empty());
}

#[tokio::test]
async fn page_tokens_cannot_be_forged_or_reused_for_another_listing() {
    let app = spawn_app().await;
    let mut admin = app.admin().await;
    for i in 0..3 {
        create(&mut admin, &format!("P{i}"), &format!("p{i}@example.com")).await;
    }
    let page = list(&mut admin, ProspectStatus::New, 1, "").await;
    let token = page.next_page_token.clone();
    assert!(!token.is_empty());

    let other_column = admin
        .list_prospects(ListProspectsRequest {
            page_size: 1,
            page_token: token.clone(),
            status: ProspectStatus::Won as i32,
            ..Default::default()
        })
        .await;
    assert_eq!(violated_fields(&assert_code(other_column, Code::InvalidArgument)), ["page_token"]);

    // Move the position (to read past where the listing stands) and keep the signature.
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
    let (body, tag) = token.split_once('.').unwrap();
    let body = String::from_utf8(B64.decode(body).unwrap()).unwrap();
    let moved_position = body.replace("\"c\":\"2", "\"c\":\"3");
    assert_ne!(body, moved_position);
    let forged = format!("{}.{tag}", B64.encode(moved_position));
    let forged = admin
        .list_prospects(ListProspectsRequest {
            page_size: 1,
            page_token: forged,
            status: ProspectStatus::New as i32,
            ..Default::default()
        })
        .await;
    assert_eq!(violated_fields(&assert_code(forged, Code::InvalidArgument)), ["page_token"]);
}

#[tokio::test]
async fn search_by_email_finds_every_prospect_with_it_and_links_duplicates() {
    let app = spawn_app().await;
    let mut admin = app.admin().await;
    let first = create(&mut admin, "Ada", "ada@example.com").await;
    create(&mut admin, "Bob", "bob@example.com").await;
    let again = create(&mut admin, "Ada", "ADA@example.com").await;
    assert_eq!(first.duplicate_of, "");
    assert_eq!(again.duplicate_of, first.id, "the same email again is linked to the first prospect");

    let found = admin
        .list_prospects(ListProspectsRequest { email: "Ada@Example.com".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<_> = found.prospects.iter().map(|p| p.id.clone()).collect();
    assert_eq!(ids, [again.id.clone(), first.id.clone()]);
}

#[tokio::test]
async fn a_request_id_makes_a_retried_create_return_the_first_prospect() {
    let app = spawn_app().await;
    let mut service = app.service().await;
    let request = CreateProspectRequest {
        prospect: Some(prospect("Ada", "ada@example.com")),
        request_id: "form-submit-1".into(),
    };
    let first = service.create_prospect(request.clone()).await.unwrap().into_inner();
    let retried = service.create_prospect(request).await.unwrap().into_inner();
    assert_eq!(first.id, retried.id);
    let page = list(&mut app.admin().await, ProspectStatus::New, 10, "").await;
    assert_eq!(page.prospects.len(), 1);
    assert_eq!(count(&page, ProspectStatus::New), 1);
}

#[tokio::test]
async fn moves_and_edits_are_recorded_in_the_history() {
    let app = spawn_app().await;
    let mut admin = app.admin().await;
    let p = create(&mut admin, "Ada", "ada@example.com").await;
    let contacted = admin.update_prospect(moved(&p, ProspectStatus::Contacted)).await.unwrap().into_inner();
    assert_eq!(contacted.version, 2);
    assert_eq!(contacted.status, ProspectStatus::Contacted as i32);
    assert_eq!(contacted.first_name, "Ada", "fields outside the mask keep their value");

    let edited = admin
        .update_prospect(UpdateProspectRequest {
            prospect: Some(Prospect {
                id: p.id.clone(),
                version: 2,
                company: "Babbage & Co".into(),
                phone: "+44 20 7946 0000".into(),
                ..Default::default()
            }),
            update_mask: mask(&["company", "phone"]),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((edited.company.as_str(), edited.version), ("Babbage & Co", 3));

    let full = admin
        .get_prospect(GetProspectRequest { id: p.id.clone(), view: ProspectView::Full as i32 })
        .await
        .unwrap()
        .into_inner();
    let kinds: Vec<i32> = full.events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [ProspectEventKind::Created as i32, ProspectEventKind::StatusChanged as i32, ProspectEventKind::Edited as i32]
    );
    assert_eq!(full.events[1].from_status, ProspectStatus::New as i32);
    assert_eq!(full.events[1].to_status, ProspectStatus::Contacted as i32);
    assert_eq!(full.events[1].actor, ADMIN_EMAIL);
    assert_eq!(full.events[2].changed_fields, ["phone", "company"]);

    let page = list(&mut admin, ProspectStatus::Contacted, 10, "").await;
    assert_eq!((count(&page, ProspectStatus::New), count(&page, ProspectStatus::Contacted)), (0, 1));
}

#[tokio::test]
async fn a_stale_version_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let mut admin = app.admin().await;
    let p = create(&mut admin, "Ada", "ada@example.com").await;
    admin.update_prospect(moved(&p, ProspectStatus::Contacted)).await.unwrap();
    // A second admin still holds version 1.
    let stale = admin.update_prospect(moved(&p, ProspectStatus::Lost)).await;
    assert_code(stale, Code::Aborted);
    let now = admin.get_prospect(GetProspectRequest { id: p.id.clone(), view: 0 }).await.unwrap().into_inner();
    assert_eq!((now.status, now.version), (ProspectStatus::Contacted as i32, 2));
}

#[tokio::test]
async fn concurrent_moves_of_one_card_with_one_version_let_exactly_one_win() {
    let app = spawn_app().await;
    let mut admin = app.admin().await;
    let p = create(&mut admin, "Ada", "ada@example.com").await;
    let targets = [ProspectStatus::Contacted, ProspectStatus::Qualified, ProspectStatus::Won, ProspectStatus::Lost];
    let mut calls = Vec::new();
    for i in 0..24 {
        let mut client = admin.clone();
        let request = moved(&p, targets[i % targets.len()]);
        calls.push(tokio::spawn(async move { client.update_prospect(request).await }));
    }
    let mut wins = Vec::new();
    for call in calls {
        match call.await.unwrap() {
            Ok(response) => wins.push(response.into_inner()),
            Err(status) => assert_eq!(status.code(), Code::Aborted, "{status:?}"),
        }
    }
    assert_eq!(wins.len(), 1, "exactly one concurrent update succeeds");
    let full = admin.get_prospect(GetProspectRequest { id: p.id.clone(), view: 2 }).await.unwrap().into_inner();
    assert_eq!(full.version, 2);
    assert_eq!(full.status, wins[0].status);
    assert_eq!(full.events.len(), 2, "one creation, one move");
    let page = list(&mut admin, ProspectStatus::Unspecified, 10, "").await;
    let total: i64 = page.status_counts.iter().map(|c| c.count).sum();
    assert_eq!(total, 1, "counters match the board");
    assert_eq!(count(&page, ProspectStatus::try_from(wins[0].status).unwrap()), 1);
}

#[tokio::test]
async fn delete_removes_the_card_and_its_count() {
    let app = spawn_app().await;
    let mut admin = app.admin().await;
    let keep = create(&mut admin, "Keep", "keep@example.com").await;
    let gone = create(&mut admin, "Gone", "gone@example.com").await;
    assert_code(admin.delete_prospect(DeleteProspectRequest { id: gone.id.clone(), version: 9 }).await, Code::Aborted);
    admin.delete_prospect(DeleteProspectRequest { id: gone.id.clone(), version: 1 }).await.unwrap();
    assert_code(admin.get_prospect(GetProspectRequest { id: gone.id.clone(), view: 2 }).await, Code::NotFound);
    assert_code(admin.delete_prospect(DeleteProspectRequest { id: gone.id.clone(), version: 0 }).await, Code::NotFound);
    let page = list(&mut admin, ProspectStatus::New, 10, "").await;
    let ids: HashSet<_> = page.prospects.iter().map(|p| p.id.clone()).collect();
    assert_eq!(ids, HashSet::from([keep.id]));
    assert_eq!(count(&page, ProspectStatus::New), 1);
}

async fn created(admin: &mut Prospects, first: &str, last: &str, company: &str, email: &str) -> Prospect {
    let mut p = prospect(first, email);
    p.last_name = last.into();
    p.company = company.into();
    admin
        .create_prospect(CreateProspectRequest { prospect: Some(p), request_id: String::new() })
        .await
        .unwrap()
        .into_inner()
}

async fn search(admin: &mut Prospects, query: &str, status: ProspectStatus) -> Vec<String> {
    let request = ListProspectsRequest { query: query.into(), status: status as i32, ..Default::default() };
    let page = admin.list_prospects(request).await.expect("search").into_inner();
    assert!(page.next_page_token.is_empty(), "a search is one page");
    assert_eq!(page.status_counts.len(), 5, "with the board's counts");
    page.prospects.into_iter().map(|p| format!("{} {}", p.first_name, p.last_name)).collect()
}

#[tokio::test]
async fn search_finds_cards_by_the_start_of_a_name_or_company_or_by_email() {
    let app = spawn_app().await;
    let mut admin = app.admin().await;
    let elodie = created(&mut admin, "Élodie", "Durand", "Analytical Engines", "elodie@example.com").await;
    created(&mut admin, "Ada", "Lovelace", "Babbage & Co", "ada@example.com").await;
    created(&mut admin, "Adam", "Smith", "", "adam@example.com").await;
    let any = ProspectStatus::Unspecified;

    assert_eq!(search(&mut admin, "elo", any).await, ["Élodie Durand"], "accents ignored");
    assert_eq!(search(&mut admin, "LOVE", any).await, ["Ada Lovelace"], "case ignored, last names too");
    assert_eq!(search(&mut admin, "analyt", any).await, ["Élodie Durand"], "companies too");
    assert_eq!(search(&mut admin, "ada", any).await, ["Adam Smith", "Ada Lovelace"], "newest first");
    assert_eq!(search(&mut admin, "ada  love", any).await, ["Ada Lovelace"], "every word counts");
    assert_eq!(search(&mut admin, "durand élodie", any).await, ["Élodie Durand"]);
    assert_eq!(search(&mut admin, "ada babbage", any).await, ["Ada Lovelace"]);
    assert!(search(&mut admin, "lovelace ada smith", any).await.is_empty());
    assert_eq!(search(&mut admin, " Ada@Example.com ", any).await, ["Ada Lovelace"], "an address: by email");
    assert!(search(&mut admin, "zzz", any).await.is_empty());

    // Narrowed to a column, and following an edit.
    admin.update_prospect(moved(&elodie, ProspectStatus::Won)).await.unwrap();
    assert!(search(&mut admin, "elo", ProspectStatus::New).await.is_empty());
    assert_eq!(search(&mut admin, "elo", ProspectStatus::Won).await, ["Élodie Durand"]);
    let renamed = UpdateProspectRequest {
        prospect: Some(Prospect {
            id: elodie.id.clone(),
            version: 2,
            last_name: "Martin".into(),
            ..Default::default()
        }),
        update_mask: mask(&["last_name"]),
    };
    admin.update_prospect(renamed).await.unwrap();
    assert!(search(&mut admin, "durand", any).await.is_empty());
    assert_eq!(search(&mut admin, "martin", any).await, ["Élodie Martin"]);

    // Bad searches name their field and read nothing.
    let long = ListProspectsRequest { query: "x".repeat(101), ..Default::default() };
    assert_eq!(violated_fields(&assert_code(admin.list_prospects(long).await, Code::InvalidArgument)), ["query"]);
    let paged = ListProspectsRequest { query: "ada".into(), page_token: "t".into(), ..Default::default() };
    assert_eq!(violated_fields(&assert_code(admin.list_prospects(paged).await, Code::InvalidArgument)), ["page_token"]);
    let not_an_address = ListProspectsRequest { query: "ada@".into(), ..Default::default() };
    assert_eq!(
        violated_fields(&assert_code(admin.list_prospects(not_an_address).await, Code::InvalidArgument)),
        ["query"]
    );
}
