//! The embedded store: the single-table layout in one SQLite file (WAL).
//!
//! One table `items` keyed by the generated `PK`/`SK`, one column per index
//! attribute and one SQL index per generated global secondary index, so the
//! reads are the same key-and-index reads the DynamoDB adapter makes. Items
//! hold the protobuf encoding of their message.
//!
//! Durability: `synchronous=FULL`, so a commit is on disk before it is
//! acknowledged. To keep throughput with one fsync per commit, one writer
//! thread takes every write waiting in its queue and commits them together
//! (group commit), each in its own savepoint so a failed condition undoes only
//! its own write. Reads run on a fixed set of reader threads, each with its
//! own connection, taking reads from one queue: never on the async workers,
//! and never more SQLite work at once than the machine has cores for (a
//! thread per waiting read only adds switches and memory).
//!
//! The column counts need no SQLite call, and no counter items: every write
//! goes through the writer, so the store counts each column once at open (on
//! its index) and the writer applies each committed write's changes to a
//! published snapshot before telling its caller; `status_counts` answers from
//! that snapshot (exact, as of the last commit; the file belongs to one
//! process). DynamoDB, with many writers, keeps counter items instead.

use std::{collections::BTreeSet, path::Path, sync::Arc, time::SystemTime};

use astro_proto::{
    storage::{self, INDEXES, KeyText, StoredEntity},
    v1::{
        AssignmentCounter, BoardChange, CreateProspectRecord, Erasure, Form, FormVersion, Import, ImportFile,
        ImportRow, Invitation, Notification, NotificationState, PipelineWeek, Prospect, ProspectEvent, ProspectStatus,
        ProspectStatusCount, Rescore, ScoringRules, ScoringRulesRevision, SecurityEvent, SignInFailures, SpentCaptcha,
        TeamSettings, User,
    },
};
use async_trait::async_trait;
use prost::Message;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tokio::sync::{mpsc, oneshot};

use super::{
    Column, ColumnPosition, CreateOutcome, MEMBER_PARTITION, NewProspect, ProspectChange, SEARCH_PARTITION, SearchKey,
    Store, StoreError, StoreResult, SubjectItems, add_counts, board_hours, dump::AnyEntity, expired,
};

/// Most writes committed together.
const MAX_BATCH: usize = 256;
pub(super) const DB_FILE: &str = "astro.sqlite3";
/// Prepared statements kept per connection: more than the store has, so
/// none is ever prepared twice.
const STATEMENT_CACHE: usize = 64;
/// Reader threads at least (more on machines with more cores).
const MIN_READERS: usize = 2;
/// 1: items and the index columns; 2: the `ttl` column of expiring items;
/// 3: sparse SQL indexes (only the items that carry the index's keys);
/// 4: no counter items (the counts come from the status index);
/// 5: a rowid table with a unique (pk, sk) key, not `WITHOUT ROWID`.
pub(super) const SCHEMA_VERSION: i64 = 5;
/// How often expired items are deleted.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

type Completion = Box<dyn FnOnce(StoreResult<()>) + Send>;
/// A write: runs inside the batch transaction (or, given `None`, learns that
/// the batch could not begin); says whether it succeeded and how to tell its
/// caller once the batch is committed.
type RunJob = Box<dyn FnOnce(Option<&Connection>) -> (bool, Completion) + Send>;

/// A write and how it is run in its batch.
struct Job {
    run: RunJob,
    /// In its own savepoint, so that a failed condition undoes its changes
    /// alone. Without: a write that makes every check before its first
    /// change (nothing to undo when a check fails); if it fails past that
    /// (an I/O error), the whole batch is rolled back and every caller told.
    guarded: bool,
}

pub struct EmbeddedStore {
    /// The file, for the scrub after an erasure.
    path: std::path::PathBuf,
    jobs: mpsc::Sender<Job>,
    reads: crossbeam_channel::Sender<Read>,
    counts: Counts,
}

/// A read: runs on a reader thread's connection and answers its caller.
type Read = Box<dyn FnOnce(&Connection) + Send>;

/// The column counts as of the last commit, published by the writer.
type Counts = Arc<std::sync::RwLock<Vec<ProspectStatusCount>>>;

impl EmbeddedStore {
    /// Opens (creating if needed) the store in `dir`.
    pub fn open(dir: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Internal(format!("data dir {}: {e}", dir.display())))?;
        let path = dir.join(DB_FILE);
        // The writer's connection: WAL, `synchronous=FULL`, each commit's log
        // written in one call (see `wal_vfs`).
        let conn = super::wal_vfs::open(&path).map_err(StoreError::Internal)?;
        // `temp_store=MEMORY`: a batch's savepoints journal the pages each
        // write first touches; in memory, not in a temporary file (which cost
        // a `pwrite` per page, nine in ten of the writer's system calls).
        // `secure_delete`: what a write deletes or replaces is overwritten
        // with zeros in its page (and freed pages too), so that an erased
        // person's data does not linger in the file.
        conn.execute_batch("PRAGMA busy_timeout=5000; PRAGMA temp_store=MEMORY; PRAGMA secure_delete=ON;")
            .map_err(internal)?;
        migrate(&conn)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let counts: Counts = Arc::new(std::sync::RwLock::new(count_columns(&conn)?));

        let (jobs, queue) = mpsc::channel::<Job>(4 * MAX_BATCH);
        let published = counts.clone();
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || write_loop(conn, queue, &published))
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        let sweeps = jobs.downgrade();
        std::thread::Builder::new()
            .name("store-ttl".into())
            .spawn(move || sweep_loop(sweeps))
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        let readers = std::thread::available_parallelism().map_or(MIN_READERS, |n| n.get().max(MIN_READERS));
        let (reads, queue) = crossbeam_channel::unbounded::<Read>();
        for n in 0..readers {
            let (conn, queue) = (open_reader(&path)?, queue.clone());
            std::thread::Builder::new()
                .name(format!("store-reader-{n}"))
                .spawn(move || {
                    // Ends when the store (the queue's sender) is dropped.
                    for read in queue {
                        read(&conn);
                    }
                })
                .map_err(|e| StoreError::Internal(e.to_string()))?;
        }
        Ok(Self { path, jobs, reads, counts })
    }

    /// Runs `op` in the writer's transaction and resolves once it is durable.
    async fn write<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.queue_write(op, true).await
    }

    /// A write whose every check comes before its first change (see
    /// [`Job::guarded`]): no savepoint, whose journal copies each page the
    /// write touches (a sixth of a create's cost in a group commit).
    async fn write_checked_first<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.queue_write(op, false).await
    }

    async fn queue_write<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
        guarded: bool,
    ) -> StoreResult<T> {
        let (reply, answer) = oneshot::channel();
        let run: RunJob = Box::new(move |conn: Option<&Connection>| {
            let result = match conn {
                Some(conn) => op(conn),
                None => Err(StoreError::Unavailable("the store could not begin a transaction".into())),
            };
            let ok = result.is_ok();
            let complete: Completion = Box::new(move |committed| {
                let _ = reply.send(result.and_then(|value| committed.map(|()| value)));
            });
            (ok, complete)
        });
        self.jobs
            .send(Job { run, guarded })
            .await
            .map_err(|_| StoreError::Unavailable("the store writer stopped".into()))?;
        answer.await.map_err(|_| StoreError::Unavailable("the store writer stopped".into()))?
    }

    /// A page of `index`'s `partition` with sort keys in [`low`, `high`), in
    /// the index's order, strictly after `after`: one range of its SQL index;
    /// as cards (see [`decode_card`]) or whole.
    #[allow(clippy::too_many_arguments)]
    async fn index_page(
        &self,
        index: &'static storage::IndexDef,
        partition: String,
        low: String,
        high: String,
        after: Option<ColumnPosition>,
        limit: usize,
        cards: bool,
    ) -> StoreResult<Vec<Prospect>> {
        let limit = limit as i64;
        let decode = if cards { decode_card } else { decode_whole };
        self.read(move |conn| match after {
            None => query_with(conn, &column_sql(index, false), &[&partition, &low, &high, &limit], decode),
            Some(position) => query_with(
                conn,
                &column_sql(index, true),
                &[&partition, &low, &high, &limit, &position.sort, &storage::prospect::pk(&position.id)],
                decode,
            ),
        })
        .await
    }

    /// Empties the write-ahead log into the file and truncates it: the
    /// pages of rows deleted before are then gone from the log too (the
    /// file's own copies were zeroed by `secure_delete`). Waits for the
    /// readers of older snapshots (a few milliseconds), on its own
    /// connection, off the async workers.
    pub async fn scrub(&self) -> StoreResult<()> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let conn = Connection::open(&path).map_err(internal)?;
            conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(internal)?;
            let (busy, _, _): (i64, i64, i64) = conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(internal)?;
            match busy {
                0 => Ok(()),
                _ => Err(StoreError::Unavailable("the log could not be emptied: readers held it; retry".into())),
            }
        })
        .await
        .map_err(|e| StoreError::Internal(e.to_string()))?
    }

    /// Deletes the items whose time to live has passed (the sweeper runs it
    /// every minute); returns how many.
    pub async fn delete_expired(&self) -> StoreResult<usize> {
        self.write(delete_expired).await
    }

    /// Up to `limit` items of partition `pk` with sort keys below `before`,
    /// highest first: one range of the table key.
    async fn newest_first<E: Message + Default + Send + 'static>(
        &self,
        pk: String,
        before: String,
        limit: usize,
    ) -> StoreResult<Vec<E>> {
        let limit = limit as i64;
        self.read(move |conn| {
            query_items(
                conn,
                "SELECT body FROM items WHERE pk = ?1 AND sk < ?2 ORDER BY sk DESC LIMIT ?3",
                &[&pk, &before, &limit],
            )
        })
        .await
    }

    async fn read<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (reply, answer) = oneshot::channel();
        let read: Read = Box::new(move |conn| {
            let _ = reply.send(op(conn));
        });
        self.reads.send(read).map_err(|_| StoreError::Unavailable("the store readers stopped".into()))?;
        answer.await.map_err(|_| StoreError::Unavailable("a store reader stopped".into()))?
    }
}

