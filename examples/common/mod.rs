//! What the benchmarks share: how a latency distribution is printed.

use std::time::Duration;

/// Prints `what` with p50/p90/p99/max of `times` in microseconds.
pub fn report(what: &str, times: &[Duration]) {
    let mut t = times.to_vec();
    t.sort();
    let us = |q: f64| t[((t.len() as f64 * q) as usize).min(t.len() - 1)].as_secs_f64() * 1e6;
    println!(
        "{what}: {} samples, p50 {:.0} us, p90 {:.0} us, p99 {:.0} us, max {:.0} us",
        t.len(),
        us(0.5),
        us(0.9),
        us(0.99),
        us(1.0)
    );
}
