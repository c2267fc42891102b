//! The store port: what the domain needs from storage, whatever the backend.
//!
//! Adapters keep the single-table layout generated from `proto/`
//! (`astro_proto::storage`): the embedded adapter here, DynamoDB beside it.

pub mod backup;
pub mod dump;
pub mod dynamodb;
pub mod embedded;
mod wal_vfs;

use astro_proto::v1::{
    BoardChange, Notification, NotificationState, Prospect, ProspectEvent, ProspectStatus, ProspectStatusCount,
    SignInFailures, SpentCaptcha, User,
};
use async_trait::async_trait;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    /// A condition on the write failed: the item exists, or its version moved.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("not found")]
    NotFound,
    /// Transient: the caller may retry.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("store failure: {0}")]
    Internal(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// A versioned item (`what` `id`) moved on from the version a write expected.
    pub fn stale(what: &str, id: &str, stored: i64, expected: i64) -> Self {
        StoreError::Conflict(format!("{what} {id} is at version {stored}, not {expected}"))
    }
}

/// One column of the board, or one owner's or one form's part of it, in one
/// order: the partition of `StatusIndex`, `OwnerIndex` or `FormIndex`
/// (newest first), or of `ScoreIndex` or `OwnerScoreIndex` (best fit first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub status: ProspectStatus,
    pub owner: Option<String>,
    /// One form's cards (newest first only: `domain::prospects` refuses
    /// the other orders with a form).
    pub form: Option<String>,
    pub order: ColumnOrder,
    /// Read for a list: the store may leave out what a card does not carry
    /// (`domain::prospects::card_view`). Never for a read that writes back.
    pub cards: bool,
}

/// How a column is read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ColumnOrder {
    /// Newest first (`created_at`).
    #[default]
    Newest,
    /// Best fit first (`score_key`); with a prefix, only the keys that
    /// start with it (one grade).
    Score(Option<String>),
}

impl Column {
    pub fn all(status: ProspectStatus) -> Self {
        Self { status, owner: None, form: None, order: ColumnOrder::Newest, cards: false }
    }

    pub fn index(&self) -> &'static astro_proto::storage::IndexDef {
        use astro_proto::storage::{FORM_INDEX, OWNER_INDEX, OWNER_SCORE_INDEX, SCORE_INDEX, STATUS_INDEX};
        if self.form.is_some() {
            return &FORM_INDEX;
        }
        match (&self.owner, &self.order) {
            (Some(_), ColumnOrder::Newest) => &OWNER_INDEX,
            (None, ColumnOrder::Newest) => &STATUS_INDEX,
            (Some(_), ColumnOrder::Score(_)) => &OWNER_SCORE_INDEX,
            (None, ColumnOrder::Score(_)) => &SCORE_INDEX,
        }
    }

    /// The sort-key prefix every card read must have, if any.
    pub fn prefix(&self) -> Option<&str> {
        match &self.order {
            ColumnOrder::Score(prefix) => prefix.as_deref(),
            ColumnOrder::Newest => None,
        }
    }

    /// The index's partition key value.
    pub fn partition(&self) -> String {
        use astro_proto::storage::KeyText;
        match (&self.form, &self.owner) {
            (Some(form), _) => owner_column(form, self.status),
            (None, Some(owner)) => owner_column(owner, self.status),
            (None, None) => self.status.key_text().to_owned(),
        }
    }
}

/// `Prospect.owner_column` of a card owned by `owner` in `status` (and
/// `Prospect.form_column` of a card of form `owner`).
pub fn owner_column(owner: &str, status: ProspectStatus) -> String {
    use astro_proto::storage::KeyText;
    format!("{owner}#{}", status.key_text())
}

/// Where a page of a column stops: the last card returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnPosition {
    /// The card's sort key in the column's index: its `created_at` as
    /// written there (`timestamp_key`), or its `score_key`.
    pub sort: String,
    pub id: String,
}

