//! The board as a spreadsheet: `ExportProspects` streams CSV that Python's
//! `csv` reads back cell for cell, with formulas neutralised, a column of
//! more than one page whole, and the roles of the permission table.

use astro_authorizer::Role;
use astro_proto::v1::{
    Budget, ExportProspectsRequest, ListProspectsRequest, Prospect, ProspectStatus, Timeline, UpdateProspectRequest,
};
use prost_types::FieldMask;
use tonic::Code;

use crate::helpers::*;

/// The file an export streams, and how many messages carried it.
pub async fn export(
    client: &mut Prospects,
    request: ExportProspectsRequest,
) -> Result<(Vec<u8>, usize), tonic::Status> {
    let mut stream = client.export_prospects(request).await?.into_inner();
    let (mut file, mut messages, mut rows) = (Vec::new(), 0, 0);
    while let Some(chunk) = stream.message().await? {
        file.extend_from_slice(&chunk.data);
        messages += 1;
        assert!(chunk.rows >= rows, "rows only grow");
        rows = chunk.rows;
    }
    Ok((file, messages))
}

/// The file as Python's `csv` module reads it.
fn python_rows(file: &[u8], encoding: &str, separator: &str) -> Vec<Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.csv");
    std::fs::write(&path, file).unwrap();
    let script = "import csv, json, sys\n\
        with open(sys.argv[1], newline='', encoding=sys.argv[2]) as f:\n\
        \x20   print(json.dumps(list(csv.reader(f, delimiter=sys.argv[3], strict=True))))";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&path)
        .args([encoding, separator])
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "python's csv refused the file: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn column(rows: &[Vec<String>], name: &str) -> Vec<String> {
    let at = rows[0].iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name} in {:?}", rows[0]));
    rows[1..].iter().map(|r| r[at].clone()).collect()
}

fn whole_column(status: ProspectStatus) -> Option<ListProspectsRequest> {
    Some(ListProspectsRequest { status: status as i32, ..Default::default() })
}

