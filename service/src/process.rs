//! How the binaries (`astro-service`, `astro-gateway`) run: their allocator
//! and their threads.
//!
//! **Allocator: mimalloc.**
//! Measured on the column page and the submit (`make bench`,
//! `docs/architecture.md`): glibc's malloc was a quarter of the gateway's CPU
//! under load; mimalloc 3.1 served 30-45 % more column pages. With its
//! default purge delay the gateway kept 33 MB resident once idle after the
//! load; with [`return_freed_memory`] (freed pages go back at once) 26 MB,
//! glibc's figure, with the speed kept. (mimalloc 3.3 kept 38-41 MB whatever
//! its options: hence the pinned version.)

/// The global allocator; each binary declares
/// `#[global_allocator] static ALLOCATOR: Allocator = Allocator;`.
pub use mimalloc::MiMalloc as Allocator;

/// mimalloc's `mi_option_purge_delay` (its `mimalloc.h`, v2 and v3 alike).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Freed memory goes back to the OS at once rather than after a delay that
/// an idle thread never reaches. Call first thing in `main`.
pub fn return_freed_memory() {
    // SAFETY: sets one of mimalloc's documented options to a documented
    // value (0: purge at once); no pointer is involved.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 0) };
}

/// The Tokio runtime of a binary: `workers` async worker threads when given
/// (`ASTRO_WORKER_THREADS`), else one per core, less one when the embedded
/// store runs in this process (`embedded_store`).
///
/// The embedded store does its SQLite work on its own threads (a reader per
/// core, the writer, `store/embedded.rs`); on two cores, two async workers
/// besides them preempted the store's threads and woke each other for every
/// call that waited on the store: one worker served the column page as fast
/// and the submit one at a time 19 % sooner (p50 298 µs against 368 µs,
/// `docs/architecture.md`). With DynamoDB everything the process does is
/// async work, so every core gets a worker.
pub fn runtime(workers: Option<u16>, embedded_store: bool) -> std::io::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers =
        workers.map_or_else(|| if embedded_store { cores.saturating_sub(1).max(1) } else { cores }, usize::from);
    tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build()
}
