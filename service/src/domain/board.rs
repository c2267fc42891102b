//! The live board: every write of a card records a `BoardChange` in the same
//! transaction (see the store), and watchers read the changes back from the
//! store — so a change made through one instance reaches a watcher connected
//! to another, and a client that reconnects with its cursor catches up.
//!
//! One poller per instance reads the store while someone watches (at once
//! after a local write, else every `ASTRO_WATCH_POLL_MS`), and fans the
//! changes out to that instance's watchers; nobody watching, nothing reads.
//!
//! Ordering across instances: a change is stamped when its write begins and
//! may become visible a little later, or with a clock a little behind.
//! Readers therefore read from [`MARGIN`] before their cursor and drop what
//! the cursor says they already have: nothing is missed, nothing comes twice.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use astro_proto::v1::{BoardChange, BoardChangeKind, Prospect, ProspectStatus, WatchProspectsResponse};
use base64::Engine as _;
use tokio::sync::{Notify, broadcast, mpsc, watch};

use super::{DomainError, DomainResult, FieldViolation, now};
use crate::store::{Store, board_hour};

/// How long changes are kept: a cursor older than this must reload the board.
pub const RETENTION: Duration = Duration::from_secs(60 * 60);
/// How far behind its cursor a reader looks again (clock skew between
/// instances, writes in flight).
pub const MARGIN: Duration = Duration::from_secs(5);
/// An empty response this often keeps idle connections (and proxies) open.
pub const KEEP_ALIVE: Duration = Duration::from_secs(25);
/// Most changes one read returns.
pub const MAX_BATCH: usize = 500;

fn micros(ts: &prost_types::Timestamp) -> i64 {
    ts.seconds * 1_000_000 + i64::from(ts.nanos / 1_000)
}

fn timestamp(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1_000) as i32,
    }
}

/// A change to record with a write. `version` and `from_status` of a
/// deletion are completed by the store.
pub fn change(
    kind: BoardChangeKind,
    prospect_id: &str,
    prospect: Option<&Prospect>,
    from_status: ProspectStatus,
    actor: &str,
    at: prost_types::Timestamp,
) -> BoardChange {
    let card = prospect.map(|p| {
        let mut card = p.clone();
        super::prospects::card_view(&mut card);
        card
    });
    BoardChange {
        hour: board_hour(&at),
        id: uuid::Uuid::now_v7().to_string(),
        changed_at: Some(at),
        kind: kind as i32,
        prospect_id: prospect_id.to_owned(),
        version: prospect.map(|p| p.version).unwrap_or_default(),
        prospect: card,
        from_status: from_status as i32,
        actor: actor.to_owned(),
        expires_at: Some(prost_types::Timestamp { seconds: at.seconds + RETENTION.as_secs() as i64, nanos: 0 }),
        subject: prospect.map(|p| p.email.clone()).unwrap_or_default(),
    }
}

/// Where a reader of the board is: the newest change it has, and the
/// changes it has within [`MARGIN`] of it. Opaque to clients (base64url JSON).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cursor {
    /// Microseconds since the Unix epoch.
    #[serde(rename = "t")]
    at: i64,
    /// `(change id, changed_at in microseconds)` of the changes delivered
    /// within the margin.
    #[serde(rename = "s", default)]
    seen: Vec<(String, i64)>,
}

impl Cursor {
    /// From now: every change made from now on (and those in flight).
    pub fn now() -> Self {
        Self { at: micros(&now()), seen: Vec::new() }
    }

    /// Its time: changes made before it are older than the cursor.
    pub fn at(&self) -> prost_types::Timestamp {
        timestamp(self.at)
    }

    pub fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// A cursor from a client; `field` names it in the error.
    pub fn decode(text: &str, field: &str) -> DomainResult<Self> {
        let bad = || DomainError::Invalid(vec![FieldViolation::new(field, "is not a cursor from this API")]);
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| bad())?;
        let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        if cursor.seen.len() > 10 * MAX_BATCH || cursor.at <= 0 {
            return Err(bad());
        }
        Ok(cursor)
    }

    /// Where a read for this cursor starts.
    fn from(&self) -> prost_types::Timestamp {
        timestamp(self.at - MARGIN.as_micros() as i64)
    }

    /// Takes `change` if it is new to this cursor; false if it had it.
    fn advance(&mut self, change: &BoardChange) -> bool {
        let at = change.changed_at.as_ref().map(micros).unwrap_or_default();
        let floor = self.at - MARGIN.as_micros() as i64;
        if at < floor || self.seen.iter().any(|(id, _)| *id == change.id) {
            return false;
        }
        self.seen.push((change.id.clone(), at));
        self.at = self.at.max(at);
        let floor = self.at - MARGIN.as_micros() as i64;
        self.seen.retain(|(_, at)| *at >= floor);
        true
    }

    fn expired(&self) -> bool {
        self.at < micros(&now()) - RETENTION.as_micros() as i64
    }
}

