//! Latency histograms (microseconds) and their JSON summaries.

use hdrhistogram::Histogram;
use serde_json::{Value, json};

/// 1 us to 5 min at 3 significant figures.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 300_000_000, 3).expect("constant bounds are valid")
}

/// p50/p90/p99/p99.9/max/mean in milliseconds.
pub fn summary_ms(h: &Histogram<u64>) -> Value {
    let ms = |us: u64| us as f64 / 1000.0;
    if h.is_empty() {
        return json!({ "count": 0 });
    }
    json!({
        "count": h.len(),
        "p50": ms(h.value_at_quantile(0.50)),
        "p90": ms(h.value_at_quantile(0.90)),
        "p99": ms(h.value_at_quantile(0.99)),
        "p999": ms(h.value_at_quantile(0.999)),
        "max": ms(h.max()),
        "mean": (h.mean()).round() / 1000.0,
    })
}

/// A one-line human form of the same figures.
pub fn line_ms(h: &Histogram<u64>) -> String {
    if h.is_empty() {
        return "no samples".into();
    }
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    format!(
        "p50 {:.2} p90 {:.2} p99 {:.2} p99.9 {:.2} max {:.2} ms",
        ms(0.5),
        ms(0.9),
        ms(0.99),
        ms(0.999),
        h.max() as f64 / 1000.0
    )
}

/// CPU seconds of this process so far.
pub fn own_cpu_seconds() -> f64 {
    crate::server::cpu_seconds_of("/proc/self/stat").unwrap_or(0.0)
}
