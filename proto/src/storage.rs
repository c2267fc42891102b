//! The single-table layout, generated from the `astro.storage.v1.entity`
//! options on the stored messages.
//!
//! Each stored message implements [`StoredEntity`]: its `PK`, its `SK` and
//! its values in the global secondary indexes. Key builders for reading by key
//! live in one module per entity (`storage::prospect::pk(id)`).

use time::{OffsetDateTime, format_description::well_known::Rfc3339};

/// Attribute name of the table's partition key.
pub const PK: &str = "PK";
/// Attribute name of the table's sort key.
pub const SK: &str = "SK";

/// A global secondary index of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexDef {
    pub name: &'static str,
    pub partition_attribute: &'static str,
    /// `SK` when the index is sorted by the item's own sort key.
    pub sort_attribute: &'static str,
    /// Whether reads of this index return the highest sort key first.
    pub newest_first: bool,
}

/// A stored entity and its key templates.
#[derive(Debug, Clone, Copy)]
pub struct EntityDef {
    pub name: &'static str,
    pub pk: &'static str,
    pub sk: &'static str,
    pub indexes: &'static [IndexDef],
}

/// An item's key values in one index; `None` keeps the item out of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexValue {
    pub index: &'static IndexDef,
    pub partition: Option<String>,
    pub sort: Option<String>,
}

impl IndexValue {
    /// Whether the item appears in the index (both key attributes present).
    pub fn is_present(&self) -> bool {
        self.partition.is_some() && self.sort.is_some()
    }
}

/// A message kept in the single table.
pub trait StoredEntity {
    /// The message name.
    const ENTITY: &'static str;
    fn pk(&self) -> String;
    fn sk(&self) -> String;
    fn index_values(&self) -> Vec<IndexValue>;
}

/// How an enum value is written inside a key.
pub trait KeyText: Sized {
    fn key_text(self) -> &'static str;
    fn from_key_text(text: &str) -> Option<Self>;
}

/// Timestamps in keys are RFC 3339 in UTC with exactly six fractional digits,
/// so that their text order is their time order.
pub fn timestamp_key(ts: &prost_types::Timestamp) -> String {
    let nanos = i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos);
    let at = OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let micros = at.microsecond();
    let whole = at.replace_nanosecond(0).unwrap_or(at);
    let text = whole.format(&Rfc3339).unwrap_or_default();
    // `text` ends in `Z` with no fraction for a whole second.
    format!("{}.{micros:06}Z", text.trim_end_matches('Z'))
}

/// Parses a key timestamp written by [`timestamp_key`].
pub fn parse_timestamp_key(text: &str) -> Option<prost_types::Timestamp> {
    let at = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    Some(prost_types::Timestamp { seconds: at.unix_timestamp(), nanos: at.nanosecond() as i32 })
}

#[allow(clippy::all, clippy::pedantic)]
mod generated {
    use super::*;
    include!(concat!(env!("OUT_DIR"), "/astro_storage.rs"));
}
pub use generated::*;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::{Prospect, ProspectEvent, ProspectStatus, ProspectStatusCount, User};

    fn ts(seconds: i64, nanos: i32) -> prost_types::Timestamp {
        prost_types::Timestamp { seconds, nanos }
    }

    #[test]
    fn prospect_keys_follow_the_declared_templates() {
        let p = Prospect {
            id: "0b9f".into(),
            email: "ada@example.com".into(),
            status: ProspectStatus::Qualified as i32,
            created_at: Some(ts(1_706_400_000, 5_000)),
            ..Default::default()
        };
        assert_eq!(p.pk(), "PROSPECT#0b9f");
        assert_eq!(p.sk(), "METADATA");
        assert_eq!(prospect::pk("0b9f"), "PROSPECT#0b9f");
        let values = p.index_values();
        let status = values.iter().find(|v| v.index.name == "StatusIndex").unwrap();
        assert_eq!(status.partition.as_deref(), Some("QUALIFIED"));
        assert_eq!(status.sort.as_deref(), Some("2024-01-28T00:00:00.000005Z"));
        let email = values.iter().find(|v| v.index.name == "EmailIndex").unwrap();
        assert_eq!(email.partition.as_deref(), Some("ada@example.com"));
        assert_eq!(email.sort.as_deref(), Some("METADATA"));
    }

    #[test]
    fn indexes_carry_the_seed_attribute_names() {
        let status = IndexDef {
            name: "StatusIndex",
            partition_attribute: "status",
            sort_attribute: "createdAt",
            newest_first: true,
        };
        assert_eq!(STATUS_INDEX, status, "a column reads newest first");
        assert_eq!(EMAIL_INDEX.partition_attribute, "email");
        assert_eq!(EMAIL_INDEX.sort_attribute, "SK");
        assert_eq!(INDEXES.len(), 2);
    }

    #[test]
    fn events_and_users_and_counters_have_their_keys() {
        let e = ProspectEvent {
            id: "e1".into(),
            prospect_id: "p1".into(),
            created_at: Some(ts(0, 0)),
            ..Default::default()
        };
        assert_eq!(e.pk(), "PROSPECT#p1");
        assert_eq!(e.sk(), "EVENT#1970-01-01T00:00:00.000000Z#e1");
        assert_eq!(prospect_event::SK_PREFIX, "EVENT#");
        assert!(e.index_values().is_empty());
        let u = User { email: "a@b.c".into(), ..Default::default() };
        assert_eq!((u.pk(), u.sk()), ("USER#a@b.c".to_owned(), "PROFILE".to_owned()));
        let c = ProspectStatusCount { status: ProspectStatus::Won as i32, count: 3 };
        assert_eq!((c.pk(), c.sk()), ("COUNTER#PROSPECT_STATUS".to_owned(), "WON".to_owned()));
    }

    #[test]
    fn unset_index_attributes_keep_items_out_of_the_index() {
        let p = Prospect { id: "x".into(), ..Default::default() };
        assert!(p.index_values().iter().all(|v| !v.is_present()));
    }

    #[test]
    fn timestamp_keys_sort_as_time_and_round_trip() {
        let a = timestamp_key(&ts(1_706_400_000, 999_000));
        let b = timestamp_key(&ts(1_706_400_001, 0));
        assert!(a < b, "{a} < {b}");
        assert_eq!(parse_timestamp_key(&b), Some(ts(1_706_400_001, 0)));
        assert_eq!(ProspectStatus::from_key_text("LOST"), Some(ProspectStatus::Lost));
        assert_eq!(ProspectStatus::New.key_text(), "NEW");
    }
}
