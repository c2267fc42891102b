//! Imports (`ImportService`): a CSV file made a draft, its mapping checked,
//! then run in the background by whichever instance holds its lease, batch
//! after batch, resumable after a crash with each row done once, and
//! undoable.
//!
//! A run writes each batch's report rows *before* it applies them (the
//! decision: create, update with the card as it was, skip, refuse), then
//! applies them and writes them again with what happened; only then does
//! the import's position move. A run killed half-way finds the decisions
//! of the batch it was in and applies them again: a create carries the
//! request id `import:<id>:<row>` (a replay returns the first card), an
//! update is a set of cells (applying it twice changes nothing the second
//! time). A row's email seen earlier in the file is decided from the file
//! itself, never from the board the run is changing.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use astro_authorizer::{Claims, Role};
use astro_proto::v1::{
    BoardChangeKind, DuplicateMode, Import, ImportCellError, ImportFile, ImportRow, ImportRowOutcome, ImportRowPreview,
    ImportState, ImportUndoOutcome, ListImportRowsRequest, ListImportRowsResponse, ListImportsRequest,
    ListImportsResponse, Prospect, ProspectStatus,
};
use tokio::sync::Notify;

use super::{
    DomainError, DomainResult, FieldViolation, board,
    clock::{after, plus},
    import::{self, Table, Target},
    page_token::{PagePosition, page_size},
    prospects::{Prospects, UPDATABLE_FIELDS, check, field_differs, invalid},
    scoring::Step,
    validation::Violations,
};
use crate::store::{CreateOutcome, StoreError};

/// Rows shown in a draft's preview.
pub const PREVIEW_ROWS: usize = 10;
/// The largest part a file is kept in (DynamoDB items are at most 400 KB).
const PART_BYTES: usize = 256 * 1024;
/// How long a draft is kept.
const DRAFT_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// How long a file's parts are kept at most: a draft's day, and a day for
/// a run started at its end (they are deleted when the run ends).
const FILE_LIFETIME: Duration = Duration::from_secs(2 * 24 * 3600);
/// How long an instance holds an import between two batches.
const LEASE: Duration = Duration::from_secs(30);
/// Rows decided and written together.
pub const BATCH: usize = 200;
/// Rows applied at once.
const IN_FLIGHT: usize = 16;
/// The longest an instance applies rows before it moves the import on
/// (well inside its lease, however slow the store).
const STEP_BUDGET: Duration = Duration::from_secs(10);
/// The fields a row cannot go without: mapped before an import starts.
const REQUIRED: [Target; 3] = [Target::FirstName, Target::LastName, Target::Email];
const MAX_FILE_NAME: usize = 200;
const DEFAULT_IMPORTS: usize = 20;
const MAX_IMPORTS: usize = 100;
const DEFAULT_ROWS: usize = 100;
const MAX_ROWS_PAGE: usize = 500;
/// Report rows read at most to fill one filtered page.
const ROWS_SCANNED: usize = 5_000;
/// Imports looked at for one to run (the log's newest).
const ACTIVE_SCAN: usize = 50;

/// A row's key in the report: its index in the file, zero-padded.
fn row_key(index: usize) -> String {
    format!("{index:06}")
}

fn part_key(index: usize) -> String {
    format!("{index:04}")
}

/// The mapping as the contract writes it ("" for a column that feeds nothing).
fn mapping_names(mapping: &[Option<Target>]) -> Vec<String> {
    mapping.iter().map(|t| t.map(Target::field).unwrap_or_default().to_owned()).collect()
}

fn mapping_of(import: &Import) -> Vec<Option<Target>> {
    import.mapping.iter().map(|f| Target::from_field(f)).collect()
}

/// The header of the column that feeds `target`, else the field's name.
fn column(import: &Import, target: Target) -> String {
    import
        .mapping
        .iter()
        .position(|f| *f == target.field())
        .and_then(|i| import.headers.get(i).cloned())
        .unwrap_or_else(|| target.field().to_owned())
}

fn cell_errors(errors: Vec<FieldViolation>) -> Vec<ImportCellError> {
    errors.into_iter().map(|e| ImportCellError { column: e.field, description: e.description }).collect()
}

/// What an import's run works from: the file read, and the row each
/// address first appears on.
struct Parsed {
    import_id: String,
    table: Table,
    first_row: HashMap<String, usize>,
}

impl Parsed {
    fn new(import: &Import, table: Table) -> Self {
        let mapping = mapping_of(import);
        let mut first_row = HashMap::new();
        for (i, (_, cells)) in table.rows.iter().enumerate() {
            if let Ok(card) = import::card(&table.headers, &mapping, cells, import.consent_confirmed) {
                first_row.entry(card.email).or_insert(i);
            }
        }
        Self { import_id: import.id.clone(), table, first_row }
    }
}