/// A new prospect with what must be written with it, atomically.
#[derive(Debug, Clone)]
pub struct NewProspect {
    pub prospect: Prospect,
    pub created: ProspectEvent,
    /// The board's record of it, for the watchers.
    pub change: BoardChange,
    /// The team's notifications of it (the outbox), pending.
    pub notifications: Vec<Notification>,
    /// Set when the caller gave a request id: a replay returns the first prospect.
    pub request: Option<astro_proto::v1::CreateProspectRecord>,
    /// What it adds to the pipeline's weekly aggregates.
    pub insights: Vec<astro_proto::v1::PipelineWeek>,
}

impl NewProspect {
    /// Marks the card a duplicate of `first` (the first card created with its
    /// address), in the card and in every copy written with it.
    pub fn link_duplicate(&mut self, first: String) {
        for card in [Some(&mut self.prospect), self.change.prospect.as_mut()]
            .into_iter()
            .chain(self.notifications.iter_mut().map(|n| n.prospect.as_mut()))
            .flatten()
        {
            card.duplicate_of.clone_from(&first);
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum CreateOutcome {
    /// The card as written (with its duplicate link).
    Created(Box<Prospect>),
    /// The request id was used before, for this prospect id.
    Replayed(String),
}

/// A changed prospect: written only if the stored version is still `expected_version`.
#[derive(Debug, Clone)]
pub struct ProspectChange {
    pub prospect: Prospect,
    pub expected_version: i64,
    pub previous_status: ProspectStatus,
    pub events: Vec<ProspectEvent>,
    /// The board's record of it, for the watchers.
    pub board: BoardChange,
    /// Written in the same transaction: the new owner's email, when the
    /// card is given to someone.
    pub notifications: Vec<Notification>,
    /// What it adds to the pipeline's weekly aggregates (a move).
    pub insights: Vec<astro_proto::v1::PipelineWeek>,
}

/// The partition key of every card in the search indexes.
pub const SEARCH_PARTITION: &str = "PROSPECT";

/// A search index: cards by a search key (see `Prospect.search_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchKey {
    FirstName,
    LastName,
    Company,
}

impl SearchKey {
    pub const ALL: [SearchKey; 3] = [SearchKey::FirstName, SearchKey::LastName, SearchKey::Company];

    pub fn index(self) -> &'static astro_proto::storage::IndexDef {
        use astro_proto::storage::{COMPANY_INDEX, FIRST_NAME_INDEX, LAST_NAME_INDEX};
        match self {
            SearchKey::FirstName => &FIRST_NAME_INDEX,
            SearchKey::LastName => &LAST_NAME_INDEX,
            SearchKey::Company => &COMPANY_INDEX,
        }
    }
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn get_user(&self, email: &str) -> StoreResult<Option<User>>;
    /// Fails with `Conflict` when a user with this email exists.
    async fn create_user(&self, user: User) -> StoreResult<()>;
    /// The team (users not removed), by email, strictly after `after`: one
    /// read of `MemberIndex`.
    async fn list_members(&self, after: Option<String>, limit: usize) -> StoreResult<Vec<User>>;
    /// Writes `user` if the stored one is still at `expected_version`
    /// (`Conflict` otherwise, `NotFound` when there is none) and, when `keep`
    /// names another user with the version read, only if that one has not
    /// changed either — one atomic step, so that two admins demoting each
    /// other at once cannot leave the team without an admin.
    async fn save_user(&self, user: &User, expected_version: i64, keep: Option<&User>) -> StoreResult<()>;

    /// Writes the prospect, its creation event, its column's counter and the
    /// request record in one transaction, first linking it to the first card
    /// created with its address ([`NewProspect::link_duplicate`]): the
    /// embedded store looks inside its write transaction (no second hop, and
    /// two creates with one address cannot both miss each other), DynamoDB
    /// with one `Query` on `EmailIndex` before its transaction.
    async fn create_prospect(&self, new: NewProspect) -> StoreResult<CreateOutcome>;
    /// The prospect, with its events (oldest first) when `with_events`.
    async fn get_prospect(&self, id: &str, with_events: bool) -> StoreResult<Option<Prospect>>;
    /// `Conflict` when the stored version is not the expected one, `NotFound`
    /// when it is gone; counters follow a status change in the same transaction.
    async fn update_prospect(&self, change: ProspectChange) -> StoreResult<()>;
    /// Deletes the card and its events, and records `change` (completed with
    /// the deleted card's version + 1 and column) in the same transaction;
    /// returns what was deleted.
    async fn delete_prospect(
        &self,
        id: &str,
        expected_version: Option<i64>,
        change: BoardChange,
    ) -> StoreResult<Prospect>;

    /// The board's changes made at or after `since` and not expired, oldest
    /// first, at most `limit`: one read of each hour's partition from
    /// `since`'s to the current one (see [`board_hours`]).
    async fn board_changes(&self, since: &prost_types::Timestamp, limit: usize) -> StoreResult<Vec<BoardChange>>;

    /// One column (or one owner's part of it) in its order, strictly after
    /// `after`: one read of its index (keys with the column's prefix only).
    async fn list_column(
        &self,
        column: &Column,
        after: Option<ColumnPosition>,
        limit: usize,
    ) -> StoreResult<Vec<Prospect>>;
    /// The cards of `index`'s `partition` whose sort key is below `before`,
    /// in key order (oldest first), strictly after `after`: one read of an
    /// ascending index (`DeadlineIndex`: the cards overdue at a time;
    /// `ColumnAgeIndex`: the cards in a column since before a time), for a
    /// list: like a column read with `cards`.
    async fn list_before(
        &self,
        index: &'static astro_proto::storage::IndexDef,
        partition: &str,
        before: &str,
        after: Option<ColumnPosition>,
        limit: usize,
    ) -> StoreResult<Vec<Prospect>>;
    /// Prospects with this email, newest first, strictly after the id `after`.
    async fn list_by_email(&self, email: &str, after: Option<String>, limit: usize) -> StoreResult<Vec<Prospect>>;
    /// Up to `limit` cards whose `key` starts with `prefix`, in key order:
    /// one read of that index.
    async fn search(&self, key: SearchKey, prefix: &str, limit: usize) -> StoreResult<Vec<Prospect>>;
    /// The kept counts: one per column that ever had a card (its shards summed).
    async fn status_counts(&self) -> StoreResult<Vec<ProspectStatusCount>>;

    /// The failed sign-ins counted so far in each of these windows (their
    /// keys: `kind`, `subject`, `window_start`), in the same order; 0 when
    /// none. One read for all of them.
    async fn sign_in_failures(&self, windows: &[SignInFailures]) -> StoreResult<Vec<i64>>;
    /// Adds one failure to each window's count, atomically per window
    /// (concurrent failures all count), creating it with its `expires_at`.
    async fn add_sign_in_failure(&self, windows: &[SignInFailures]) -> StoreResult<()>;
    /// Forgets a window's failures.
    async fn clear_sign_in_failures(&self, window: &SignInFailures) -> StoreResult<()>;

    /// Pending notifications due at `now` or before, soonest first.
    async fn due_notifications(&self, now: &prost_types::Timestamp, limit: usize) -> StoreResult<Vec<Notification>>;
    /// Notifications in `state` (PENDING or FAILED), oldest due first.
    async fn notifications(&self, state: NotificationState, limit: usize) -> StoreResult<Vec<Notification>>;
    async fn get_notification(&self, id: &str) -> StoreResult<Option<Notification>>;
    /// Writes `n`: new when `expected_version` is 0 (an email written apart
    /// from a prospect), else if the stored one is still at that version
    /// (`Conflict` otherwise: someone else claimed or changed it).
    async fn save_notification(&self, n: &Notification, expected_version: i64) -> StoreResult<()>;

    /// Writes an invitation: a new one (`expected_version` 0: `Conflict` if
    /// its id exists), or a change from the version read (`Conflict` if it
    /// moved on: of two acceptances of one link, one wins).
    async fn save_invitation(&self, invitation: &astro_proto::v1::Invitation, expected_version: i64)
    -> StoreResult<()>;
    async fn get_invitation(&self, id: &str) -> StoreResult<Option<astro_proto::v1::Invitation>>;
    /// Every invitation kept (one partition: a team's handful), in id order.
    async fn invitations(&self) -> StoreResult<Vec<astro_proto::v1::Invitation>>;

    /// Adds a line to the security log.
    async fn record_security_event(&self, event: &astro_proto::v1::SecurityEvent) -> StoreResult<()>;
    /// One month's security log (`SecurityEvent.month`), newest first,
    /// strictly before the sort key `before`, at most `limit`: one read.
    async fn security_events(
        &self,
        month: &str,
        before: Option<String>,
        limit: usize,
    ) -> StoreResult<Vec<astro_proto::v1::SecurityEvent>>;

    /// The team's settings, if ever changed.
    async fn get_team_settings(&self) -> StoreResult<Option<astro_proto::v1::TeamSettings>>;
    /// Writes the settings if the stored ones are still at `expected_version`
    /// (0: none stored yet); `Conflict` otherwise.
    async fn save_team_settings(
        &self,
        settings: &astro_proto::v1::TeamSettings,
        expected_version: i64,
    ) -> StoreResult<()>;
    /// The scoring rules, if ever changed.
    async fn get_scoring_rules(&self) -> StoreResult<Option<astro_proto::v1::ScoringRules>>;
    /// Writes the rules and a copy of them (`ScoringRulesRevision`) in one
    /// transaction, if the stored rules are still at `expected_version` (0:
    /// none stored yet); `Conflict` otherwise.
    async fn save_scoring_rules(&self, rules: &astro_proto::v1::ScoringRules, expected_version: i64)
    -> StoreResult<()>;
    /// The rules' revisions, newest first, strictly before the revision
    /// saved at `before` (a `timestamp_key`), at most `limit`: one read.
    async fn scoring_revisions(
        &self,
        before: Option<String>,
        limit: usize,
    ) -> StoreResult<Vec<astro_proto::v1::ScoringRulesRevision>>;
    /// The weekly aggregates of one dimension from `from_week` to
    /// `to_week` (ISO weeks, both included), every shard: one read (paged
    /// when large).
    async fn pipeline_weeks(
        &self,
        dimension: &str,
        from_week: &str,
        to_week: &str,
    ) -> StoreResult<Vec<astro_proto::v1::PipelineWeek>>;
    /// The re-scoring job, if one ever ran.
    async fn get_rescore(&self) -> StoreResult<Option<astro_proto::v1::Rescore>>;
    /// Writes the job: new when `expected_version` is 0, else only if the
    /// stored one is still at that version (`Conflict` otherwise).
    async fn save_rescore(&self, job: &astro_proto::v1::Rescore, expected_version: i64) -> StoreResult<()>;

    /// Adds one to the round-robin's counter, atomically, and returns the
    /// new count (1 for the first assignment): every instance sharing the
    /// store gets its own number.
    async fn next_assignment(&self) -> StoreResult<i64>;

    /// Records a captcha solution as used, unless it already is (and has not
    /// expired): then returns the idempotency key it was first used with.
    /// Atomic: of two instances spending one solution, one wins.
    async fn spend_captcha(&self, spent: SpentCaptcha) -> StoreResult<Option<String>>;

    /// What `SubjectIndex` holds for one email: the notifications and the
    /// board changes that carry a copy of a card with it. One read (paged).
    async fn subject_items(&self, subject: &str) -> StoreResult<SubjectItems>;
    /// Deletes these items. The embedded store also scrubs its file: deleted
    /// rows are zeroed (`secure_delete`) and the log is emptied (unless a
    /// reader holds an old snapshot for 10 s: then a later checkpoint does
    /// it), so nothing of them stays on disk.
    async fn erase_items(&self, items: &SubjectItems) -> StoreResult<()>;
    /// Adds an erasure to the log of erasures.
    async fn save_erasure(&self, erasure: &astro_proto::v1::Erasure) -> StoreResult<()>;
    /// The log of erasures, newest first, strictly before the sort key
    /// `before`, at most `limit`: one read.
    async fn erasures(&self, before: Option<String>, limit: usize) -> StoreResult<Vec<astro_proto::v1::Erasure>>;

    /// An import (`ImportService`), if kept.
    async fn get_import(&self, id: &str) -> StoreResult<Option<astro_proto::v1::Import>>;
    /// Writes an import: new when `expected_version` is 0, else only if the
    /// stored one is still at that version (`Conflict` otherwise).
    async fn save_import(&self, import: &astro_proto::v1::Import, expected_version: i64) -> StoreResult<()>;
    /// The log of imports, newest first, strictly before the id `before`,
    /// at most `limit`: one read.
    async fn imports(&self, before: Option<String>, limit: usize) -> StoreResult<Vec<astro_proto::v1::Import>>;
    /// Writes an import's file parts and report rows as they are (a row
    /// written again replaces the first).
    async fn put_import_items(
        &self,
        parts: Vec<astro_proto::v1::ImportFile>,
        rows: Vec<astro_proto::v1::ImportRow>,
    ) -> StoreResult<()>;
    /// An import's file, its parts in order: one read.
    async fn import_file(&self, import_id: &str) -> StoreResult<Vec<astro_proto::v1::ImportFile>>;
    /// An import's report rows in file order, strictly after the row key
    /// `after`, at most `limit` (fewer only on the last page).
    async fn import_rows(
        &self,
        import_id: &str,
        after: Option<String>,
        limit: usize,
    ) -> StoreResult<Vec<astro_proto::v1::ImportRow>>;
    /// Deletes an import's file parts.
    async fn delete_import_file(&self, parts: &[astro_proto::v1::ImportFile]) -> StoreResult<()>;

    /// A form (`FormService`), if stored.
    async fn get_form(&self, name: &str) -> StoreResult<Option<astro_proto::v1::Form>>;
    /// Writes a form: new when `expected_version` is 0 (`Conflict` if the
    /// name is taken), else only if the stored one is still at that
    /// version; with `published`, writes that version too in the same
    /// transaction (`Conflict` if it exists).
    async fn save_form(
        &self,
        form: &astro_proto::v1::Form,
        expected_version: i64,
        published: Option<&astro_proto::v1::FormVersion>,
    ) -> StoreResult<()>;
    /// The forms, by name, at most `limit`: one read.
    async fn forms(&self, limit: usize) -> StoreResult<Vec<astro_proto::v1::Form>>;
    /// One published version of a form (`number`: its key, zero-padded).
    async fn get_form_version(&self, name: &str, number: &str) -> StoreResult<Option<astro_proto::v1::FormVersion>>;

    /// Up to `limit` stored items of every kind, in the store's own order,
    /// after the position `after` (from the previous page); the next
    /// position, `None` after the last page. For a full export.
    async fn dump_page(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> StoreResult<(Vec<dump::AnyEntity>, Option<String>)>;
    /// Writes items as they are (keys included), into a store that holds
    /// none of them: a full import.
    async fn load(&self, items: Vec<dump::AnyEntity>) -> StoreResult<()>;
    /// After the last `load`: what the store keeps beside the items. The
    /// cards loaded per column, and whether the dump carried column counters
    /// (DynamoDB keeps them, the embedded store counts on its index).
    async fn load_done(&self, cards_per_status: &[(i32, i64)], counters_loaded: bool) -> StoreResult<()>;
}

/// The items of one person in `SubjectIndex` (see `Store::subject_items`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubjectItems {
    pub notifications: Vec<Notification>,
    pub changes: Vec<BoardChange>,
    /// Import reports' copies of a card from before an update.
    pub import_rows: Vec<astro_proto::v1::ImportRow>,
}

impl SubjectItems {
    pub fn is_empty(&self) -> bool {
        self.notifications.is_empty() && self.changes.is_empty() && self.import_rows.is_empty()
    }

