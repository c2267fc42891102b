//! Two-factor sign-in: TOTP (RFC 6238 through `totp-rs`: SHA-1, 6 digits,
//! 30-second steps, one step of drift either way) and recovery codes.
//!
//! - The secret is sealed at rest with the two-factor key (AES-256-GCM,
//!   the member's email as associated data, so a sealed secret copied onto
//!   another member does not open). The key comes from the secrets, never
//!   from the table, and the secret is shown once, at enrolment.
//! - A code is good once: the member's record keeps the last step used and
//!   a code of that step or an older one is refused. The write that moves
//!   it is conditioned on the record's version, so of two sign-ins racing
//!   with one code, one wins.
//! - Recovery codes: ten, 50 bits each, kept as HMAC-SHA256 under the
//!   two-factor key (a copy of the table alone cannot test guesses); one is
//!   struck off when used.
//! - Between the password and the code, the client holds a ticket: the
//!   email, the member's session limit and an expiry, signed like page
//!   tokens under its own name. It opens nothing but the second step.

use std::path::Path;

use aes_gcm::{
    Aes256Gcm, KeyInit as _, Nonce,
    aead::{Aead as _, Payload},
};
use astro_proto::v1::{TwoFactorEnrolment, User};
use base64::{Engine as _, engine::general_purpose::STANDARD as B64};
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use totp_rs::{Builder, Secret, Totp};

use super::page_token::{PagePosition, PageTokens};

/// What authenticator apps show as the account's issuer.
pub const ISSUER: &str = "Astro Qualif";
/// How long the ticket between the two steps lasts.
pub const TICKET_SECS: i64 = 5 * 60;
/// How many recovery codes an enrolment gives.
pub const RECOVERY_CODES: usize = 10;
const SEALED_PREFIX: &str = "v1.";
/// The page-token listing name that signs tickets.
const TICKET_PURPOSE: &str = "second-step";
const KEY_FILE: &str = "two-factor-key";

/// The key that seals secrets and keys recovery-code hashes.
#[derive(Clone)]
pub struct TwoFactorKey {
    cipher: Aes256Gcm,
    mac: Vec<u8>,
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as hmac::Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        mac.update(part);
        mac.update(b"\n");
    }
    mac.finalize().into_bytes().into()
}

impl TwoFactorKey {
    /// From the key material (at least 32 bytes): one key for sealing and
    /// one for hashing are derived from it.
    pub fn new(material: &[u8]) -> Result<Self, String> {
        if material.len() < 32 {
            return Err("the two-factor key must be at least 32 bytes".into());
        }
        let seal = hmac(material, &[b"astro-qualif two-factor seal v1"]);
        Ok(Self {
            cipher: Aes256Gcm::new_from_slice(&seal).expect("a 32-byte key"),
            mac: hmac(material, &[b"astro-qualif recovery codes v1"]).to_vec(),
        })
    }

    /// The local default's key: generated at first start in `dir`, owner-only.
    pub fn load_or_create(dir: &Path) -> Result<Self, String> {
        let text = super::auth::load_or_create_key_file(dir, KEY_FILE)?;
        Self::new(text.as_bytes())
    }

    fn seal(&self, email: &str, secret: &[u8]) -> String {
        let nonce: [u8; 12] = rand::random();
        let sealed = self
            .cipher
            .encrypt(&Nonce::from(nonce), Payload { msg: secret, aad: email.as_bytes() })
            .expect("AES-GCM seals any length we give it");
        format!("{SEALED_PREFIX}{}", B64.encode([nonce.as_slice(), &sealed].concat()))
    }

    fn open(&self, email: &str, sealed: &str) -> Option<Vec<u8>> {
        let bytes = B64.decode(sealed.strip_prefix(SEALED_PREFIX)?).ok()?;
        let (nonce, sealed) = bytes.split_at_checked(12)?;
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        self.cipher.decrypt(&Nonce::from(nonce), Payload { msg: sealed, aad: email.as_bytes() }).ok()
    }

    fn recovery_hash(&self, email: &str, code: &str) -> String {
        hex::encode(hmac(&self.mac, &[email.as_bytes(), normalise(code).as_bytes()]))
    }
}

