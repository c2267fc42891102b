//! The captcha that guards the public form and the sign-ins past their
//! failed-sign-in budget, whichever provider is configured, and the rule that
//! a solved captcha is good for one use: a token seen before is refused,
//! unless it comes back with the same `Idempotency-Key` (a retry of the same
//! form submission).

pub mod pow;
pub mod siteverify;

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::secrets::SecretsManager;
use anyhow::Context as _;
use astro_proto::v1::SpentCaptcha;
use sha2::{Digest, Sha256};

use crate::{
    config::{CaptchaConfig, CaptchaProvider},
    store::Store,
};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CaptchaError {
    #[error("is required: solve the captcha and send its token")]
    Missing,
    #[error("must be at most {MAX_TOKEN} characters")]
    TooLong,
    #[error("{0}")]
    Invalid(String),
    #[error("has expired: solve a new captcha")]
    Expired,
    #[error("was already used: solve a new captcha")]
    Replayed,
    #[error("could not be checked right now: try again in a moment")]
    Unavailable,
}

/// What the provider said of an accepted token.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdict {
    pub score: Option<f64>,
    pub hostname: Option<String>,
}

/// Which captcha to show, and with what.
#[derive(Debug, Clone)]
pub struct Prompt {
    pub provider: CaptchaProvider,
    pub site_key: Option<String>,
    pub challenge: Option<pow::Challenge>,
}

impl Prompt {
    /// As `google.rpc.ErrorInfo` metadata: `provider`, `siteKey`, and the
    /// challenge's fields by their ALTCHA names.
    pub fn metadata(&self) -> std::collections::HashMap<String, String> {
        let mut out = std::collections::HashMap::from([("provider".to_owned(), self.provider.name().to_owned())]);
        if let Some(key) = &self.site_key {
            out.insert("siteKey".into(), key.clone());
        }
        if let Some(c) = &self.challenge {
            out.insert("algorithm".into(), c.algorithm.clone());
            out.insert("challenge".into(), c.challenge.clone());
            out.insert("maxnumber".into(), c.maxnumber.to_string());
            out.insert("salt".into(), c.salt.clone());
            out.insert("signature".into(), c.signature.clone());
        }
        out
    }

    /// Reads [`Prompt::metadata`] back (the gateway's REST answer, clients).
    pub fn from_metadata(metadata: &std::collections::HashMap<String, String>) -> Option<Prompt> {
        let provider = CaptchaProvider::from_name(metadata.get("provider")?)?;
        let text = |k: &str| metadata.get(k).cloned();
        let challenge = match (text("algorithm"), text("challenge"), text("salt"), text("signature")) {
            (Some(algorithm), Some(challenge), Some(salt), Some(signature)) => Some(pow::Challenge {
                algorithm,
                challenge,
                maxnumber: metadata.get("maxnumber")?.parse().ok()?,
                salt,
                signature,
            }),
            _ => None,
        };
        Some(Prompt { provider, site_key: text("siteKey"), challenge })
    }
}

enum Check {
    Off,
    Pow(pow::ProofOfWork),
    SiteVerify(siteverify::SiteVerify),
}

/// Tokens already accepted, by digest, with the idempotency key they came
/// with, until they could not be valid anyway.
struct Used {
    lifetime: Duration,
    entries: Mutex<UsedTokens>,
}

/// Token digest → (the idempotency key it came with, when to forget it).
type UsedTokens = HashMap<[u8; 32], (Option<String>, Instant)>;

/// The longest token accepted (provider tokens are ~2 KB; ours ~300 bytes).
pub const MAX_TOKEN: usize = 4096;

/// How long a provider's token is remembered (they live 2 to 5 minutes).
const PROVIDER_TOKEN_MEMORY: Duration = Duration::from_secs(15 * 60);

pub struct Captcha {
    provider: CaptchaProvider,
    site_key: Option<String>,
    action: String,
    check: Check,
    used: Used,
    /// Where solutions are spent for every instance (the service's store);
    /// without one (a gateway in front of a remote service), this process's
    /// memory only.
    store: Option<Arc<dyn Store>>,
}

