//! Process metrics, rendered in the Prometheus text format by `/metrics`.
//! Counters only grow; gauges about the queue are read from the store at
//! scrape time by the caller.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the ingest latency histogram.
const LATENCY_BUCKETS: [f64; 10] = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

/// A counter per label value, the labels fixed in advance.
pub struct Family {
    name: &'static str,
    help: &'static str,
    label: &'static str,
    values: &'static [&'static str],
    counts: Vec<AtomicU64>,
}

impl Family {
    fn new(name: &'static str, help: &'static str, label: &'static str, values: &'static [&'static str]) -> Self {
        Self {
            name,
            help,
            label,
            values,
            counts: values.iter().map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Adds one to the counter of `value`; an unknown value counts as the last one.
    pub fn inc(&self, value: &str) {
        let i = self
            .values
            .iter()
            .position(|v| *v == value)
            .unwrap_or(self.values.len() - 1);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self, value: &str) -> u64 {
        self.values
            .iter()
            .position(|v| *v == value)
            .map_or(0, |i| self.counts[i].load(Ordering::Relaxed))
    }

    fn render(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP {} {}\n# TYPE {} counter", self.name, self.help, self.name);
        for (v, c) in self.values.iter().zip(&self.counts) {
            let _ = writeln!(
                out,
                "{}{{{}=\"{v}\"}} {}",
                self.name,
                self.label,
                c.load(Ordering::Relaxed)
            );
        }
    }
}

pub struct Metrics {
    /// Ingest answers by outcome.
    pub ingest: Family,
    ingest_buckets: Vec<AtomicU64>,
    ingest_sum_micros: AtomicU64,
    ingest_count: AtomicU64,
    /// Executions finished, by status.
    pub executions: Family,
    /// Outbound action attempts, by result.
    pub outbound: Family,
    /// Subscription delivery attempts, by result.
    pub deliveries: Family,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            ingest: Family::new(
                "hookflow_ingest_requests_total",
                "Requests to connector URLs, by outcome.",
                "outcome",
                &[
                    "accepted",
                    "rejected",
                    "too_large",
                    "timed_out",
                    "rate_limited",
                    "not_found",
                    "unavailable",
                    "other",
                ],
            ),
            ingest_buckets: LATENCY_BUCKETS.iter().map(|_| AtomicU64::new(0)).collect(),
            ingest_sum_micros: AtomicU64::new(0),
            ingest_count: AtomicU64::new(0),
            executions: Family::new(
                "hookflow_executions_finished_total",
                "Executions that ended, by status.",
                "status",
                &["succeeded", "failed", "filtered", "other"],
            ),
            outbound: Family::new(
                "hookflow_outbound_attempts_total",
                "Outbound action attempts (HTTP, messages, email), by result.",
                "result",
                &["success", "retry", "give_up", "other"],
            ),
            deliveries: Family::new(
                "hookflow_delivery_attempts_total",
                "Subscription delivery attempts, by result.",
                "result",
                &["success", "retry", "give_up", "other"],
            ),
        }
    }
}

impl Metrics {
    /// Records the time from a request's arrival to its answer.
    pub fn observe_ingest(&self, took: Duration) {
        let secs = took.as_secs_f64();
        for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&self.ingest_buckets) {
            if secs <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.ingest_sum_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        self.ingest_count.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters and the ingest histogram.
    pub fn render(&self, out: &mut String) {
        self.ingest.render(out);
        let name = "hookflow_ingest_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time from a request's arrival to its durable answer.\n# TYPE {name} histogram"
        );
        for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&self.ingest_buckets) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.ingest_count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.ingest_sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {count}");
        self.executions.render(out);
        self.outbound.render(out);
        self.deliveries.render(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.ingest.inc("accepted");
        m.ingest.inc("nonsense");
        m.observe_ingest(Duration::from_micros(1500));
        let mut out = String::new();
        m.render(&mut out);
        assert!(
            out.contains("hookflow_ingest_requests_total{outcome=\"accepted\"} 1"),
            "{out}"
        );
        assert!(
            out.contains("hookflow_ingest_requests_total{outcome=\"other\"} 1"),
            "{out}"
        );
        assert!(
            out.contains("hookflow_ingest_duration_seconds_bucket{le=\"0.001\"} 0"),
            "{out}"
        );
        assert!(
            out.contains("hookflow_ingest_duration_seconds_bucket{le=\"0.002\"} 1"),
            "{out}"
        );
        assert!(out.contains("hookflow_ingest_duration_seconds_count 1"), "{out}");
    }
}
