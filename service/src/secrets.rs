//! Secrets from AWS Secrets Manager: the token secret (`ASTRO_JWT_SECRET_ID`,
//! the seed's `astro-qualif/jwt-secret-<stage>`) and the bootstrap admin
//! (`ASTRO_ADMIN_SECRET_ID`, `astro-qualif/admin-credentials-<stage>`).
//!
//! Read once at start and kept in memory; the token secret is read again
//! every refresh interval, so a rotation takes effect without a restart while
//! the previous secret (`AWSPREVIOUS`) keeps verifying the tokens it signed
//! (the rule is in `keys`).

use std::{fmt, time::Duration};

use anyhow::Context as _;
use astro_authorizer::TokenSecret;
use aws_sdk_secretsmanager::Client;
use serde::Deserialize;

use crate::keys::KeyRing;

#[derive(Clone)]
pub struct SecretsManager {
    client: Client,
}

/// The bootstrap admin, as the seed's admin-credentials secret holds it:
/// `{"email": "...", "password": "..."}`.
#[derive(Deserialize)]
pub struct AdminCredentials {
    pub email: String,
    pub password: String,
}

impl fmt::Debug for AdminCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminCredentials").field("email", &self.email).field("password", &"<redacted>").finish()
    }
}

impl SecretsManager {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// A client configured by the standard AWS chain.
    pub async fn from_environment() -> Self {
        let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::new(Client::new(&shared))
    }

    /// The token secret now in force and the previous one, if any.
    pub async fn token_secrets(&self, id: &str) -> anyhow::Result<(TokenSecret, Option<TokenSecret>)> {
        astro_authorizer::secrets::token_secrets(&self.client, id).await.map_err(anyhow::Error::msg)
    }

    pub async fn admin_credentials(&self, id: &str) -> anyhow::Result<AdminCredentials> {
        let text = self.string(id).await?;
        serde_json::from_str(&text).with_context(|| format!("secret {id}: expected {{\"email\": …, \"password\": …}}"))
    }

    /// The current string value of a secret (e.g. the captcha provider's
    /// secret, `astro-qualif/recaptcha-secret-<stage>`).
    pub async fn string(&self, id: &str) -> anyhow::Result<String> {
        let out = self.client.get_secret_value().secret_id(id).send().await.map_err(|e| {
            anyhow::anyhow!("reading secret {id}: {}", aws_sdk_secretsmanager::error::DisplayErrorContext(e))
        })?;
        out.secret_string.with_context(|| format!("secret {id} has no string value"))
    }

    /// A key ring with the secret's current and previous values.
    pub async fn key_ring(&self, id: &str) -> anyhow::Result<KeyRing> {
        let (current, previous) = self.token_secrets(id).await?;
        let ring = KeyRing::new(current.clone());
        ring.rotate(current, previous);
        Ok(ring)
    }

    /// Rereads the token secret every `interval` into `ring`, in the background.
    pub fn keep_fresh(&self, id: String, ring: KeyRing, interval: Duration) -> tokio::task::JoinHandle<()> {
        let source = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                match source.token_secrets(&id).await {
                    Ok((current, previous)) => {
                        if ring.rotate(current, previous) {
                            tracing::info!(secret_id = %id, "token secret rotated: new tokens use the new secret");
                        }
                    }
                    Err(e) => {
                        tracing::warn!(secret_id = %id, error = %e, "could not refresh the token secret; keeping the one in memory")
                    }
                }
            }
        })
    }
}
