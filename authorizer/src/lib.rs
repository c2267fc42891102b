//! Access tokens of Astro Qualif.
//!
//! A token is an HS256 JWT carrying exactly `{email, role, iat, exp}` with
//! `exp = iat + 24h`. Verification is pinned to HS256 and requires `exp`: a
//! token with another algorithm (`none` included), a bad signature, a missing
//! or past `exp`, or claims of another shape is refused.
//!
//! The same code guards the service, the local edge and the API Gateway
//! authorizer Lambda, so the three can never disagree on what a valid token is.

pub mod gateway;
#[cfg(feature = "aws")]
pub mod members;
pub mod policy;
#[cfg(feature = "aws")]
pub mod secrets;
pub mod session;

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

/// How long an issued token is valid.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// Shortest secret accepted: HS256 wants at least the hash size.
pub const MIN_SECRET_BYTES: usize = 32;

/// What a caller may do: declared in the contract (`astro.access.v1.Role`),
/// written in a token's `role` claim as its lower-cased name (`"sales"`).
pub use astro_proto::access::Role;

/// The `role` claim: a role's lower-cased name; anything else is refused.
mod role_claim {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    use super::Role;

    pub fn serialize<S: Serializer>(role: &Role, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(role.claim())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Role, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Role::from_claim(&text).ok_or_else(|| D::Error::custom(format!("unknown role {text:?}")))
    }
}

/// The claims of an access token, exactly the seed's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    pub email: String,
    #[serde(with = "role_claim")]
    pub role: Role,
    /// Issued at, seconds since the Unix epoch.
    pub iat: i64,
    /// Expires at, seconds since the Unix epoch.
    pub exp: i64,
}

/// The HMAC key tokens are signed with. Never printed.
#[derive(Clone)]
pub struct TokenSecret(Vec<u8>);

impl TokenSecret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, TokenError> {
        let bytes = bytes.into();
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(TokenError::WeakSecret);
        }
        Ok(Self(bytes))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSecret(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// The token is missing, malformed, badly signed, expired or of another
    /// shape. Deliberately one variant: callers learn nothing about why.
    #[error("invalid or expired token")]
    Invalid,
    #[error("the token secret must be at least {MIN_SECRET_BYTES} bytes")]
    WeakSecret,
    #[error("could not sign the token")]
    Signing,
}

/// Tokens one verifier remembers having verified, at most.
const VERIFIED_TOKENS: usize = 1024;

/// Verifies tokens. Holds the current secret and, during a rotation, the
/// previous ones, so tokens signed before the rotation keep working until
/// they expire.
///
/// A token verified once verifies the same way until it expires (nothing in
/// it but `exp` depends on the time), so the verifier remembers the claims
/// of the tokens it accepted, by their exact text, and answers a repeat
/// (a session's every call, the gateway's own token) without the HMAC and
/// the JSON. Only accepted tokens are remembered, a remembered one only
/// while `exp` is ahead (no leeway), and a verifier is made anew with its
/// secrets at every rotation, so the memory never outlives a secret.
#[derive(Clone)]
pub struct TokenVerifier {
    keys: Vec<DecodingKey>,
    validation: Validation,
    verified: Arc<Mutex<HashMap<String, Claims>>>,
}

impl TokenVerifier {
    /// `secrets[0]` is the current secret; the others are still accepted.
    pub fn new(secrets: &[TokenSecret]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.validate_exp = true;
        validation.leeway = 30;
        validation.set_required_spec_claims(&["exp"]);
        Self {
            keys: secrets.iter().map(|s| DecodingKey::from_secret(s.expose())).collect(),
            validation,
            verified: Arc::default(),
        }
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let now = unix_now();
        let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(claims) = verified.get(token).filter(|c| c.exp > now) {
            return Ok(claims.clone());
        }
        drop(verified);
        let claims = self
            .keys
            .iter()
            .find_map(|key| decode::<Claims>(token, key, &self.validation).ok())
            .ok_or(TokenError::Invalid)?
            .claims;
        if claims.exp <= now {
            // Accepted within the leeway: not worth remembering.
            return Ok(claims);
        }
        verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if verified.len() >= VERIFIED_TOKENS {
            verified.retain(|_, c| c.exp > now);
            if verified.len() >= VERIFIED_TOKENS {
                verified.clear();
            }
        }
        verified.insert(token.to_owned(), claims.clone());
        Ok(claims)
    }

    /// Verifies the value of an `Authorization: Bearer <token>` header.
    pub fn verify_bearer(&self, header: &str) -> Result<Claims, TokenError> {
        self.verify(bearer_token(header).ok_or(TokenError::Invalid)?)
    }

