//! The token secret from AWS Secrets Manager (`ASTRO_JWT_SECRET_ID`, the
//! seed's `astro-qualif/jwt-secret-<stage>`): the `AWSCURRENT` value signs
//! and verifies, the `AWSPREVIOUS` one still verifies, so a rotation never
//! invalidates the tokens already issued — and nothing else verifies. The
//! service and the edge read the same two labels with [`token_secrets`], so
//! the three always agree; taking `AWSPREVIOUS` off a leaked secret stops it
//! everywhere at the next read (docs/deploy.md, "Emergency rotation").

use std::{
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use aws_sdk_secretsmanager::{Client, error::DisplayErrorContext};

use crate::{TokenSecret, TokenVerifier};

async fn stage(client: &Client, id: &str, stage: &str) -> Result<Option<String>, String> {
    match client.get_secret_value().secret_id(id).version_stage(stage).send().await {
        Ok(out) => Ok(out.secret_string),
        Err(e)
            if stage != "AWSCURRENT" && e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(format!("reading secret {id} ({stage}): {}", DisplayErrorContext(e))),
    }
}

/// The current secret and the previous one, if the secret was ever rotated.
pub async fn token_secrets(client: &Client, id: &str) -> Result<(TokenSecret, Option<TokenSecret>), String> {
    // Both at once: a cold start waits for one round trip, not two.
    let (current, previous) = tokio::join!(stage(client, id, "AWSCURRENT"), stage(client, id, "AWSPREVIOUS"));
    let current = current?.ok_or_else(|| format!("secret {id} has no string value"))?;
    let current = TokenSecret::new(current.into_bytes()).map_err(|e| format!("secret {id}: {e}"))?;
    let previous = previous?.and_then(|p| TokenSecret::new(p.into_bytes()).ok());
    Ok((current, previous))
}

/// A verifier over the secret, fetched once and refreshed lazily: a Lambda
/// container is frozen between invocations, so the check happens on use.
pub struct SecretCache {
    client: Client,
    id: String,
    refresh: Duration,
    state: RwLock<(Arc<TokenVerifier>, Instant)>,
}

impl SecretCache {
    pub async fn load(client: Client, id: String, refresh: Duration) -> Result<Self, String> {
        let verifier = Self::fetch(&client, &id).await?;
        Ok(Self { client, id, refresh, state: RwLock::new((verifier, Instant::now())) })
    }

    async fn fetch(client: &Client, id: &str) -> Result<Arc<TokenVerifier>, String> {
        let (current, previous) = token_secrets(client, id).await?;
        let secrets: Vec<TokenSecret> = std::iter::once(current).chain(previous).collect();
        Ok(Arc::new(TokenVerifier::new(&secrets)))
    }

    /// The verifier, reread first if older than the refresh interval (a
    /// failed reread keeps the one in memory).
    pub async fn verifier(&self) -> Arc<TokenVerifier> {
        let (verifier, fetched) = self.state.read().map(|s| s.clone()).unwrap_or_else(|p| p.into_inner().clone());
        if fetched.elapsed() < self.refresh {
            return verifier;
        }
        match Self::fetch(&self.client, &self.id).await {
            Ok(fresh) => {
                *self.state.write().unwrap_or_else(|p| p.into_inner()) = (fresh.clone(), Instant::now());
                fresh
            }
            Err(e) => {
                tracing::warn!(secret_id = %self.id, error = %e, "could not refresh the token secret; keeping the one in memory");
                verifier
            }
        }
    }
}