/// The import service (admins): drafts, runs, reports, undos.
#[derive(Clone)]
pub struct Imports {
    prospects: Prospects,
    /// Wakes the runner when an import starts or is undone.
    wake: Arc<Notify>,
}

impl Imports {
    pub fn new(prospects: Prospects) -> Self {
        Self { prospects, wake: Arc::new(Notify::new()) }
    }

    fn now(&self) -> prost_types::Timestamp {
        self.prospects.scoring().clock().now()
    }

    fn store(&self) -> &Arc<dyn crate::store::Store> {
        &self.prospects.store
    }

    /// Reads `content` into a draft (see `ImportService.CreateImport`).
    pub async fn create(&self, caller: &Claims, file_name: &str, content: &[u8]) -> DomainResult<Import> {
        let mut v = Violations::default();
        let file_name = super::validation::text(&mut v, "file_name", file_name, false, MAX_FILE_NAME, false);
        check(v)?;
        let table = import::read(content).map_err(|problem| invalid("content", &problem.to_string()))?;
        let content = content.strip_prefix("\u{feff}".as_bytes()).unwrap_or(content);
        let text = std::str::from_utf8(content).map_err(|_| invalid("content", "is not UTF-8"))?;
        let now = self.now();
        let id = uuid::Uuid::now_v7().to_string();
        let parts: Vec<ImportFile> = split(text, PART_BYTES)
            .into_iter()
            .enumerate()
            .map(|(i, text)| ImportFile {
                import_id: id.clone(),
                part: part_key(i),
                text: text.to_owned(),
                expires_at: Some(plus(&now, FILE_LIFETIME)),
            })
            .collect();
        let draft = Import {
            id,
            file_name: if file_name.is_empty() { "import.csv".into() } else { file_name },
            created_by: caller.email.clone(),
            created_at: Some(now),
            state: ImportState::Draft as i32,
            headers: table.headers.clone(),
            mapping: mapping_names(&import::guess(&table.headers)),
            duplicates: DuplicateMode::Skip as i32,
            rows: table.rows.len() as i64,
            file_bytes: content.len() as i64,
            file_parts: parts.len() as i32,
            expires_at: Some(plus(&now, DRAFT_LIFETIME)),
            version: 1,
            ..Default::default()
        };
        // The file first: a draft is never without it.
        self.store().put_import_items(parts, Vec::new()).await?;
        self.store().save_import(&draft, 0).await?;
        tracing::info!(import = %draft.id, rows = draft.rows, bytes = draft.file_bytes, "import drafted");
        Ok(previewed(draft, &table))
    }

    async fn read(&self, id: &str) -> DomainResult<Import> {
        let id = uuid::Uuid::parse_str(id.trim())
            .map_err(|_| {
                invalid("id", if id.trim().is_empty() { "is required" } else { "must be an import id (UUID)" })
            })?
            .to_string();
        let found = self.store().get_import(&id).await?;
        // A draft past its day is gone, whether or not the store swept it.
        found
            .filter(|i| i.expires_at.as_ref().is_none_or(|at| after(at, &self.now())))
            .ok_or_else(|| DomainError::NotFound(format!("import {id}")))
    }

    /// The file of an import, read again.
    async fn table(&self, import: &Import) -> DomainResult<Table> {
        let parts = self.store().import_file(&import.id).await?;
        if parts.len() != import.file_parts as usize {
            return Err(DomainError::FailedPrecondition(format!(
                "the file of import {} is no longer kept: upload it again",
                import.id
            )));
        }
        let text: String = parts.into_iter().map(|p| p.text).collect();
        import::read(text.as_bytes()).map_err(|e| DomainError::Internal(format!("a stored import file: {e}")))
    }

    /// An import as callers see it: a draft with its preview.
    async fn shown(&self, import: Import) -> DomainResult<Import> {
        match import.state() {
            ImportState::Draft => {
                let table = self.table(&import).await?;
                Ok(previewed(import, &table))
            }
            _ => Ok(public(import)),
        }
    }

    pub async fn get(&self, id: &str) -> DomainResult<Import> {
        let import = self.read(id).await?;
        self.shown(import).await
    }

    pub async fn list(&self, request: ListImportsRequest) -> DomainResult<ListImportsResponse> {
        let size = page_size(request.page_size, DEFAULT_IMPORTS, MAX_IMPORTS)?;
        let pages = self.prospects.keys.page_tokens();
        const QUERY: &str = "imports";
        let before = pages.position(&request.page_token, QUERY)?.map(|p| p.id);
        let now = self.now();
        let mut imports = self.store().imports(before, size + 1).await?;
        let next_page_token = match imports.len() > size {
            true => {
                imports.truncate(size);
                let last = imports.last().expect("a full page has a last item");
                pages.encode(&PagePosition { query: QUERY.into(), sort: String::new(), id: last.id.clone() })
            }
            false => String::new(),
        };
        let imports = imports
            .into_iter()
            .filter(|i| i.expires_at.as_ref().is_none_or(|at| after(at, &now)))
            .map(public)
            .collect();
        Ok(ListImportsResponse { imports, next_page_token })
    }

