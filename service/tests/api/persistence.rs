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
