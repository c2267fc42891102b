//! The API Gateway REST TOKEN authorizer, as a Lambda (`provided.al2023`,
//! packaged as `bootstrap`).
//!
//! Environment: `ASTRO_JWT_SECRET_ID` (required), `ASTRO_SECRET_REFRESH_SECS`
//! (default 300), and the standard AWS chain. The secret is fetched once per
//! container at init and reread when older than the refresh interval.

use std::time::Duration;

use astro_authorizer::{
    gateway::{AuthorizerResponse, TokenAuthorizerEvent, authorize},
    secrets::SecretCache,
};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().json().with_target(false).without_time().init();
    let id = std::env::var("ASTRO_JWT_SECRET_ID").map_err(|_| "ASTRO_JWT_SECRET_ID is required")?;
    let refresh = std::env::var("ASTRO_SECRET_REFRESH_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let cache =
        SecretCache::load(aws_sdk_secretsmanager::Client::new(&shared), id, Duration::from_secs(refresh)).await?;
    let cache = &cache;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<TokenAuthorizerEvent>| async move {
        let verifier = cache.verifier().await;
        let decision: Result<AuthorizerResponse, Error> = authorize(&event.payload, &verifier).map_err(Error::from);
        if let Ok(response) = &decision {
            tracing::info!(principal = %response.principal_id, role = %response.context.role, "authorized");
        }
        decision
    }))
    .await
}