    /// The table keys of the items, for their deletion.
    pub fn keys(&self) -> Vec<(String, String)> {
        use astro_proto::storage::StoredEntity;
        let notifications = self.notifications.iter().map(|n| (n.pk(), n.sk()));
        let changes = self.changes.iter().map(|c| (c.pk(), c.sk()));
        notifications.chain(changes).chain(self.import_rows.iter().map(|r| (r.pk(), r.sk()))).collect()
    }
}

/// The partition key of every member in `MemberIndex`.
pub const MEMBER_PARTITION: &str = "MEMBER";

/// Shards of each column's counter (see `ProspectStatusCounter`).
pub const COUNTER_SHARDS: u32 = 16;

/// A shard for the next counter write.
pub fn counter_shard() -> String {
    format!("{:02}", rand::random::<u32>() % COUNTER_SHARDS)
}

/// Sums counter shards into one count per column.
pub fn sum_counters(
    shards: impl IntoIterator<Item = astro_proto::v1::ProspectStatusCounter>,
) -> Vec<ProspectStatusCount> {
    let mut counts: Vec<ProspectStatusCount> = Vec::new();
    add_counts(&mut counts, shards.into_iter().map(|shard| (shard.status, shard.count)));
    counts
}

/// Adds each `(status, delta)` to its column's count (a new entry if none):
/// shards summed, or a committed write's changes applied to counts as read.
pub fn add_counts(counts: &mut Vec<ProspectStatusCount>, changes: impl IntoIterator<Item = (i32, i64)>) {
    for (status, delta) in changes {
        match counts.iter_mut().find(|c| c.status == status) {
            Some(count) => count.count += delta,
            None => counts.push(ProspectStatusCount { status, count: delta }),
        }
    }
}

/// Counts one more card in `status`.
pub(crate) fn add_counts_of(counts: &mut Vec<(i32, i64)>, status: i32) {
    match counts.iter_mut().find(|(s, _)| *s == status) {
        Some((_, n)) => *n += 1,
        None => counts.push((status, 1)),
    }
}

/// The partition (`BoardChange.hour`) of a change made at `at`: its UTC hour.
pub fn board_hour(at: &prost_types::Timestamp) -> String {
    // The key timestamp's first 13 characters: "2026-11-26T02".
    astro_proto::storage::timestamp_key(at)[..13].to_owned()
}

/// The partitions to read for the changes since `since`: every hour from
/// its own to `now`'s (at most a day's worth, the caller's retention being
/// shorter).
pub fn board_hours(since: &prost_types::Timestamp, now: &prost_types::Timestamp) -> Vec<String> {
    const HOUR: i64 = 3600;
    let (first, last) = (since.seconds.div_euclid(HOUR), now.seconds.div_euclid(HOUR));
    (first..=last.max(first))
        .take(24)
        .map(|h| board_hour(&prost_types::Timestamp { seconds: h * HOUR, nanos: 0 }))
        .collect()
}

/// Whether a stored change is past its time to live (stores may keep an
/// expired item a while: readers skip it).
pub fn expired(change: &BoardChange, now: &prost_types::Timestamp) -> bool {
    change.expires_at.as_ref().is_some_and(|at| (at.seconds, at.nanos) <= (now.seconds, now.nanos))
}

/// The `Notification.queue` of a state: listed in `OutboxIndex` while
/// pending or failed, out of it once delivered.
pub fn queue_of(state: NotificationState) -> &'static str {
    match state {
        NotificationState::Pending => "PENDING",
        NotificationState::Failed => "FAILED",
        NotificationState::Delivered | NotificationState::Cancelled | NotificationState::Unspecified => "",
    }
}

#[cfg(test)]
mod tests {
    use astro_proto::v1::{BoardChange, Notification, Prospect, ProspectEvent};

    use super::NewProspect;

    #[test]
    fn a_duplicate_link_reaches_every_copy_written_with_the_card() {
        let card = Prospect { id: "b".into(), ..Default::default() };
        let mut new = NewProspect {
            prospect: card.clone(),
            created: ProspectEvent::default(),
            change: BoardChange { prospect: Some(card.clone()), ..Default::default() },
            notifications: vec![Notification { prospect: Some(card.clone()), ..Default::default() }; 2],
            request: None,
            insights: Vec::new(),
        };
        new.link_duplicate("a".into());
        assert_eq!(new.prospect.duplicate_of, "a");
        assert_eq!(new.change.prospect.unwrap().duplicate_of, "a");
        assert!(new.notifications.iter().all(|n| n.prospect.as_ref().unwrap().duplicate_of == "a"));
    }
}
