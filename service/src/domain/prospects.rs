//! The prospect pipeline: creating cards from the form, reading the board,
//! moving and editing cards without ever overwriting someone else's change.

use std::{cmp::Reverse, sync::Arc};

use astro_authorizer::{Claims, Role};
use astro_proto::{
    storage::{KeyText, timestamp_key},
    v1::{
        BoardChangeKind, Consent, CreateProspectRecord, EmailConfirmation, FitGrade, ListNotificationsRequest,
        ListNotificationsResponse, ListProspectChangesRequest, ListProspectChangesResponse, ListProspectsRequest,
        ListProspectsResponse, MemberState, Notification, NotificationKind, NotificationState, Prospect, ProspectEvent,
        ProspectEventKind, ProspectStatus, ProspectStatusCount, ProspectView, WatchProspectsResponse,
    },
};

use super::{
    DomainError, DomainResult,
    board::{self, Board, Cursor},
    deadline, insights,
    page_token::PagePosition,
    scoring::{self, Scoring},
    validation::{self, Violations},
};
use crate::keys::KeyRing;
use crate::notify::Notifier;
use crate::store::{
    Column, ColumnOrder, ColumnPosition, CreateOutcome, NewProspect, ProspectChange, SearchKey, Store, StoreError,
};

pub const DEFAULT_PAGE_SIZE: usize = 50;
pub const MAX_PAGE_SIZE: usize = 200;
/// How long a CreateProspect `request_id` is remembered.
pub const REQUEST_ID_LIFETIME_SECS: i64 = 24 * 60 * 60;
const MAX_REQUEST_ID: usize = 100;
/// The longest consent text version.
const MAX_CONSENT_VERSION: usize = 32;
/// The longest search.
pub const MAX_QUERY: usize = 100;

/// The pipeline columns, in board order.
pub const COLUMNS: [ProspectStatus; 5] = [
    ProspectStatus::New,
    ProspectStatus::Contacted,
    ProspectStatus::Qualified,
    ProspectStatus::Won,
    ProspectStatus::Lost,
];

/// Fields an update may set (`update_mask` paths).
pub const UPDATABLE_FIELDS: [&str; 12] = [
    "first_name",
    "last_name",
    "email",
    "phone",
    "company",
    "job_title",
    "message",
    "budget",
    "timeline",
    "status",
    "source",
    "owner",
];

#[derive(Clone)]
pub struct Prospects {
    pub(super) store: Arc<dyn Store>,
    pub(super) keys: KeyRing,
    pub(super) board: Arc<Board>,
    notifier: Arc<Notifier>,
    /// Gives new cards an owner when the team assigns automatically.
    pub(super) team: Option<super::members::Members>,
    /// Scores each card in the write that creates or edits it.
    pub(super) scoring: Scoring,
    /// Judges a submission's answers by its form.
    forms: Option<super::forms::Forms>,
}

/// How often an instance with watchers reads the board's changes made
/// through other instances (its own are seen at once).
pub const DEFAULT_WATCH_POLL: std::time::Duration = std::time::Duration::from_millis(500);

pub(super) fn invalid(field: &str, description: &str) -> DomainError {
    DomainError::Invalid(vec![super::FieldViolation::new(field, description)])
}

pub(super) fn check(v: Violations) -> DomainResult<()> {
    if v.is_empty() { Ok(()) } else { Err(DomainError::Invalid(v.0)) }
}

fn not_found(id: &str) -> DomainError {
    DomainError::NotFound(format!("prospect {id}"))
}

pub(super) fn event(
    prospect: &Prospect,
    kind: ProspectEventKind,
    actor: &str,
    at: prost_types::Timestamp,
) -> ProspectEvent {
    ProspectEvent {
        id: uuid::Uuid::now_v7().to_string(),
        prospect_id: prospect.id.clone(),
        kind: kind as i32,
        actor: actor.to_owned(),
        created_at: Some(at),
        ..Default::default()
    }
}

/// What a new card is written with: its creation event, the record of
/// `request_id` (when given) that makes a replay return it, the board's
/// record of it, `notifications`, its weekly figures.
fn new_prospect(
    prospect: Prospect,
    actor: &str,
    request_id: &str,
    notifications: Vec<Notification>,
    at: prost_types::Timestamp,
) -> NewProspect {
    let created = event(&prospect, ProspectEventKind::Created, actor, at);
    let request = (!request_id.is_empty()).then(|| CreateProspectRecord {
        caller: actor.to_owned(),
        request_id: request_id.to_owned(),
        prospect_id: prospect.id.clone(),
        expires_at: Some(prost_types::Timestamp { seconds: at.seconds + REQUEST_ID_LIFETIME_SECS, nanos: 0 }),
    });
    let change =
        board::change(BoardChangeKind::Created, &prospect.id, Some(&prospect), ProspectStatus::Unspecified, actor, at);
    let insights = insights::created(&prospect);
    NewProspect { prospect, created, request, change, notifications, insights }
}

