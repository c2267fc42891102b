//! Bad input: INVALID_ARGUMENT naming each bad field, and nothing stored.

use astro_proto::v1::{
    CreateProspectRequest, GetProspectRequest, ListProspectsRequest, Prospect, ProspectStatus, Source,
    UpdateProspectRequest,
};
use prost_types::FieldMask;
use tonic::Code;

use crate::helpers::*;

/// A change that makes a valid prospect invalid.
type Breakage = Box<dyn Fn(&mut Prospect)>;

#[tokio::test]
async fn each_invalid_field_is_named_and_nothing_is_stored() {
    let app = spawn_app().await;
    let mut admin = app.admin().await;
    let cases: Vec<(&str, Breakage)> = vec![
        ("prospect.first_name", Box::new(|p| p.first_name = "  ".into())),
        ("prospect.first_name", Box::new(|p| p.first_name = "x".repeat(101))),
        ("prospect.last_name", Box::new(|p| p.last_name = String::new())),
        ("prospect.email", Box::new(|p| p.email = "not-an-email".into())),
        ("prospect.email", Box::new(|p| p.email = String::new())),
        ("prospect.phone", Box::new(|p| p.phone = "call me maybe".into())),
        ("prospect.company", Box::new(|p| p.company = "c".repeat(201))),
        ("prospect.job_title", Box::new(|p| p.job_title = "bad\u{0}title".into())),
        ("prospect.message", Box::new(|p| p.message = "m".repeat(5001))),
        ("prospect.budget", Box::new(|p| p.budget = 99)),
        ("prospect.timeline", Box::new(|p| p.timeline = -1)),
        ("prospect.consent.given", Box::new(|p| p.consent = None)),
        ("prospect.status", Box::new(|p| p.status = ProspectStatus::Won as i32)),
        (
            "prospect.source.referrer",
            Box::new(|p| p.source = Some(Source { referrer: "r".repeat(2001), ..Default::default() })),
        ),
    ];
    for (field, break_it) in cases {
        let mut bad = prospect("Ada", "ada@example.com");
        break_it(&mut bad);
        let status = assert_code(
            admin.create_prospect(CreateProspectRequest { prospect: Some(bad), request_id: String::new() }).await,
            Code::InvalidArgument,
        );
        assert_eq!(violated_fields(&status), [field], "{status:?}");
        assert!(status.message().contains(field), "the message names {field}: {}", status.message());
    }
    let missing = assert_code(admin.create_prospect(CreateProspectRequest::default()).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&missing), ["prospect"]);

    let board = list(&mut admin, ProspectStatus::Unspecified, 50, "").await;
    assert!(board.prospects.is_empty(), "no invalid prospect was stored");
    assert!(board.status_counts.iter().all(|c| c.count == 0));
}

#[tokio::test]
async fn several_bad_fields_are_all_reported() {
    let app = spawn_app().await;
    let mut admin = app.admin().await;
    let bad = Prospect { first_name: String::new(), email: "x".into(), ..Default::default() };
    let status = assert_code(
        admin.create_prospect(CreateProspectRequest { prospect: Some(bad), request_id: String::new() }).await,
        Code::InvalidArgument,
    );
    assert_eq!(
        violated_fields(&status),
        ["prospect.first_name", "prospect.last_name", "prospect.email", "prospect.consent.given"]
    );
}

#[tokio::test]
async fn bad_updates_name_the_field_and_change_nothing() {
    let app = spawn_app().await;
    let mut admin = app.admin().await;
    let p = create(&mut admin, "Ada", "ada@example.com").await;
    let update = |prospect: Prospect, paths: &[&str]| UpdateProspectRequest {
        prospect: Some(prospect),
        update_mask: Some(FieldMask { paths: paths.iter().map(|s| (*s).to_owned()).collect() }),
    };
    let base = Prospect { id: p.id.clone(), version: 1, ..Default::default() };
    let cases = [
        (update(Prospect { email: "broken".into(), ..base.clone() }, &["email"]), "prospect.email"),
        (update(Prospect { status: 0, ..base.clone() }, &["status"]), "prospect.status"),
        (update(Prospect { status: 77, ..base.clone() }, &["status"]), "prospect.status"),
        (update(base.clone(), &["id"]), "update_mask"),
        (update(base.clone(), &["version"]), "update_mask"),
        (update(base.clone(), &[]), "update_mask"),
        (update(Prospect { version: 0, company: "X".into(), ..base.clone() }, &["company"]), "prospect.version"),
        (update(Prospect { id: "../USER#admin".into(), ..base.clone() }, &["company"]), "prospect.id"),
    ];
    for (request, field) in cases {
        let status = assert_code(admin.update_prospect(request).await, Code::InvalidArgument);
        assert_eq!(violated_fields(&status), [field], "{status:?}");
    }
    let now = admin.get_prospect(GetProspectRequest { id: p.id.clone(), view: 2 }).await.unwrap().into_inner();
    assert_eq!(now.version, 1);
    assert_eq!(now.email, "ada@example.com");
    assert_eq!(now.events.len(), 1);
}

#[tokio::test]
async fn bad_list_and_get_arguments_are_named() {
    let app = spawn_app().await;
    let mut admin = app.admin().await;
    let cases = [
        (ListProspectsRequest { page_size: -1, ..Default::default() }, "page_size"),
        (ListProspectsRequest { status: 42, ..Default::default() }, "status"),
        (ListProspectsRequest { email: "nope".into(), ..Default::default() }, "email"),
        (ListProspectsRequest { page_token: "garbage".into(), ..Default::default() }, "page_token"),
    ];
    for (request, field) in cases {
        let status = assert_code(admin.list_prospects(request).await, Code::InvalidArgument);
        assert_eq!(violated_fields(&status), [field]);
    }
    let status = assert_code(
        admin.get_prospect(GetProspectRequest { id: "PROSPECT#x".into(), view: 0 }).await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&status), ["id"]);
}
