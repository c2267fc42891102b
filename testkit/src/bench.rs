//! The figures of a load run: throughput and latency percentiles, and the
//! median of several runs.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Figures {
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Figures of `latencies` (one per call) completed in `elapsed`.
pub fn figures(mut latencies: Vec<Duration>, elapsed: Duration) -> Figures {
    latencies.sort();
    let pick = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)].as_secs_f64() * 1e3;
    Figures { per_second: latencies.len() as f64 / elapsed.as_secs_f64(), p50_ms: pick(0.50), p99_ms: pick(0.99) }
}

/// The median of `values` (sorts them).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

/// The median of each figure over several runs.
pub fn median_figures(runs: &[Figures]) -> Figures {
    let pick = |f: fn(&Figures) -> f64| median(&mut runs.iter().map(f).collect::<Vec<_>>());
    Figures { per_second: pick(|f| f.per_second), p50_ms: pick(|f| f.p50_ms), p99_ms: pick(|f| f.p99_ms) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_medians() {
        let latencies: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let f = figures(latencies, Duration::from_secs(2));
        assert_eq!(f.per_second, 50.0);
        assert_eq!(f.p50_ms, 51.0);
        assert_eq!(f.p99_ms, 100.0);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
    }
}
