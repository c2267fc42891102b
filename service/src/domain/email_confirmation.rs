//! Double opt-in: a form may ask its visitors to confirm their address.
//!
//! - The card is written PENDING with, in the same write, the email that
//!   carries the link (the outbox: an acknowledged submission's email is
//!   never lost). Without email configured, such a form cannot be published.
//! - The link is never stored: the outbox's worker makes it when it sends,
//!   signing the card's id, its address and the link's expiry (30 days
//!   after the submission) with the token keys in force.
//! - Opening it confirms the card once, in one write conditioned on the card
//!   as read; another use changes nothing and says so. A link for an address
//!   changed since confirms nothing.

use std::time::Duration;

use astro_proto::v1::{BoardChangeKind, EmailConfirmation, Prospect, ProspectEventKind, ProspectStatus};

use super::{
    DomainError, DomainResult, board,
    clock::{after, plus},
    page_token::PagePosition,
    prospects::Prospects,
};
use crate::store::{ProspectChange, StoreError};

/// The page-token listing name that signs the links.
pub const LINK: &str = "email-confirmation";
/// How long a link works after the submission.
pub const VALID_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// The actor of the confirmation in the card's history.
pub const ACTOR: &str = "email-confirmation";

const INVALID: &str = "this link is not a confirmation link of ours, or it has expired (links last 30 days)";

/// What a card's link signs: the card, its address and the link's expiry.
pub fn position(card: &Prospect) -> PagePosition {
    let created = card.created_at.unwrap_or_default();
    let expires = plus(&created, VALID_FOR).seconds;
    PagePosition { query: LINK.into(), sort: format!("{expires}:{}", card.email), id: card.id.clone() }
}

fn invalid(detail: &str) -> DomainError {
    DomainError::Invalid(vec![super::FieldViolation::new("token", detail)])
}

impl Prospects {
    /// Confirms the address of the card `token`'s link names: true when
    /// this call did, false when it was confirmed already.
    pub async fn confirm_email(&self, token: &str) -> DomainResult<bool> {
        let token = token.trim();
        if token.is_empty() {
            return Err(invalid("is required"));
        }
        let position = self.keys.page_tokens().decode(token, LINK).ok_or_else(|| invalid(INVALID))?;
        let (expires, email) = position.sort.split_once(':').ok_or_else(|| invalid(INVALID))?;
        let expires = prost_types::Timestamp { seconds: expires.parse().map_err(|_| invalid(INVALID))?, nanos: 0 };
        let now = self.scoring.clock().now();
        if !after(&expires, &now) {
            return Err(invalid(INVALID));
        }
        for _ in 0..3 {
            let stored = self
                .store
                .get_prospect(&position.id, false)
                .await?
                .ok_or_else(|| DomainError::NotFound(format!("prospect {}", position.id)))?;
            if stored.email != email {
                return Err(invalid("the card's address changed since this link was sent"));
            }
            match stored.email_confirmation() {
                EmailConfirmation::Confirmed => return Ok(false),
                EmailConfirmation::Pending => {}
                EmailConfirmation::Unspecified => return Err(invalid(INVALID)),
            }
            let mut next = stored.clone();
            next.email_confirmation = EmailConfirmation::Confirmed as i32;
            next.email_confirmed_at = Some(now);
            next.version = stored.version + 1;
            next.updated_at = Some(now);
            super::validation::set_search_keys(&mut next);
            let status = ProspectStatus::try_from(stored.status).unwrap_or_default();
            let mut event = super::prospects::event(&next, ProspectEventKind::Edited, ACTOR, now);
            event.changed_fields = vec!["email_confirmation".into()];
            let change = ProspectChange {
                prospect: next.clone(),
                expected_version: stored.version,
                previous_status: status,
                events: vec![event],
                board: board::change(BoardChangeKind::Edited, &next.id, Some(&next), status, ACTOR, now),
                notifications: Vec::new(),
                insights: Vec::new(),
            };
            match self.store.update_prospect(change).await {
                Ok(()) => {
                    self.board.changed();
                    return Ok(true);
                }
                // Edited meanwhile: read it again.
                Err(StoreError::Conflict(_)) => continue,
                Err(StoreError::NotFound) => return Err(DomainError::NotFound(format!("prospect {}", position.id))),
                Err(e) => return Err(e.into()),
            }
        }
        Err(DomainError::Unavailable("the card kept changing: try the link again".into()))
    }
}
