//! The token secret in Secrets Manager (moto) and its rotations, seen by
//! every verifier at once: the service, the edge in front of it (two built
//! binaries, as two containers) and the authorizer Lambda's cache. One rule
//! for all: what `AWSCURRENT` and `AWSPREVIOUS` label verifies, nothing else.

use std::time::{Duration, Instant};

use astro_authorizer::{Role, TokenIssuer, TokenSecret, secrets::SecretCache};
use astro_proto::v1::{ListProspectsRequest, ListProspectsResponse, prospect_service_client::ProspectServiceClient};
use aws_sdk_secretsmanager::Client;

use crate::helpers::*;

fn value(fill: char) -> String {
    std::iter::repeat_n(fill, 48).collect()
}

fn signed_by(fill: char) -> String {
    TokenIssuer::new(&TokenSecret::new(value(fill).into_bytes()).unwrap())
        .issue(ADMIN_EMAIL, Role::Admin, now())
        .unwrap()
        .0
}

/// Every verifier of the deployment.
struct Verifiers {
    service: GatewayProcess,
    edge: GatewayProcess,
    lambda: SecretCache,
}

impl Verifiers {
    /// Whether `token` is accepted by each: the service over native gRPC,
    /// the REST API and gRPC-web through the edge, the Lambda.
    async fn accepts(&self, token: &str) -> [bool; 4] {
        let mut native =
            ProspectServiceClient::connect(format!("http://{}", self.service.grpc.unwrap())).await.unwrap();
        let mut request = tonic::Request::new(ListProspectsRequest::default());
        request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        let native = native.list_prospects(request).await.is_ok();
        let rest = self.edge.http().get(self.edge.url("/prospects")).bearer_auth(token).send().await.unwrap();
        let auth = format!("Bearer {token}");
        let grpc_web = grpc_web::<ListProspectsResponse>(
            &self.edge,
            "/astro.v1.ProspectService/ListProspects",
            &ListProspectsRequest::default(),
            &[("authorization", &auth)],
        )
        .await;
        let lambda = self.lambda.verifier().await.verify(token).is_ok();
        [native, rest.status() == 200, grpc_web.is_ok(), lambda]
    }

    /// Waits (at most a few refresh intervals) until every verifier gives
    /// `expected` for `token`.
    async fn until(&self, token: &str, expected: bool, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let seen = self.accepts(token).await;
            if seen == [expected; 4] {
                return;
            }
            assert!(Instant::now() < deadline, "{what}: [service, REST edge, gRPC-web edge, Lambda] = {seen:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

async fn rotate(client: &Client, id: &str, fill: char) -> String {
    let out = client.put_secret_value().secret_id(id).secret_string(value(fill)).send().await.unwrap();
    out.version_id.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotations_and_an_emergency_rotation_reach_the_service_the_edge_and_the_lambda_without_a_restart() {
    let client = astro_testkit::moto::secrets_client(None);
    let id = format!("astro-qualif/jwt-secret-{}", uuid::Uuid::new_v4().simple());
    let first = client.create_secret().name(&id).secret_string(value('a')).send().await.unwrap().version_id.unwrap();

    let mut env = astro_testkit::moto::aws_env();
    env.extend([("ASTRO_JWT_SECRET_ID", id.clone()), ("ASTRO_SECRET_REFRESH_SECS", "1".to_owned())]);
    let start =
        |env: &[(&str, String)]| GatewayProcess::start(&env.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>());
    let service = start(&env);
    env.push(("ASTRO_SERVICE_URL", format!("http://{}", service.grpc.unwrap())));
    let edge = start(&env);
    let lambda = SecretCache::load(client.clone(), id.clone(), Duration::from_secs(1)).await.unwrap();
    let pids = (service.child.id(), edge.child.id());
    let all = Verifiers { service, edge, lambda };

    let (a, b, c, d) = (signed_by('a'), signed_by('b'), signed_by('c'), signed_by('d'));
    assert_eq!(all.accepts(&a).await, [true; 4], "the secret in force verifies everywhere");
    assert_eq!(all.accepts(&b).await, [false; 4], "a secret not yet in Secrets Manager verifies nowhere");

    // A scheduled rotation: new tokens use b, a's tokens keep working.
    rotate(&client, &id, 'b').await;
    all.until(&b, true, "the new secret").await;
    assert_eq!(all.accepts(&a).await, [true; 4], "AWSPREVIOUS still verifies");

    // Another: a is neither AWSCURRENT nor AWSPREVIOUS, and verifies nowhere.
    let third = rotate(&client, &id, 'c').await;
    all.until(&c, true, "the third secret").await;
    all.until(&a, false, "a secret two rotations old").await;
    assert_eq!(all.accepts(&b).await, [true; 4]);

    // Emergency: c leaked. A new secret, then AWSPREVIOUS off the leaked one.
    rotate(&client, &id, 'd').await;
    client
        .update_secret_version_stage()
        .secret_id(&id)
        .version_stage("AWSPREVIOUS")
        .remove_from_version_id(&third)
        .send()
        .await
        .unwrap();
    all.until(&c, false, "the leaked secret").await;
    assert_eq!(all.accepts(&d).await, [true; 4], "the new secret verifies");
    assert_eq!(all.accepts(&b).await, [false; 4]);
    assert_ne!(first, third);
    assert_eq!((all.service.child.id(), all.edge.child.id()), pids, "no restart");
    for process in [&all.service, &all.edge] {
        let logs = process.logs.lock().unwrap();
        assert!(
            !logs.iter().any(|l| ['a', 'b', 'c', 'd'].iter().any(|f| l.contains(&value(*f)))),
            "a secret in the logs"
        );
    }
}