    /// The caller behind an `Authorization` header, when its token is valid
    /// and its role one of `allowed`. Every transport maps the refusal to
    /// its own answer (gRPC status, problem document, gRPC-web trailers).
    pub fn authorize(&self, header: Option<&str>, allowed: &[Role]) -> Result<Claims, Refusal> {
        let claims = self.verify_bearer(header.ok_or(Refusal::Missing)?).map_err(|_| Refusal::Invalid)?;
        match allowed.contains(&claims.role) {
            true => Ok(claims),
            false => Err(Refusal::Forbidden(claims.role)),
        }
    }
}

/// Why [`TokenVerifier::authorize`] refused a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("missing bearer token: send `Authorization: Bearer <token>`")]
    Missing,
    #[error("invalid or expired token")]
    Invalid,
    /// A valid token whose role may not do this.
    #[error("role {} may not call this", .0.claim())]
    Forbidden(Role),
}

/// Signs tokens with the current secret.
#[derive(Clone)]
pub struct TokenIssuer {
    key: EncodingKey,
    /// The last token [`TokenIssuer::reusable`] signed for each identity.
    reusable: Arc<Mutex<Vec<(String, Claims)>>>,
}

impl TokenIssuer {
    pub fn new(secret: &TokenSecret) -> Self {
        Self { key: EncodingKey::from_secret(secret.expose()), reusable: Arc::default() }
    }

    /// A token for one of the process's own fixed identities (the edge's,
    /// the form's), which it sends with every call: the one this issuer
    /// signed last for `email` and `role` while it has more than half its
    /// lifetime left, else a new one. An issuer is made anew at every
    /// rotation, so the token is always of the current secret.
    pub fn reusable(&self, email: &str, role: Role, now: i64) -> Result<String, TokenError> {
        let mut signed = self.reusable.lock().unwrap_or_else(|p| p.into_inner());
        let slot = signed.iter().position(|(_, c)| c.email == email && c.role == role);
        if let Some((token, c)) = slot.map(|i| &signed[i])
            && c.iat <= now
            && now - c.iat < c.exp - now
        {
            return Ok(token.clone());
        }
        let (token, claims) = self.issue(email, role, now)?;
        match slot {
            Some(i) => signed[i] = (token.clone(), claims),
            None => signed.push((token.clone(), claims)),
        }
        Ok(token)
    }

    /// A token for `email` with `role`, issued at `now` (seconds since the
    /// epoch), valid for [`TOKEN_LIFETIME`].
    pub fn issue(&self, email: &str, role: Role, now: i64) -> Result<(String, Claims), TokenError> {
        let claims = Claims { email: email.to_owned(), role, iat: now, exp: now + TOKEN_LIFETIME.as_secs() as i64 };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.key).map_err(|_| TokenError::Signing)?;
        Ok((token, claims))
    }
}

