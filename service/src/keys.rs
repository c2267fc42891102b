//! The token secrets in force: the current one signs, the current and the
//! previous ones verify. A rotation swaps them without a restart.
//!
//! One rule for every verifier (the service, the edge, the authorizer
//! Lambda): the secrets that verify are exactly those Secrets Manager labels
//! `AWSCURRENT` and `AWSPREVIOUS`, as last read (every
//! `ASTRO_SECRET_REFRESH_SECS`). Nothing is remembered between two reads, so
//! every instance, old or newly started, agrees; and taking the
//! `AWSPREVIOUS` label off a leaked secret stops it verifying anywhere at the
//! next read (docs/deploy.md, "Emergency rotation").

use std::sync::{Arc, RwLock};

use astro_authorizer::{TokenIssuer, TokenSecret, TokenVerifier};

use crate::domain::page_token::PageTokens;

struct Keys {
    /// Current first, then the previous one.
    secrets: Vec<TokenSecret>,
    issuer: TokenIssuer,
    verifier: Arc<TokenVerifier>,
    pages: Arc<PageTokens>,
}

impl Keys {
    fn new(secrets: Vec<TokenSecret>) -> Self {
        let keys: Vec<&[u8]> = secrets.iter().map(TokenSecret::expose).collect();
        Self {
            issuer: TokenIssuer::new(&secrets[0]),
            verifier: Arc::new(TokenVerifier::new(&secrets)),
            pages: Arc::new(PageTokens::new(&keys)),
            secrets,
        }
    }
}

#[derive(Clone)]
pub struct KeyRing(Arc<RwLock<Keys>>);

impl KeyRing {
    pub fn new(current: TokenSecret) -> Self {
        Self(Arc::new(RwLock::new(Keys::new(vec![current]))))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Keys> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn issuer(&self) -> TokenIssuer {
        self.read().issuer.clone()
    }

    pub fn verifier(&self) -> Arc<TokenVerifier> {
        self.read().verifier.clone()
    }

    pub fn page_tokens(&self) -> Arc<PageTokens> {
        self.read().pages.clone()
    }

    /// Installs `current` and `previous`, as the secret store labels them,
    /// in place of what was there. Returns whether the current secret changed.
    pub fn rotate(&self, current: TokenSecret, previous: Option<TokenSecret>) -> bool {
        let mut keys = self.0.write().unwrap_or_else(|p| p.into_inner());
        let changed = keys.secrets[0].expose() != current.expose();
        let previous = previous.filter(|p| p.expose() != current.expose());
        *keys = Keys::new(std::iter::once(current).chain(previous).collect());
        changed
    }
}
