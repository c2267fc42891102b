//! The allocator of the binaries (`astro-service`, `astro-gateway`): mimalloc.
//!
//! Measured on the column page and the submit (`make bench`,
//! `docs/architecture.md`): glibc's malloc was a quarter of the gateway's CPU
//! under load; mimalloc serves the same load with far fewer cycles. Left to
//! its defaults it keeps freed pages for a second and purges them only when
//! the thread that freed them allocates again, so an idle process kept what
//! the load had used; [`return_freed_memory`] makes it give freed pages back
//! at once, which held resident memory to glibc's with the speed kept.

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
