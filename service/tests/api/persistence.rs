//! Data survives a restart, and every acknowledged write survives `kill -9`.

use astro_proto::v1::{CreateProspectRequest, GetProspectRequest, ProspectStatus};

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_persists_across_a_graceful_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = ServiceProcess::start(dir.path());
    let mut client = first.prospects(Some(token(ADMIN_EMAIL, astro_authorizer::Role::Admin))).await;
    let created = create(&mut client, "Ada", "ada@example.com").await;
    drop(client);
    first.terminate();

    let second = ServiceProcess::start(dir.path());
    let mut client = second.prospects(Some(token(ADMIN_EMAIL, astro_authorizer::Role::Admin))).await;
    let read = client.get_prospect(GetProspectRequest { id: created.id.clone(), view: 0 }).await.unwrap().into_inner();
    assert_eq!(read, created);
    let page = list(&mut client, ProspectStatus::New, 10, "").await;
    assert_eq!(count(&page, ProspectStatus::New), 1);
    drop(client);
    second.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_create_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let process = ServiceProcess::start(dir.path());
    let client = process.prospects(Some(token("gateway@astro.internal", astro_authorizer::Role::Service))).await;
    // Concurrent writers, so acknowledged writes share group commits.
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let mut client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0..25 {
                let request = CreateProspectRequest {
                    prospect: Some(prospect(&format!("W{worker}N{i}"), &format!("w{worker}n{i}@example.com"))),
                    request_id: format!("w{worker}n{i}"),
                };
                // Like any gRPC client, retry UNAVAILABLE; the request id
                // makes the retry create nothing twice.
                let mut tries = 0;
                let created = loop {
                    match client.create_prospect(request.clone()).await {
                        Err(status) if status.code() == tonic::Code::Unavailable && tries < 5 => tries += 1,
                        other => break other.expect("create").into_inner(),
                    }
                };
                acknowledged.push(created.id);
            }
            acknowledged
        }));
    }
    let mut acknowledged = Vec::new();
    for task in tasks {
        acknowledged.extend(task.await.unwrap());
    }
    // Killed right after the last acknowledgement: no graceful shutdown.
    process.kill_9();

    let restarted = ServiceProcess::start(dir.path());
    let mut admin = restarted.prospects(Some(token(ADMIN_EMAIL, astro_authorizer::Role::Admin))).await;
    for id in &acknowledged {
        admin
            .get_prospect(GetProspectRequest { id: id.clone(), view: 0 })
            .await
            .expect("an acknowledged create survives");
    }
    let page = list(&mut admin, ProspectStatus::New, 1, "").await;
    assert_eq!(count(&page, ProspectStatus::New), acknowledged.len() as i64);
    drop(admin);
    restarted.terminate();
}

/// `astro-service backup` / `restore` with the data directory `dir`.
fn cli(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(binary())
        .args(args)
        .env_clear()
        .envs(store_env(dir))
        .env("ASTRO_JWT_SECRET", JWT_SECRET)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_during_a_submit_storm_restores_every_submission_acknowledged_before_it() {
    if on_dynamodb() {
        // The embedded store's file; DynamoDB has point-in-time recovery.
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let process = ServiceProcess::start(&data);
    let client = process.prospects(Some(token("gateway@astro.internal", astro_authorizer::Role::Service))).await;
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(std::time::Instant, String)>::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut storm = Vec::new();
    for worker in 0..8 {
        let (mut client, acknowledged, stop) = (client.clone(), acknowledged.clone(), stop.clone());
        storm.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let created =
                    create(&mut client, &format!("W{worker}N{i}"), &format!("w{worker}n{i}@example.com")).await;
                acknowledged.lock().unwrap().push((std::time::Instant::now(), created.id));
                i += 1;
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let copy = dir.path().join("backup.sqlite3");
    let began = std::time::Instant::now();
    let (backup_data, backup_to) = (data.clone(), copy.display().to_string());
    let made = tokio::task::spawn_blocking(move || cli(&backup_data, &["backup", &backup_to])).await.unwrap();
    assert!(made.status.success(), "backup: {}", String::from_utf8_lossy(&made.stderr));
    assert!(String::from_utf8_lossy(&made.stdout).contains("backed up"));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for worker in storm {
        worker.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    let before: Vec<String> = acknowledged.iter().filter(|(at, _)| *at < began).map(|(_, id)| id.clone()).collect();
    assert!(before.len() > 50 && acknowledged.len() > before.len(), "the storm ran before and during the backup");
    drop(client);
    process.kill_9();

    // Checked by another SQLite than ours.
    let script =
        "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('pragma integrity_check').fetchone()[0])";
    let integrity = std::process::Command::new("python3").args(["-c", script]).arg(&copy).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&integrity.stdout).trim(), "ok");
    let again = cli(&data, &["backup", &copy.display().to_string()]);
    assert!(!again.status.success(), "a backup never overwrites a file");

    let restored_dir = dir.path().join("restored");
    assert!(!cli(&data, &["restore", &copy.display().to_string()]).status.success(), "never over a store");
    let restored = cli(&restored_dir, &["restore", &copy.display().to_string()]);
    assert!(restored.status.success(), "restore: {}", String::from_utf8_lossy(&restored.stderr));
    let restarted = ServiceProcess::start(&restored_dir);
    let mut admin = restarted.prospects(Some(token(ADMIN_EMAIL, astro_authorizer::Role::Admin))).await;
    for id in &before {
        let read = admin.get_prospect(GetProspectRequest { id: id.clone(), view: 0 }).await;
        assert!(read.is_ok(), "a submission acknowledged before the backup began is in it: {id}");
    }
    let page = list(&mut admin, ProspectStatus::New, 1, "").await;
    let counted = count(&page, ProspectStatus::New) as usize;
    assert!((before.len()..=acknowledged.len() + 8).contains(&counted), "the counts are the cards': {counted}");
    drop(admin);
    restarted.terminate();
}