/// A prospect id as a path segment: a UUID, so it cannot reach into another key.
fn prospect_id(field: &str, id: &str) -> DomainResult<String> {
    uuid::Uuid::parse_str(id.trim())
        .map(|u| u.to_string())
        .map_err(|_| invalid(field, if id.trim().is_empty() { "is required" } else { "must be a prospect id (UUID)" }))
}

impl Prospects {
    pub fn new(store: Arc<dyn Store>, keys: KeyRing) -> Self {
        let board = Arc::new(Board::new(store.clone(), DEFAULT_WATCH_POLL));
        let notifier = Arc::new(Notifier::disabled(store.clone()));
        let scoring = Scoring::new(store.clone(), super::clock::Clock::system(), keys.clone());
        Self { store, keys, board, notifier, team: None, scoring, forms: None }
    }

    /// Scores cards with these rules (and their clock).
    pub fn with_scoring(self, scoring: Scoring) -> Self {
        Self { scoring, ..self }
    }

    pub fn scoring(&self) -> &Scoring {
        &self.scoring
    }

    /// Submissions naming a form are judged by it.
    pub fn with_forms(self, forms: super::forms::Forms) -> Self {
        Self { forms: Some(forms), ..self }
    }

    /// New cards are given an owner as the team's settings say.
    pub fn with_team(self, team: super::members::Members) -> Self {
        Self { team: Some(team), ..self }
    }

    /// Records and sends the team's notifications of new prospects.
    pub fn with_notifier(self, notifier: Arc<Notifier>) -> Self {
        Self { notifier, ..self }
    }

    /// Reads other instances' changes every `poll` while someone watches.
    pub fn with_watch_poll(self, poll: std::time::Duration) -> Self {
        let board = Arc::new(Board::new(self.store.clone(), poll));
        Self { board, ..self }
    }

    /// The live board of this instance.
    pub fn board(&self) -> &Arc<Board> {
        &self.board
    }

    /// Creates a card in NEW. Output-only fields of `input` are ignored
    /// (AIP-133); a reused `request_id` returns the first card.
    pub async fn create(&self, caller: &Claims, mut input: Prospect, request_id: &str) -> DomainResult<Prospect> {
        let mut v = Violations::default();
        validation::prospect_fields(&mut v, "prospect", &mut input);
        let consent = input.consent.take().unwrap_or_default();
        if !consent.given {
            v.add("prospect.consent.given", "consent to be contacted is required");
        }
        let version = consent.text_version.trim();
        if version.chars().count() > MAX_CONSENT_VERSION || version.chars().any(|c| c.is_control()) {
            v.add(
                "prospect.consent.text_version",
                format!("must be at most {MAX_CONSENT_VERSION} printable characters"),
            );
        }
        if !matches!(consent.language.as_str(), "" | "fr" | "en") {
            v.add("prospect.consent.language", "\"fr\", \"en\" or empty");
        }
        match ProspectStatus::try_from(input.status) {
            Ok(ProspectStatus::Unspecified | ProspectStatus::New) => {}
            _ => v.add("prospect.status", "new prospects start in NEW: leave it unset"),
        }
        let double_opt_in = match &self.forms {
            Some(forms) => forms.check_submission(&mut v, &mut input, &consent.language).await?,
            None if input.form.is_some() || !input.answers.is_empty() => {
                v.add("prospect.form", "forms are not served here");
                false
            }
            None => false,
        };
        let request_id = request_id.trim();
        if request_id.len() > MAX_REQUEST_ID || request_id.chars().any(|c| c.is_control()) {
            v.add("request_id", format!("must be at most {MAX_REQUEST_ID} printable characters"));
        }
        check(v)?;

        let at = self.scoring.clock().now();
        let prospect = Prospect {
            id: uuid::Uuid::now_v7().to_string(),
            consent: Some(Consent {
                given: true,
                given_at: consent.given_at.or(Some(at)),
                text_version: version.to_owned(),
                language: consent.language.clone(),
            }),
            status: ProspectStatus::New as i32,
            created_at: Some(at),
            updated_at: Some(at),
            status_changed_at: Some(at),
            version: 1,
            events: Vec::new(),
            // The team's round-robin, or an update (not the caller's to set).
            owner: String::new(),
            email_confirmation: EmailConfirmation::Unspecified as i32,
            email_confirmed_at: None,
            ..input
        };
        let mut prospect = prospect;
        if let Some(team) = &self.team {
            prospect.owner = team.assign().await?.unwrap_or_default();
            prospect.first_contact_due = deadline::first_contact_due(&team.settings().await?, &at);
        }
        self.scoring.apply(&mut prospect).await?;
        // Its email with the link, written with the card (never lost).
        let confirmation = match double_opt_in {
            true => {
                prospect.email_confirmation = EmailConfirmation::Pending as i32;
                let to = prospect.email.clone();
                let message = self.notifier.member_email(
                    NotificationKind::EmailConfirmation,
                    &to,
                    &prospect.id,
                    Some(&prospect),
                    at,
                );
                if message.is_none() {
                    tracing::warn!("a form asks for double opt-in, and no email goes out (ASTRO_SMTP_URL)");
                    prospect.email_confirmation = EmailConfirmation::Unspecified as i32;
                }
                message
            }
            false => None,
        };
        let mut notifications = self.notifier.outbox(&prospect, at);
        notifications.extend(confirmation);
        if hot(&prospect) {
            notifications.extend(self.notifier.hot(&prospect, at));
        }
        if let Some(due) = prospect.first_contact_due {
            notifications.extend(self.notifier.reminders(&prospect, due));
        }
        let new = new_prospect(prospect, &caller.email, request_id, notifications, at);
        match self.store.create_prospect(new).await? {
            CreateOutcome::Created(prospect) => {
                self.board.changed();
                self.notifier.wake();
                Ok(*prospect)
            }
            CreateOutcome::Replayed(id) => self.store.get_prospect(&id, false).await?.ok_or_else(|| not_found(&id)),
        }
    }

