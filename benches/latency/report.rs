//! Rows of results: percentiles from every sample, the markdown tables and the JSON file.

use std::fmt::Write as _;

use super::common::{percentile, Result};
use super::{Op, Work};

/// A round trip slower than this misses its deadline (`schd-dbg`'s 2.5 ms).
pub const DEADLINE_NS: u64 = 2_500_000;

/// One transport's measurements of one workload in one pin mode.
pub struct Row {
    /// The transport's name.
    pub transport: &'static str,
    /// What was measured.
    pub work: Work,
    /// The pin mode.
    pub pin: &'static str,
    /// Round-trip times in nanoseconds, sorted.
    pub samples: Vec<u64>,
    /// Schd only: calls whose handler did not run at the caller's priority.
    pub priority_failures: u64,
}

impl Row {
    fn mean(&self) -> u64 {
        self.samples.iter().sum::<u64>() / self.samples.len().max(1) as u64
    }
    fn p(&self, p: f64) -> u64 {
        percentile(&self.samples, p)
    }
    fn max(&self) -> u64 {
        self.samples.last().copied().unwrap_or(0)
    }
    /// Calls per second of one client with one outstanding call: 1 / mean.
    fn calls_per_s(&self) -> f64 {
        1e9 / self.mean().max(1) as f64
    }
    fn same_case(&self, other: &Row) -> bool {
        self.work == other.work && self.pin == other.pin
    }
}

/// The row of `transport` measured beside `row`.
fn beside<'a>(rows: &'a [Row], row: &Row, transport: &str) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.transport == transport && r.same_case(row))
}

fn ratio(row: &Row, base: Option<&Row>) -> String {
    base.map_or("-".into(), |b| {
        format!("{:.2}x", row.p(50.0) as f64 / b.p(50.0).max(1) as f64)
    })
}

fn us(ns: u64) -> String {
    format!("{:.2}", ns as f64 / 1000.0)
}

/// The main table: every row, with its p50 over `raw-seqpacket`'s and over `binder-kernel`'s
/// (same workload, payload and pin mode, same run).
pub fn print_table(rows: &[Row]) {
    println!(
        "| transport | workload | payload | pin | iters | p50 µs | p90 µs | p95 µs | p99 µs | \
         p99.9 µs | max µs | mean µs | calls/s | p50 / raw-seqpacket | p50 / binder-kernel |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} | {} | {} |",
            r.transport,
            r.work.op.name(),
            r.work.payload_label(),
            r.pin,
            r.samples.len(),
            us(r.p(50.0)),
            us(r.p(90.0)),
            us(r.p(95.0)),
            us(r.p(99.0)),
            us(r.p(99.9)),
            us(r.max()),
            us(r.mean()),
            r.calls_per_s(),
            ratio(r, beside(rows, r, "raw-seqpacket")),
            ratio(r, beside(rows, r, "binder-kernel")),
        );
    }
}

/// The `schd-dbg` table: did the handler run at the SCHED_FIFO caller's priority, and how many
/// round trips missed the 2.5 ms deadline.
pub fn print_schd(rows: &[Row]) {
    let schd: Vec<&Row> = rows.iter().filter(|r| r.work.op == Op::Schd).collect();
    if schd.is_empty() {
        return;
    }
    println!("| transport | pin | calls | priority inherited | missed 2.5 ms deadlines | max µs |");
    println!("|---|---|---|---|---|---|");
    for r in schd {
        let missed = r.samples.iter().filter(|&&ns| ns > DEADLINE_NS).count();
        let verdict = if r.priority_failures == 0 {
            "PASS".to_owned()
        } else {
            format!(
                "FAIL ({} of {} calls)",
                r.priority_failures,
                r.samples.len()
            )
        };
        println!(
            "| {} | {} | {} | {verdict} | {missed} | {} |",
            r.transport,
            r.pin,
            r.samples.len(),
            us(r.max())
        );
    }
}

/// Writes a JSON array, one object per row (one per line).
pub fn write_json(path: &str, rows: &[Row]) -> Result {
    let mut out = String::from("[\n");
    for (i, r) in rows.iter().enumerate() {
        let sep = if i + 1 < rows.len() { "," } else { "" };
        writeln!(
            out,
            "{{\"transport\":\"{}\",\"workload\":\"{}\",\"payload\":{},\"pin\":\"{}\",\
             \"iters\":{},\"mean_ns\":{},\"p50_ns\":{},\"p90_ns\":{},\"p99_ns\":{},\
             \"p999_ns\":{},\"max_ns\":{},\"calls_per_s\":{:.1}}}{sep}",
            r.transport,
            r.work.op.name(),
            r.work.payload,
            r.pin,
            r.samples.len(),
            r.mean(),
            r.p(50.0),
            r.p(90.0),
            r.p(99.0),
            r.p(99.9),
            r.max(),
            r.calls_per_s(),
        )?;
    }
    out.push_str("]\n");
    std::fs::write(path, out)?;
    Ok(())
}
