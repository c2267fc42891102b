//! The service's background work: the notifications outbox, the
//! re-scoring after a change of the rules, the imports and the retention.
//!
//! A long-running instance (`make run`, the containers) runs each as a loop
//! of its own ([`Background::spawn`]). On AWS Lambda a process runs only
//! while it answers an event, so a loop would sleep frozen: there a
//! scheduled event runs one [`Background::pass`] over all four instead.
//! Either way the work lives in the table — outbox items written in the
//! same write as the card, the re-scoring job, the import — and is claimed
//! with a lease, so nothing is lost when a process dies between the write
//! and the work: the next loop or pass, in this process or another, takes
//! it up once the lease has run out.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{task::JoinHandle, time::Instant};

use crate::{
    domain::{
        DomainResult,
        clock::{Clock, after, plus},
        imports::Importer,
        privacy::RETENTION_BATCH,
        prospects::Prospects,
        scoring::{Rescorer, Step},
    },
    notify::Notifier,
    server::Services,
};

/// How the background work runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// Each piece in a loop of its own, for as long as the process lives.
    #[default]
    Loops,
    /// Only when asked, one [`Background::pass`] at a time (AWS Lambda).
    Passes,
}

/// How often an idle instance looks for a re-scoring to take over (another
/// instance's change, or a job whose instance died). A change made here, or
/// seen here when the rules are read for a write, wakes it at once.
const RESCORE_POLL: Duration = Duration::from_secs(60);
/// How often an idle instance looks for an import started through another
/// (the one that starts it is woken at once).
const IMPORT_POLL: Duration = Duration::from_secs(60);

/// The background work of one service.
pub struct Background {
    notifier: Arc<Notifier>,
    rescorer: Rescorer,
    importer: Importer,
    prospects: Prospects,
    clock: Clock,
    /// Time between two retention passes.
    retention_every: Duration,
    /// When the last retention pass of [`Background::pass`] ran.
    last_retention: Mutex<Option<prost_types::Timestamp>>,
}

/// The pieces of the background work, in the order a pass takes them.
#[derive(Debug, Clone, Copy)]
enum Piece {
    Outbox,
    Rescoring,
    Import,
    Retention,
}

/// What one [`Background::pass`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Notifications claimed and sent (or failed, to be tried again).
    pub notifications: usize,
    /// Pages of cards scored again.
    pub rescored_pages: usize,
    /// Batches of an import (or of its undo) run.
    pub import_batches: usize,
    /// Cards erased past the retention (`None`: no retention pass was due).
    pub erased: Option<i64>,
    /// The pass stopped at its deadline with work left (the next one
    /// goes on with it).
    pub cut_short: bool,
}

impl Background {
    /// The work of `services`' domain: `notifier`'s outbox, the re-scoring
    /// and the imports of its cards, their retention every `retention_every`
    /// of `clock`.
    pub fn new(services: &Services, notifier: Arc<Notifier>, clock: Clock, retention_every: Duration) -> Self {
        let prospects = services.prospects.clone();
        Self {
            notifier,
            rescorer: Rescorer::new(prospects.scoring().clone(), prospects.board().clone()),
            importer: Importer::new(services.imports.clone()),
            prospects,
            clock,
            retention_every,
            last_retention: Mutex::new(None),
        }
    }

    /// Runs each piece in a loop until the process ends (or the handles are
    /// aborted).
    pub fn spawn(self) -> Vec<JoinHandle<()>> {
        let mut loops = vec![
            self.rescorer.spawn(RESCORE_POLL),
            self.importer.spawn(IMPORT_POLL),
            spawn_retention(self.prospects, self.retention_every),
        ];
        if self.notifier.enabled() {
            loops.push(self.notifier.spawn());
        }
        loops
    }

    /// Does the work due now, each piece until it has nothing left or
    /// `deadline` comes: sends the outbox's due notifications, moves the
    /// re-scoring and the running import on, and runs the retention when
    /// `retention_every` has passed since the last pass that ran it (or
    /// when this process has not run it yet). An error stops the piece it
    /// came from, not the pass; its work waits for the next one.
    pub async fn pass(&self, deadline: Instant) -> Pass {
        let mut pass = Pass::default();
        let retention = self.retention_due();
        for piece in [Piece::Outbox, Piece::Rescoring, Piece::Import, Piece::Retention] {
            let skip = match piece {
                Piece::Outbox => !self.notifier.enabled(),
                Piece::Retention => !retention,
                Piece::Rescoring | Piece::Import => false,
            };
            if skip {
                continue;
            }
            loop {
                if Instant::now() >= deadline {
                    pass.cut_short = true;
                    break;
                }
                if !self.step(piece, &mut pass).await {
                    break;
                }
            }
        }
        // Not run after all (out of time, or the store failed): the next
        // pass tries it.
        if retention && pass.erased.is_none() {
            *self.last_retention.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
        pass
    }

    /// One step of `piece`, counted in `pass`; whether to take another.
    async fn step(&self, piece: Piece, pass: &mut Pass) -> bool {
        match piece {
            Piece::Outbox => match self.notifier.work().await {
                Ok(0) => false,
                Ok(n) => {
                    pass.notifications += n;
                    true
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the outbox; the next pass retries");
                    false
                }
            },
            Piece::Rescoring => worked("re-scoring", self.rescorer.step().await, &mut pass.rescored_pages),
            Piece::Import => worked("import", self.importer.step().await, &mut pass.import_batches),
            Piece::Retention => match self.prospects.retention_pass(RETENTION_BATCH).await {
                Ok(erasure) => {
                    *pass.erased.get_or_insert(0) += erasure.prospects;
                    erasure.prospects as usize >= RETENTION_BATCH
                }
                Err(e) => {
                    tracing::warn!(error = %e, "retention pass: the next one retries");
                    false
                }
            },
        }
    }

    /// Whether a retention pass is due, noting it as run if so.
    fn retention_due(&self) -> bool {
        let now = self.clock.now();
        let mut last = self.last_retention.lock().unwrap_or_else(|p| p.into_inner());
        let due = match &*last {
            None => true,
            Some(at) => !after(&plus(at, self.retention_every), &now),
        };
        if due {
            *last = Some(now);
        }
        due
    }
}

/// Counts a step that did some work; says whether to take another.
fn worked(name: &str, step: DomainResult<Step>, count: &mut usize) -> bool {
    match step {
        Ok(Step::Worked) => {
            *count += 1;
            true
        }
        Ok(Step::Idle | Step::Waiting) => false,
        Err(e) => {
            tracing::warn!(error = %e, "{name}: the next pass retries");
            false
        }
    }
}

/// Runs the retention pass at start and then every `every`: batches of
/// cards until a pass finds fewer than a batch. Several instances may run
/// it at once: a card is erased once (the others find it gone).
fn spawn_retention(prospects: Prospects, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            loop {
                match prospects.retention_pass(RETENTION_BATCH).await {
                    Ok(erasure) if erasure.prospects as usize >= RETENTION_BATCH => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "retention pass: retrying at the next one");
                        break;
                    }
                }
            }
        }
    })
}
