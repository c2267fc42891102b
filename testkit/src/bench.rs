//! The figures of a load run: throughput and latency percentiles, and the
//! median of several runs.

use std::{path::Path, process::Command, time::Duration};

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

/// One `wrk` run (one thread, as the issue measured: a load generator in C
/// that leaves the cores to the server) of `connections` connections for
/// `seconds` on `url`, with `headers` and an optional Lua `script`; `args`
/// go to the script's `init`. Panics if wrk is missing (`make bench`
/// installs it) or if any answer was not 2xx.
pub fn wrk(
    url: &str,
    connections: usize,
    seconds: u64,
    headers: &[(&str, &str)],
    script: Option<&Path>,
    args: &[String],
) -> Figures {
    let mut command = Command::new("wrk");
    command.args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency"]);
    for (name, value) in headers {
        command.args(["-H", &format!("{name}: {value}")]);
    }
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    command.arg(url).arg("--").args(args);
    let out = command.output().expect("run wrk (Debian's `wrk`; `make bench` installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    parse_wrk(&text)
}

/// The figures of wrk's `--latency` report; panics on errors or non-2xx answers.
pub fn parse_wrk(text: &str) -> Figures {
    assert!(!text.contains("Non-2xx"), "answers other than 2xx:\n{text}");
    assert!(!text.contains("Socket errors"), "socket errors:\n{text}");
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no {prefix:?} in wrk's report:\n{text}"))
    };
    let millis = |value: &str| {
        let (number, unit) = value.split_at(value.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(value.len()));
        let number: f64 = number.parse().unwrap_or_else(|_| panic!("latency {value:?}"));
        number
            * match unit {
                "us" => 1e-3,
                "ms" => 1.0,
                "s" => 1e3,
                other => panic!("latency unit {other:?}"),
            }
    };
    Figures {
        per_second: field("Requests/sec:").parse().expect("Requests/sec"),
        p50_ms: millis(field("50%")),
        p99_ms: millis(field("99%")),
    }
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

    #[test]
    fn wrk_reports_are_read_in_milliseconds() {
        let report = "Running 5s test @ http://127.0.0.1:1/x\n  1 threads and 16 connections\n  Latency Distribution\n     50%  250.00us\n     75%    2.51ms\n     90%    3.59ms\n     99%    1.05s\n  34863 requests in 5.00s, 31.75MB read\nRequests/sec:   6967.23\n";
        let f = parse_wrk(report);
        assert_eq!(f.per_second, 6967.23);
        assert!((f.p50_ms - 0.25).abs() < 1e-9);
        assert!((f.p99_ms - 1050.0).abs() < 1e-9);
    }

    #[test]
    #[should_panic(expected = "other than 2xx")]
    fn wrk_runs_with_errors_fail() {
        parse_wrk("  Non-2xx or 3xx responses: 12\nRequests/sec: 1.0\n");
    }
}
