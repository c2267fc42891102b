//! Moving an installation: `astro-service dump` writes every item as JSON
//! Lines, `astro-service load` reads them into an empty store. Embedded →
//! DynamoDB (moto) → embedded loses nothing: the first and last dumps are
//! the same items, and the restored service shows the same board.

use std::{collections::BTreeMap, path::Path, process::Command};

use astro_authorizer::Role;
use astro_proto::v1::{GetProspectRequest, ProspectStatus, UpdateProspectRequest};
use prost_types::FieldMask;

use crate::helpers::*;

/// `astro-service <args>` on the embedded store in `dir`, or on `table`.
fn cli(dir: &Path, table: Option<&str>, args: &[&str]) -> String {
    let mut command = Command::new(binary());
    command.args(args).env_clear().env("ASTRO_DATA_DIR", dir).env("ASTRO_JWT_SECRET", JWT_SECRET);
    if let Some(table) = table {
        command.env("ASTRO_STORE", "dynamodb").env("ASTRO_DYNAMODB_TABLE", table);
        command.envs(astro_testkit::moto::aws_env());
    }
    let out = command.output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A dump's items, each as canonical JSON, by entity.
fn items(path: &Path) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        let entity = value["entity"].as_str().unwrap().to_owned();
        out.entry(entity).or_default().push(value["item"].to_string());
    }
    out.values_mut().for_each(|v| v.sort());
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installation_moves_to_dynamodb_and_back_losing_nothing() {
    if on_dynamodb() {
        // It runs both stores itself.
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    let process = ServiceProcess::start(&source);
    let mut admin = process.prospects(Some(token(ADMIN_EMAIL, Role::Admin))).await;
    let first = create(&mut admin, "Ada", "ada@example.com").await;
    create(&mut admin, "Ada", "ada@example.com").await; // a duplicate
    let third = create(&mut admin, "Grace", "grace@example.com").await;
    let request = UpdateProspectRequest {
        prospect: Some(astro_proto::v1::Prospect {
            id: third.id.clone(),
            version: third.version,
            status: ProspectStatus::Won as i32,
            message: "Signed on the spot".into(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask { paths: vec!["status".into(), "message".into()] }),
    };
    admin.update_prospect(request).await.unwrap();
    let before = list(&mut admin, ProspectStatus::Unspecified, 50, "").await;
    drop(admin);
    process.terminate();

    let first_dump = dir.path().join("first.jsonl");
    let said = cli(&source, None, &["dump", first_dump.to_str().unwrap()]);
    assert!(said.starts_with("dumped "), "{said}");
    let original = items(&first_dump);
    for entity in ["Prospect", "ProspectEvent", "User", "BoardChange", "PipelineWeek"] {
        assert!(original.contains_key(entity), "the dump has {entity} items: {:?}", original.keys());
    }
    assert_eq!(original["Prospect"].len(), 3);

    // Into a new DynamoDB table, and out again.
    let client = astro_testkit::moto::dynamodb_client(None);
    let table = fresh_table(&client).await;
    cli(&source, Some(&table), &["load", first_dump.to_str().unwrap()]);
    let refused = Command::new(binary())
        .args(["load", first_dump.to_str().unwrap()])
        .env_clear()
        .env("ASTRO_DATA_DIR", &source)
        .env("ASTRO_JWT_SECRET", JWT_SECRET)
        .output()
        .unwrap();
    assert!(!refused.status.success(), "a load into a store that holds items is refused");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not empty"));
    let second_dump = dir.path().join("second.jsonl");
    cli(&source, Some(&table), &["dump", second_dump.to_str().unwrap()]);
    let mut on_dynamodb = items(&second_dump);
    let counters = on_dynamodb.remove("ProspectStatusCounter").expect("DynamoDB keeps column counters");
    assert_eq!(counters.len(), 2, "one per column with cards: {counters:?}");
    assert_eq!(on_dynamodb, original, "every item, field for field, through DynamoDB");

    // Back into an empty embedded store: the same items, the same board.
    let restored = dir.path().join("restored");
    cli(&restored, None, &["load", second_dump.to_str().unwrap()]);
    let third_dump = dir.path().join("third.jsonl");
    cli(&restored, None, &["dump", third_dump.to_str().unwrap()]);
    assert_eq!(items(&third_dump), original);
    let process = ServiceProcess::start(&restored);
    let mut admin = process.prospects(Some(token(ADMIN_EMAIL, Role::Admin))).await;
    let after = list(&mut admin, ProspectStatus::Unspecified, 50, "").await;
    assert_eq!(after.prospects, before.prospects);
    assert_eq!(after.status_counts, before.status_counts);
    let read = admin.get_prospect(GetProspectRequest { id: first.id.clone(), view: 2 }).await.unwrap().into_inner();
    assert_eq!(read.events.len(), 1);
    drop(admin);
    process.terminate();
}
