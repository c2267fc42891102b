//! Importing a spreadsheet: a draft with its columns guessed from French
//! headers, checked, run in the background with exactly the expected
//! created, updated and refused rows (and a report naming them), undone to
//! the board as it was, counts included; a run killed with SIGKILL resumes
//! and does each row once. On DynamoDB (moto) with fewer rows: moto takes
//! about a third of a second per card.

use std::time::{Duration, Instant};

use astro_authorizer::Role;
use astro_proto::v1::{
    CreateImportRequest, DuplicateMode, GetImportRequest, Import, ImportRowOutcome, ImportState, ListImportRowsRequest,
    ListProspectsRequest, ProspectStatus, StartImportRequest, UndoImportRequest, UpdateImportRequest,
    import_service_client::ImportServiceClient,
};
use tonic::{Code, service::interceptor::InterceptedService, transport::Channel};

use crate::helpers::*;

pub type Imports = ImportServiceClient<InterceptedService<Channel, Bearer>>;

pub fn imports_on(channel: Channel, token: String) -> Imports {
    ImportServiceClient::with_interceptor(channel, Bearer(Some(token)))
}

/// A file of `rows` rows (French headers, `;`): `existing` of them carry
/// the address of a card already on the board (`dup{i}@example.com`),
/// `invalid` are refused (a bad address, or a formula as a first name),
/// and every seventh valid new row is in WON.
fn spreadsheet(rows: usize, existing: usize, invalid: usize) -> String {
    let mut csv = String::from("Prénom;Nom;Courriel;Société;Statut;Divers\n");
    for i in 0..rows {
        let line = if i < existing {
            format!("Dup{i};Imported;dup{i}@example.com;Imported Co;;x\n")
        } else if i < existing + invalid {
            match i % 2 {
                0 => format!("Bad{i};Row;not-an-address;;;\n"),
                _ => format!("=HYPERLINK(\"http://x\");Row;formula{i}@example.com;;;\n"),
            }
        } else {
            let status = if i % 7 == 0 { "Gagné" } else { "" };
            format!("Léa{i};Martin;lea{i}@example.com;Acme;{status};\n")
        };
        csv.push_str(&line);
    }
    csv
}

/// The board's counts per column, as ListProspects gives them.
async fn counts(admin: &mut Prospects) -> Vec<(i32, i64)> {
    let page = admin
        .list_prospects(ListProspectsRequest { page_size: 1, ..Default::default() })
        .await
        .expect("list")
        .into_inner();
    let mut counts: Vec<(i32, i64)> =
        page.status_counts.iter().map(|c| (c.status, c.count)).filter(|c| c.1 != 0).collect();
    counts.sort();
    counts
}

