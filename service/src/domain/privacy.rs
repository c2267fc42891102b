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
use crate::store::{StoreError, SubjectItems, expired};

/// Cards read per page of `EmailIndex`.
const EMAIL_PAGE: usize = 200;
const DEFAULT_ERASURES: usize = 50;
const MAX_ERASURES: usize = 200;
/// The actor of the erasures the retention pass makes.
pub const RETENTION_ACTOR: &str = "retention";
/// Cards one retention pass erases at most; the next pass goes on.
pub const RETENTION_BATCH: usize = 500;
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
            import_rows: items.import_rows,
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
        let cards = self.cards_of(&email).await?;
        self.erase_cards(&cards, actor, reason, Some(&email)).await
    }

    /// Deletes `cards` and the items that carry a copy of them — with
    /// `whole_subject` (a person's request), whatever changed since they were
    /// read and every item of that address, even of cards deleted before;
    /// without (retention), each at the version read, a card changed
    /// meanwhile being kept — then records the erasure if anything was.
    async fn erase_cards(
        &self,
        cards: &[Prospect],
        actor: &str,
        reason: ErasureReason,
        whole_subject: Option<&str>,
    ) -> DomainResult<Erasure> {
        let now = self.scoring().clock().now();
        let mut erasure = Erasure { actor: actor.to_owned(), reason: reason as i32, ..Default::default() };
        let mut erased: Vec<&Prospect> = Vec::new();
        for card in cards {
            let change =
                board::change(BoardChangeKind::Deleted, &card.id, None, ProspectStatus::Unspecified, actor, now);
            // A person's request erases the card whatever changed since it
            // was read; retention keeps a card changed meanwhile.
            let expected = whole_subject.is_none().then_some(card.version);
            match self.store.delete_prospect(&card.id, expected, change).await {
                Ok(_) => {
                    erasure.prospects += 1;
                    erasure.events += card.events.len() as i64;
                    erased.push(card);
                }
                // Deleted meanwhile (gone all the same), or changed (kept:
                // a retention pass will see it again).
                Err(StoreError::NotFound | StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let ids: Vec<&str> = erased.iter().map(|c| c.id.as_str()).collect();
        // Read after the cards are gone: a change a concurrent edit wrote
        // before the deletion is found too.
        let mut items = SubjectItems::default();
        match whole_subject {
            Some(email) => items = self.store.subject_items(email).await?,
            None => {
                let mut emails: Vec<&str> = erased.iter().map(|c| c.email.as_str()).collect();
                emails.sort_unstable();
                emails.dedup();
                for email in emails {
                    let mut found = self.store.subject_items(email).await?;
                    found.notifications.retain(|n| ids.contains(&n.prospect_id.as_str()));
                    found.changes.retain(|c| ids.contains(&c.prospect_id.as_str()));
                    items.notifications.extend(found.notifications);
                    items.changes.extend(found.changes);
                    found.import_rows.retain(|r| ids.contains(&r.prospect_id.as_str()));
                    items.import_rows.extend(found.import_rows);
                }
            }
        }
        // Notifications written before SubjectIndex existed carry no
        // subject: the ones still queued are found by their card.
        if !ids.is_empty() {
            for state in [NotificationState::Pending, NotificationState::Failed] {
                for n in self.store.notifications(state, LEGACY_QUEUE_READ).await? {
                    if n.subject.is_empty() && ids.contains(&n.prospect_id.as_str()) {
                        items.notifications.push(n);
                    }
                }
            }
        }
        erasure.notifications = items.notifications.len() as i64;
        erasure.board_changes = items.changes.len() as i64;
        erasure.import_rows = items.import_rows.len() as i64;
        if erasure.prospects == 0 && items.is_empty() {
            return Ok(erasure);
        }
        // Also scrubs the embedded file of the deleted cards.
        self.store.erase_items(&items).await?;
        erasure.id = uuid::Uuid::now_v7().to_string();
        erasure.erased_at = Some(now);
        self.store.save_erasure(&erasure).await?;
        self.board().changed();
        tracing::info!(erasure = %erasure.id, actor, reason = ?reason, prospects = erasure.prospects, "personal data erased");
        Ok(erasure)
    }

    /// One pass of the team's retention (`TeamSettings.retention`): the
    /// cards in a column since before its cut-off, oldest first, at most
    /// `limit`, are erased. One read of `ColumnAgeIndex` per column (and
    /// page), then each card's history; never the whole table. Stateless:
    /// a pass killed half-way leaves cards that the next pass finds.
    pub async fn retention_pass(&self, limit: usize) -> DomainResult<Erasure> {
        use astro_proto::{storage::COLUMN_AGE_INDEX, storage::KeyText};
        let settings = match &self.team {
            Some(team) => team.settings().await?,
            None => self.store.get_team_settings().await?.unwrap_or_default(),
        };
        let now = self.scoring().clock().now();
        let mut due: Vec<Prospect> = Vec::new();
        for rule in &settings.retention {
            let Ok(status) = ProspectStatus::try_from(rule.status) else { continue };
            let Some(cutoff) = months_before(&now, rule.months) else { continue };
            let before = timestamp_key(&cutoff);
            let mut after = None;
            while due.len() < limit {
                let want = (limit - due.len()).min(EMAIL_PAGE);
                let page =
                    self.store.list_before(&COLUMN_AGE_INDEX, status.key_text(), &before, after.take(), want).await?;
                let full = page.len() == want;
                after = page.last().map(|p| crate::store::ColumnPosition {
                    sort: p.status_changed_at.as_ref().map(timestamp_key).unwrap_or_default(),
                    id: p.id.clone(),
                });
                due.extend(page);
                if !full {
                    break;
                }
            }
        }
        let mut cards = Vec::with_capacity(due.len());
        for card in due {
            // With its history (the record counts it), at the version listed.
            if let Some(whole) = self.store.get_prospect(&card.id, true).await?
                && whole.version == card.version
            {
                cards.push(whole);
            }
        }
        self.erase_cards(&cards, RETENTION_ACTOR, ErasureReason::Retention, None).await
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

/// `at` minus `months` calendar months (UTC), if representable.
fn months_before(at: &prost_types::Timestamp, months: i32) -> Option<prost_types::Timestamp> {
    let at = jiff::Timestamp::new(at.seconds, at.nanos).ok()?.to_zoned_datetime(jiff::tz::TimeZone::UTC);
    let cutoff = at.checked_sub(jiff::Span::new().months(i64::from(months))).ok()?.timestamp();
    Some(prost_types::Timestamp { seconds: cutoff.as_second(), nanos: cutoff.subsec_nanosecond() })
}

fn valid_email(email: &str) -> DomainResult<String> {
    let mut v = Violations::default();
    let email = validation::email(&mut v, "email", email);
    check(v)?;
    Ok(email)
}