    /// Reads the draft `id` at `version` (ABORTED when it moved on).
    async fn draft(&self, id: &str, version: i64) -> DomainResult<Import> {
        let import = self.read(id).await?;
        if import.state() != ImportState::Draft {
            return Err(DomainError::FailedPrecondition(format!("import {} has started: it cannot change", import.id)));
        }
        if version != import.version {
            return Err(stale(&import, version));
        }
        Ok(import)
    }

    async fn save(&self, import: &mut Import) -> DomainResult<()> {
        let from = import.version;
        import.version += 1;
        match self.store().save_import(import, from).await {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict(_)) => Err(stale(import, from)),
            Err(e) => Err(e.into()),
        }
    }

    /// Changes a draft's mapping and options (`UpdateImport`).
    pub async fn update(&self, input: Import, paths: &[String]) -> DomainResult<Import> {
        const FIELDS: [&str; 3] = ["mapping", "duplicates", "consent_confirmed"];
        let mut v = Violations::default();
        if input.version <= 0 {
            v.add("import.version", "is required: the version you last read");
        }
        for path in paths {
            if !FIELDS.contains(&path.as_str()) {
                v.add("update_mask", format!("{path:?} cannot be updated; updatable: {}", FIELDS.join(", ")));
            }
        }
        check(v)?;
        let mut import = self.draft(&input.id, input.version).await?;
        let all = paths.is_empty();
        let mut v = Violations::default();
        if all || paths.iter().any(|p| p == "mapping") {
            if input.mapping.len() != import.headers.len() {
                v.add(
                    "import.mapping",
                    format!(
                        "must have one entry per column: {} (\"\" for a column to leave out)",
                        import.headers.len()
                    ),
                );
            }
            let mut seen = Vec::new();
            for (i, field) in input.mapping.iter().enumerate() {
                match (field.as_str(), Target::from_field(field)) {
                    ("", _) => {}
                    (_, None) => v.add(
                        format!("import.mapping[{i}]"),
                        format!("{field:?} is not a field; one of: {}", Target::ALL.map(Target::field).join(", ")),
                    ),
                    (_, Some(target)) if seen.contains(&target) => {
                        v.add(format!("import.mapping[{i}]"), format!("{field} is fed by an earlier column already"))
                    }
                    (_, Some(target)) => seen.push(target),
                }
            }
            import.mapping = input.mapping.clone();
        }
        if all || paths.iter().any(|p| p == "duplicates") {
            match DuplicateMode::try_from(input.duplicates) {
                Ok(DuplicateMode::Unspecified) => import.duplicates = DuplicateMode::Skip as i32,
                Ok(mode) => import.duplicates = mode as i32,
                Err(_) => v.add("import.duplicates", format!("unknown value {}", input.duplicates)),
            }
        }
        if all || paths.iter().any(|p| p == "consent_confirmed") {
            import.consent_confirmed = input.consent_confirmed;
        }
        check(v)?;
        self.save(&mut import).await?;
        self.shown(import).await
    }

    /// Starts a draft (`StartImport`): the runner takes it from there.
    pub async fn start(&self, id: &str, version: i64) -> DomainResult<Import> {
        let mut import = self.draft(id, version).await?;
        let mapping = mapping_of(&import);
        let missing: Vec<&str> = REQUIRED.iter().filter(|t| !mapping.contains(&Some(**t))).map(|t| t.field()).collect();
        let mut v = Violations::default();
        if !missing.is_empty() {
            v.add("mapping", format!("no column feeds {}: choose the column of each", missing.join(", ")));
        }
        if !import.consent_confirmed && !mapping.contains(&Some(Target::Consent)) {
            v.add(
                "consent_confirmed",
                "confirm that the people in the file agreed to be contacted, or map a column that says it row by row",
            );
        }
        check(v)?;
        // Readable still: a draft whose file is gone cannot start.
        self.table(&import).await?;
        import.state = ImportState::Running as i32;
        import.started_at = Some(self.now());
        import.expires_at = None;
        import.invalid = 0;
        self.save(&mut import).await?;
        self.wake.notify_one();
        tracing::info!(import = %import.id, rows = import.rows, "import started");
        Ok(public(import))
    }

    /// Undoes a finished import (`UndoImport`), in the background.
    pub async fn undo(&self, caller: &Claims, id: &str, version: i64) -> DomainResult<Import> {
        let mut import = self.read(id).await?;
        if import.state() != ImportState::Done {
            return Err(DomainError::FailedPrecondition(format!(
                "import {} is not finished (or was undone): only a finished import can be undone",
                import.id
            )));
        }
        if version != import.version {
            return Err(stale(&import, version));
        }
        import.state = ImportState::Undoing as i32;
        import.undone_by = caller.email.clone();
        self.save(&mut import).await?;
        self.wake.notify_one();
        Ok(public(import))
    }

    /// The report (`ListImportRows`), in file order.
    pub async fn rows(&self, request: ListImportRowsRequest) -> DomainResult<ListImportRowsResponse> {
        let import = self.read(&request.import_id).await.map_err(|e| match e {
            DomainError::Invalid(_) => invalid("import_id", "must be an import id (UUID)"),
            e => e,
        })?;
        let size = page_size(request.page_size, DEFAULT_ROWS, MAX_ROWS_PAGE)?;
        let outcome = ImportRowOutcome::try_from(request.outcome)
            .map_err(|_| invalid("outcome", &format!("unknown value {}", request.outcome)))?;
        let pages = self.prospects.keys.page_tokens();
        let query = format!("import-rows:{}:{}", import.id, request.outcome);
        let mut position = pages.position(&request.page_token, &query)?.map(|p| p.sort);
        let mut rows = Vec::new();
        let mut scanned = 0;
        loop {
            let want = MAX_ROWS_PAGE.min(ROWS_SCANNED - scanned);
            let page = self.store().import_rows(&import.id, position.clone(), want).await?;
            scanned += page.len();
            let last_page = page.len() < want;
            for row in page {
                position = Some(row.row.clone());
                if outcome == ImportRowOutcome::Unspecified || row.outcome == outcome as i32 {
                    rows.push(ImportRow { previous: None, subject: String::new(), ..row });
                    if rows.len() == size {
                        break;
                    }
                }
            }
            let more = !last_page || rows.len() == size;
            if rows.len() == size || last_page || scanned >= ROWS_SCANNED {
                // The last row read is where the next page starts (when there is one).
                let next_page_token = match (more, &position) {
                    (true, Some(sort)) => pages.encode(&PagePosition { query, sort: sort.clone(), id: String::new() }),
                    _ => String::new(),
                };
                return Ok(ListImportRowsResponse { rows, next_page_token });
            }
        }
    }
}