fn totp(secret: Vec<u8>, email: &str) -> Result<Totp, String> {
    Builder::new()
        .with_secret(Secret::from(secret))
        .with_issuer(Some(ISSUER))
        .with_account_name(email.replace(':', "_"))
        .build()
        .map_err(|e| format!("TOTP: {e}"))
}

/// A new enrolment for `email`: its sealed secret (to keep as pending) and
/// what the member is shown.
pub fn begin(key: &TwoFactorKey, email: &str) -> Result<(String, TwoFactorEnrolment), String> {
    let secret: [u8; 20] = rand::random();
    let totp = totp(secret.to_vec(), email)?;
    let uri = totp.to_url().map_err(|e| format!("otpauth URI: {e}"))?;
    let qr = qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| format!("QR code: {e}"))?;
    let svg = qr.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).build();
    let shown = TwoFactorEnrolment { secret: totp.secret().to_base32(), otpauth_uri: uri, qr_code_svg: svg };
    Ok((key.seal(email, &secret), shown))
}

/// The step of `code` if it is the secret's code around `unix` (one step
/// either way) and newer than `last_step`.
pub fn check(key: &TwoFactorKey, email: &str, sealed: &str, code: &str, unix: i64, last_step: i64) -> Option<i64> {
    let secret = key.open(email, sealed)?;
    let totp = totp(secret, email).ok()?;
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let step = totp.check(&code, u64::try_from(unix).ok()?)? as i64;
    (step > last_step).then_some(step)
}

/// Whether `code` looks like an app's code (digits) rather than a recovery code.
pub fn is_app_code(code: &str) -> bool {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    !code.is_empty() && code.chars().all(|c| c.is_ascii_digit())
}

/// Recovery codes use letters and digits that cannot be confused (no 0/o, 1/l/i).
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

fn normalise(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect()
}

/// Ten new recovery codes ("xxxxx-xxxxx") and their keyed hashes.
pub fn recovery_codes(key: &TwoFactorKey, email: &str) -> (Vec<String>, Vec<String>) {
    use rand::Rng as _;
    let mut rng = rand::rng();
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| {
            let chars: String = (0..10).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect();
    let hashes = codes.iter().map(|c| key.recovery_hash(email, c)).collect();
    (codes, hashes)
}

/// Strikes `code` off the member's recovery codes; whether it was one.
pub fn use_recovery_code(key: &TwoFactorKey, user: &mut User, code: &str) -> bool {
    let hash = key.recovery_hash(&user.email, code);
    let before = user.recovery_code_hashes.len();
    user.recovery_code_hashes.retain(|h| h != &hash);
    user.recovery_code_hashes.len() < before
}

/// Turns the member's second factor off: secret, enrolment and codes.
pub fn forget(user: &mut User) {
    user.totp_secret_sealed.clear();
    user.totp_pending_sealed.clear();
    user.recovery_code_hashes.clear();
}

/// What the client holds between the password and the second step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub email: String,
    /// The member's `tokens_not_before` when the password was checked: a
    /// session ended since then ends the ticket too.
    pub not_before: i64,
    pub expires: i64,
    /// Enrolment, not a code, is what is asked.
    pub enrol: bool,
}

impl Ticket {
    pub fn encode(&self, tokens: &PageTokens) -> String {
        tokens.encode(&PagePosition {
            query: TICKET_PURPOSE.into(),
            sort: format!("{}.{}.{}", self.expires, self.not_before, u8::from(self.enrol)),
            id: self.email.clone(),
        })
    }

    /// Whether the ticket no longer works at `now` (Unix seconds).
    pub fn expired(&self, now: i64) -> bool {
        self.expires <= now
    }