fn internal(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) =>
        {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Internal(e.to_string()),
    }
}

/// The SQL column of an item attribute: the key attributes are `pk`/`sk`,
/// index attributes keep their generated names.
fn column(attribute: &str) -> String {
    match attribute {
        storage::PK => "pk".to_owned(),
        storage::SK => "sk".to_owned(),
        other => format!("\"{other}\""),
    }
}

/// Index attributes other than the table keys, in a stable order.
fn index_attributes() -> &'static [&'static str] {
    static ATTRIBUTES: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
        let mut set = BTreeSet::new();
        for index in INDEXES {
            for attribute in [index.partition_attribute, index.sort_attribute] {
                if attribute != storage::PK && attribute != storage::SK {
                    set.insert(attribute);
                }
            }
        }
        set.into_iter().collect()
    });
    &ATTRIBUTES
}

/// The statement writing an item (`INSERT`, or with `replace` `INSERT OR
/// REPLACE`): the keys, entity, body, `ttl`, then every index attribute.
/// Made once: a write only binds its values.
fn put_sql(replace: bool) -> &'static str {
    static SQL: std::sync::LazyLock<[String; 2]> = std::sync::LazyLock::new(|| {
        let columns: String = index_attributes().iter().map(|a| format!(", {}", column(a))).collect();
        let placeholders: String = (6..6 + index_attributes().len()).map(|i| format!(", ?{i}")).collect();
        ["INSERT", "INSERT OR REPLACE"].map(|verb| {
            format!("{verb} INTO items (pk, sk, entity, body, {TTL_COLUMN}{columns}) VALUES (?1, ?2, ?3, ?4, ?5{placeholders})")
        })
    });
    &SQL[usize::from(replace)]
}

fn migrate(conn: &Connection) -> StoreResult<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(internal)?;
    if version < SCHEMA_VERSION {
        upgrade(conn, version)?;
        rowid_table(conn)?;
    }
    index_columns(conn)
}

/// The items table's columns, as SQLite names them.
fn table_columns(conn: &Connection) -> StoreResult<Vec<String>> {
    let mut statement = conn.prepare("SELECT name FROM pragma_table_info('items')").map_err(internal)?;
    let columns = statement.query_map([], |r| r.get::<_, String>(0)).map_err(internal)?;
    columns.collect::<Result<_, _>>().map_err(internal)
}

/// Schema version 5: the items move to a rowid table whose key (pk, sk) is
/// a unique index, from a `WITHOUT ROWID` table. SQLite advises against
/// `WITHOUT ROWID` for rows over about a twentieth of a page: its interior
/// pages hold whole rows (a card is ~500 bytes, seven to a page), so every
/// lookup and every insert walked and split fat pages. A rowid table's
/// interior pages hold rowids; a column page read from an index reaches
/// its rows by rowid. One transaction: copied, swapped, indexed again.
fn rowid_table(conn: &Connection) -> StoreResult<()> {
    let existing = table_columns(conn)?;
    let attributes: String = index_attributes().iter().map(|a| format!(", {} TEXT", column(a))).collect();
    let copied: Vec<String> = existing
        .iter()
        .filter(|c| {
            ["pk", "sk", "entity", "body", TTL_COLUMN].contains(&c.as_str()) || index_attributes().contains(&c.as_str())
        })
        .map(|c| format!("\"{c}\""))
        .collect();
    let copied = copied.join(", ");
    conn.execute_batch(&format!(
        "BEGIN;\n\
         CREATE TABLE items_v5 (pk TEXT NOT NULL, sk TEXT NOT NULL, entity TEXT NOT NULL, body BLOB NOT NULL, \
         {TTL_COLUMN} INTEGER{attributes}, UNIQUE (pk, sk));\n\
         INSERT INTO items_v5 ({copied}) SELECT {copied} FROM items ORDER BY pk, sk;\n\
         DROP TABLE items;\n\
         ALTER TABLE items_v5 RENAME TO items;\n\
         CREATE INDEX items_ttl ON items ({TTL_COLUMN}) WHERE {TTL_COLUMN} IS NOT NULL;\n\
         {}\
         PRAGMA user_version = {SCHEMA_VERSION};\n\
         COMMIT;",
        index_ddl()
    ))
    .map_err(internal)
}

/// Every generated index has its column and SQL index, including indexes
/// declared after the file was created (a new GSI in `proto/`).
fn index_columns(conn: &Connection) -> StoreResult<()> {
    let existing = table_columns(conn)?;
    let mut ddl = String::from("BEGIN;\n");
    for attribute in index_attributes() {
        if !existing.iter().any(|c| c == attribute) {
            ddl.push_str(&format!("ALTER TABLE items ADD COLUMN {} TEXT;\n", column(attribute)));
        }
    }
    ddl.push_str(&index_ddl());
    ddl.push_str("COMMIT;");
    conn.execute_batch(&ddl).map_err(internal)
}

fn upgrade(conn: &Connection, version: i64) -> StoreResult<()> {
    let mut ddl = String::from("BEGIN;\n");
    if version < 1 {
        ddl.push_str(&first_schema());
    }
    if version < 2 {
        // Like DynamoDB's time to live: the Unix second after which the item goes.
        ddl.push_str(&format!(
            "ALTER TABLE items ADD COLUMN {TTL_COLUMN} INTEGER;\n\
             CREATE INDEX IF NOT EXISTS items_ttl ON items ({TTL_COLUMN}) WHERE {TTL_COLUMN} IS NOT NULL;\n"
        ));
    }
    if version < 3 {
        // Version 3 makes the GSI indexes sparse: dropped here, made again by
        // `index_columns` right after.
        for index in INDEXES {
            ddl.push_str(&format!("DROP INDEX IF EXISTS \"{}\";\n", index.name));
        }
    }
    if version < 4 {
        // The counts are now counted at open and kept by the writer.
        ddl.push_str(&format!("DELETE FROM items WHERE pk = '{}';\n", storage::prospect_status_counter::pk()));
    }
    ddl.push_str("PRAGMA user_version = 4;\nCOMMIT;");
    conn.execute_batch(&ddl).map_err(internal)
}

const TTL_COLUMN: &str = storage::TTL;

/// Schema version 1: the items table and one SQL index per GSI.
fn first_schema() -> String {
    let mut ddl = String::from(
        "CREATE TABLE IF NOT EXISTS items (pk TEXT NOT NULL, sk TEXT NOT NULL, entity TEXT NOT NULL, body BLOB NOT NULL",
    );
    for attribute in index_attributes() {
        ddl.push_str(&format!(", {} TEXT", column(attribute)));
    }
    ddl.push_str(", PRIMARY KEY (pk, sk)) WITHOUT ROWID;\n");
    ddl
}

/// One SQL index per generated GSI.
fn index_ddl() -> String {
    let mut ddl = String::new();
    for index in INDEXES {
        // Like a DynamoDB GSI, an index entry ends with the table key, which
        // orders equal index keys and makes page positions unique; and like
        // one it is sparse: an item without the index's keys (an event, a
        // counter, a user) is not in it, so writing it costs the index nothing.
        // Every read names the partition (`= ?`), which lets SQLite use it.
        let (partition, sort) = (column(index.partition_attribute), column(index.sort_attribute));
        ddl.push_str(&format!(
            "CREATE INDEX IF NOT EXISTS \"{}\" ON items ({partition}, {sort}, pk, sk) WHERE {partition} IS NOT NULL;\n",
            index.name
        ));
    }
    ddl
}