/// Seconds since the Unix epoch (0 if the clock is set before it): the
/// clock of `iat` and `exp`.
pub fn unix_now() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// The token of an `Authorization` header value, if it is a bearer token.
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};

    use super::*;

    fn secret(fill: u8) -> TokenSecret {
        TokenSecret::new(vec![fill; 32]).unwrap()
    }

    fn now() -> i64 {
        unix_now()
    }

    #[test]
    fn an_issued_token_verifies_with_the_seed_claims() {
        let (token, claims) = TokenIssuer::new(&secret(1)).issue("ada@example.com", Role::Admin, now()).unwrap();
        assert_eq!(claims.exp - claims.iat, 86_400);
        let verified = TokenVerifier::new(&[secret(1)]).verify(&token).unwrap();
        assert_eq!(verified, claims);
        let payload = token.split('.').nth(1).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap();
        let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["email", "exp", "iat", "role"]);
        assert_eq!(json["role"], "admin");
    }

    #[test]
    fn wrong_secret_expired_none_and_tampered_tokens_are_refused() {
        let issuer = TokenIssuer::new(&secret(1));
        let verifier = TokenVerifier::new(&[secret(1)]);
        let (good, _) = issuer.issue("ada@example.com", Role::Service, now()).unwrap();

        let (other, _) = TokenIssuer::new(&secret(2)).issue("ada@example.com", Role::Admin, now()).unwrap();
        assert_eq!(verifier.verify(&other), Err(TokenError::Invalid));

        let (expired, _) = issuer.issue("ada@example.com", Role::Admin, now() - 2 * 86_400).unwrap();
        assert_eq!(verifier.verify(&expired), Err(TokenError::Invalid));

        let header = B64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload =
            B64.encode(format!(r#"{{"email":"x@y.z","role":"admin","iat":{0},"exp":{1}}}"#, now(), now() + 99));
        assert_eq!(verifier.verify(&format!("{header}.{payload}.")), Err(TokenError::Invalid));

        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        parts[1] = B64.encode(format!(r#"{{"email":"x@y.z","role":"admin","iat":{0},"exp":{1}}}"#, now(), now() + 99));
        assert_eq!(verifier.verify(&parts.join(".")), Err(TokenError::Invalid));

        assert_eq!(verifier.verify(""), Err(TokenError::Invalid));
        assert_eq!(verifier.verify("garbage"), Err(TokenError::Invalid));
    }

    #[test]
    fn a_remembered_token_is_refused_once_it_expires_and_never_by_another_verifier() {
        let issuer = TokenIssuer::new(&secret(1));
        let verifier = TokenVerifier::new(&[secret(1)]);
        // Valid for one more second, the leeway included.
        let lifetime = TOKEN_LIFETIME.as_secs() as i64;
        let (ending, claims) = issuer.issue("ada@example.com", Role::Admin, now() - lifetime - 29).unwrap();
        assert_eq!(verifier.verify(&ending), Ok(claims.clone()));
        assert_eq!(verifier.verify(&ending), Ok(claims));
        std::thread::sleep(Duration::from_millis(2_100));
        assert_eq!(verifier.verify(&ending), Err(TokenError::Invalid));

        let (good, _) = issuer.issue("ada@example.com", Role::Admin, now()).unwrap();
        assert!(verifier.verify(&good).is_ok());
        // A rotation makes a verifier without the old secret: it does not
        // know the token, whatever the old one remembered.
        assert_eq!(TokenVerifier::new(&[secret(2)]).verify(&good), Err(TokenError::Invalid));
        // Remembering is bounded: many tokens later, the first still verifies.
        for n in 0..(VERIFIED_TOKENS as i64 + 10) {
            let (token, _) = issuer.issue("ada@example.com", Role::Admin, now() - n).unwrap();
            assert!(verifier.verify(&token).is_ok());
        }
        assert!(verifier.verified.lock().unwrap().len() <= VERIFIED_TOKENS);
        assert!(verifier.verify(&good).is_ok());
    }

    #[test]
    fn a_reusable_token_is_reused_for_half_its_lifetime_then_renewed() {
        let issuer = TokenIssuer::new(&secret(1));
        let verifier = TokenVerifier::new(&[secret(1)]);
        let start = now();
        let first = issuer.reusable("form@astro", Role::Service, start).unwrap();
        assert_eq!(issuer.clone().reusable("form@astro", Role::Service, start + 60).unwrap(), first);
        let half = TOKEN_LIFETIME.as_secs() as i64 / 2;
        let renewed = issuer.reusable("form@astro", Role::Service, start + half).unwrap();
        assert_ne!(renewed, first);
        assert_eq!(verifier.verify(&renewed).unwrap().iat, start + half);
        // Another identity or role never gets it, and each keeps its own.
        let other = issuer.reusable("other@astro", Role::Service, start + half).unwrap();
        assert_eq!(verifier.verify(&other).unwrap().email, "other@astro");
        assert_eq!(issuer.reusable("form@astro", Role::Service, start + half + 1).unwrap(), renewed);
        assert_eq!(issuer.reusable("other@astro", Role::Service, start + half + 1).unwrap(), other);
        assert_eq!(
            verifier.verify(&issuer.reusable("form@astro", Role::Admin, start).unwrap()).unwrap().role,
            Role::Admin
        );
        // A new issuer (a rotation) signs its own.
        let rotated = TokenIssuer::new(&secret(2)).reusable("form@astro", Role::Service, start + half).unwrap();
        assert_eq!(TokenVerifier::new(&[secret(2)]).verify(&rotated).unwrap().role, Role::Service);
        assert_eq!(verifier.verify(&rotated), Err(TokenError::Invalid));
    }

    #[test]
    fn tokens_without_exp_or_with_unknown_roles_are_refused() {
        let key = EncodingKey::from_secret(secret(1).expose());
        let verifier = TokenVerifier::new(&[secret(1)]);
        let no_exp =
            encode(&Header::default(), &serde_json::json!({"email": "a@b.c", "role": "admin", "iat": now()}), &key)
                .unwrap();
        assert_eq!(verifier.verify(&no_exp), Err(TokenError::Invalid));
        let root = encode(
            &Header::default(),
            &serde_json::json!({"email": "a@b.c", "role": "root", "iat": now(), "exp": now() + 60}),
            &key,
        )
        .unwrap();
        assert_eq!(verifier.verify(&root), Err(TokenError::Invalid));
    }

    #[test]
    fn previous_secrets_keep_verifying_during_a_rotation() {
        let (old, _) = TokenIssuer::new(&secret(1)).issue("a@b.c", Role::Admin, now()).unwrap();
        assert!(TokenVerifier::new(&[secret(2), secret(1)]).verify(&old).is_ok());
        assert!(TokenVerifier::new(&[secret(2)]).verify(&old).is_err());
    }

    #[test]
    fn bearer_headers_are_parsed_and_short_secrets_refused() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert!(matches!(TokenSecret::new(vec![0; 31]), Err(TokenError::WeakSecret)));
        assert_eq!(format!("{:?}", secret(7)), "TokenSecret(<redacted>)");
    }
}