#[tokio::test]
async fn an_export_is_every_card_selected_as_a_spreadsheet_reads_it() {
    let app = spawn_app().await;
    let mut admin = app.admin().await;
    let mut new_ids = Vec::new();
    // More than one page (200) in NEW.
    for i in 0..204 {
        new_ids.push(create(&mut admin, &format!("Card{i:03}"), &format!("c{i}@example.com")).await.id);
    }
    // Cells a spreadsheet would run as formulas.
    let hostile = Prospect {
        first_name: "=HYPERLINK(\"http://evil.example\",\"Ada\")".into(),
        last_name: "-2+3".into(),
        company: "@SUM(A1:A9)".into(),
        phone: "+33 6 12 34 56 78".into(),
        message: "Line one;\n\"quoted\", and a comma".into(),
        budget: Budget::Over50k as i32,
        timeline: Timeline::Immediate as i32,
        ..prospect("x", "hostile@example.com")
    };
    let hostile = admin
        .create_prospect(astro_proto::v1::CreateProspectRequest { prospect: Some(hostile), request_id: String::new() })
        .await
        .unwrap()
        .into_inner();
    new_ids.push(hostile.id.clone());
    // One card in another column.
    let moved = create(&mut admin, "Moved", "moved@example.com").await;
    let update = UpdateProspectRequest {
        prospect: Some(Prospect {
            id: moved.id.clone(),
            version: moved.version,
            status: ProspectStatus::Won as i32,
            ..Default::default()
        }),
        update_mask: Some(FieldMask { paths: vec!["status".into()] }),
    };
    admin.update_prospect(update).await.unwrap();

    // The NEW column, for a French spreadsheet: `;`, a byte order mark.
    let request = ExportProspectsRequest {
        filter: whole_column(ProspectStatus::New),
        separator: ";".into(),
        byte_order_mark: true,
        language: "fr".into(),
    };
    let (file, messages) = export(&mut admin, request).await.unwrap();
    assert!(file.starts_with("\u{feff}".as_bytes()), "the file starts with the byte order mark");
    assert!(messages >= 2, "a column of more than a page comes in more than one message");
    assert_eq!(file.windows(2).filter(|w| w == b"\r\n").count(), 206, "each row ends in CRLF");
    let rows = python_rows(&file, "utf-8-sig", ";");
    assert_eq!(rows[0][..4], ["Identifiant", "Créé le", "Statut", "Prénom"]);
    assert_eq!(rows.len(), 1 + 205, "the header and every NEW card");
    let mut ids = column(&rows, "Identifiant");
    ids.sort();
    new_ids.sort();
    assert_eq!(ids, new_ids, "every card of the column, once");
    assert!(column(&rows, "Statut").iter().all(|s| s == "Nouveau"));
    let row = rows.iter().find(|r| r[0] == hostile.id).unwrap();
    let cell = |name: &str| row[rows[0].iter().position(|h| h == name).unwrap()].clone();
    assert_eq!(cell("Prénom"), "'=HYPERLINK(\"http://evil.example\",\"Ada\")");
    assert_eq!(cell("Nom"), "'-2+3");
    assert_eq!(cell("Entreprise"), "'@SUM(A1:A9)");
    assert_eq!(cell("Téléphone"), "'+33 6 12 34 56 78");
    assert_eq!(cell("Message"), "Line one;\n\"quoted\", and a comma");
    assert_eq!(cell("Budget"), "Plus de 50 k€");
    assert_eq!(cell("Échéance"), "Dès que possible");
    assert_eq!(cell("Consentement"), "Oui");
    let created = cell("Créé le");
    assert!(
        created.len() == 20 && created.ends_with('Z') && created.as_bytes()[10] == b'T',
        "ISO 8601 in UTC: {created}"
    );

    // Everything, with the defaults: `,`, no mark, English; column by column.
    let request = ExportProspectsRequest::default();
    let (file, _) = export(&mut admin, request).await.unwrap();
    assert!(file.starts_with(b"\"Id\","), "no byte order mark, English headers");
    let rows = python_rows(&file, "utf-8", ",");
    assert_eq!(rows.len(), 1 + 206);
    let statuses = column(&rows, "Status");
    assert_eq!(statuses.iter().filter(|s| *s == "New").count(), 205);
    assert_eq!(statuses.last().map(String::as_str), Some("Won"), "columns in board order");
    assert_eq!(column(&rows, "Budget").iter().filter(|b| *b == "Over €50k").count(), 1);

    // A search exports what the board shows for it.
    let search = ExportProspectsRequest {
        filter: Some(ListProspectsRequest { query: "moved".into(), ..Default::default() }),
        ..Default::default()
    };
    let rows = python_rows(&export(&mut admin, search).await.unwrap().0, "utf-8", ",");
    assert_eq!(column(&rows, "Id"), std::slice::from_ref(&moved.id));

    // Nothing selected: the header row alone.
    let none = ExportProspectsRequest { filter: whole_column(ProspectStatus::Lost), ..Default::default() };
    let rows = python_rows(&export(&mut admin, none).await.unwrap().0, "utf-8", ",");
    assert_eq!(rows.len(), 1);
}

#[tokio::test]
async fn export_follows_the_roles_table_and_names_bad_options() {
    let app = spawn_app().await;
    let card = create(&mut app.admin().await, "Ada", "ada@example.com").await;
    app.add_member("vera@example.com", "a long team password", Role::Viewer).await;
    let mut viewer = app.prospects_with(Some(token("vera@example.com", Role::Viewer))).await;
    let (file, _) = export(&mut viewer, ExportProspectsRequest::default()).await.expect("a viewer may export");
    assert!(String::from_utf8(file).unwrap().contains(&card.id));
    assert_code(export(&mut app.service().await, ExportProspectsRequest::default()).await, Code::PermissionDenied);
    assert_code(export(&mut app.anonymous().await, ExportProspectsRequest::default()).await, Code::Unauthenticated);

    let mut admin = app.admin().await;
    let bad = ExportProspectsRequest {
        filter: Some(ListProspectsRequest { page_size: 10, status: 42, ..Default::default() }),
        separator: "|".into(),
        language: "de".into(),
        ..Default::default()
    };
    let status = assert_code(export(&mut admin, bad).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["separator", "language", "filter.page_size"]);
    let bad = ExportProspectsRequest {
        filter: Some(ListProspectsRequest { status: 42, ..Default::default() }),
        ..Default::default()
    };
    let status = assert_code(export(&mut admin, bad).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["filter.status"]);
}
