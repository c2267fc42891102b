//! The token secrets in force: the current one signs, the current and the
//! previous ones verify. A rotation swaps them without a restart; tokens
//! signed with a previous secret keep working until they expire.

use std::sync::{Arc, RwLock};

use astro_authorizer::{TOKEN_LIFETIME, TokenIssuer, TokenSecret, TokenVerifier};

use crate::domain::page_token::PageTokens;

struct Keys {
    /// Current first, then the previous ones with when they were retired.
    secrets: Vec<(TokenSecret, Option<std::time::Instant>)>,
    issuer: TokenIssuer,
    verifier: Arc<TokenVerifier>,
    pages: Arc<PageTokens>,
}

impl Keys {
    fn new(secrets: Vec<(TokenSecret, Option<std::time::Instant>)>) -> Self {
        let plain: Vec<TokenSecret> = secrets.iter().map(|(s, _)| s.clone()).collect();
        let keys: Vec<&[u8]> = plain.iter().map(TokenSecret::expose).collect();
        Self {
            issuer: TokenIssuer::new(&plain[0]),
            verifier: Arc::new(TokenVerifier::new(&plain)),
            pages: Arc::new(PageTokens::new(&keys)),
            secrets,
        }
    }
}

#[derive(Clone)]
pub struct KeyRing(Arc<RwLock<Keys>>);

impl KeyRing {
    pub fn new(current: TokenSecret) -> Self {
        Self(Arc::new(RwLock::new(Keys::new(vec![(current, None)]))))
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

    /// Installs `current` (and `previous`, as the secret store reports it).
    /// Returns whether the current secret changed. Secrets retired longer
    /// than a token's lifetime ago are forgotten.
    pub fn rotate(&self, current: TokenSecret, previous: Option<TokenSecret>) -> bool {
        let mut keys = self.0.write().unwrap_or_else(|p| p.into_inner());
        let now = std::time::Instant::now();
        let same = |a: &TokenSecret, b: &TokenSecret| a.expose() == b.expose();
        let changed = !same(&keys.secrets[0].0, &current);
        // The old current secret is retired now; the store's previous one too
        // if we had not seen it before.
        let mut candidates = keys.secrets.clone();
        candidates.extend(previous.map(|p| (p, None)));
        let mut next = vec![(current, None)];
        for (secret, retired) in candidates {
            if next.iter().any(|(s, _)| same(s, &secret)) {
                continue;
            }
            let retired = retired.unwrap_or(now);
            if now.duration_since(retired) <= TOKEN_LIFETIME {
                next.push((secret, Some(retired)));
            }
        }
        *keys = Keys::new(next);
        changed
    }
}