    pub async fn get(&self, id: &str, view: i32) -> DomainResult<Prospect> {
        let id = prospect_id("id", id)?;
        let full = match ProspectView::try_from(view) {
            Ok(ProspectView::Full) => true,
            Ok(_) => false,
            Err(_) => return Err(invalid("view", "unknown value")),
        };
        self.store.get_prospect(&id, full).await?.ok_or_else(|| not_found(&id))
    }

    /// A page of cards, each as the board shows it (see [`card_view`]).
    pub async fn list(&self, caller: &Claims, request: ListProspectsRequest) -> DomainResult<ListProspectsResponse> {
        let mut page = self.page_of(caller, request, true).await?;
        page.prospects.iter_mut().for_each(card_view);
        Ok(page)
    }

    /// A page of a listing, with the board's counts when `with_counts`.
    pub(super) async fn page_of(
        &self,
        caller: &Claims,
        request: ListProspectsRequest,
        with_counts: bool,
    ) -> DomainResult<ListProspectsResponse> {
        // Taken before the page is read: a change racing with the read comes
        // to the watcher (maybe twice, and then dropped by its version).
        let cursor = Cursor::now();
        let (watch_cursor, read_at) = (cursor.encode(), Some(cursor.at()));
        let mut v = Violations::default();
        if request.page_size < 0 {
            v.add("page_size", "must not be negative");
        }
        let size = match request.page_size {
            0 => DEFAULT_PAGE_SIZE,
            n => (n.max(0) as usize).min(MAX_PAGE_SIZE),
        };
        let status = match ProspectStatus::try_from(request.status) {
            Ok(s) => s,
            Err(_) => {
                v.add("status", format!("unknown value {}", request.status));
                ProspectStatus::Unspecified
            }
        };
        let search = request.query.trim();
        let email = if !request.email.trim().is_empty() {
            validation::email(&mut v, "email", &request.email)
        } else if search.contains('@') {
            validation::email(&mut v, "query", search)
        } else {
            String::new()
        };
        let (overdue, stale) = (request.overdue, request.stale);
        if overdue || stale {
            let alone = search.is_empty()
                && request.email.trim().is_empty()
                && request.owner.trim().is_empty()
                && request.order_by.trim().is_empty()
                && request.grade == 0;
            let field = if overdue { "overdue" } else { "stale" };
            if !alone || (overdue && stale) {
                v.add(field, "lists on its own: leave the other filters and the order out");
            }
            if overdue && !matches!(status, ProspectStatus::Unspecified | ProspectStatus::New) {
                v.add("status", "overdue cards are in NEW: leave it unset or NEW");
            }
            if stale && status == ProspectStatus::Unspecified {
                v.add("status", "is required with `stale`: the column whose stale cards to list");
            }
        }
        let owner = match request.owner.trim() {
            "" => None,
            "me" => Some(caller.email.clone()),
            other => Some(validation::email(&mut v, "owner", other)),
        };
        if owner.is_some() && (!search.is_empty() || !request.email.trim().is_empty()) {
            v.add("owner", "lists one owner's cards: leave `email` and `query` out");
        }
        let form = match request.form.trim() {
            "" => None,
            name => {
                super::forms::check_name(&mut v, "form", name);
                let alone = search.is_empty()
                    && request.email.trim().is_empty()
                    && owner.is_none()
                    && request.grade == 0
                    && !overdue
                    && !stale;
                if !alone {
                    v.add(
                        "form",
                        "lists one form's cards: leave `email`, `query`, `owner`, `grade`, `overdue` and `stale` out",
                    );
                }
                Some(name.to_owned())
            }
        };
        let by_score = match request.order_by.trim().to_lowercase().split_whitespace().collect::<Vec<_>>()[..] {
            [] | ["created_at", "desc"] => false,
            ["score", "desc"] => true,
            _ => {
                v.add("order_by", "\"created_at desc\" (the default) or \"score desc\"");
                false
            }
        };
        let grade = match FitGrade::try_from(request.grade) {
            Ok(FitGrade::Unspecified) => None,
            Ok(grade) => Some(grade),
            Err(_) => {
                v.add("grade", format!("unknown value {}", request.grade));
                None
            }
        };
        if grade.is_some() && !request.order_by.trim().is_empty() && !by_score {
            v.add("order_by", "one grade's cards come best first: leave it empty or \"score desc\"");
        }
        if form.is_some() && by_score {
            v.add("order_by", "one form's cards come newest first: leave it empty");
        }
        let order = match (grade, by_score) {
            (Some(grade), _) => ColumnOrder::Score(Some(scoring::grade_prefix(grade))),
            (None, true) => ColumnOrder::Score(None),
            (None, false) => ColumnOrder::Newest,
        };
        if !search.is_empty() {
            if search.chars().count() > MAX_QUERY || search.chars().any(char::is_control) {
                v.add("query", format!("must be at most {MAX_QUERY} printable characters"));
            }
            if !request.page_token.is_empty() {
                v.add("page_token", "a search has one page: leave it empty");
            }
            if !request.email.trim().is_empty() {
                v.add("query", "search by `query` or by `email`, not both");
            }
        }
        check(v)?;
        let of_grade = |p: &Prospect| grade.is_none_or(|g| p.fit.as_ref().is_some_and(|f| f.grade() == g));
        if !search.is_empty() && email.is_empty() {
            let (found, counts) = tokio::join!(self.search(search, status, size), self.counts_if(with_counts));
            let mut found = found?;
            found.retain(of_grade);
            return Ok(ListProspectsResponse {
                prospects: found,
                next_page_token: String::new(),
                status_counts: counts?,
                watch_cursor,
                read_at,
            });
        }

        if overdue || stale {
            let position = (request.page_token.as_str(), size, watch_cursor, read_at);
            return self.waiting(status, overdue, position, with_counts).await;
        }
        let query = format!(
            "status={};email={email};owner={};order={order:?};form={}",
            status.key_text(),
            owner.as_deref().unwrap_or(""),
            form.as_deref().unwrap_or("")
        );
        let pages = self.keys.page_tokens();
        let after = match request.page_token.as_str() {
            "" => None,
            token => Some(
                pages
                    .decode(token, &query)
                    .ok_or_else(|| invalid("page_token", "is not a token of this listing: start again without it"))?,
            ),
        };

        let by_score = matches!(order, ColumnOrder::Score(_));
        let (page, counts) =
            tokio::join!(self.page(status, &email, (owner, form), order, after, size + 1), self.counts_if(with_counts));
        let mut prospects = page?;
        if !email.is_empty() {
            prospects.retain(of_grade);
        }
        let next_page_token = if prospects.len() > size {
            prospects.truncate(size);
            let last = prospects.last().expect("a full page has a last card");
            let sort = match (email.is_empty(), by_score) {
                (false, _) => String::new(),
                (true, false) => created_key(last),
                (true, true) => last.score_key.clone(),
            };
            pages.encode(&PagePosition { query, sort, id: last.id.clone() })
        } else {
            String::new()
        };
        Ok(ListProspectsResponse { prospects, next_page_token, status_counts: counts?, watch_cursor, read_at })
    }

