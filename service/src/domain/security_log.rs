//! The security log: sign-ins and their failures, the team's changes,
//! sessions ended, settings changed — in the table, one partition per month,
//! read newest first by admins and gone a year later (TTL).
//!
//! A line is written after the change it records has committed (the change
//! never waits on, nor fails for, its log line); a failed write is logged
//! with the event instead.

use std::sync::Arc;

use astro_proto::{
    storage::timestamp_key,
    v1::{ListSecurityEventsRequest, ListSecurityEventsResponse, SecurityEvent, SecurityEventKind},
};

use super::{
    DomainResult, now,
    page_token::{PagePosition, page_size},
};
use crate::{keys::KeyRing, store::Store};

/// How long a line is kept.
pub const RETENTION_DAYS: i64 = 365;
const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 200;
/// Months read back, at most: the retention.
const MONTHS: usize = 13;

/// The log's partition of a time: its UTC month, "2026-11".
pub fn month_of(at: &prost_types::Timestamp) -> String {
    timestamp_key(at)[..7].to_owned()
}

/// The month before `month` ("2026-01" → "2025-12").
fn previous_month(month: &str) -> Option<String> {
    let (year, number) = month.split_once('-')?;
    let (year, number): (i32, u32) = (year.parse().ok()?, number.parse().ok()?);
    Some(match number {
        1 => format!("{:04}-12", year - 1),
        n => format!("{year:04}-{:02}", n - 1),
    })
}

/// Who and what a line is about.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    pub actor: String,
    pub subject: String,
    pub detail: String,
    pub client_address: String,
}

#[derive(Clone)]
pub struct SecurityLog {
    store: Arc<dyn Store>,
    keys: KeyRing,
}

impl SecurityLog {
    pub fn new(store: Arc<dyn Store>, keys: KeyRing) -> Self {
        Self { store, keys }
    }

    /// Adds a line (see the module's note on failures).
    pub async fn record(&self, kind: SecurityEventKind, entry: Entry) {
        let at = now();
        let event = SecurityEvent {
            month: month_of(&at),
            id: uuid::Uuid::now_v7().to_string(),
            at: Some(at),
            kind: kind as i32,
            actor: entry.actor,
            subject: entry.subject,
            detail: entry.detail,
            client_address: entry.client_address,
            expires_at: Some(prost_types::Timestamp { seconds: at.seconds + RETENTION_DAYS * 86_400, nanos: 0 }),
        };
        if let Err(e) = self.store.record_security_event(&event).await {
            tracing::warn!(target: "astro::security", error = %e, kind = kind.as_str_name(), subject = %event.subject, "could not write the security log line");
        }
    }

    /// The log, newest first, across months.
    pub async fn list(&self, request: ListSecurityEventsRequest) -> DomainResult<ListSecurityEventsResponse> {
        let size = page_size(request.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?;
        const QUERY: &str = "security";
        let pages = self.keys.page_tokens();
        // The position: the month read last (`created_at`) and the sort key of the last line (`id`).
        let (mut month, mut before) = match pages.position(&request.page_token, QUERY)? {
            None => (month_of(&now()), None),
            Some(p) => (p.sort, Some(p.id)),
        };
        let mut events = Vec::new();
        for _ in 0..MONTHS {
            let wanted = size + 1 - events.len();
            let mut found = self.store.security_events(&month, before.take(), wanted).await?;
            let more_here = found.len() == wanted;
            events.append(&mut found);
            if more_here || events.len() > size {
                break;
            }
            match previous_month(&month) {
                Some(previous) => month = previous,
                None => break,
            }
        }
        let next_page_token = match events.len() > size {
            true => {
                events.truncate(size);
                let last = events.last().expect("a full page has a last line");
                let sk = astro_proto::storage::StoredEntity::sk(last);
                pages.encode(&PagePosition { query: QUERY.into(), sort: last.month.clone(), id: sk })
            }
            false => String::new(),
        };
        Ok(ListSecurityEventsResponse { events, next_page_token })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_step_back_across_years() {
        assert_eq!(previous_month("2026-11").as_deref(), Some("2026-10"));
        assert_eq!(previous_month("2026-01").as_deref(), Some("2025-12"));
        assert_eq!(month_of(&prost_types::Timestamp { seconds: 1_796_000_000, nanos: 0 }), "2026-11");
    }
}