    /// The ticket `token` holds if genuine (its expiry not checked).
    pub fn decode(tokens: &PageTokens, token: &str) -> Option<Self> {
        let position = tokens.decode(token.trim(), TICKET_PURPOSE)?;
        let mut parts = position.sort.split('.');
        let expires = parts.next()?.parse().ok()?;
        let not_before = parts.next()?.parse().ok()?;
        let enrol = parts.next()? == "1";
        Some(Self { email: position.id, not_before, expires, enrol })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TwoFactorKey {
        TwoFactorKey::new(&[7u8; 32]).unwrap()
    }

    fn code_at(shown: &TwoFactorEnrolment, unix: i64) -> String {
        astro_testkit::totp::code_at(&shown.secret, unix)
    }

    #[test]
    fn a_code_is_good_in_its_step_and_the_next_once_and_never_older() {
        let key = key();
        let (sealed, shown) = begin(&key, "ana@example.com").unwrap();
        let t = 1_800_000_015; // 15 s into a step
        let step = t / 30;
        let code = code_at(&shown, t);
        assert_eq!(check(&key, "ana@example.com", &sealed, &code, t, 0), Some(step));
        // The clock moves on 30 s: still good (drift), a step later no more.
        assert_eq!(check(&key, "ana@example.com", &sealed, &code, t + 30, 0), Some(step));
        assert_eq!(check(&key, "ana@example.com", &sealed, &code, t + 60, 0), None, "two windows ago");
        // Used once: the same step again is refused.
        assert_eq!(check(&key, "ana@example.com", &sealed, &code, t, step), None, "replayed");
        let next = code_at(&shown, t + 30);
        assert_eq!(check(&key, "ana@example.com", &sealed, &next, t + 30, step), Some(step + 1));
        assert_eq!(check(&key, "ana@example.com", &sealed, "000000x", t, 0), None);
    }

    #[test]
    fn the_secret_is_sealed_for_its_member_only() {
        let key = key();
        let (sealed, shown) = begin(&key, "ana@example.com").unwrap();
        assert!(!sealed.contains(&shown.secret), "never in clear");
        assert!(
            shown.otpauth_uri.starts_with("otpauth://totp/Astro%20Qualif:ana%40example.com?"),
            "{}",
            shown.otpauth_uri
        );
        assert!(shown.qr_code_svg.starts_with("<?xml") && shown.qr_code_svg.contains("<svg"));
        let code = code_at(&shown, 1_800_000_000);
        assert_eq!(check(&key, "bo@example.com", &sealed, &code, 1_800_000_000, 0), None, "another's record");
        let other_key = TwoFactorKey::new(&[8u8; 32]).unwrap();
        assert_eq!(check(&other_key, "ana@example.com", &sealed, &code, 1_800_000_000, 0), None, "another key");
        assert!(TwoFactorKey::new(&[1u8; 31]).is_err());
    }

    #[test]
    fn recovery_codes_are_hashed_and_good_once() {
        let key = key();
        let (codes, hashes) = recovery_codes(&key, "ana@example.com");
        assert_eq!(codes.len(), 10);
        assert!(codes.iter().all(|c| c.len() == 11 && c.as_bytes()[5] == b'-'));
        assert!(hashes.iter().all(|h| !codes.iter().any(|c| h.contains(&normalise(c)))));
        let mut user = User { email: "ana@example.com".into(), recovery_code_hashes: hashes, ..User::default() };
        let typed = codes[3].to_uppercase().replace('-', " ");
        assert!(use_recovery_code(&key, &mut user, &typed), "typed loosely");
        assert_eq!(user.recovery_code_hashes.len(), 9);
        assert!(!use_recovery_code(&key, &mut user, &codes[3]), "used already");
        assert!(!is_app_code(&codes[0]) && is_app_code("123 456"));
    }

    #[test]
    fn a_ticket_is_signed_and_its_own_kind() {
        let tokens = PageTokens::new(&[b"0123456789abcdef0123456789abcdef"]);
        let ticket = Ticket { email: "ana@example.com".into(), not_before: 5, expires: 99, enrol: true };
        let token = ticket.encode(&tokens);
        assert_eq!(Ticket::decode(&tokens, &token), Some(ticket.clone()));
        // Its 5 minutes pass: at its expiry it no longer works.
        assert!(!ticket.expired(98));
        assert!(ticket.expired(99));
        let page = tokens.encode(&PagePosition { query: "members".into(), sort: String::new(), id: "x".into() });
        assert_eq!(Ticket::decode(&tokens, &page), None, "a page token is no ticket");
        let mut tampered = token.clone();
        tampered.replace_range(2..3, if &token[2..3] == "A" { "B" } else { "A" });
        assert_eq!(Ticket::decode(&tokens, &tampered), None);
    }
}