    /// The NEW cards past their first-contact deadline (`overdue`), or the
    /// cards of `status` in it for longer than its stale days: one read of
    /// DeadlineIndex or ColumnAgeIndex, the longest waiting first.
    async fn waiting(
        &self,
        status: ProspectStatus,
        overdue: bool,
        (page_token, size, watch_cursor, read_at): (&str, usize, String, Option<prost_types::Timestamp>),
        with_counts: bool,
    ) -> DomainResult<ListProspectsResponse> {
        use astro_proto::storage::{COLUMN_AGE_INDEX, DEADLINE_INDEX};
        let now = self.scoring.clock().now();
        let query = format!("waiting;overdue={overdue};status={}", status.key_text());
        let pages = self.keys.page_tokens();
        let after = pages.position(page_token, &query)?.map(|p| ColumnPosition { sort: p.sort, id: p.id });
        let settings = match &self.team {
            Some(team) => team.settings().await?,
            None => Default::default(),
        };
        let read = match overdue {
            true => Some((&DEADLINE_INDEX, validation::DEADLINE_PARTITION.to_owned(), timestamp_key(&now))),
            false => deadline::stale_before(&settings, status, &now)
                .map(|before| (&COLUMN_AGE_INDEX, status.key_text().to_owned(), timestamp_key(&before))),
        };
        let (found, counts) = match read {
            Some((index, partition, before)) => {
                let (found, counts) = tokio::join!(
                    self.store.list_before(index, &partition, &before, after, size + 1),
                    self.counts_if(with_counts)
                );
                (found?, counts?)
            }
            None => (Vec::new(), self.counts_if(with_counts).await?),
        };
        let mut prospects = found;
        let next_page_token = match prospects.len() > size {
            true => {
                prospects.truncate(size);
                let last = prospects.last().expect("a full page has a last card");
                let at = if overdue { &last.first_contact_due } else { &last.status_changed_at };
                let sort = at.as_ref().map(timestamp_key).unwrap_or_default();
                pages.encode(&PagePosition { query, sort, id: last.id.clone() })
            }
            false => String::new(),
        };
        Ok(ListProspectsResponse { prospects, next_page_token, status_counts: counts, watch_cursor, read_at })
    }

