//! The service's clock: the system's time, which tests move forward instead
//! of sleeping (deadlines, leases, waits). Every copy of one clock shares
//! its offset, so two instances of the service built over one clock see the
//! same moved time.

use std::{
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    time::Duration,
};

#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Microseconds added to the system's time (or to `fixed`).
    offset: Arc<AtomicI64>,
    /// A time that does not pass by itself (tests that need exact durations).
    fixed: Option<i64>,
}

impl Clock {
    /// The system's time.
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock stopped at `at`: it moves only when advanced.
    pub fn fixed(at: prost_types::Timestamp) -> Self {
        Self { offset: Arc::default(), fixed: Some(at.seconds * 1_000_000 + i64::from(at.nanos / 1_000)) }
    }

    /// Now, at the microsecond precision of the store's keys.
    pub fn now(&self) -> prost_types::Timestamp {
        let base = match self.fixed {
            Some(micros) => micros,
            None => {
                let now = super::now();
                now.seconds * 1_000_000 + i64::from(now.nanos / 1_000)
            }
        };
        let micros = base + self.offset.load(Ordering::Relaxed);
        prost_types::Timestamp {
            seconds: micros.div_euclid(1_000_000),
            nanos: (micros.rem_euclid(1_000_000) * 1_000) as i32,
        }
    }

    /// Moves this clock (and every copy of it) forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.offset.fetch_add(by.as_micros() as i64, Ordering::Relaxed);
    }
}

/// `at` plus `d`.
pub fn plus(at: &prost_types::Timestamp, d: Duration) -> prost_types::Timestamp {
    let nanos = i64::from(at.nanos) + i64::from(d.subsec_nanos());
    prost_types::Timestamp {
        seconds: at.seconds + d.as_secs() as i64 + nanos / 1_000_000_000,
        nanos: (nanos % 1_000_000_000) as i32,
    }
}

/// Whether `a` is strictly after `b`.
pub fn after(a: &prost_types::Timestamp, b: &prost_types::Timestamp) -> bool {
    (a.seconds, a.nanos) > (b.seconds, b.nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_copy_of_a_clock_moves_together() {
        let clock = Clock::system();
        let copy = clock.clone();
        let before = copy.now();
        clock.advance(Duration::from_secs(3600));
        let later = copy.now();
        assert!(later.seconds - before.seconds >= 3600 && later.seconds - before.seconds < 3610);
        assert_eq!(later.nanos % 1_000, 0);
        assert!(after(&later, &plus(&before, Duration::from_secs(3599))));
    }
}