/// The draft with its preview and the count of rows its mapping refuses.
fn previewed(mut import: Import, table: &Table) -> Import {
    let mapping = mapping_of(&import);
    let mut invalid = 0;
    for (i, (line, cells)) in table.rows.iter().enumerate() {
        let errors = match import::card(&table.headers, &mapping, cells, import.consent_confirmed) {
            Ok(_) => Vec::new(),
            Err(errors) => {
                invalid += 1;
                errors
            }
        };
        if i < PREVIEW_ROWS {
            import.preview.push(ImportRowPreview {
                line: *line as i64,
                cells: cells.clone(),
                errors: cell_errors(errors),
            });
        }
    }
    import.invalid = invalid;
    public(import)
}

/// Without what only the runner uses.
fn public(import: Import) -> Import {
    Import { lease_until: None, leased_by: String::new(), ..import }
}

fn stale(import: &Import, seen: i64) -> DomainError {
    DomainError::Conflict(format!(
        "import {} was changed by someone else (you had version {seen}, it is at {}): reload it",
        import.id, import.version
    ))
}

/// `text` in pieces of at most `max` bytes, cut between characters.
fn split(text: &str, max: usize) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.len().min(max);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (part, tail) = rest.split_at(end);
        parts.push(part);
        rest = tail;
    }
    parts
}

/// Runs the imports started and the undos asked for (see the module).
pub struct Importer {
    imports: Imports,
    worker: String,
    batch: usize,
    /// The file of the import being run, read once.
    parsed: Mutex<Option<Arc<Parsed>>>,
}

impl Importer {
    pub fn new(imports: Imports) -> Self {
        Self { imports, worker: uuid::Uuid::now_v7().to_string(), batch: BATCH, parsed: Mutex::new(None) }
    }

    /// Rows per step (tests use small batches).
    pub fn with_batch(self, batch: usize) -> Self {
        Self { batch: batch.max(1), ..self }
    }