    /// Up to `limit` cards after `after`, in `order` (an email's cards:
    /// newest first).
    async fn page(
        &self,
        status: ProspectStatus,
        email: &str,
        (owner, form): (Option<String>, Option<String>),
        order: ColumnOrder,
        after: Option<PagePosition>,
        limit: usize,
    ) -> DomainResult<Vec<Prospect>> {
        if !email.is_empty() {
            let mut found = self.store.list_by_email(email, after.map(|p| p.id), limit).await?;
            if status != ProspectStatus::Unspecified {
                found.retain(|p| p.status == status as i32);
            }
            return Ok(found);
        }
        let after = after.map(|p| ColumnPosition { sort: p.sort, id: p.id });
        let by_score = matches!(order, ColumnOrder::Score(_));
        let column =
            |status| Column { status, owner: owner.clone(), form: form.clone(), order: order.clone(), cards: true };
        if status != ProspectStatus::Unspecified {
            return Ok(self.store.list_column(&column(status), after, limit).await?);
        }
        // The whole board: each column is read newest first from its index and
        // the columns are merged; the position is the same for every column.
        let columns = COLUMNS.map(column);
        let reads = columns.each_ref().map(|c| self.store.list_column(c, after.clone(), limit));
        let mut all = Vec::new();
        for column in futures_join_all(reads).await {
            all.extend(column?);
        }
        match by_score {
            true => all.sort_by_key(|p| Reverse((p.score_key.clone(), p.id.clone()))),
            false => all.sort_by_key(|p| Reverse((created_key(p), p.id.clone()))),
        }
        all.truncate(limit);
        Ok(all)
    }

    /// Cards whose first name, last name or company starts with the query's
    /// first word and that have each other word at the start of one of
    /// theirs; newest first, at most `limit`. One read per search index.
    async fn search(&self, query: &str, status: ProspectStatus, limit: usize) -> DomainResult<Vec<Prospect>> {
        let key = validation::search_key(query);
        let words: Vec<&str> = key.split(' ').collect();
        let first = words[0];
        // Each index answers in key order: read well past the page, so that
        // the newest of the matches are among what is read.
        let read = (limit * 4).max(MAX_PAGE_SIZE);
        let [by_first, by_last, by_company] = SearchKey::ALL.map(|k| self.store.search(k, first, read));
        let (a, b, c) = tokio::join!(by_first, by_last, by_company);
        let mut found: Vec<Prospect> = Vec::new();
        for card in a?.into_iter().chain(b?).chain(c?) {
            if !found.iter().any(|f| f.id == card.id) {
                found.push(card);
            }
        }
        found.retain(|p| {
            let own = [&p.search_first_name, &p.search_last_name, &p.search_company];
            let theirs: Vec<&str> = own.iter().flat_map(|k| k.split(' ')).collect();
            let whole = own.iter().any(|k| k.starts_with(&key));
            (status == ProspectStatus::Unspecified || p.status == status as i32)
                && (whole || words.iter().all(|w| theirs.iter().any(|t| t.starts_with(w))))
        });
        found.sort_by_key(|p| Reverse((created_key(p), p.id.clone())));
        found.truncate(limit);
        Ok(found)
    }

