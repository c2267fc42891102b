//! The self-hosted captcha: a proof of work in the ALTCHA protocol (v1).
//!
//! A challenge is `salt` (random, with `?expires=<unix seconds>&`), the hex
//! SHA-256 of `salt + n` for a secret random `n ≤ maxnumber`, and an HMAC
//! of that hash with the captcha key. The browser finds `n` by trying every
//! number (≈ maxnumber/2 hashes); the server checks the answer with one hash
//! and one HMAC, and no state until the answer is used.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::CaptchaError;

pub const ALGORITHM: &str = "SHA-256";

/// A challenge, as the ALTCHA widget reads it (`GET /captcha/challenge`,
/// and the sign-in's refusal once a captcha is needed).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Challenge {
    /// Always `SHA-256`.
    pub algorithm: String,
    /// Hex SHA-256 of `salt` followed by the secret number in decimal.
    pub challenge: String,
    /// The secret number is in `0..=maxnumber`.
    pub maxnumber: u64,
    /// Random hex, then `?expires=<unix seconds>&`.
    pub salt: String,
    /// Hex HMAC-SHA-256 of `challenge` with the captcha key.
    pub signature: String,
}

/// What the widget sends back, base64-encoded JSON, as `captchaToken`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Solution {
    pub algorithm: String,
    pub challenge: String,
    pub number: u64,
    pub salt: String,
    pub signature: String,
}

pub struct ProofOfWork {
    key: Vec<u8>,
    max_number: u64,
    lifetime: Duration,
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

fn hash_hex(salt: &str, number: u64) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update(number.to_string().as_bytes());
    hex::encode(hasher.finalize())
}

impl ProofOfWork {
    pub fn new(key: Vec<u8>, max_number: u64, lifetime: Duration) -> Self {
        Self { key, max_number, lifetime }
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length")
    }

    pub fn challenge(&self) -> Challenge {
        self.challenge_expiring_at(unix_now() + self.lifetime.as_secs())
    }

    /// A challenge valid until `expires` (Unix seconds).
    pub fn challenge_expiring_at(&self, expires: u64) -> Challenge {
        let mut rng = rand::rng();
        let salt = format!("{}?expires={expires}&", hex::encode(rng.random::<[u8; 12]>()));
        let number = rng.random_range(0..=self.max_number);
        let challenge = hash_hex(&salt, number);
        let mut mac = self.mac();
        mac.update(challenge.as_bytes());
        Challenge {
            algorithm: ALGORITHM.into(),
            signature: hex::encode(mac.finalize().into_bytes()),
            challenge,
            maxnumber: self.max_number,
            salt,
        }
    }

    /// Checks a solution (the widget's base64 payload).
    pub fn verify(&self, payload: &str) -> Result<(), CaptchaError> {
        let invalid = |why: &str| CaptchaError::Invalid(why.to_owned());
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(payload.trim())
            .map_err(|_| invalid("is not a proof-of-work solution (base64 JSON expected)"))?;
        let solution: Solution = serde_json::from_slice(&bytes)
            .map_err(|_| invalid("is not a proof-of-work solution (base64 JSON expected)"))?;
        if solution.algorithm != ALGORITHM {
            return Err(invalid("uses an unsupported algorithm"));
        }
        // The signature first: nothing unsigned is trusted, the expiry included.
        let signature = hex::decode(&solution.signature).map_err(|_| invalid("has a bad signature"))?;
        let mut mac = self.mac();
        mac.update(solution.challenge.as_bytes());
        mac.verify_slice(&signature).map_err(|_| invalid("has a bad signature"))?;
        if hash_hex(&solution.salt, solution.number) != solution.challenge {
            return Err(invalid("does not solve its challenge"));
        }
        match expires(&solution.salt) {
            Some(at) if at >= unix_now() => Ok(()),
            Some(_) => Err(CaptchaError::Expired),
            None => Err(invalid("has no expiry")),
        }
    }
}

/// The `expires` parameter of a salt (`…?expires=123&`).
fn expires(salt: &str) -> Option<u64> {
    let (_, query) = salt.split_once('?')?;
    query.split('&').find_map(|pair| pair.strip_prefix("expires=")).and_then(|v| v.parse().ok())
}

/// Solves a challenge the way the widget does (tests and benchmarks).
pub fn solve(challenge: &Challenge) -> Option<String> {
    let number = (0..=challenge.maxnumber).find(|n| hash_hex(&challenge.salt, *n) == challenge.challenge)?;
    let solution = Solution {
        algorithm: challenge.algorithm.clone(),
        challenge: challenge.challenge.clone(),
        number,
        salt: challenge.salt.clone(),
        signature: challenge.signature.clone(),
    };
    Some(base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&solution).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pow() -> ProofOfWork {
        ProofOfWork::new(b"test key".to_vec(), 2_000, Duration::from_secs(60))
    }

    fn encode(s: &Solution) -> String {
        base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(s).unwrap())
    }

    fn decode(payload: &str) -> Solution {
        serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(payload).unwrap()).unwrap()
    }

    #[test]
    fn a_solved_challenge_verifies() {
        let p = pow();
        let c = p.challenge();
        assert!(c.salt.contains("?expires="));
        p.verify(&solve(&c).unwrap()).unwrap();
    }

    #[test]
    fn a_wrong_number_another_key_or_a_forged_expiry_is_refused() {
        let p = pow();
        let c = p.challenge();
        let good = decode(&solve(&c).unwrap());

        let wrong = Solution { number: good.number + 1, ..good.clone() };
        assert!(matches!(p.verify(&encode(&wrong)), Err(CaptchaError::Invalid(_))));

        let other = ProofOfWork::new(b"another key".to_vec(), 2_000, Duration::from_secs(60));
        assert!(matches!(other.verify(&solve(&c).unwrap()), Err(CaptchaError::Invalid(_))));

        // A later expiry changes the hash: without the key it cannot be re-signed.
        let salt = format!("{}?expires={}&", &c.salt[..24], unix_now() + 99_999);
        let forged = Solution { challenge: hash_hex(&salt, good.number), salt, ..good };
        assert!(matches!(p.verify(&encode(&forged)), Err(CaptchaError::Invalid(_))));

        assert!(matches!(p.verify("not base64!"), Err(CaptchaError::Invalid(_))));
    }

    #[test]
    fn an_expired_challenge_is_refused() {
        let p = ProofOfWork::new(b"test key".to_vec(), 1_000, Duration::ZERO);
        let c = p.challenge_expiring_at(unix_now() - 60);
        assert!(matches!(p.verify(&solve(&c).unwrap()), Err(CaptchaError::Expired)));
    }
}
