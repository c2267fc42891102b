//! The API Gateway REST TOKEN authorizer, as a Lambda (`provided.al2023`,
//! packaged as `bootstrap`).
//!
//! Environment: `ASTRO_JWT_SECRET_ID` (required), `ASTRO_DYNAMODB_TABLE`
//! (the table whose member records end sessions; without it only the token
//! is checked), `ASTRO_SECRET_REFRESH_SECS` (default 300), and what Lambda
//! gives every function: `AWS_REGION` and the execution role's credentials
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`);
//! `AWS_ENDPOINT_URL` points both clients elsewhere (the tests' moto). No
//! credential chain to walk, no config file to read: the clients are made
//! from these at once. The secret is fetched once per container at init
//! and reread when older than the refresh interval.

use std::time::Duration;

use astro_authorizer::{
    gateway::{AuthorizerResponse, TokenAuthorizerEvent, Unauthorized, policy, verify},
    members::MemberRecords,
    secrets::SecretCache,
    session,
};
use lambda_runtime::{Error, LambdaEvent, service_fn};

/// What both clients are made of: the function's region, credentials and
/// one HTTP client (rustls with ring, the system's roots).
struct Aws {
    region: aws_sdk_secretsmanager::config::Region,
    credentials: aws_credential_types::Credentials,
    http: aws_sdk_secretsmanager::config::SharedHttpClient,
    endpoint: Option<String>,
}

impl Aws {
    fn from_env() -> Result<Self, Error> {
        use aws_smithy_http_client::tls;
        let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is required (Lambda sets it)"));
        let credentials = aws_credential_types::Credentials::new(
            var("AWS_ACCESS_KEY_ID")?,
            var("AWS_SECRET_ACCESS_KEY")?,
            std::env::var("AWS_SESSION_TOKEN").ok(),
            None,
            "lambda-environment",
        );
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
            .build_https();
        Ok(Self {
            region: aws_sdk_secretsmanager::config::Region::new(var("AWS_REGION")?),
            credentials,
            http,
            endpoint: std::env::var("AWS_ENDPOINT_URL").ok().filter(|e| !e.is_empty()),
        })
    }

    fn secrets(&self) -> aws_sdk_secretsmanager::Client {
        let mut config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
            .region(self.region.clone())
            .credentials_provider(self.credentials.clone())
            .http_client(self.http.clone());
        config.set_endpoint_url(self.endpoint.clone());
        aws_sdk_secretsmanager::Client::from_conf(config.build())
    }

    fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        let mut config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(self.region.clone())
            .credentials_provider(self.credentials.clone())
            .http_client(self.http.clone());
        config.set_endpoint_url(self.endpoint.clone());
        aws_sdk_dynamodb::Client::from_conf(config.build())
    }
}

// One event at a time: one thread, no worker pool to start.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().json().with_target(false).without_time().init();
    let id = std::env::var("ASTRO_JWT_SECRET_ID").map_err(|_| "ASTRO_JWT_SECRET_ID is required")?;
    let refresh = std::env::var("ASTRO_SECRET_REFRESH_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let aws = Aws::from_env()?;
    let cache = SecretCache::load(aws.secrets(), id, Duration::from_secs(refresh)).await?;
    let members = match std::env::var("ASTRO_DYNAMODB_TABLE") {
        Ok(table) if !table.is_empty() => Some(MemberRecords::new(aws.dynamodb(), table)),
        _ => {
            tracing::warn!("ASTRO_DYNAMODB_TABLE is not set: sessions of deactivated members are not ended here");
            None
        }
    };
    let (cache, members) = (&cache, &members);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<TokenAuthorizerEvent>| async move {
        let verifier = cache.verifier().await;
        let claims = verify(&event.payload, &verifier)?;
        if let Some(members) = members {
            // A failed read is an error (API Gateway answers 500), never a pass.
            let member = members.get(&claims.email).await.map_err(Error::from)?;
            if let Err(ended) = session::check(&claims, member.as_ref()) {
                tracing::info!(principal = %claims.email, reason = %ended, "session ended");
                return Err(Error::from(Unauthorized));
            }
        }
        let response: AuthorizerResponse = policy(&event.payload, claims)?;
        tracing::info!(principal = %response.principal_id, role = %response.context.role, "authorized");
        Ok::<_, Error>(response)
    }))
    .await
}