impl Captcha {
    pub async fn from_config(config: &CaptchaConfig, store: Option<Arc<dyn Store>>) -> anyhow::Result<Self> {
        let secret = match &config.captcha_secret_id {
            Some(id) => Some(SecretsManager::from_environment().await.string(id).await?),
            None => config.captcha_secret.as_ref().map(|s| s.expose().to_owned()),
        };
        let check = match config.provider {
            CaptchaProvider::Off => {
                tracing::warn!(
                    "ASTRO_CAPTCHA=off: THE PUBLIC FORM HAS NO CAPTCHA. Development only: bots can fill the store."
                );
                Check::Off
            }
            CaptchaProvider::Pow => {
                let key = match secret {
                    Some(secret) => secret.into_bytes(),
                    None => rand::random::<[u8; 32]>().to_vec(),
                };
                Check::Pow(pow::ProofOfWork::new(
                    key,
                    config.pow_max_number,
                    Duration::from_secs(config.pow_expires_secs),
                ))
            }
            provider => {
                let secret = secret.filter(|s| !s.trim().is_empty()).with_context(|| {
                    format!(
                        "ASTRO_CAPTCHA={}: set ASTRO_CAPTCHA_SECRET or ASTRO_CAPTCHA_SECRET_ID to the provider's secret key",
                        provider.name()
                    )
                })?;
                Check::SiteVerify(siteverify::SiteVerify::new(config, secret)?)
            }
        };
        let lifetime = match &check {
            Check::Pow(p) => p.lifetime(),
            _ => PROVIDER_TOKEN_MEMORY,
        };
        Ok(Self {
            provider: config.provider,
            site_key: config.captcha_site_key.clone(),
            action: config.captcha_action.clone(),
            check,
            used: Used { lifetime, entries: Mutex::new(HashMap::new()) },
            store,
        })
    }

    pub fn provider(&self) -> CaptchaProvider {
        self.provider
    }

    pub fn site_key(&self) -> Option<&str> {
        self.site_key.as_deref()
    }

    /// The action the widget must report, for the providers that check one.
    pub fn action(&self) -> Option<&str> {
        matches!(self.provider, CaptchaProvider::RecaptchaV3 | CaptchaProvider::Turnstile)
            .then_some(self.action.as_str())
    }

    /// A fresh proof-of-work challenge, when that is the captcha in use.
    pub fn challenge(&self) -> Option<pow::Challenge> {
        match &self.check {
            Check::Pow(p) => Some(p.challenge()),
            _ => None,
        }
    }

    /// What a client needs to show the captcha: the provider, its site key,
    /// and for the proof of work a fresh challenge.
    pub fn prompt(&self) -> Prompt {
        Prompt { provider: self.provider, site_key: self.site_key.clone(), challenge: self.challenge() }
    }

    /// Checks `token` for one submission. `key` is the submission's
    /// idempotency key: a token accepted before is accepted again only with
    /// the same key.
    pub async fn verify(&self, token: &str, ip: IpAddr, key: Option<&str>) -> Result<Verdict, CaptchaError> {
        if let Check::Off = self.check {
            return Ok(Verdict::default());
        }
        let token = token.trim();
        if token.is_empty() {
            return Err(CaptchaError::Missing);
        }
        if token.len() > MAX_TOKEN {
            return Err(CaptchaError::TooLong);
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(same_submission) = self.used.seen(&digest, key) {
            return if same_submission { Ok(Verdict::default()) } else { Err(CaptchaError::Replayed) };
        }
        let verdict = match &self.check {
            Check::Off => Verdict::default(),
            Check::Pow(p) => p.verify(token).map(|()| Verdict::default())?,
            Check::SiteVerify(s) => s.verify(token, ip).await?,
        };
        // Two requests may have raced with one token: only the first (or its
        // own retries) may go on — in this process, then across instances.
        if !self.used.remember(digest, key) {
            return Err(CaptchaError::Replayed);
        }
        let Some(store) = &self.store else { return Ok(verdict) };
        let expires = std::time::SystemTime::now() + self.used.lifetime;
        let spent = SpentCaptcha {
            digest: hex::encode(digest),
            idempotency_key: key.unwrap_or_default().to_owned(),
            expires_at: Some(prost_types::Timestamp::from(expires)),
        };
        match store.spend_captcha(spent).await {
            Ok(None) => Ok(verdict),
            Ok(Some(first)) if key.is_some_and(|k| k == first) => Ok(verdict),
            Ok(Some(_)) => Err(CaptchaError::Replayed),
            Err(e) => {
                tracing::warn!(error = %e, "could not record a spent captcha: refusing it");
                Err(CaptchaError::Unavailable)
            }
        }
    }

    pub fn sweep(&self) {
        self.used.sweep();
    }
}

impl Used {
    fn entries(&self) -> std::sync::MutexGuard<'_, UsedTokens> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Some(same submission?)` when the token was seen before.
    fn seen(&self, digest: &[u8; 32], key: Option<&str>) -> Option<bool> {
        let entries = self.entries();
        let (first_key, until) = entries.get(digest)?;
        if Instant::now() >= *until {
            return None;
        }
        Some(key.is_some() && first_key.as_deref() == key)
    }

    /// Records a use; false when another submission used the token first.
    fn remember(&self, digest: [u8; 32], key: Option<&str>) -> bool {
        let now = Instant::now();
        let mut entries = self.entries();
        match entries.get(&digest) {
            Some((first_key, until)) if now < *until => key.is_some() && first_key.as_deref() == key,
            _ => {
                entries.insert(digest, (key.map(str::to_owned), now + self.lifetime));
                true
            }
        }
    }

    fn sweep(&self) {
        let now = Instant::now();
        self.entries().retain(|_, (_, until)| now < *until);
    }
}
