//! Codes of an authenticator app, computed from the secret the service
//! showed at enrolment, as a member's phone would (RFC 6238 defaults).

use std::time::{SystemTime, UNIX_EPOCH};

/// The 6-digit code of `secret` (base32) at `unix` seconds.
pub fn code_at(secret: &str, unix: i64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret).expect("a base32 secret");
    let totp = totp_rs::Builder::new().with_secret(secret).build().expect("an RFC 6238 secret");
    totp.generate(unix as u64).to_string()
}

/// The code `steps` 30-second steps from now (negative: ago).
pub fn code(secret: &str, steps: i64) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs() as i64;
    code_at(secret, now + steps * 30)
}
