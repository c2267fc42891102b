//! Opaque, signed page tokens (AIP-158).
//!
//! A token holds where the previous page stopped and a fingerprint of the
//! query it belongs to, signed with HMAC-SHA256. A forged, tampered or foreign
//! token, or one reused with other filters, is refused: a caller cannot craft
//! a token that reads outside the listing it asked for.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Where a listing continues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PagePosition {
    /// Fingerprint of the listing's filters.
    #[serde(rename = "q")]
    pub query: String,
    /// The last item's sort key in what is listed (a `created_at` or score
    /// key of an index, a sort key of the table; empty when the id suffices).
    #[serde(rename = "c", default, skip_serializing_if = "String::is_empty")]
    pub sort: String,
    /// Id of the last item.
    #[serde(rename = "i")]
    pub id: String,
}

/// A request's `page_size`: 0 means `default`, more than `max` is `max`;
/// negative is refused, naming the field.
pub fn page_size(requested: i32, default: usize, max: usize) -> super::DomainResult<usize> {
    match requested {
        0 => Ok(default),
        n if n < 0 => {
            Err(super::DomainError::Invalid(vec![super::FieldViolation::new("page_size", "must not be negative")]))
        }
        n => Ok((n as usize).min(max)),
    }
}

#[derive(Clone)]
pub struct PageTokens {
    /// The first signs; all verify (the others during a secret rotation).
    keys: Vec<Vec<u8>>,
}

fn derive(secret: &[u8]) -> Vec<u8> {
    // Its own key, so page tokens and access tokens never share one.
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(b"astro-qualif page tokens v1");
    mac.finalize().into_bytes().to_vec()
}

fn mac(key: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(key).expect("HMAC takes any key length")
}

impl PageTokens {
    /// `secrets[0]` is the current token secret, the others previous ones.
    pub fn new(secrets: &[&[u8]]) -> Self {
        Self { keys: secrets.iter().map(|s| derive(s)).collect() }
    }

    pub fn encode(&self, position: &PagePosition) -> String {
        Self::encode_with(&self.keys[0], position)
    }

    fn encode_with(key: &[u8], position: &PagePosition) -> String {
        let body = serde_json::to_vec(position).expect("a position serialises");
        let mut mac = mac(key);
        mac.update(&body);
        let tag = mac.finalize().into_bytes();
        format!("{}.{}", B64.encode(&body), B64.encode(&tag[..16]))
    }

    /// The token of `position` under each key in force, the current first:
    /// a link made before a rotation is made again exactly, from what it
    /// holds, by the key that signed it.
    pub fn encodings(&self, position: &PagePosition) -> Vec<String> {
        self.keys.iter().map(|key| Self::encode_with(key, position)).collect()
    }

    /// The position a request's `page_token` holds for the listing `query`:
    /// none for an empty token; a token that is not this listing's is
    /// refused, naming the field.
    pub fn position(&self, token: &str, query: &str) -> super::DomainResult<Option<PagePosition>> {
        match token {
            "" => Ok(None),
            token => self.decode(token, query).map(Some).ok_or_else(|| {
                super::DomainError::Invalid(vec![super::FieldViolation::new(
                    "page_token",
                    "is not a token of this listing: start again without it",
                )])
            }),
        }
    }

    /// The position in `token`, if the token is genuine and belongs to `query`.
    pub fn decode(&self, token: &str, query: &str) -> Option<PagePosition> {
        let (body, tag) = token.split_once('.')?;
        let body = B64.decode(body).ok()?;
        let tag = B64.decode(tag).ok()?;
        if tag.len() != 16 {
            return None;
        }
        let genuine = self.keys.iter().any(|key| {
            let mut mac = mac(key);
            mac.update(&body);
            mac.verify_truncated_left(&tag).is_ok()
        });
        if !genuine {
            return None;
        }
        let position: PagePosition = serde_json::from_slice(&body).ok()?;
        (position.query == query).then_some(position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position() -> PagePosition {
        PagePosition { query: "status=NEW".into(), sort: "2026-01-01T00:00:00.000000Z".into(), id: "p1".into() }
    }

    #[test]
    fn a_token_round_trips_for_its_own_query_only() {
        let tokens = PageTokens::new(&[b"secret"]);
        let token = tokens.encode(&position());
        assert_eq!(tokens.decode(&token, "status=NEW"), Some(position()));
        assert_eq!(tokens.decode(&token, "status=WON"), None);
        assert_eq!(PageTokens::new(&[b"other"]).decode(&token, "status=NEW"), None);
        let rotated = PageTokens::new(&[b"new secret", b"secret"]);
        assert_eq!(rotated.decode(&token, "status=NEW"), Some(position()), "still valid during a rotation");
    }

    #[test]
    fn forged_and_tampered_tokens_are_refused() {
        let tokens = PageTokens::new(&[b"secret"]);
        let token = tokens.encode(&position());
        let (_, tag) = token.split_once('.').unwrap();
        let forged_body = B64.encode(br#"{"q":"status=NEW","c":"9999","i":"zz"}"#);
        assert_eq!(tokens.decode(&format!("{forged_body}.{tag}"), "status=NEW"), None);
        assert_eq!(tokens.decode(&format!("{forged_body}."), "status=NEW"), None);
        assert_eq!(tokens.decode("not-a-token", "status=NEW"), None);
        assert_eq!(tokens.decode(&token[..token.len() - 2], "status=NEW"), None);
    }
}