/// The board's changes for this instance's watchers.
pub struct Board {
    store: Arc<dyn Store>,
    poll: Duration,
    wake: Arc<Notify>,
    changes: broadcast::Sender<Arc<BoardChange>>,
    watchers: Arc<AtomicUsize>,
    poller: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// True once the server stops: streams end (clients reconnect elsewhere
    /// with their cursor) so they never hold a graceful shutdown up.
    closing: watch::Sender<bool>,
}

impl Board {
    pub fn new(store: Arc<dyn Store>, poll: Duration) -> Self {
        Self {
            store,
            poll,
            wake: Arc::new(Notify::new()),
            changes: broadcast::channel(1024).0,
            watchers: Arc::new(AtomicUsize::new(0)),
            poller: Mutex::new(None),
            closing: watch::channel(false).0,
        }
    }

    /// Ends every stream (and refuses none: new ones end at once).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// A write of this instance committed: watchers here see it at once.
    pub fn changed(&self) {
        if self.watchers.load(Ordering::Relaxed) > 0 {
            self.wake.notify_one();
        }
    }

    /// The changes after `cursor` (at most `limit`), advancing it.
    pub async fn since(&self, cursor: &mut Cursor, limit: usize) -> DomainResult<Vec<BoardChange>> {
        if cursor.expired() {
            return Err(DomainError::Expired(format!(
                "the cursor is older than the board keeps changes ({} minutes): reload the board",
                RETENTION.as_secs() / 60
            )));
        }
        let mut out = Vec::new();
        // A page may end inside the margin's re-reads: read on until `limit`
        // new changes or the end.
        loop {
            let read = self.store.board_changes(&cursor.from(), limit + cursor.seen.len()).await?;
            let complete = read.len() < limit + cursor.seen.len();
            for change in read {
                if out.len() == limit {
                    return Ok(out);
                }
                if cursor.advance(&change) {
                    out.push(change);
                }
            }
            if complete || out.len() == limit {
                return Ok(out);
            }
        }
    }