/// Polls the import until it is in `state` (each poll is a real call).
pub async fn until(imports: &mut Imports, id: &str, state: ImportState, within: Duration) -> Import {
    let deadline = Instant::now() + within;
    loop {
        let import = imports.get_import(GetImportRequest { id: id.into() }).await.expect("get").into_inner();
        if import.state() == state {
            return import;
        }
        assert!(Instant::now() < deadline, "import still {:?} after {within:?}: {import:?}", import.state());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Imports `csv` to its end: consent confirmed, duplicates as `mode`.
pub async fn import_all(imports: &mut Imports, csv: &str, mode: DuplicateMode) -> Import {
    let draft = ready(imports, csv, mode).await;
    imports.start_import(StartImportRequest { id: draft.id.clone(), version: draft.version }).await.expect("started");
    until(imports, &draft.id, ImportState::Done, Duration::from_secs(120)).await
}

/// A draft of `csv`, consent confirmed, duplicates as `mode`: ready to start.
async fn ready(imports: &mut Imports, csv: &str, mode: DuplicateMode) -> Import {
    let draft = imports
        .create_import(CreateImportRequest { file_name: "t.csv".into(), content: csv.as_bytes().to_vec() })
        .await
        .expect("a draft")
        .into_inner();
    imports
        .update_import(UpdateImportRequest {
            import: Some(Import {
                id: draft.id.clone(),
                version: draft.version,
                consent_confirmed: true,
                duplicates: mode as i32,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["consent_confirmed".into(), "duplicates".into()] }),
        })
        .await
        .expect("updated")
        .into_inner()
}

fn sizes() -> (usize, usize, usize) {
    match on_dynamodb() {
        true => (100, 10, 5),
        false => (10_000, 100, 50),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_creates_updates_and_reports_exactly_and_its_undo_restores_the_board() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let mut admin = app.prospects_with(Some(token.clone())).await;
    let mut imports = imports_on(app.channel().await, token);
    let (rows, existing, invalid) = sizes();

    // The cards already there, one of them moved on.
    let mut before_cards = Vec::new();
    for i in 0..existing {
        before_cards.push(create(&mut admin, &format!("Dup{i}"), &format!("dup{i}@example.com")).await);
    }
    let before = counts(&mut admin).await;

    let draft = imports
        .create_import(CreateImportRequest {
            file_name: "leads.csv".into(),
            content: spreadsheet(rows, existing, invalid).into_bytes(),
        })
        .await
        .expect("a draft")
        .into_inner();
    assert_eq!(draft.state(), ImportState::Draft);
    assert_eq!(draft.rows, rows as i64);
    assert_eq!(draft.mapping, ["first_name", "last_name", "email", "company", "status", ""], "guessed from French");
    assert_eq!(draft.preview.len(), 10);
    assert_eq!(draft.preview[0].line, 2);
    assert_eq!(draft.invalid, rows as i64, "no consent yet: every row would be refused");

    // Not without consent; then with it, duplicates updated.
    let refused = imports.start_import(StartImportRequest { id: draft.id.clone(), version: draft.version }).await;
    assert_eq!(violated_fields(&assert_code(refused, Code::InvalidArgument)), ["consent_confirmed"]);
    let draft = imports
        .update_import(UpdateImportRequest {
            import: Some(Import {
                id: draft.id.clone(),
                version: draft.version,
                consent_confirmed: true,
                duplicates: DuplicateMode::Update as i32,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["consent_confirmed".into(), "duplicates".into()] }),
        })
        .await
        .expect("updated")
        .into_inner();
    assert_eq!(draft.invalid, invalid as i64);
    let stale = imports.start_import(StartImportRequest { id: draft.id.clone(), version: draft.version - 1 }).await;
    assert_code(stale, Code::Aborted);

    let started = Instant::now();
    imports.start_import(StartImportRequest { id: draft.id.clone(), version: draft.version }).await.expect("started");
    let done = until(&mut imports, &draft.id, ImportState::Done, Duration::from_secs(600)).await;
    eprintln!(
        "import of {rows} rows on {}: {:.2} s",
        if on_dynamodb() { "DynamoDB (moto)" } else { "the embedded store" },
        started.elapsed().as_secs_f64()
    );
    let fresh = (rows - existing - invalid) as i64;
    assert_eq!(
        (done.done, done.created, done.updated, done.skipped, done.invalid),
        (rows as i64, fresh, existing as i64, 0, invalid as i64)
    );
    // The counts: the new cards in their columns.
    let won = (existing + invalid..rows).filter(|i| i % 7 == 0).count() as i64;
    let mut expected = before.clone();
    for (status, n) in [(ProspectStatus::New as i32, fresh - won), (ProspectStatus::Won as i32, won)] {
        match expected.iter_mut().find(|c| c.0 == status) {
            Some(c) => c.1 += n,
            None => expected.push((status, n)),
        }
    }
    expected.sort();
    assert_eq!(counts(&mut admin).await, expected);
    let updated = admin
        .get_prospect(astro_proto::v1::GetProspectRequest { id: before_cards[0].id.clone(), view: 0 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((updated.company.as_str(), updated.last_name.as_str()), ("Imported Co", "Imported"));

    // The report names each refused row's line and column.
    let report = imports
        .list_import_rows(ListImportRowsRequest {
            import_id: draft.id.clone(),
            outcome: ImportRowOutcome::Invalid as i32,
            page_size: 500,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(report.rows.len(), invalid);
    assert_eq!(report.rows[0].line, existing as i64 + 2);
    let columns: Vec<&str> = report.rows.iter().map(|r| r.errors[0].column.as_str()).collect();
    assert!(columns.contains(&"Courriel") && columns.contains(&"Prénom"), "{columns:?}");
    assert!(report.rows.iter().all(|r| r.previous.is_none()), "storage only");

    // Undo: the board as it was.
    let undoing = imports.undo_import(UndoImportRequest { id: draft.id.clone(), version: done.version }).await.unwrap();
    assert_eq!(undoing.into_inner().state(), ImportState::Undoing);
    let undone = until(&mut imports, &draft.id, ImportState::Undone, Duration::from_secs(600)).await;
    assert_eq!((undone.removed, undone.restored, undone.kept), (fresh, existing as i64, 0));
    assert_eq!(counts(&mut admin).await, before, "counts as before the import");
    let restored = admin
        .get_prospect(astro_proto::v1::GetProspectRequest { id: before_cards[0].id.clone(), view: 0 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (restored.company.as_str(), restored.last_name.as_str()),
        (before_cards[0].company.as_str(), before_cards[0].last_name.as_str())
    );
    let again = imports.undo_import(UndoImportRequest { id: draft.id.clone(), version: undone.version }).await;
    assert_code(again, Code::FailedPrecondition);
    app.stop().await;
}

#[tokio::test]
async fn bad_files_and_bad_mappings_get_clear_answers_and_keep_nothing() {
    let app = spawn_app().await;
    let mut imports = imports_on(app.channel().await, app.admin_token().await);
    let mut upload = async |content: Vec<u8>| {
        imports.create_import(CreateImportRequest { file_name: "x.csv".into(), content }).await
    };
    let latin1 = assert_code(upload(b"Pr\xe9nom;Nom\nL\xe9a;Martin\n".to_vec()).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&latin1), ["content"]);
    assert!(latin1.message().contains("UTF-8"), "{}", latin1.message());
    let big = assert_code(upload(vec![b'a'; 8 * 1024 * 1024 + 1]).await, Code::InvalidArgument);
    assert!(big.message().contains("8 MB"), "{}", big.message());

    // A row with a cell too many, a formula: named in the preview.
    let draft = upload(
        "First name,Last name,Email\nAda,Lovelace,ada@example.com,extra\n@SUM(A1),Byron,byron@example.com\n".into(),
    )
    .await
    .expect("a draft")
    .into_inner();
    assert_eq!(draft.preview[0].errors[0].column, "row");
    assert!(draft.preview[1].errors.iter().any(|e| e.column == "First name" && e.description.contains("formula")));

    // No column for the last name: it cannot start.
    let draft = upload("Prénom;Courriel\nLéa;lea@example.com\n".into()).await.unwrap().into_inner();
    let confirmed = imports
        .update_import(UpdateImportRequest {
            import: Some(Import {
                id: draft.id.clone(),
                version: draft.version,
                mapping: draft.mapping.clone(),
                consent_confirmed: true,
                ..Default::default()
            }),
            update_mask: None,
        })
        .await
        .unwrap()
        .into_inner();
    let refused = imports.start_import(StartImportRequest { id: draft.id.clone(), version: confirmed.version }).await;
    let refused = assert_code(refused, Code::InvalidArgument);
    assert_eq!(violated_fields(&refused), ["mapping"]);
    assert!(refused.message().contains("last_name"), "{}", refused.message());
    // A field fed twice, a field that is none.
    let twice = imports
        .update_import(UpdateImportRequest {
            import: Some(Import {
                id: draft.id.clone(),
                version: confirmed.version,
                mapping: vec!["email".into(), "email".into()],
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["mapping".into()] }),
        })
        .await;
    assert_eq!(violated_fields(&assert_code(twice, Code::InvalidArgument)), ["import.mapping[1]"]);

    // Admins only.
    let mut sales = imports_on(app.channel().await, token("sales@example.com", Role::Sales));
    let denied =
        sales.create_import(CreateImportRequest { file_name: "x.csv".into(), content: b"a\n1\n".to_vec() }).await;
    assert_code(denied, Code::PermissionDenied);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_killed_half_way_resumes_after_a_restart_and_does_each_row_once() {
    let dir = tempfile::tempdir().unwrap();
    let rows = if on_dynamodb() { 120 } else { 10_000 };
    let process = ServiceProcess::start(dir.path());
    let admin_token = token(ADMIN_EMAIL, Role::Admin);
    let connect = async |addr: std::net::SocketAddr| {
        Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap()
    };
    let mut imports = imports_on(connect(process.addr).await, admin_token.clone());
    let mut admin = process.prospects(Some(admin_token.clone())).await;
    let draft = ready(&mut imports, &spreadsheet(rows, 0, 0), DuplicateMode::Skip).await;
    imports.start_import(StartImportRequest { id: draft.id.clone(), version: draft.version }).await.unwrap();
    // Killed once cards are on the board, before the last.
    let total = |c: &[(i32, i64)]| c.iter().map(|c| c.1).sum::<i64>();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let on_board = total(&counts(&mut admin).await);
        if on_board > 0 {
            assert!(on_board < rows as i64, "the import ended before the kill: make the file bigger");
            break;
        }
        assert!(Instant::now() < deadline, "no card imported");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop((imports, admin));
    process.kill_9();

    let restarted = ServiceProcess::start(dir.path());
    let mut imports = imports_on(connect(restarted.addr).await, admin_token.clone());
    let mut admin = restarted.prospects(Some(admin_token)).await;
    // Taken up again once the dead process's lease (30 s) runs out.
    let done = until(&mut imports, &draft.id, ImportState::Done, Duration::from_secs(300)).await;
    assert_eq!((done.done, done.created, done.skipped, done.invalid), (rows as i64, rows as i64, 0, 0));
    assert_eq!(total(&counts(&mut admin).await), rows as i64, "each row once on the board");
    // Each address once.
    for i in [0, rows / 2, rows - 1] {
        let found = admin
            .list_prospects(ListProspectsRequest { email: format!("lea{i}@example.com"), ..Default::default() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(found.prospects.len(), 1, "lea{i}");
    }
    drop((imports, admin));
    restarted.terminate();
}
