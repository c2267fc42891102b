//! The API Gateway REST TOKEN authorizer, as a Lambda (`provided.al2023`,
//! packaged as `bootstrap`).
//!
//! Environment: `ASTRO_JWT_SECRET_ID` (required), `ASTRO_DYNAMODB_TABLE`
//! (the table whose member records end sessions; without it only the token
//! is checked), `ASTRO_SECRET_REFRESH_SECS` (default 300), and the standard
//! AWS chain. The secret is fetched once per container at init and reread
//! when older than the refresh interval.

use std::time::Duration;

use astro_authorizer::{
    gateway::{AuthorizerResponse, TokenAuthorizerEvent, Unauthorized, policy, verify},
    members::MemberRecords,
    secrets::SecretCache,
    session,
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
    let members = match std::env::var("ASTRO_DYNAMODB_TABLE") {
        Ok(table) if !table.is_empty() => Some(MemberRecords::new(aws_sdk_dynamodb::Client::new(&shared), table)),
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