/// Deletes expired items every [`SWEEP_EVERY`], through the writer, until
/// the store is dropped.
fn sweep_loop(jobs: mpsc::WeakSender<Job>) {
    loop {
        std::thread::sleep(SWEEP_EVERY);
        let Some(jobs) = jobs.upgrade() else { return };
        let run: RunJob = Box::new(|conn: Option<&Connection>| {
            let deleted = match conn {
                Some(conn) => delete_expired(conn),
                None => Ok(0),
            };
            if let Err(e) = &deleted {
                tracing::warn!(error = %e, "could not delete expired items");
            }
            (deleted.is_ok(), Box::new(|_| {}) as Completion)
        });
        if jobs.blocking_send(Job { run, guarded: true }).is_err() {
            return;
        }
    }
}

fn delete_expired(conn: &Connection) -> StoreResult<usize> {
    let now = astro_authorizer::unix_now();
    conn.prepare_cached(&format!("DELETE FROM items WHERE {TTL_COLUMN} IS NOT NULL AND {TTL_COLUMN} < ?1"))
        .and_then(|mut s| s.execute(params![now]))
        .map_err(internal)
}

// ---------------------------------------------------------------- writes

fn write_loop(conn: Connection, mut queue: mpsc::Receiver<Job>, counts: &Counts) {
    while let Some(first) = queue.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = run(&conn, "BEGIN IMMEDIATE") {
            tracing::error!(error = %e, "could not begin a write transaction");
            for job in batch {
                let (_, complete) = (job.run)(None);
                complete(Err(internal(rusqlite::Error::InvalidQuery)));
            }
            continue;
        }
        // A write alone needs no savepoint: if it fails, the whole
        // transaction is rolled back instead.
        let alone = batch.len() == 1;
        let (mut completions, mut wrote, mut broken) = (Vec::with_capacity(batch.len()), false, false);
        for job in batch {
            let savepoint = job.guarded && !alone && run(&conn, "SAVEPOINT op").is_ok();
            let changes = COUNT_CHANGES.with_borrow(Vec::len);
            let insights = INSIGHT_CHANGES.with_borrow(Vec::len);
            let (ok, complete) = (job.run)(Some(&conn));
            if !ok {
                // Its changes are rolled back, its counts and figures with them.
                COUNT_CHANGES.with_borrow_mut(|c| c.truncate(changes));
                INSIGHT_CHANGES.with_borrow_mut(|c| c.truncate(insights));
                // Without a savepoint, what it may have changed is undone
                // with the whole batch.
                broken |= !job.guarded;
            }
            wrote |= ok;
            if savepoint {
                let end = if ok { run(&conn, "RELEASE op") } else { rollback_to_savepoint(&conn) };
                if let Err(e) = end {
                    tracing::error!(error = %e, "savepoint");
                }
            }
            completions.push(complete);
        }
        // The batch's additions to the weekly figures, one write per week
        // and dimension, in the same transaction.
        let figures = flush_insights(&conn, INSIGHT_CHANGES.take());
        let committed = match (wrote, figures) {
            _ if broken => Err(StoreError::Unavailable(
                "a write failed after its first change: its batch was rolled back; try again".into(),
            )),
            (true, Ok(())) => run(&conn, "COMMIT").map_err(internal),
            (true, Err(e)) => Err(e),
            (false, _) => run(&conn, "ROLLBACK").map_err(internal),
        };
        let changes = COUNT_CHANGES.take();
        match &committed {
            // Published before any caller hears of its write: a list made
            // after an acknowledged create counts it.
            Ok(()) => {
                if !changes.is_empty() {
                    add_counts(&mut counts.write().unwrap_or_else(|p| p.into_inner()), changes);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "commit failed; the batch is rolled back");
                let _ = run(&conn, "ROLLBACK");
            }
        }
        for complete in completions {
            complete(committed.clone());
        }
    }
}

/// Runs one statement without parameters, prepared once per connection.
fn run(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn rollback_to_savepoint(conn: &Connection) -> rusqlite::Result<()> {
    run(conn, "ROLLBACK TO op")?;
    run(conn, "RELEASE op")
}

/// An item as stored: its keys, entity name, encoded message and index attributes.
struct Item {
    pk: String,
    sk: String,
    entity: &'static str,
    body: Vec<u8>,
    attributes: Vec<(&'static str, Option<String>)>,
}

fn item<E: StoredEntity + Message>(message: &E) -> Item {
    item_of(message.pk(), message.sk(), E::ENTITY, message.encode_to_vec(), message.index_values())
}

fn item_of(
    pk: String,
    sk: String,
    entity: &'static str,
    body: Vec<u8>,
    index_values: Vec<storage::IndexValue>,
) -> Item {
    let mut attributes: Vec<(&'static str, Option<String>)> = index_attributes().iter().map(|a| (*a, None)).collect();
    for value in index_values {
        if !value.is_present() {
            continue;
        }
        for (attribute, text) in
            [(value.index.partition_attribute, &value.partition), (value.index.sort_attribute, &value.sort)]
        {
            if let Some(slot) = attributes.iter_mut().find(|(a, _)| *a == attribute) {
                slot.1 = text.clone();
            }
        }
    }
    Item { pk, sk, entity, body, attributes }
}

/// Writes an item; with `must_be_new`, fails with `Conflict` if the key exists.
fn put<E: StoredEntity + Message>(conn: &Connection, message: &E, must_be_new: bool) -> StoreResult<()> {
    put_item(conn, &item(message), message.expires(), must_be_new)
}

fn put_item(conn: &Connection, item: &Item, expires: Option<i64>, must_be_new: bool) -> StoreResult<()> {
    let mut statement = conn.prepare_cached(put_sql(!must_be_new)).map_err(internal)?;
    let mut values: Vec<&dyn rusqlite::ToSql> = vec![&item.pk, &item.sk, &item.entity, &item.body, &expires];
    for (_, value) in &item.attributes {
        values.push(value);
    }
    match statement.execute(values.as_slice()) {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(f, _)) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            Err(StoreError::Conflict(format!("{} {} already exists", item.entity, item.pk)))
        }
        Err(e) => Err(internal(e)),
    }
}

/// Deletes the items with these keys.
fn delete_keys(conn: &Connection, keys: &[(String, String)]) -> StoreResult<()> {
    let mut statement = conn.prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2").map_err(internal)?;
    for (pk, sk) in keys {
        statement.execute(params![pk, sk]).map_err(internal)?;
    }
    Ok(())
}

/// Writes `item`: new when `expected_version` is 0, else over the stored
/// one still at that version (`Conflict` when it moved on, `NotFound` when
/// it is gone).
fn put_versioned<E: StoredEntity + Message + Default>(
    conn: &Connection,
    what: &str,
    id: &str,
    item: &E,
    expected_version: i64,
    version: impl Fn(&E) -> i64,
) -> StoreResult<()> {
    let stored: Option<E> = get(conn, &item.pk(), &item.sk())?;
    match (stored, expected_version) {
        (None, 0) => put(conn, item, true),
        (Some(stored), v) if v != 0 && version(&stored) == v => put(conn, item, false),
        (Some(stored), v) => Err(StoreError::stale(what, id, version(&stored), v)),
        (None, _) => Err(StoreError::NotFound),
    }
}

/// A page of one column from `index`: the partition `?1`, sort keys in
/// [`?2`, `?3`), at most `?4`, and when `paged` strictly after the sort key
/// `?5` and table key `?6`, in the index's order — a range of its SQL index.
fn column_sql(index: &storage::IndexDef, paged: bool) -> String {
    let (partition, sort) = (column(index.partition_attribute), column(index.sort_attribute));
    let (order, before) = if index.newest_first { ("DESC", "<") } else { ("ASC", ">") };
    let after = if paged { format!("AND ({sort}, pk) {before} (?5, ?6) ") } else { String::new() };
    format!(
        "SELECT body FROM items WHERE {partition} = ?1 AND {sort} >= ?2 AND {sort} < ?3 {after}\
         ORDER BY {sort} {order}, pk {order} LIMIT ?4"
    )
}

/// Keeps a write's additions to the weekly figures for the end of its batch
/// (see [`flush_insights`]).
fn add_insights(deltas: &[PipelineWeek]) -> StoreResult<()> {
    INSIGHT_CHANGES.with_borrow_mut(|c| c.extend_from_slice(deltas));
    Ok(())
}

/// Adds a committed batch's deltas to their weeks' aggregates: summed first
/// by week and dimension (one writer needs no shards: all in shard "0"), so
/// a batch of creates costs three row writes, not three per create.
fn flush_insights(conn: &Connection, deltas: Vec<PipelineWeek>) -> StoreResult<()> {
    let mut summed: Vec<PipelineWeek> = Vec::new();
    for d in deltas {
        let d = PipelineWeek { shard: "0".to_owned(), ..d };
        match summed.iter_mut().find(|s| s.dimension == d.dimension && s.week == d.week && s.value == d.value) {
            Some(sum) => crate::domain::insights::add(sum, &d),
            None => summed.push(d),
        }
    }
    for d in summed {
        let mut week: PipelineWeek = get(conn, &d.pk(), &d.sk())?.unwrap_or_else(|| PipelineWeek {
            dimension: d.dimension.clone(),
            week: d.week.clone(),
            value: d.value.clone(),
            shard: d.shard.clone(),
            ..Default::default()
        });
        crate::domain::insights::add(&mut week, &d);
        put(conn, &week, false)?;
    }
    Ok(())
}

/// The first text above every text that starts with `prefix` (its last
/// character's successor): `prefix <= key < prefix_end(prefix)` is a prefix
/// match that an index answers as a range.
fn prefix_end(prefix: &str) -> String {
    let mut chars: Vec<char> = prefix.chars().collect();
    match chars.pop() {
        Some(last) => {
            let next = char::from_u32(last as u32 + 1).unwrap_or(char::MAX);
            chars.push(next);
            chars.into_iter().collect()
        }
        None => char::MAX.to_string(),
    }
}

/// Writes the one item of its kind (settings, rules) like [`put_versioned`],
/// none stored being version 0: a writer that saw one when there is none
/// meets a `Conflict`, not `NotFound`.
fn put_single<E: StoredEntity + Message + Default>(
    conn: &Connection,
    what: &str,
    item: &E,
    expected_version: i64,
    version: impl Fn(&E) -> i64,
) -> StoreResult<()> {
    let id = item.sk();
    put_versioned(conn, what, &id, item, expected_version, version).map_err(|e| match e {
        StoreError::NotFound => StoreError::stale(what, &id, 0, expected_version),
        e => e,
    })
}

fn get<E: Message + Default>(conn: &Connection, pk: &str, sk: &str) -> StoreResult<Option<E>> {
    let mut statement = conn.prepare_cached("SELECT body FROM items WHERE pk = ?1 AND sk = ?2").map_err(internal)?;
    let body: Option<Vec<u8>> = statement.query_row(params![pk, sk], |r| r.get(0)).optional().map_err(internal)?;
    body.map(|b| decode(&b)).transpose()
}

fn decode<E: Message + Default>(body: &[u8]) -> StoreResult<E> {
    E::decode(body).map_err(corrupt)
}

/// The id of the first card created with this address, if any.
fn first_with_email(conn: &Connection, email: &str) -> StoreResult<Option<String>> {
    let index = &storage::EMAIL_INDEX;
    let (partition, sort) = (column(index.partition_attribute), column(index.sort_attribute));
    let first = query_prospects(
        conn,
        &format!("SELECT body FROM items WHERE {partition} = ?1 AND {sort} = ?2 ORDER BY pk ASC LIMIT 1"),
        &[&email, &storage::prospect::sk()],
    )?;
    Ok(first.into_iter().next().map(|p| p.id))
}

/// Each column's count, from the status index (one entry per card).
fn count_columns(conn: &Connection) -> StoreResult<Vec<ProspectStatusCount>> {
    let index = &storage::STATUS_INDEX;
    let status = column(index.partition_attribute);
    let mut statement = conn
        .prepare(&format!("SELECT {status}, COUNT(*) FROM items WHERE {status} IS NOT NULL GROUP BY {status}"))
        .map_err(internal)?;
    let rows = statement.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))).map_err(internal)?;
    let mut counts = Vec::new();
    for row in rows {
        let (text, count) = row.map_err(internal)?;
        let status = ProspectStatus::from_key_text(&text)
            .ok_or_else(|| StoreError::Internal(format!("corrupt item: status {text:?}")))?;
        counts.push(ProspectStatusCount { status: status as i32, count });
    }
    Ok(counts)
}