    /// Runs until the process ends: a batch at a time, waiting for an
    /// import to start (or another instance's, every `poll`) when idle.
    pub fn spawn(self, poll: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let pause = match self.step().await {
                    Ok(Step::Worked) => continue,
                    // Held by another instance (or a dead one): soon free.
                    Ok(Step::Waiting) => poll.min(LEASE / 3),
                    Ok(Step::Idle) => poll,
                    Err(e) => {
                        tracing::warn!(error = %e, "import: retrying");
                        poll
                    }
                };
                tokio::select! {
                    _ = self.imports.wake.notified() => {}
                    _ = tokio::time::sleep(pause) => {}
                }
            }
        })
    }

    /// Moves the oldest running (or undoing) import on by one batch, if
    /// this instance may take it.
    pub async fn step(&self) -> DomainResult<Step> {
        let store = self.imports.store();
        let now = self.imports.now();
        let active = store.imports(None, ACTIVE_SCAN).await?;
        let Some(mut import) =
            active.into_iter().rev().find(|i| matches!(i.state(), ImportState::Running | ImportState::Undoing))
        else {
            return Ok(Step::Idle);
        };
        let held =
            import.lease_until.as_ref().is_some_and(|until| after(until, &now)) && import.leased_by != self.worker;
        if held {
            return Ok(Step::Waiting);
        }
        // The claim: of two instances, one moves the import.
        let claimed_from = import.version;
        import.lease_until = Some(plus(&now, LEASE));
        import.leased_by = self.worker.clone();
        import.version += 1;
        match store.save_import(&import, claimed_from).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Ok(Step::Waiting),
            Err(e) => return Err(e.into()),
        }
        match import.state() {
            ImportState::Running => self.run(&mut import).await?,
            _ => self.undo(&mut import).await?,
        }
        let from = import.version;
        import.version += 1;
        store.save_import(&import, from).await?;
        self.imports.prospects.board().changed();
        Ok(Step::Worked)
    }

    async fn parsed(&self, import: &Import) -> DomainResult<Arc<Parsed>> {
        if let Some(parsed) = self.parsed.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
            && parsed.import_id == import.id
        {
            return Ok(parsed.clone());
        }
        let table = self.imports.table(import).await?;
        let parsed = Arc::new(Parsed::new(import, table));
        *self.parsed.lock().unwrap_or_else(|p| p.into_inner()) = Some(parsed.clone());
        Ok(parsed)
    }

    /// One batch of an import's rows.
    async fn run(&self, import: &mut Import) -> DomainResult<()> {
        let parsed = match self.parsed(import).await {
            Ok(parsed) => parsed,
            Err(DomainError::FailedPrecondition(why)) => {
                // Its file outlived its two days: what was not done is not.
                tracing::warn!(import = %import.id, done = import.done, why, "import stopped: its file is gone");
                self.finish(import).await?;
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let store = self.imports.store();
        let begin = import.done as usize;
        let end = (begin + self.batch).min(parsed.table.rows.len());
        let after = begin.checked_sub(1).map(row_key);
        // Decisions of a run killed in this batch, kept; the others made and
        // written before any row is applied.
        let mut kept: HashMap<String, ImportRow> =
            store.import_rows(&import.id, after, end - begin).await?.into_iter().map(|r| (r.row.clone(), r)).collect();
        let deciding = Instant::now();
        let owners = Mutex::new(HashMap::new());
        let fresh: Vec<usize> = (begin..end).filter(|i| !kept.contains_key(&row_key(*i))).collect();
        // Reads only: several at once.
        let decided: Vec<ImportRow> =
            futures_util::future::try_join_all(fresh.iter().map(|index| self.decide(import, &parsed, *index, &owners)))
                .await?;
        if !decided.is_empty() {
            store.put_import_items(Vec::new(), decided.clone()).await?;
        }
        kept.extend(decided.into_iter().map(|r| (r.row.clone(), r)));
        let mut rows: Vec<ImportRow> = kept.into_values().collect();
        rows.sort_by(|a, b| a.row.cmp(&b.row));
        // Rows touch different cards (an address is decided once per
        // file): applied several at a time, so that their writes share
        // commits; in order, so that a step cut short stops at a row.
        let decided_in = deciding.elapsed();
        let started = Instant::now();
        let mut applied = Vec::with_capacity(rows.len());
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<ImportRow> = rows.by_ref().take(IN_FLIGHT).collect();
            let done =
                futures_util::future::try_join_all(chunk.into_iter().map(|row| self.apply(import, &parsed, row)));
            applied.extend(done.await?);
            if started.elapsed() > STEP_BUDGET {
                break;
            }
        }
        let applied_in = started.elapsed();
        store.put_import_items(Vec::new(), applied.clone()).await?;
        tracing::debug!(import = %import.id, from = begin, rows = applied.len(), ?decided_in, ?applied_in, "import batch");
        for row in &applied {
            let count = match ImportRowOutcome::try_from(row.outcome).unwrap_or_default() {
                ImportRowOutcome::Created => &mut import.created,
                ImportRowOutcome::Duplicate => {
                    import.created += 1;
                    &mut import.duplicates_created
                }
                ImportRowOutcome::Updated => &mut import.updated,
                ImportRowOutcome::Skipped => &mut import.skipped,
                ImportRowOutcome::Invalid | ImportRowOutcome::Unspecified => &mut import.invalid,
            };
            *count += 1;
        }
        import.done += applied.len() as i64;
        if import.done as usize >= parsed.table.rows.len() {
            self.finish(import).await?;
        }
        Ok(())
    }

    /// Ends a run: its file is deleted, its lease let go.
    async fn finish(&self, import: &mut Import) -> DomainResult<()> {
        let parts: Vec<ImportFile> = (0..import.file_parts.max(0) as usize)
            .map(|i| ImportFile { import_id: import.id.clone(), part: part_key(i), ..Default::default() })
            .collect();
        self.imports.store().delete_import_file(&parts).await?;
        *self.parsed.lock().unwrap_or_else(|p| p.into_inner()) = None;
        import.state = ImportState::Done as i32;
        import.finished_at = Some(self.imports.now());
        import.lease_until = None;
        import.leased_by.clear();
        tracing::info!(
            import = %import.id,
            created = import.created,
            updated = import.updated,
            skipped = import.skipped,
            invalid = import.invalid,
            "import done"
        );
        Ok(())
    }

    /// What to do with row `index` (see the module).
    async fn decide(
        &self,
        import: &Import,
        parsed: &Parsed,
        index: usize,
        owners: &Mutex<HashMap<String, bool>>,
    ) -> DomainResult<ImportRow> {
        let table = &parsed.table;
        let (line, cells) = &table.rows[index];
        let mapping = mapping_of(import);
        let mut row =
            ImportRow { import_id: import.id.clone(), row: row_key(index), line: *line as i64, ..Default::default() };
        let header = |target: Target| column(import, target);
        let card = match import::card(&table.headers, &mapping, cells, import.consent_confirmed) {
            Ok(card) => card,
            Err(errors) => {
                row.outcome = ImportRowOutcome::Invalid as i32;
                row.errors = cell_errors(errors);
                return Ok(row);
            }
        };
        if !card.owner.is_empty() {
            let known = owners.lock().unwrap_or_else(|p| p.into_inner()).get(&card.owner).copied();
            let can = match known {
                Some(can) => can,
                None => {
                    let can = self.imports.prospects.can_own(&card.owner).await?;
                    owners.lock().unwrap_or_else(|p| p.into_inner()).insert(card.owner.clone(), can);
                    can
                }
            };
            if !can {
                row.outcome = ImportRowOutcome::Invalid as i32;
                row.errors = vec![ImportCellError {
                    column: header(Target::Owner),
                    description: "must be the email of an active admin or salesperson of the team".into(),
                }];
                return Ok(row);
            }
        }
        let mode = DuplicateMode::try_from(import.duplicates).unwrap_or(DuplicateMode::Skip);
        let first = parsed.first_row.get(&card.email).copied().unwrap_or(index);
        if first < index && mode != DuplicateMode::Create {
            row.outcome = ImportRowOutcome::Skipped as i32;
            row.errors = vec![ImportCellError {
                column: header(Target::Email),
                description: format!("the same email as line {}: imported once", table.rows[first].0),
            }];
            return Ok(row);
        }
        let existing = self.imports.store().list_by_email(&card.email, None, 1).await?.into_iter().next();
        match (existing, mode) {
            (None, _) | (Some(_), DuplicateMode::Create | DuplicateMode::Unspecified) => {
                row.outcome = ImportRowOutcome::Created as i32;
            }
            (Some(found), DuplicateMode::Skip) => {
                row.outcome = ImportRowOutcome::Skipped as i32;
                row.prospect_id = found.id;
                row.errors = vec![ImportCellError {
                    column: header(Target::Email),
                    description: "already on the board: skipped".into(),
                }];
            }
            (Some(found), DuplicateMode::Update) => {
                let whole = self.imports.store().get_prospect(&found.id, false).await?;
                row.outcome = ImportRowOutcome::Updated as i32;
                row.prospect_id = found.id;
                row.subject = whole.as_ref().map(|p| p.email.clone()).unwrap_or_default();
                row.previous = whole;
            }
        }
        Ok(row)
    }

    /// Applies a decided row; returns it as it turned out.
    async fn apply(&self, import: &Import, parsed: &Parsed, mut row: ImportRow) -> DomainResult<ImportRow> {
        let index: usize = row.row.parse().map_err(|_| DomainError::Internal(format!("report row {}", row.row)))?;
        let table = &parsed.table;
        let mapping = mapping_of(import);
        let prospects = &self.imports.prospects;
        match ImportRowOutcome::try_from(row.outcome).unwrap_or_default() {
            ImportRowOutcome::Created | ImportRowOutcome::Duplicate
                if row.prospect_id.is_empty() || row.version == 0 =>
            {
                let Ok(card) = import::card(&table.headers, &mapping, &table.rows[index].1, import.consent_confirmed)
                else {
                    return Err(DomainError::Internal(format!("row {index} was decided valid")));
                };
                let request_id = format!("import:{}:{}", import.id, row.row);
                let id = match prospects.create_imported(&import.created_by, card, &request_id).await? {
                    CreateOutcome::Created(card) => {
                        if !card.duplicate_of.is_empty() {
                            row.outcome = ImportRowOutcome::Duplicate as i32;
                        }
                        card.id
                    }
                    CreateOutcome::Replayed(id) => {
                        let card = self.imports.store().get_prospect(&id, false).await?;
                        if card.is_some_and(|c| !c.duplicate_of.is_empty()) {
                            row.outcome = ImportRowOutcome::Duplicate as i32;
                        }
                        id
                    }
                };
                row.prospect_id = id;
                row.version = 1;
            }
            ImportRowOutcome::Updated if row.version == 0 => {
                let cells = &table.rows[index].1;
                let Ok(card) = import::card(&table.headers, &mapping, cells, import.consent_confirmed) else {
                    return Err(DomainError::Internal(format!("row {index} was decided valid")));
                };
                let filled: Vec<Target> = mapping
                    .iter()
                    .zip(cells.iter().map(String::as_str).chain(std::iter::repeat("")))
                    .filter_map(|(target, cell)| target.filter(|_| !cell.trim().is_empty()))
                    .collect();
                self.update(import, &mut row, &card, &filled).await?;
            }
            _ => {}
        }
        Ok(row)
    }

    /// Gives the card of an update row the row's filled cells. Its
    /// `previous` is the card before: one edited since the decision (or by
    /// this very row before a crash) is read again.
    async fn update(
        &self,
        import: &Import,
        row: &mut ImportRow,
        card: &Prospect,
        filled: &[Target],
    ) -> DomainResult<()> {
        let store = self.imports.store();
        let mut paths: Vec<String> = Vec::new();
        for target in filled {
            let path = match target {
                Target::UtmSource | Target::UtmMedium | Target::UtmCampaign | Target::Referrer => "source",
                Target::Consent => continue,
                other => other.field(),
            };
            if !paths.iter().any(|p| p == path) {
                paths.push(path.to_owned());
            }
        }
        let actor = Claims { email: import.created_by.clone(), role: Role::Admin, iat: 0, exp: 0 };
        for _ in 0..3 {
            let Some(current) = store.get_prospect(&row.prospect_id, false).await? else {
                row.outcome = ImportRowOutcome::Skipped as i32;
                row.errors = vec![ImportCellError {
                    column: "row".into(),
                    description: "its card was deleted meanwhile".into(),
                }];
                row.previous = None;
                row.subject.clear();
                return Ok(());
            };
            let mut input = current.clone();
            for path in &paths {
                match path.as_str() {
                    "first_name" => input.first_name.clone_from(&card.first_name),
                    "last_name" => input.last_name.clone_from(&card.last_name),
                    "email" => input.email.clone_from(&card.email),
                    "phone" => input.phone.clone_from(&card.phone),
                    "company" => input.company.clone_from(&card.company),
                    "job_title" => input.job_title.clone_from(&card.job_title),
                    "message" => input.message.clone_from(&card.message),
                    "budget" => input.budget = card.budget,
                    "timeline" => input.timeline = card.timeline,
                    "status" => input.status = card.status,
                    "owner" => input.owner.clone_from(&card.owner),
                    "source" => {
                        let (mut source, new) =
                            (current.source.clone().unwrap_or_default(), card.source.clone().unwrap_or_default());
                        for (target, (to, from)) in [
                            (Target::UtmSource, (&mut source.utm_source, new.utm_source)),
                            (Target::UtmMedium, (&mut source.utm_medium, new.utm_medium)),
                            (Target::UtmCampaign, (&mut source.utm_campaign, new.utm_campaign)),
                            (Target::Referrer, (&mut source.referrer, new.referrer)),
                        ] {
                            if filled.contains(&target) {
                                *to = from;
                            }
                        }
                        input.source = Some(source);
                    }
                    _ => {}
                }
            }
            let recorded = row.previous.as_ref().map_or(0, |p| p.version);
            let unchanged = !paths.iter().any(|p| field_differs(&current, &input, p));
            if current.version != recorded {
                if unchanged {
                    // Applied before a crash: the card holds the row already.
                    row.version = current.version;
                    return Ok(());
                }
                // Edited since the decision: what an undo restores is this.
                row.subject.clone_from(&current.email);
                row.previous = Some(current.clone());
                store.put_import_items(Vec::new(), vec![row.clone()]).await?;
            }
            match self.imports.prospects.update_as(&actor, input, &paths, false).await {
                Ok(updated) => {
                    row.version = updated.version;
                    return Ok(());
                }
                Err(DomainError::Conflict(_)) => continue,
                Err(DomainError::Invalid(violations)) => {
                    let header = |field: &str| {
                        let field = field.trim_start_matches("prospect.");
                        match Target::from_field(field) {
                            Some(target) => column(import, target),
                            None => field.to_owned(),
                        }
                    };
                    row.outcome = ImportRowOutcome::Invalid as i32;
                    row.errors = violations
                        .into_iter()
                        .map(|v| ImportCellError { column: header(&v.field), description: v.description })
                        .collect();
                    row.previous = None;
                    row.subject.clear();
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        Err(DomainError::Unavailable(format!("prospect {} kept changing while it was imported", row.prospect_id)))
    }

    /// One batch of an undo.
    async fn undo(&self, import: &mut Import) -> DomainResult<()> {
        let store = self.imports.store();
        let after = (import.undo_done as usize).checked_sub(1).map(row_key);
        let rows = store.import_rows(&import.id, after, self.batch).await?;
        let (read, last_batch) = (rows.len(), rows.len() < self.batch);
        let actor = Claims { email: import.undone_by.clone(), role: Role::Admin, iat: 0, exp: 0 };
        let started = Instant::now();
        let mut undone = Vec::with_capacity(rows.len());
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk = rows.by_ref().take(IN_FLIGHT).map(|mut row| {
                let actor = &actor;
                async move {
                    if row.undo == ImportUndoOutcome::Unspecified as i32 {
                        row.undo = self.undo_row(actor, &row).await? as i32;
                    }
                    DomainResult::Ok(row)
                }
            });
            undone.extend(futures_util::future::try_join_all(chunk).await?);
            if started.elapsed() > STEP_BUDGET {
                break;
            }
        }
        store.put_import_items(Vec::new(), undone.clone()).await?;
        for row in &undone {
            match ImportUndoOutcome::try_from(row.undo).unwrap_or_default() {
                ImportUndoOutcome::Removed => import.removed += 1,
                ImportUndoOutcome::Restored => import.restored += 1,
                ImportUndoOutcome::Kept => import.kept += 1,
                ImportUndoOutcome::Unspecified => {}
            }
        }
        import.undo_done += undone.len() as i64;
        if last_batch && undone.len() == read {
            import.state = ImportState::Undone as i32;
            import.undone_at = Some(self.imports.now());
            import.lease_until = None;
            import.leased_by.clear();
            tracing::info!(
                import = %import.id,
                removed = import.removed,
                restored = import.restored,
                kept = import.kept,
                "import undone"
            );
        }
        Ok(())
    }

    /// Takes back what one row did.
    async fn undo_row(&self, actor: &Claims, row: &ImportRow) -> DomainResult<ImportUndoOutcome> {
        let store = self.imports.store();
        let prospects = &self.imports.prospects;
        let now = self.imports.now();
        match ImportRowOutcome::try_from(row.outcome).unwrap_or_default() {
            ImportRowOutcome::Created | ImportRowOutcome::Duplicate if !row.prospect_id.is_empty() => {
                let change = board::change(
                    BoardChangeKind::Deleted,
                    &row.prospect_id,
                    None,
                    ProspectStatus::Unspecified,
                    &actor.email,
                    now,
                );
                match store.delete_prospect(&row.prospect_id, Some(row.version.max(1)), change).await {
                    Ok(_) | Err(StoreError::NotFound) => Ok(ImportUndoOutcome::Removed),
                    Err(StoreError::Conflict(_)) => Ok(ImportUndoOutcome::Kept),
                    Err(e) => Err(e.into()),
                }
            }
            ImportRowOutcome::Updated => {
                let (Some(previous), Some(current)) =
                    (row.previous.as_ref(), store.get_prospect(&row.prospect_id, false).await?)
                else {
                    return Ok(ImportUndoOutcome::Kept);
                };
                let differs = UPDATABLE_FIELDS.iter().any(|f| field_differs(&current, previous, f));
                if !differs {
                    // Nothing changed, or restored before a crash.
                    return Ok(ImportUndoOutcome::Restored);
                }
                if current.version != row.version {
                    return Ok(ImportUndoOutcome::Kept);
                }
                let input = Prospect { version: current.version, ..previous.clone() };
                let paths: Vec<String> = UPDATABLE_FIELDS.iter().map(|f| (*f).to_owned()).collect();
                match prospects.update_as(actor, input, &paths, false).await {
                    Ok(_) => Ok(ImportUndoOutcome::Restored),
                    Err(DomainError::Conflict(_) | DomainError::NotFound(_)) => Ok(ImportUndoOutcome::Kept),
                    Err(e) => Err(e),
                }
            }
            _ => Ok(ImportUndoOutcome::Unspecified),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_kept_in_parts_cut_between_characters() {
        let text = "é".repeat(10);
        let parts = split(&text, 5);
        assert!(parts.iter().all(|p| p.len() <= 5));
        assert_eq!(parts.concat(), text);
        assert_eq!(split("", 5), Vec::<&str>::new());
    }
}