    async fn counts_if(&self, wanted: bool) -> DomainResult<Vec<ProspectStatusCount>> {
        match wanted {
            true => self.counts().await,
            false => Ok(Vec::new()),
        }
    }

    /// Cards per column, every column present, in board order.
    pub async fn counts(&self) -> DomainResult<Vec<ProspectStatusCount>> {
        let kept = self.store.status_counts().await?;
        Ok(COLUMNS
            .iter()
            .map(|s| ProspectStatusCount {
                status: *s as i32,
                count: kept.iter().find(|c| c.status == *s as i32).map_or(0, |c| c.count.max(0)),
            })
            .collect())
    }

    /// Sets the fields named by `paths` from `input`, if `input.version` is
    /// still the stored version; records a status change or an edit as events.
    pub async fn update(&self, caller: &Claims, input: Prospect, paths: &[String]) -> DomainResult<Prospect> {
        self.update_as(caller, input, paths, true).await
    }

    /// [`Prospects::update`]; without `tell`, nobody is notified (an
    /// import's update: its owners are not sent a letter per row).
    pub(super) async fn update_as(
        &self,
        caller: &Claims,
        input: Prospect,
        paths: &[String],
        tell: bool,
    ) -> DomainResult<Prospect> {
        let id = prospect_id("prospect.id", &input.id)?;
        let mut v = Violations::default();
        if input.version <= 0 {
            v.add("prospect.version", "is required: the version you last read");
        }
        if paths.is_empty() {
            v.add("update_mask", format!("name the fields to update, among: {}", UPDATABLE_FIELDS.join(", ")));
        }
        for path in paths {
            if !UPDATABLE_FIELDS.contains(&path.as_str()) {
                v.add("update_mask", format!("{path:?} cannot be updated; updatable: {}", UPDATABLE_FIELDS.join(", ")));
            }
        }
        check(v)?;

        let stored = self.store.get_prospect(&id, false).await?.ok_or_else(|| not_found(&id))?;
        if stored.version != input.version {
            return Err(stale(&stored, input.version));
        }
        let mut next = stored.clone();
        for path in paths {
            match path.as_str() {
                "first_name" => next.first_name = input.first_name.clone(),
                "last_name" => next.last_name = input.last_name.clone(),
                "email" => next.email = input.email.clone(),
                "phone" => next.phone = input.phone.clone(),
                "company" => next.company = input.company.clone(),
                "job_title" => next.job_title = input.job_title.clone(),
                "message" => next.message = input.message.clone(),
                "budget" => next.budget = input.budget,
                "timeline" => next.timeline = input.timeline,
                "status" => next.status = input.status,
                "source" => next.source = input.source.clone(),
                "owner" => next.owner = input.owner.trim().to_lowercase(),
                _ => unreachable!("paths were checked"),
            }
        }
        let mut v = Violations::default();
        validation::prospect_fields(&mut v, "prospect", &mut next);
        let (before, after) = (
            ProspectStatus::try_from(stored.status).unwrap_or_default(),
            validation::status(&mut v, "prospect.status", next.status),
        );
        check(v)?;
        if next.owner != stored.owner {
            self.check_owner(caller, &stored.owner, &next.owner).await?;
        }

        let changed: Vec<String> = UPDATABLE_FIELDS
            .iter()
            .filter(|f| **f != "status" && field_differs(&stored, &next, f))
            .map(|f| (*f).to_owned())
            .collect();
        if changed.is_empty() && before == after {
            return Ok(stored);
        }
        let at = self.scoring.clock().now();
        next.version = stored.version + 1;
        next.updated_at = Some(at);
        let insights = insights::moved(&stored, &mut next, &at);
        if before != after {
            next.status_changed_at = Some(at);
        }
        // Its time to first contact: its first move out of NEW.
        if before == ProspectStatus::New && after != ProspectStatus::New && next.first_contacted_at.is_none() {
            next.first_contacted_at = Some(at);
        }
        self.scoring.apply(&mut next).await?;
        let mut events = Vec::new();
        if before != after {
            let mut e = event(&next, ProspectEventKind::StatusChanged, &caller.email, at);
            e.from_status = before as i32;
            e.to_status = after as i32;
            events.push(e);
        }
        if !changed.is_empty() {
            let mut e = event(&next, ProspectEventKind::Edited, &caller.email, at);
            e.changed_fields = changed;
            events.push(e);
        }
        let kind = if before != after { BoardChangeKind::Moved } else { BoardChangeKind::Edited };
        // The new owner is told, unless they took the card themselves.
        let given = tell && next.owner != stored.owner && !next.owner.is_empty() && next.owner != caller.email;
        let mut notifications: Vec<Notification> = match given {
            true => self.notifier.member_email(NotificationKind::Assigned, &next.owner, &next.id, Some(&next), at),
            false => None,
        }
        .into_iter()
        .collect();
        // An edit that makes the card HOT announces it, once.
        if tell && hot(&next) && !hot(&stored) {
            notifications.extend(self.notifier.hot(&next, at));
        }
        let told = !notifications.is_empty();
        let change = ProspectChange {
            prospect: next.clone(),
            expected_version: stored.version,
            previous_status: before,
            events,
            board: board::change(kind, &next.id, Some(&next), before, &caller.email, at),
            notifications,
            insights,
        };
        match self.store.update_prospect(change).await {
            Ok(()) => {
                self.board.changed();
                if told {
                    self.notifier.wake();
                }
                Ok(next)
            }
            Err(StoreError::Conflict(_)) => Err(stale(&stored, input.version)),
            Err(StoreError::NotFound) => Err(not_found(&id)),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates a card from an import's row, as the row says (its column and
    /// owner included), in one write like [`Prospects::create`] but telling
    /// nobody: a spreadsheet's leads are not new submissions. `request_id`
    /// makes it happen once: a replay returns the first card.
    pub(super) async fn create_imported(
        &self,
        actor: &str,
        input: Prospect,
        request_id: &str,
    ) -> DomainResult<CreateOutcome> {
        let at = self.scoring.clock().now();
        let status = ProspectStatus::try_from(input.status).unwrap_or(ProspectStatus::New);
        let consent = input.consent.clone().unwrap_or_default();
        let mut prospect = Prospect {
            id: uuid::Uuid::now_v7().to_string(),
            consent: Some(Consent { given: true, given_at: consent.given_at.or(Some(at)), ..consent }),
            status: status as i32,
            created_at: Some(at),
            updated_at: Some(at),
            status_changed_at: Some(at),
            version: 1,
            events: Vec::new(),
            ..input
        };
        if status != ProspectStatus::New {
            // Worked before it came here: no time to first contact to keep.
            prospect.first_contacted_at = Some(at);
        }
        self.scoring.apply(&mut prospect).await?;
        let new = new_prospect(prospect, actor, request_id, Vec::new(), at);
        Ok(self.store.create_prospect(new).await?)
    }

    /// Whether `owner` may own cards: an active admin or salesperson.
    pub(super) async fn can_own(&self, owner: &str) -> DomainResult<bool> {
        let member = self.store.get_user(owner).await?;
        Ok(member.as_ref().is_some_and(|m| {
            astro_authorizer::session::state_of(m) == MemberState::Active
                && (m.role == Role::Admin.claim() || m.role == Role::Sales.claim())
        }))
    }

    /// Whether `caller` may give a card owned by `from` to `to`: an admin
    /// to any active admin or salesperson, or to nobody; a salesperson takes
    /// an unowned card for themselves.
    async fn check_owner(&self, caller: &Claims, from: &str, to: &str) -> DomainResult<()> {
        if caller.role != Role::Admin && !(from.is_empty() && to == caller.email) {
            return Err(DomainError::PermissionDenied("salespeople may only take an unowned card for themselves"));
        }
        if to.is_empty() {
            return Ok(());
        }
        match self.can_own(to).await? {
            true => Ok(()),
            false => Err(invalid("prospect.owner", "must be the email of an active admin or salesperson")),
        }
    }

    pub async fn delete(&self, caller: &Claims, id: &str, version: i64) -> DomainResult<()> {
        let id = prospect_id("id", id)?;
        if version < 0 {
            return Err(invalid("version", "must not be negative"));
        }
        // A salesperson deletes their own cards only: the card is read, and
        // deleted only at the version read, so it cannot change hands between.
        let mut version = version;
        if caller.role == Role::Sales {
            let card = self.store.get_prospect(&id, false).await?.ok_or_else(|| not_found(&id))?;
            if card.owner != caller.email {
                return Err(DomainError::PermissionDenied("salespeople delete only the cards they own"));
            }
            if version > 0 && version != card.version {
                return Err(stale(&card, version));
            }
            version = card.version;
        }
        let change = board::change(
            BoardChangeKind::Deleted,
            &id,
            None,
            ProspectStatus::Unspecified,
            &caller.email,
            self.scoring.clock().now(),
        );
        match self.store.delete_prospect(&id, (version > 0).then_some(version), change).await {
            Ok(_) => {
                self.board.changed();
                Ok(())
            }
            Err(StoreError::NotFound) => Err(not_found(&id)),
            Err(StoreError::Conflict(m)) => Err(DomainError::Conflict(m)),
            Err(e) => Err(e.into()),
        }
    }
}

impl Prospects {
    /// The board's changes after `request.cursor`, once (the polling twin of
    /// [`Prospects::watch`]).
    pub async fn changes(&self, request: ListProspectChangesRequest) -> DomainResult<ListProspectChangesResponse> {
        if request.cursor.trim().is_empty() {
            return Err(invalid("cursor", "is required: the watch_cursor of ListProspects, or the last cursor"));
        }
        let limit = match request.page_size {
            0 => 100,
            n @ 1..=500 => n as usize,
            _ => return Err(invalid("page_size", "must be between 1 and 500")),
        };
        let mut cursor = Cursor::decode(&request.cursor, "cursor")?;
        let changes = self.board.since(&mut cursor, limit).await?;
        Ok(ListProspectChangesResponse { changes, cursor: cursor.encode() })
    }

    /// Notifications in one state (FAILED by default), oldest due first.
    pub async fn notifications(&self, request: ListNotificationsRequest) -> DomainResult<ListNotificationsResponse> {
        let state = match NotificationState::try_from(request.state) {
            Ok(NotificationState::Unspecified | NotificationState::Failed) => NotificationState::Failed,
            Ok(NotificationState::Pending) => NotificationState::Pending,
            _ => return Err(invalid("state", "FAILED or PENDING")),
        };
        let limit = match request.page_size {
            0 => DEFAULT_PAGE_SIZE,
            n @ 1..=200 => n as usize,
            _ => return Err(invalid("page_size", "must be between 1 and 200")),
        };
        Ok(ListNotificationsResponse { notifications: self.store.notifications(state, limit).await? })
    }

    /// Sends a FAILED notification again, with a fresh set of tries.
    pub async fn retry_notification(&self, id: &str) -> DomainResult<Notification> {
        let id = uuid::Uuid::parse_str(id.trim())
            .map(|u| u.to_string())
            .map_err(|_| invalid("id", "must be a notification id (UUID)"))?;
        match self.notifier.retry(&id).await {
            Ok(n) => Ok(n),
            Err(StoreError::NotFound) => Err(DomainError::NotFound(format!("notification {id}"))),
            Err(StoreError::Conflict(m)) => Err(DomainError::FailedPrecondition(m)),
            Err(e) => Err(e.into()),
        }
    }

    /// Streams the board's changes after `cursor` (empty: from now).
    pub fn watch(
        &self,
        cursor: &str,
    ) -> DomainResult<tokio::sync::mpsc::Receiver<DomainResult<WatchProspectsResponse>>> {
        let cursor = match cursor.trim() {
            "" => Cursor::now(),
            text => Cursor::decode(text, "cursor")?,
        };
        Ok(self.board.watch(cursor))
    }
}

fn stale(stored: &Prospect, seen: i64) -> DomainError {
    DomainError::Conflict(format!(
        "prospect {} was changed by someone else (you had version {seen}): reload it and apply your change again",
        stored.id
    ))
}

/// A card as lists and the live board carry it: the prospect without its
/// history, its fit's reasons (GetProspect has both) and the keys only the
/// store's indexes read (search keys, owner column, deadline partition). A
/// column page is a fifth lighter for it, on the wire and in the edge.
pub fn card_view(p: &mut Prospect) {
    p.events = Vec::new();
    for key in [
        &mut p.search_partition,
        &mut p.search_first_name,
        &mut p.search_last_name,
        &mut p.search_company,
        &mut p.owner_column,
        &mut p.form_column,
        &mut p.deadline_partition,
    ] {
        *key = String::new();
    }
    if let Some(fit) = &mut p.fit {
        fit.parts = Vec::new();
    }
}

fn hot(p: &Prospect) -> bool {
    p.fit.as_ref().is_some_and(|f| f.grade() == FitGrade::Hot)
}

fn created_key(p: &Prospect) -> String {
    p.created_at.as_ref().map(timestamp_key).unwrap_or_default()
}

pub(super) fn field_differs(a: &Prospect, b: &Prospect, field: &str) -> bool {
    match field {
        "first_name" => a.first_name != b.first_name,
        "last_name" => a.last_name != b.last_name,
        "email" => a.email != b.email,
        "phone" => a.phone != b.phone,
        "company" => a.company != b.company,
        "job_title" => a.job_title != b.job_title,
        "message" => a.message != b.message,
        "budget" => a.budget != b.budget,
        "timeline" => a.timeline != b.timeline,
        "source" => a.source != b.source,
        "owner" => a.owner != b.owner,
        _ => false,
    }
}

/// Awaits the five column reads concurrently.
async fn futures_join_all<F: std::future::Future>(reads: [F; 5]) -> [F::Output; 5] {
    let [a, b, c, d, e] = reads;
    let (a, b, c, d, e) = tokio::join!(a, b, c, d, e);
    [a, b, c, d, e]
}