    /// Streams the changes after `cursor` until the receiver is dropped:
    /// first what the store holds since the cursor, then each change as this
    /// instance's poller sees it, and an empty response every [`KEEP_ALIVE`].
    pub fn watch(self: &Arc<Self>, cursor: Cursor) -> mpsc::Receiver<DomainResult<WatchProspectsResponse>> {
        let (out, receiver) = mpsc::channel(16);
        let board = self.clone();
        tokio::spawn(async move {
            let _watching = board.enter();
            let mut closing = board.closing.subscribe();
            if *closing.borrow() {
                return;
            }
            let mut live = board.changes.subscribe();
            let mut cursor = cursor;
            if !board.catch_up(&mut cursor, &out, true).await {
                return;
            }
            let mut keep_alive = tokio::time::interval_at(tokio::time::Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
            loop {
                // `None`: nothing to say (changes this watcher had already).
                let batch = tokio::select! {
                    received = live.recv() => match received {
                        Ok(first) => {
                            let mut batch: Vec<BoardChange> = Vec::new();
                            let mut next = Some(first);
                            while let Some(change) = next {
                                if cursor.advance(&change) {
                                    batch.push((*change).clone());
                                }
                                next = live.try_recv().ok();
                            }
                            (!batch.is_empty()).then_some(batch)
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            // Too slow for the fan-out: read the store again.
                            if !board.catch_up(&mut cursor, &out, false).await {
                                return;
                            }
                            None
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    _ = keep_alive.tick() => Some(Vec::new()),
                    _ = out.closed() => return,
                    () = async { drop(closing.wait_for(|closed| *closed).await) } => return,
                };
                let Some(changes) = batch else { continue };
                let response = WatchProspectsResponse { changes, cursor: cursor.encode() };
                if out.send(Ok(response)).await.is_err() {
                    return;
                }
                keep_alive.reset();
            }
        });
        receiver
    }

    /// Sends what the store holds after `cursor`; with `announce`, a first
    /// (possibly empty) response in any case, so the client knows it is
    /// live. False when the client is gone or the cursor failed.
    async fn catch_up(
        &self,
        cursor: &mut Cursor,
        out: &mpsc::Sender<DomainResult<WatchProspectsResponse>>,
        announce: bool,
    ) -> bool {
        let mut first = announce;
        loop {
            match self.since(cursor, MAX_BATCH).await {
                Ok(changes) => {
                    let more = changes.len() == MAX_BATCH;
                    if !changes.is_empty() || first {
                        let response = WatchProspectsResponse { changes, cursor: cursor.encode() };
                        if out.send(Ok(response)).await.is_err() {
                            return false;
                        }
                    }
                    first = false;
                    if !more {
                        return true;
                    }
                }
                Err(e) => {
                    let _ = out.send(Err(e)).await;
                    return false;
                }
            }
        }
    }

    /// Counts a watcher in (starting the poller if it is not running) until
    /// the guard is dropped.
    fn enter(self: &Arc<Self>) -> WatcherGuard {
        self.watchers.fetch_add(1, Ordering::SeqCst);
        let mut poller = self.poller.lock().unwrap_or_else(|p| p.into_inner());
        if poller.as_ref().is_none_or(|p| p.is_finished()) {
            *poller = Some(tokio::spawn(poll(self.clone())));
        }
        WatcherGuard(self.watchers.clone())
    }
}

struct WatcherGuard(Arc<AtomicUsize>);

impl Drop for WatcherGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Reads the store for this instance's watchers while there are any.
async fn poll(board: Arc<Board>) {
    let mut cursor = Cursor::now();
    let mut failures = 0u32;
    while board.watchers.load(Ordering::SeqCst) > 0 && !*board.closing.borrow() {
        tokio::select! {
            _ = board.wake.notified() => {}
            _ = tokio::time::sleep(board.poll) => {}
        }
        // Read until the store has no more (a burst is passed on at once,
        // not one batch per poll).
        let mut read = board.since(&mut cursor, MAX_BATCH).await;
        while let Ok(changes) = &read {
            let full = changes.len() == MAX_BATCH;
            for change in changes {
                let _ = board.changes.send(Arc::new(change.clone()));
            }
            if !full {
                break;
            }
            read = board.since(&mut cursor, MAX_BATCH).await;
        }
        match read {
            Ok(_) => failures = 0,
            Err(DomainError::Expired(_)) => cursor = Cursor::now(),
            Err(e) => {
                failures += 1;
                if failures == 1 || failures.is_power_of_two() {
                    tracing::warn!(error = %e, failures, "could not read the board's changes; retrying");
                }
                tokio::time::sleep(board.poll * failures.min(10)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(micros: i64, id: &str) -> BoardChange {
        BoardChange { id: id.into(), changed_at: Some(timestamp(micros)), ..Default::default() }
    }

    #[test]
    fn a_cursor_takes_each_change_once_and_looks_back_over_the_margin() {
        let margin = MARGIN.as_micros() as i64;
        let mut cursor = Cursor { at: 10 * margin, seen: Vec::new() };
        assert!(cursor.advance(&at(10 * margin + 1, "a")));
        assert!(!cursor.advance(&at(10 * margin + 1, "a")), "twice");
        // Stamped earlier, seen later (another instance's clock, a slow write).
        assert!(cursor.advance(&at(10 * margin - margin / 2, "b")));
        assert!(!cursor.advance(&at(8 * margin, "c")), "older than the margin: the reader had it then");
        assert_eq!(cursor.from(), timestamp(9 * margin + 1));

        let back = Cursor::decode(&cursor.encode(), "cursor").unwrap();
        assert_eq!(back, cursor);
        let mut resumed = back;
        assert!(!resumed.advance(&at(10 * margin + 1, "a")), "nothing twice after a reconnect");
        assert!(resumed.advance(&at(10 * margin + 2, "d")));
    }

    #[test]
    fn a_cursor_that_is_not_ours_names_the_field() {
        for text in ["", "%%%", "bm90IGpzb24", &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b"{\"t\":-1}")]
        {
            match Cursor::decode(text, "cursor") {
                Err(DomainError::Invalid(v)) => assert_eq!(v[0].field, "cursor"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }
}