thread_local! {
    /// The column-count changes of the writer's open transaction (only the
    /// writer thread writes): published once it commits, dropped with a
    /// write that is rolled back.
    static COUNT_CHANGES: std::cell::RefCell<Vec<(i32, i64)>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The weekly figures' additions of the open transaction, written once
    /// before it commits (`flush_insights`), dropped with a write rolled back.
    static INSIGHT_CHANGES: std::cell::RefCell<Vec<PipelineWeek>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Adds `delta` to a column's count when the write commits.
fn bump(status: ProspectStatus, delta: i64) {
    COUNT_CHANGES.with_borrow_mut(|c| c.push((status as i32, delta)));
}

fn status_of(prospect: &Prospect) -> ProspectStatus {
    ProspectStatus::try_from(prospect.status).unwrap_or_default()
}

fn now() -> prost_types::Timestamp {
    prost_types::Timestamp::from(SystemTime::now())
}

// ---------------------------------------------------------------- reads

/// A read-only connection for a reader thread.
fn open_reader(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(internal)?;
    // A small page cache per reader: the OS page cache holds the file.
    conn.execute_batch("PRAGMA busy_timeout=5000; PRAGMA query_only=ON; PRAGMA cache_size=-512;").map_err(internal)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

fn query_prospects(conn: &Connection, sql: &str, values: &[&dyn rusqlite::ToSql]) -> StoreResult<Vec<Prospect>> {
    query_items(conn, sql, values)
}

fn query_items<E: Message + Default>(
    conn: &Connection,
    sql: &str,
    values: &[&dyn rusqlite::ToSql],
) -> StoreResult<Vec<E>> {
    query_with(conn, sql, values, |body, _| decode(body))
}

/// The items `sql` selects (their `body`), each decoded by `decode` where
/// SQLite holds it, not copied out first; `decode` may use the scratch buffer.
fn query_with<E>(
    conn: &Connection,
    sql: &str,
    values: &[&dyn rusqlite::ToSql],
    decode: impl Fn(&[u8], &mut Vec<u8>) -> StoreResult<E>,
) -> StoreResult<Vec<E>> {
    let mut statement = conn.prepare_cached(sql).map_err(internal)?;
    let mut rows = statement.query(values).map_err(internal)?;
    let (mut out, mut scratch) = (Vec::new(), Vec::new());
    while let Some(row) = rows.next().map_err(internal)? {
        out.push(decode(row.get_ref(0).and_then(|v| Ok(v.as_blob()?)).map_err(internal)?, &mut scratch)?);
    }
    Ok(out)
}

fn decode_whole(body: &[u8], _: &mut Vec<u8>) -> StoreResult<Prospect> {
    decode(body)
}

/// `Prospect`'s fields that a card leaves out (`card_view`): its history,
/// its search keys, owner and form columns and deadline partition; and in its `fit`
/// (field 25), the parts (field 4).
const NOT_ON_A_CARD: [u64; 8] = [18, 19, 20, 21, 22, 24, 30, 34];
const FIT: u64 = 25;
const FIT_PARTS: u64 = 4;

/// Decodes a stored prospect as a card ([`card_view`]): the fields a card
/// leaves out are skipped on the wire into `kept` (a copy of the rest), so a
/// column page never allocates them. A test holds it equal to `card_view`
/// of the whole prospect.
///
/// [`card_view`]: crate::domain::prospects::card_view
fn decode_card(body: &[u8], kept: &mut Vec<u8>) -> StoreResult<Prospect> {
    kept.clear();
    let mut rest = body;
    while !rest.is_empty() {
        let (tag, field, value) = wire_field(&mut rest)?;
        match tag {
            t if NOT_ON_A_CARD.contains(&t) => {}
            FIT => {
                // The fit without its parts: its other fields, re-framed.
                let mut kept_len = 0;
                let mut inner = value;
                while !inner.is_empty() {
                    let (tag, field, _) = wire_field(&mut inner)?;
                    kept_len += if tag == FIT_PARTS { 0 } else { field.len() };
                }
                // A key is a varint, like a length: field 25, length-delimited.
                prost::encode_length_delimiter((FIT << 3 | 2) as usize, kept).map_err(corrupt)?;
                prost::encode_length_delimiter(kept_len, kept).map_err(corrupt)?;
                let mut inner = value;
                while !inner.is_empty() {
                    let (tag, field, _) = wire_field(&mut inner)?;
                    if tag != FIT_PARTS {
                        kept.extend_from_slice(field);
                    }
                }
            }
            _ => kept.extend_from_slice(field),
        }
    }
    decode(kept)
}

/// The next field of an encoded message: its number, its bytes (key
/// included), and for a length-delimited field its value's bytes.
fn wire_field<'a>(rest: &mut &'a [u8]) -> StoreResult<(u64, &'a [u8], &'a [u8])> {
    let start = *rest;
    let key = prost::decode_length_delimiter(&mut *rest).map_err(corrupt)? as u64;
    let value = match key & 7 {
        0 => {
            prost::decode_length_delimiter(&mut *rest).map_err(corrupt)?;
            &[][..]
        }
        1 | 5 => {
            let n = if key & 7 == 1 { 8 } else { 4 };
            let (_, after) = rest.split_at_checked(n).ok_or_else(|| corrupt("a field past the end"))?;
            *rest = after;
            &[][..]
        }
        2 => {
            let n = prost::decode_length_delimiter(&mut *rest).map_err(corrupt)?;
            let (value, after) = rest.split_at_checked(n).ok_or_else(|| corrupt("a field past the end"))?;
            *rest = after;
            value
        }
        other => return Err(corrupt(format!("wire type {other}"))),
    };
    let field = &start[..start.len() - rest.len()];
    Ok((key >> 3, field, value))
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("corrupt item: {e}"))
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn get_user(&self, email: &str) -> StoreResult<Option<User>> {
        let (pk, sk) = (storage::user::pk(email), storage::user::sk());
        self.read(move |conn| get(conn, &pk, &sk)).await
    }

    async fn create_user(&self, user: User) -> StoreResult<()> {
        self.write(move |conn| put(conn, &user, true)).await
    }

    async fn save_invitation(&self, invitation: &Invitation, expected_version: i64) -> StoreResult<()> {
        let invitation = invitation.clone();
        self.write(move |conn| {
            put_versioned(conn, "invitation", &invitation.id, &invitation, expected_version, |i| i.version)
        })
        .await
    }

    async fn get_invitation(&self, id: &str) -> StoreResult<Option<Invitation>> {
        let (pk, sk) = (storage::invitation::pk(), storage::invitation::sk(id));
        self.read(move |conn| get(conn, &pk, &sk)).await
    }

    async fn invitations(&self) -> StoreResult<Vec<Invitation>> {
        let pk = storage::invitation::pk();
        self.read(move |conn| query_items(conn, "SELECT body FROM items WHERE pk = ?1 ORDER BY sk", &[&pk])).await
    }

    async fn record_security_event(&self, event: &SecurityEvent) -> StoreResult<()> {
        let event = event.clone();
        self.write(move |conn| put(conn, &event, true)).await
    }

    async fn security_events(
        &self,
        month: &str,
        before: Option<String>,
        limit: usize,
    ) -> StoreResult<Vec<SecurityEvent>> {
        // Above every event key: "EVENT#…" sorts before "EVENT$".
        self.newest_first(storage::security_event::pk(month), before.unwrap_or_else(|| "EVENT$".to_owned()), limit)
            .await
    }

    async fn get_team_settings(&self) -> StoreResult<Option<TeamSettings>> {
        self.read(|conn| get(conn, &storage::team_settings::pk(), &storage::team_settings::sk())).await
    }

    async fn save_team_settings(&self, settings: &TeamSettings, expected_version: i64) -> StoreResult<()> {
        let settings = settings.clone();
        self.write(move |conn| put_single(conn, "team settings", &settings, expected_version, |s| s.version)).await
    }

    async fn get_scoring_rules(&self) -> StoreResult<Option<ScoringRules>> {
        self.read(|conn| get(conn, &storage::scoring_rules::pk(), &storage::scoring_rules::sk())).await
    }

    async fn save_scoring_rules(&self, rules: &ScoringRules, expected_version: i64) -> StoreResult<()> {
        let revision = ScoringRulesRevision { updated_at: rules.updated_at, rules: Some(rules.clone()) };
        let rules = rules.clone();
        self.write(move |conn| {
            put_single(conn, "scoring rules", &rules, expected_version, |r| r.version)?;
            put(conn, &revision, true)
        })
        .await
    }

    async fn scoring_revisions(&self, before: Option<String>, limit: usize) -> StoreResult<Vec<ScoringRulesRevision>> {
        let pk = storage::scoring_rules_revision::pk();
        let prefix = storage::scoring_rules_revision::SK_PREFIX;
        let low = prefix.to_owned();
        let high = before.map_or_else(|| prefix_end(prefix), |b| format!("{prefix}{b}"));
        let limit = limit as i64;
        self.read(move |conn| {
            query_items(
                conn,
                "SELECT body FROM items WHERE pk = ?1 AND sk >= ?2 AND sk < ?3 ORDER BY sk DESC LIMIT ?4",
                &[&pk, &low, &high, &limit],
            )
        })
        .await
    }

    async fn pipeline_weeks(&self, dimension: &str, from_week: &str, to_week: &str) -> StoreResult<Vec<PipelineWeek>> {
        let pk = storage::pipeline_week::pk(dimension);
        // Every sort key of these weeks: from "<first>#" to just past "<last>#…".
        let (low, high) = (format!("{from_week}#"), prefix_end(&format!("{to_week}#")));
        self.read(move |conn| {
            query_items(
                conn,
                "SELECT body FROM items WHERE pk = ?1 AND sk >= ?2 AND sk < ?3 ORDER BY sk",
                &[&pk, &low, &high],
            )
        })
        .await
    }

    async fn get_rescore(&self) -> StoreResult<Option<Rescore>> {
        self.read(|conn| get(conn, &storage::rescore::pk(), &storage::rescore::sk())).await
    }

    async fn save_rescore(&self, job: &Rescore, expected_version: i64) -> StoreResult<()> {
        let job = job.clone();
        self.write(move |conn| put_versioned(conn, "rescore", "JOB", &job, expected_version, |j| j.version)).await
    }

    async fn next_assignment(&self) -> StoreResult<i64> {
        self.write(|conn| {
            let (pk, sk) = (storage::assignment_counter::pk(), storage::assignment_counter::sk());
            let counter: Option<AssignmentCounter> = get(conn, &pk, &sk)?;
            let next = AssignmentCounter { count: counter.map_or(0, |c| c.count) + 1 };
            put(conn, &next, false)?;
            Ok(next.count)
        })
        .await
    }

    async fn list_members(&self, after: Option<String>, limit: usize) -> StoreResult<Vec<User>> {
        let index = &storage::MEMBER_INDEX;
        let (partition, sort) = (column(index.partition_attribute), column(index.sort_attribute));
        let sql =
            format!("SELECT body FROM items WHERE {partition} = ?1 AND {sort} > ?2 ORDER BY {sort}, pk, sk LIMIT ?3");
        let (after, limit) = (after.unwrap_or_default(), limit as i64);
        self.read(move |conn| query_items(conn, &sql, &[&MEMBER_PARTITION, &after, &limit])).await
    }

    async fn save_user(&self, user: &User, expected_version: i64, keep: Option<&User>) -> StoreResult<()> {
        let (user, keep) = (user.clone(), keep.cloned());
        self.write(move |conn| {
            let stored: User = get(conn, &user.pk(), &user.sk())?.ok_or(StoreError::NotFound)?;
            if stored.version != expected_version {
                return Err(StoreError::stale("member", &user.email, stored.version, expected_version));
            }
            if let Some(keep) = keep {
                let now: Option<User> = get(conn, &keep.pk(), &keep.sk())?;
                if now.as_ref().map(|k| k.version) != Some(keep.version) {
                    return Err(StoreError::Conflict(format!("member {} changed meanwhile", keep.email)));
                }
            }
            put(conn, &user, false)
        })
        .await
    }

    async fn create_prospect(&self, mut new: NewProspect) -> StoreResult<CreateOutcome> {
        // Every check (a replay, an earlier card with the address) is a read
        // before the first change, and the changes cannot be refused (the
        // request record replaces an expired one; the rest are new keys):
        // no savepoint.
        self.write_checked_first(move |conn| {
            if let Some(request) = &new.request {
                let earlier: Option<CreateProspectRecord> = get(conn, &request.pk(), &request.sk())?;
                let now = now();
                if let Some(earlier) = earlier.filter(|r| r.expires_at.is_some_and(|at| at.seconds > now.seconds)) {
                    return Ok(CreateOutcome::Replayed(earlier.prospect_id));
                }
            }
            let first = first_with_email(conn, &new.prospect.email)?;
            if let Some(request) = &new.request {
                // Absent, or expired and replaced.
                put(conn, request, false)?;
            }
            if let Some(first) = first {
                new.link_duplicate(first);
            }
            put(conn, &new.prospect, true)?;
            put(conn, &new.created, true)?;
            put(conn, &new.change, true)?;
            add_insights(&new.insights)?;
            for notification in &new.notifications {
                put(conn, notification, true)?;
            }
            bump(status_of(&new.prospect), 1);
            Ok(CreateOutcome::Created(Box::new(new.prospect)))
        })
        .await
    }

    async fn get_prospect(&self, id: &str, with_events: bool) -> StoreResult<Option<Prospect>> {
        let pk = storage::prospect::pk(id);
        self.read(move |conn| {
            if !with_events {
                return get(conn, &pk, &storage::prospect::sk());
            }
            // One read of the partition: the card and its history.
            let mut statement =
                conn.prepare_cached("SELECT entity, body FROM items WHERE pk = ?1 ORDER BY sk").map_err(internal)?;
            let rows = statement
                .query_map(params![pk], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?)))
                .map_err(internal)?;
            let mut card: Option<Prospect> = None;
            let mut events = Vec::new();
            for row in rows {
                let (entity, body) = row.map_err(internal)?;
                match entity.as_str() {
                    Prospect::ENTITY => card = Some(decode(&body)?),
                    ProspectEvent::ENTITY => events.push(decode::<ProspectEvent>(&body)?),
                    _ => {}
                }
            }
            Ok(card.map(|mut p| {
                p.events = events;
                p
            }))
        })
        .await
    }

    async fn update_prospect(&self, change: ProspectChange) -> StoreResult<()> {
        self.write(move |conn| {
            let stored: Prospect =
                get(conn, &change.prospect.pk(), &change.prospect.sk())?.ok_or(StoreError::NotFound)?;
            if stored.version != change.expected_version {
                return Err(StoreError::stale("prospect", &stored.id, stored.version, change.expected_version));
            }
            let (before, after) = (status_of(&stored), status_of(&change.prospect));
            put(conn, &change.prospect, false)?;
            for event in &change.events {
                put(conn, event, true)?;
            }
            put(conn, &change.board, true)?;
            add_insights(&change.insights)?;
            for notification in &change.notifications {
                put(conn, notification, true)?;
            }
            if before != after {
                bump(before, -1);
                bump(after, 1);
            }
            Ok(())
        })
        .await
    }

    async fn delete_prospect(
        &self,
        id: &str,
        expected_version: Option<i64>,
        mut change: BoardChange,
    ) -> StoreResult<Prospect> {
        let (pk, sk) = (storage::prospect::pk(id), storage::prospect::sk());
        self.write(move |conn| {
            let stored: Prospect = get(conn, &pk, &sk)?.ok_or(StoreError::NotFound)?;
            if let Some(expected) = expected_version.filter(|v| *v != stored.version) {
                return Err(StoreError::stale("prospect", &stored.id, stored.version, expected));
            }
            conn.prepare_cached("DELETE FROM items WHERE pk = ?1")
                .and_then(|mut s| s.execute(params![pk]))
                .map_err(internal)?;
            bump(status_of(&stored), -1);
            change.version = stored.version + 1;
            change.from_status = stored.status;
            put(conn, &change, true)?;
            Ok(stored)
        })
        .await
    }

    async fn board_changes(&self, since: &prost_types::Timestamp, limit: usize) -> StoreResult<Vec<BoardChange>> {
        let now = now();
        let from = format!("{}{}", storage::board_change::SK_PREFIX, storage::timestamp_key(since));
        let partitions: Vec<String> =
            board_hours(since, &now).iter().map(|hour| storage::board_change::pk(hour)).collect();
        self.read(move |conn| {
            let mut statement = conn
                .prepare_cached("SELECT body FROM items WHERE pk = ?1 AND sk >= ?2 ORDER BY sk LIMIT ?3")
                .map_err(internal)?;
            let mut out = Vec::new();
            for pk in partitions {
                let left = limit.saturating_sub(out.len());
                if left == 0 {
                    break;
                }
                let rows = statement
                    .query_map(params![pk, from, left as i64], |r| r.get::<_, Vec<u8>>(0))
                    .map_err(internal)?;
                for body in rows {
                    let change: BoardChange = decode(&body.map_err(internal)?)?;
                    if !expired(&change, &now) {
                        out.push(change);
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    async fn due_notifications(&self, now: &prost_types::Timestamp, limit: usize) -> StoreResult<Vec<Notification>> {
        let index = &storage::OUTBOX_INDEX;
        let (partition, sort) = (column(index.partition_attribute), column(index.sort_attribute));
        let (queue, now, limit) =
            (super::queue_of(NotificationState::Pending), storage::timestamp_key(now), limit as i64);
        self.read(move |conn| {
            query_items(
                conn,
                &format!("SELECT body FROM items WHERE {partition} = ?1 AND {sort} <= ?2 ORDER BY {sort}, pk LIMIT ?3"),
                &[&queue, &now, &limit],
            )
        })
        .await
    }

    async fn notifications(&self, state: NotificationState, limit: usize) -> StoreResult<Vec<Notification>> {
        let index = &storage::OUTBOX_INDEX;
        let (partition, sort) = (column(index.partition_attribute), column(index.sort_attribute));
        let (queue, limit) = (super::queue_of(state), limit as i64);
        self.read(move |conn| {
            query_items(
                conn,
                &format!("SELECT body FROM items WHERE {partition} = ?1 ORDER BY {sort}, pk LIMIT ?2"),
                &[&queue, &limit],
            )
        })
        .await
    }

    async fn get_notification(&self, id: &str) -> StoreResult<Option<Notification>> {
        let (pk, sk) = (storage::notification::pk(id), storage::notification::sk());
        self.read(move |conn| get(conn, &pk, &sk)).await
    }

    async fn save_notification(&self, n: &Notification, expected_version: i64) -> StoreResult<()> {
        let n = n.clone();
        self.write(move |conn| put_versioned(conn, "notification", &n.id, &n, expected_version, |n| n.version)).await
    }

    async fn list_column(
        &self,
        wanted: &Column,
        after: Option<ColumnPosition>,
        limit: usize,
    ) -> StoreResult<Vec<Prospect>> {
        // A prefix is a range of the sort key: [prefix, prefix with its last
        // character's successor) — "3#" to "3$".
        let (low, high) = match wanted.prefix() {
            Some(prefix) => (prefix.to_owned(), prefix_end(prefix)),
            None => (String::new(), char::MAX.to_string()),
        };
        self.index_page(wanted.index(), wanted.partition(), low, high, after, limit, wanted.cards).await
    }

    async fn list_before(
        &self,
        index: &'static storage::IndexDef,
        partition: &str,
        before: &str,
        after: Option<ColumnPosition>,
        limit: usize,
    ) -> StoreResult<Vec<Prospect>> {
        self.index_page(index, partition.to_owned(), String::new(), before.to_owned(), after, limit, true).await
    }

    async fn list_by_email(&self, email: &str, after: Option<String>, limit: usize) -> StoreResult<Vec<Prospect>> {
        let index = &storage::EMAIL_INDEX;
        let (partition, sort) = (column(index.partition_attribute), column(index.sort_attribute));
        let (email, sk, limit) = (email.to_owned(), storage::prospect::sk(), limit as i64);
        // Prospect ids are UUIDv7: within one email, key order is creation order.
        self.read(move |conn| match after {
            None => query_prospects(
                conn,
                &format!("SELECT body FROM items WHERE {partition} = ?1 AND {sort} = ?2 ORDER BY pk DESC LIMIT ?3"),
                &[&email, &sk, &limit],
            ),
            Some(id) => query_prospects(
                conn,
                &format!(
                    "SELECT body FROM items WHERE {partition} = ?1 AND {sort} = ?2 AND pk < ?3 ORDER BY pk DESC LIMIT ?4"
                ),
                &[&email, &sk, &storage::prospect::pk(&id), &limit],
            ),
        })
        .await
    }

    async fn search(&self, key: SearchKey, prefix: &str, limit: usize) -> StoreResult<Vec<Prospect>> {
        let index = key.index();
        let (partition, sort) = (column(index.partition_attribute), column(index.sort_attribute));
        // Every key that starts with `prefix` sorts between it and it followed
        // by the highest character (SQLite compares text byte by byte).
        let (from, to, limit) = (prefix.to_owned(), format!("{prefix}\u{10FFFF}"), limit as i64);
        self.read(move |conn| {
            query_prospects(
                conn,
                &format!(
                    "SELECT body FROM items WHERE {partition} = ?1 AND {sort} >= ?2 AND {sort} < ?3 \
                     ORDER BY {sort}, pk LIMIT ?4"
                ),
                &[&SEARCH_PARTITION, &from, &to, &limit],
            )
        })
        .await
    }

    async fn status_counts(&self) -> StoreResult<Vec<ProspectStatusCount>> {
        Ok(self.counts.read().unwrap_or_else(|p| p.into_inner()).clone())
    }

    async fn sign_in_failures(&self, windows: &[SignInFailures]) -> StoreResult<Vec<i64>> {
        let keys: Vec<(String, String)> = windows.iter().map(|w| (w.pk(), w.sk())).collect();
        self.read(move |conn| {
            keys.iter().map(|(pk, sk)| Ok(get::<SignInFailures>(conn, pk, sk)?.map_or(0, |w| w.count))).collect()
        })
        .await
    }

    async fn add_sign_in_failure(&self, windows: &[SignInFailures]) -> StoreResult<()> {
        let windows = windows.to_vec();
        // The single writer makes read-and-add atomic.
        self.write(move |conn| {
            for window in windows {
                let stored: Option<SignInFailures> = get(conn, &window.pk(), &window.sk())?;
                let count = stored.map_or(0, |w| w.count) + 1;
                put(conn, &SignInFailures { count, ..window }, false)?;
            }
            Ok(())
        })
        .await
    }

    async fn spend_captcha(&self, spent: SpentCaptcha) -> StoreResult<Option<String>> {
        let now = now().seconds;
        // The single writer makes check-and-put atomic.
        self.write(move |conn| {
            let earlier: Option<SpentCaptcha> = get(conn, &spent.pk(), &spent.sk())?;
            if let Some(earlier) = earlier.filter(|e| e.expires_at.is_some_and(|at| at.seconds > now)) {
                return Ok(Some(earlier.idempotency_key));
            }
            put(conn, &spent, false)?;
            Ok(None)
        })
        .await
    }

    async fn dump_page(&self, after: Option<String>, limit: usize) -> StoreResult<(Vec<AnyEntity>, Option<String>)> {
        let after: i64 = after.and_then(|a| a.parse().ok()).unwrap_or(0);
        self.read(move |conn| {
            let mut statement = conn
                .prepare_cached("SELECT rowid, entity, body FROM items WHERE rowid > ?1 ORDER BY rowid LIMIT ?2")
                .map_err(internal)?;
            let rows = statement
                .query_map(params![after, limit as i64], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, Vec<u8>>(2)?))
                })
                .map_err(internal)?;
            let (mut items, mut last) = (Vec::new(), after);
            for row in rows {
                let (rowid, entity, body) = row.map_err(internal)?;
                items.push(
                    AnyEntity::decode(&entity, &body)
                        .map_err(|e| StoreError::Internal(format!("corrupt item: {e}")))?,
                );
                last = rowid;
            }
            let next = (items.len() == limit).then(|| last.to_string());
            Ok((items, next))
        })
        .await
    }

    async fn load(&self, items: Vec<AnyEntity>) -> StoreResult<()> {
        self.write(move |conn| {
            for entity in items {
                match &entity {
                    // Counted on the status index here, never kept.
                    AnyEntity::ProspectStatusCounter(_) => continue,
                    AnyEntity::Prospect(p) => bump(status_of(p), 1),
                    _ => {}
                }
                let item = item_of(entity.pk(), entity.sk(), entity.name(), entity.encode(), entity.index_values());
                put_item(conn, &item, entity.expires(), false)?;
            }
            Ok(())
        })
        .await
    }

    async fn load_done(&self, _cards: &[(i32, i64)], _counters_loaded: bool) -> StoreResult<()> {
        Ok(())
    }

    async fn subject_items(&self, subject: &str) -> StoreResult<SubjectItems> {
        let partition = column(storage::SUBJECT_INDEX.partition_attribute);
        let subject = subject.to_owned();
        self.read(move |conn| {
            let sql = format!("SELECT entity, body FROM items WHERE {partition} = ?1 ORDER BY pk, sk");
            let mut statement = conn.prepare_cached(&sql).map_err(internal)?;
            let rows = statement
                .query_map(params![subject], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?)))
                .map_err(internal)?;
            let mut items = SubjectItems::default();
            for row in rows {
                let (entity, body) = row.map_err(internal)?;
                match entity.as_str() {
                    Notification::ENTITY => items.notifications.push(decode(&body)?),
                    BoardChange::ENTITY => items.changes.push(decode(&body)?),
                    ImportRow::ENTITY => items.import_rows.push(decode(&body)?),
                    other => return Err(StoreError::Internal(format!("{other} in SubjectIndex"))),
                }
            }
            Ok(items)
        })
        .await
    }

    async fn erase_items(&self, items: &SubjectItems) -> StoreResult<()> {
        let keys = items.keys();
        self.write(move |conn| delete_keys(conn, &keys)).await?;
        // The rows are gone either way; what stays in the log is overwritten
        // by later checkpoints. Erasures are rare: say so, do not fail.
        if let Err(e) = self.scrub().await {
            tracing::warn!(error = %e, "the log was not emptied after an erasure; a later checkpoint will");
        }
        Ok(())
    }

    async fn save_erasure(&self, erasure: &Erasure) -> StoreResult<()> {
        let erasure = erasure.clone();
        self.write(move |conn| put(conn, &erasure, true)).await
    }

    async fn erasures(&self, before: Option<String>, limit: usize) -> StoreResult<Vec<Erasure>> {
        // Above every key: timestamps start with a digit, "~" sorts after them.
        self.newest_first(storage::erasure::pk(), before.unwrap_or_else(|| "~".to_owned()), limit).await
    }

    async fn get_form(&self, name: &str) -> StoreResult<Option<Form>> {
        let (pk, sk) = (storage::form::pk(), storage::form::sk(name));
        self.read(move |conn| get(conn, &pk, &sk)).await
    }

    async fn save_form(&self, form: &Form, expected_version: i64, published: Option<&FormVersion>) -> StoreResult<()> {
        let (form, published) = (form.clone(), published.cloned());
        self.write(move |conn| {
            put_versioned(conn, "form", &form.name, &form, expected_version, |f| f.version)?;
            match &published {
                Some(version) => put(conn, version, true),
                None => Ok(()),
            }
        })
        .await
    }

    async fn forms(&self, limit: usize) -> StoreResult<Vec<Form>> {
        let (pk, limit) = (storage::form::pk(), limit as i64);
        self.read(move |conn| {
            query_items(conn, "SELECT body FROM items WHERE pk = ?1 ORDER BY sk LIMIT ?2", &[&pk, &limit])
        })
        .await
    }

    async fn get_form_version(&self, name: &str, number: &str) -> StoreResult<Option<FormVersion>> {
        let (pk, sk) = (storage::form_version::pk(name), storage::form_version::sk(number));
        self.read(move |conn| get(conn, &pk, &sk)).await
    }

    async fn get_import(&self, id: &str) -> StoreResult<Option<Import>> {
        let (pk, sk) = (storage::import::pk(), storage::import::sk(id));
        self.read(move |conn| get(conn, &pk, &sk)).await
    }

    async fn save_import(&self, import: &Import, expected_version: i64) -> StoreResult<()> {
        let import = import.clone();
        self.write(move |conn| put_versioned(conn, "import", &import.id, &import, expected_version, |i| i.version))
            .await
    }

    async fn imports(&self, before: Option<String>, limit: usize) -> StoreResult<Vec<Import>> {
        // Above every id: ids start with a hex digit, "~" sorts after them.
        self.newest_first(storage::import::pk(), before.unwrap_or_else(|| "~".to_owned()), limit).await
    }

    async fn put_import_items(&self, parts: Vec<ImportFile>, rows: Vec<ImportRow>) -> StoreResult<()> {
        self.write(move |conn| {
            parts.iter().try_for_each(|part| put(conn, part, false))?;
            rows.iter().try_for_each(|row| put(conn, row, false))
        })
        .await
    }

    async fn import_file(&self, import_id: &str) -> StoreResult<Vec<ImportFile>> {
        let pk = storage::import_file::pk(import_id);
        self.read(move |conn| {
            query_items(
                conn,
                "SELECT body FROM items WHERE pk = ?1 AND sk > 'FILE#' AND sk < 'FILE$' ORDER BY sk",
                &[&pk],
            )
        })
        .await
    }

    async fn import_rows(&self, import_id: &str, after: Option<String>, limit: usize) -> StoreResult<Vec<ImportRow>> {
        let pk = storage::import_row::pk(import_id);
        let after = format!("ROW#{}", after.unwrap_or_default());
        let limit = limit as i64;
        self.read(move |conn| {
            query_items(
                conn,
                "SELECT body FROM items WHERE pk = ?1 AND sk > ?2 AND sk < 'ROW$' ORDER BY sk LIMIT ?3",
                &[&pk, &after, &limit],
            )
        })
        .await
    }

    async fn delete_import_file(&self, parts: &[ImportFile]) -> StoreResult<()> {
        let keys: Vec<(String, String)> = parts.iter().map(|p| (p.pk(), p.sk())).collect();
        self.write(move |conn| delete_keys(conn, &keys)).await
    }

    async fn clear_sign_in_failures(&self, window: &SignInFailures) -> StoreResult<()> {
        let (pk, sk) = (window.pk(), window.sk());
        self.write(move |conn| {
            conn.prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2")
                .and_then(|mut s| s.execute(params![pk, sk]))
                .map(|_| ())
                .map_err(internal)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field set (no `..Default::default()`: a new field must be
    /// placed here, on a card or not).
    #[test]
    fn a_card_decoded_from_the_wire_is_the_card_view_of_the_whole_prospect() {
        use astro_proto::v1::{Consent, FitScore, FitScorePart, ProspectEvent, Source};
        let at = |seconds| Some(prost_types::Timestamp { seconds, nanos: 7 });
        let whole = Prospect {
            id: "0193".into(),
            first_name: "Zoé".into(),
            last_name: "Martin".into(),
            email: "zoe@example.com".into(),
            phone: "+33 6".into(),
            company: "Acme".into(),
            job_title: "CEO".into(),
            message: "Bonjour".into(),
            budget: 2,
            timeline: 1,
            consent: Some(Consent {
                given: true,
                given_at: at(1),
                text_version: "2026-11".into(),
                language: "fr".into(),
            }),
            source: Some(Source { utm_source: "fair".into(), utm_campaign: "spring".into(), ..Default::default() }),
            status: 2,
            created_at: at(1),
            updated_at: at(2),
            version: -3,
            duplicate_of: "0192".into(),
            events: vec![ProspectEvent { id: "e".into(), actor: "ada@example.com".into(), ..Default::default() }],
            search_partition: "PROSPECT".into(),
            search_first_name: "zoe".into(),
            search_last_name: "martin".into(),
            search_company: "acme".into(),
            owner: "ada@example.com".into(),
            owner_column: "ada@example.com#CONTACTED".into(),
            form_column: "salon-2027#CONTACTED".into(),
            email_confirmation: 2,
            email_confirmed_at: at(6),
            fit: Some(FitScore {
                score: -10,
                grade: 1,
                rules_version: 4,
                parts: vec![FitScorePart {
                    rule: 1,
                    points: 30,
                    group: "Decision makers".into(),
                    matched: "ceo".into(),
                }],
            }),
            score_key: "3#100090#2026".into(),
            status_changed_at: at(3),
            first_contact_due: at(4),
            first_contacted_at: at(5),
            deadline_partition: "DUE".into(),
            reached: vec![1, 2],
            form: Some(astro_proto::v1::FormRef { name: "salon-2027".into(), version: 3 }),
            answers: vec![astro_proto::v1::Answer {
                question_id: "seats".into(),
                kind: 5,
                label: "Combien d'utilisateurs ?".into(),
                number: 12.5,
                ..Default::default()
            }],
        };
        let mut expected = whole.clone();
        crate::domain::prospects::card_view(&mut expected);
        assert_ne!(expected, whole);
        let card = decode_card(&whole.encode_to_vec(), &mut Vec::new()).unwrap();
        assert_eq!(card, expected);
        // A fit of only parts keeps an empty fit, as `card_view` does.
        let parts_only = Prospect {
            fit: Some(FitScore { parts: whole.fit.clone().unwrap().parts, ..Default::default() }),
            ..Default::default()
        };
        let card = decode_card(&parts_only.encode_to_vec(), &mut Vec::new()).unwrap();
        assert_eq!(card.fit, Some(FitScore::default()));
        assert!(decode_card(&[0xa2, 0x01, 0x05, 0x08], &mut Vec::new()).is_err(), "a field past the end");
    }

    /// A write without a savepoint that fails after its first change takes
    /// its whole batch down: nothing of it or of its batch-mates is kept,
    /// and every caller hears so. (The batch is made deterministic: the
    /// writer is held by a first write until both others are queued.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failure_past_a_first_change_without_a_savepoint_rolls_the_batch_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        let user = |email: &str| User { email: email.into(), role: "admin".into(), ..Default::default() };
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (running, started) = oneshot::channel::<()>();
        let holder = tokio::spawn({
            let store = store.clone();
            async move {
                store
                    .write(move |_| {
                        let _ = running.send(());
                        held.recv().map_err(|e| StoreError::Internal(e.to_string()))
                    })
                    .await
            }
        });
        started.await.unwrap();
        let free = store.jobs.max_capacity();
        let good = tokio::spawn({
            let store = store.clone();
            async move { store.write(move |conn| put(conn, &user("ada@example.com"), false)).await }
        });
        let bad = tokio::spawn({
            let store = store.clone();
            async move {
                store
                    .write_checked_first(move |conn| {
                        put(conn, &user("bob@example.com"), false)?;
                        Err::<(), _>(StoreError::Internal("failed past its first change".into()))
                    })
                    .await
            }
        });
        while store.jobs.capacity() != free - 2 {
            tokio::task::yield_now().await;
        }
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        assert!(matches!(good.await.unwrap(), Err(StoreError::Unavailable(_))), "its batch-mate is told");
        assert!(matches!(bad.await.unwrap(), Err(StoreError::Internal(_))), "its own error");
        for email in ["ada@example.com", "bob@example.com"] {
            assert_eq!(store.get_user(email).await.unwrap(), None, "{email}: nothing of the batch is kept");
        }
        // The writer goes on.
        store.write(move |conn| put(conn, &user("ada@example.com"), false)).await.unwrap();
        assert!(store.get_user("ada@example.com").await.unwrap().is_some());
    }

    /// A create runs without a savepoint, so its request record must not be
    /// refused: one past its expiry is replaced and the card created; one
    /// still live replays the first card.
    #[tokio::test]
    async fn a_request_id_past_its_expiry_creates_again_and_a_live_one_replays() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let record = |prospect_id: &str, seconds| CreateProspectRecord {
            caller: "svc@example.com".into(),
            request_id: "form-1".into(),
            prospect_id: prospect_id.into(),
            expires_at: Some(prost_types::Timestamp { seconds, nanos: 0 }),
        };
        let expired = record("old", 1);
        store.write(move |conn| put(conn, &expired, true)).await.unwrap();
        let new = |id: &str| NewProspect {
            prospect: Prospect { id: id.into(), email: format!("{id}@example.com"), status: 1, ..Default::default() },
            created: ProspectEvent { id: format!("e-{id}"), prospect_id: id.into(), ..Default::default() },
            change: BoardChange { id: format!("c-{id}"), ..Default::default() },
            notifications: Vec::new(),
            request: Some(record(id, now().seconds + 3600)),
            insights: Vec::new(),
        };
        let created = store.create_prospect(new("p1")).await.unwrap();
        assert!(matches!(created, CreateOutcome::Created(ref p) if p.id == "p1"), "{created:?}");
        assert_eq!(store.create_prospect(new("p2")).await.unwrap(), CreateOutcome::Replayed("p1".into()));
        assert!(store.get_prospect("p2", false).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_column_page_is_a_range_of_its_index_in_every_order() {
        let dir = tempfile::tempdir().unwrap();
        drop(EmbeddedStore::open(dir.path()).unwrap());
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        for index in [&storage::STATUS_INDEX, &storage::OWNER_INDEX, &storage::SCORE_INDEX, &storage::OWNER_SCORE_INDEX]
        {
            for paged in [false, true] {
                let sql = format!("EXPLAIN QUERY PLAN {}", column_sql(index, paged));
                let mut statement = conn.prepare(&sql).unwrap();
                let values: [&dyn rusqlite::ToSql; 6] = [&"NEW", &"3#", &"3$", &10, &"3#100090#x", &"PROSPECT#x"];
                let plan: Vec<String> = statement
                    .query_map(&values[..statement.parameter_count()], |r| r.get::<_, String>(3))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                let plan = plan.join("; ");
                assert!(
                    plan.contains(&format!("USING INDEX {} (", index.name)),
                    "{} paged={paged}: {plan}",
                    index.name
                );
                assert!(!plan.contains("TEMP B-TREE"), "{}: sorted by the index, not in memory: {plan}", index.name);
            }
        }
        assert_eq!(prefix_end("3#"), "3$");
    }

    #[tokio::test]
    async fn a_store_of_the_first_schema_is_upgraded_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let user = User { email: "ada@example.com".into(), role: "admin".into(), ..Default::default() };
        {
            let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
            conn.execute_batch(&format!("BEGIN;\n{}PRAGMA user_version = 1;\nCOMMIT;", first_schema())).unwrap();
            conn.execute(
                "INSERT INTO items (pk, sk, entity, body) VALUES (?1, ?2, ?3, ?4)",
                params![user.pk(), user.sk(), User::ENTITY, user.encode_to_vec()],
            )
            .unwrap();
        }
        let store = EmbeddedStore::open(dir.path()).unwrap();
        assert_eq!(store.get_user("ada@example.com").await.unwrap(), Some(user.clone()));
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        // Version 5: a rowid table (a `WITHOUT ROWID` one has no rowid to
        // select), its key unique.
        let rowid: i64 = conn.query_row("SELECT rowid FROM items WHERE pk = ?1", [user.pk()], |r| r.get(0)).unwrap();
        assert!(rowid > 0);
        let again = conn.execute(
            "INSERT INTO items (pk, sk, entity, body) VALUES (?1, ?2, ?3, ?4)",
            params![user.pk(), user.sk(), User::ENTITY, user.encode_to_vec()],
        );
        assert!(again.is_err(), "(pk, sk) is unique");
        // The new column takes expiring items.
        let record = CreateProspectRecord {
            expires_at: Some(prost_types::Timestamp { seconds: 1, nanos: 0 }),
            ..Default::default()
        };
        store.write(move |conn| put(conn, &record, false)).await.unwrap();
        assert_eq!(store.delete_expired().await.unwrap(), 1);
    }

    #[test]
    fn every_index_read_uses_its_sparse_sql_index_never_a_scan() {
        let dir = tempfile::tempdir().unwrap();
        let _store = EmbeddedStore::open(dir.path()).unwrap();
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        for index in INDEXES {
            let (partition, sort) = (column(index.partition_attribute), column(index.sort_attribute));
            // The shape of every read: the partition named, ordered by the sort key.
            let sql =
                format!("EXPLAIN QUERY PLAN SELECT body FROM items WHERE {partition} = ?1 ORDER BY {sort}, pk LIMIT 5");
            let plan: Vec<String> = conn
                .prepare(&sql)
                .unwrap()
                .query_map(["x"], |r| r.get::<_, String>(3))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let plan = plan.join(" | ");
            assert!(plan.contains(&format!("INDEX {}", index.name)), "{}: {plan}", index.name);
            assert!(!plan.contains("SCAN items") && !plan.contains("TEMP B-TREE"), "{}: {plan}", index.name);
        }
        let sparse: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND sql LIKE '%WHERE%IS NOT NULL%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(sparse as usize, INDEXES.len() + 1, "every GSI index and the ttl index are sparse");
    }
}
