//! The rights of the people in the data (GDPR articles 15 and 17): what is
//! held on one email address, and its erasure.
//!
//! A person's data is in their cards (with their history, their consent and
//! the search keys, all under `PROSPECT#<id>`), found by `EmailIndex`, and
//! in the copies of a card that other items carry — the notifications and
//! the board's recent changes — found by `SubjectIndex`. Nothing else the
//! store keeps holds it: request records, counters, the weekly figures and
//! the security log hold ids, counts and members' addresses only.

use astro_proto::{
    storage::timestamp_key,
    v1::{
        BoardChangeKind, Erasure, ErasureReason, ListErasuresRequest, ListErasuresResponse, NotificationState,
        PersonalData, Prospect, ProspectStatus,
    },
};

use super::{
    DomainResult, board,
    page_token::{PagePosition, page_size},
    prospects::{Prospects, check},
    validation::{self, Violations},
};
use crate::store::{StoreError, expired};

/// Cards read per page of `EmailIndex`.
const EMAIL_PAGE: usize = 200;
const DEFAULT_ERASURES: usize = 50;
const MAX_ERASURES: usize = 200;
/// Queued notifications read to find those written before `SubjectIndex`.
const LEGACY_QUEUE_READ: usize = 10_000;

impl Prospects {
    /// Everything held on the person with `email` (see [`PersonalData`]).
    pub async fn personal_data(&self, email: &str) -> DomainResult<PersonalData> {
        let email = valid_email(email)?;
        let read_at = self.scoring().clock().now();
        let prospects = self.cards_of(&email).await?;
        let mut items = self.store.subject_items(&email).await?;
        items.changes.retain(|c| !expired(c, &read_at));
        Ok(PersonalData {
            email,
            read_at: Some(read_at),
            prospects,
            notifications: items.notifications,
            board_changes: items.changes,
        })
    }

    /// Every card with `email`, newest first, each with its history.
    async fn cards_of(&self, email: &str) -> DomainResult<Vec<Prospect>> {
        let mut ids = Vec::new();
        let mut after = None;
        loop {
            let page = self.store.list_by_email(email, after.take(), EMAIL_PAGE).await?;
            let full = page.len() == EMAIL_PAGE;
            after = page.last().map(|p| p.id.clone());
            ids.extend(page.into_iter().map(|p| p.id));
            if !full {
                break;
            }
        }
        let mut cards = Vec::with_capacity(ids.len());
        for id in ids {
            // Deleted since it was listed: nothing of it is held any more.
            if let Some(card) = self.store.get_prospect(&id, true).await? {
                cards.push(card);
            }
        }
        Ok(cards)
    }

    /// Erases everything held on the person with `email` and records the
    /// erasure (without their data) when there was something to erase.
    pub async fn erase(&self, actor: &str, email: &str, reason: ErasureReason) -> DomainResult<Erasure> {
        let email = valid_email(email)?;
        let now = self.scoring().clock().now();
        let cards = self.cards_of(&email).await?;
        let mut erasure = Erasure { actor: actor.to_owned(), reason: reason as i32, ..Default::default() };
        for card in &cards {
            let change =
                board::change(BoardChangeKind::Deleted, &card.id, None, ProspectStatus::Unspecified, actor, now);
            match self.store.delete_prospect(&card.id, None, change).await {
                Ok(_) => {
                    erasure.prospects += 1;
                    erasure.events += card.events.len() as i64;
                }
                // Deleted meanwhile by someone else: gone all the same.
                Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        // Read after the cards are gone: a change a concurrent edit wrote
        // before the deletion is found too.
        let mut items = self.store.subject_items(&email).await?;
        // Notifications written before SubjectIndex existed carry no
        // subject: the ones still queued are found by their card.
        let ids: Vec<&str> = cards.iter().map(|c| c.id.as_str()).collect();
        for state in [NotificationState::Pending, NotificationState::Failed] {
            for n in self.store.notifications(state, LEGACY_QUEUE_READ).await? {
                if n.subject.is_empty() && ids.contains(&n.prospect_id.as_str()) {
                    items.notifications.push(n);
                }
            }
        }
        erasure.notifications = items.notifications.len() as i64;
        erasure.board_changes = items.changes.len() as i64;
        if erasure.prospects > 0 || !items.is_empty() {
            // Also scrubs the embedded file of the deleted cards.
            self.store.erase_items(&items).await?;
            erasure.id = uuid::Uuid::now_v7().to_string();
            erasure.erased_at = Some(now);
            self.store.save_erasure(&erasure).await?;
            self.board().changed();
            tracing::info!(erasure = %erasure.id, actor, prospects = erasure.prospects, "personal data erased");
        }
        Ok(erasure)
    }

    /// The log of erasures, newest first.
    pub async fn erasures(&self, request: ListErasuresRequest) -> DomainResult<ListErasuresResponse> {
        let size = page_size(request.page_size, DEFAULT_ERASURES, MAX_ERASURES)?;
        let pages = self.keys.page_tokens();
        const QUERY: &str = "erasures";
        let before = pages.position(&request.page_token, QUERY)?.map(|p| p.sort);
        let mut erasures = self.store.erasures(before, size + 1).await?;
        let next_page_token = match erasures.len() > size {
            true => {
                erasures.truncate(size);
                let last = erasures.last().expect("a full page has a last item");
                let sort = format!("{}#{}", last.erased_at.as_ref().map(timestamp_key).unwrap_or_default(), last.id);
                pages.encode(&PagePosition { query: QUERY.into(), sort, id: last.id.clone() })
            }
            false => String::new(),
        };
        Ok(ListErasuresResponse { erasures, next_page_token })
    }
}

fn valid_email(email: &str) -> DomainResult<String> {
    let mut v = Violations::default();
    let email = validation::email(&mut v, "email", email);
    check(v)?;
    Ok(email)
}
