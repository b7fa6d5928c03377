//! Trace statistics for `epc trace stats`: references, distinct pages,
//! footprint, and a reuse-distance summary.
//!
//! The reuse (stack) distance of a reference is the number of distinct
//! other pages touched since the previous reference to the same page; a
//! first reference has none (cold). With a cache of `c` pages exact LRU hits
//! exactly the references whose distance is below `c`, so the histogram is
//! LRU's whole miss-ratio curve.
//!
//! Computed in O(n log n) with the [`StackClock`] (a Fenwick tree over
//! reference times, shared with the simulator's one-pass LRU curve); the
//! trace is never held: memory is 4 bytes per reference plus a map entry
//! per distinct page.

use super::error::TraceError;
use super::fenwick::StackClock;
use rustc_hash::FxHashMap;

/// Size of a page, for the footprint.
const PAGE_BYTES: u64 = 4096;

/// Counts of reuse distances in power-of-two buckets.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct ReuseSummary {
    /// References that were not the first to their page.
    pub reuses: u64,
    /// Mean reuse distance over those.
    pub mean: f64,
    /// Median, as the upper bound of its bucket (a power of two minus 1).
    pub p50: u64,
    /// 90th percentile, same convention.
    pub p90: u64,
    /// 99th percentile, same convention.
    pub p99: u64,
    /// `buckets[0]` counts distance 0; `buckets[k]` for k ≥ 1 counts
    /// distances in `[2^(k-1), 2^k)`.
    pub buckets: Vec<u64>,
}

/// What `epc trace stats` reports.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TraceStats {
    /// References.
    pub refs: u64,
    /// Distinct pages.
    pub distinct: u64,
    /// Distinct pages × 4 KiB, in MiB.
    pub footprint_mib: f64,
    /// Reuse distances.
    pub reuse: ReuseSummary,
}

/// Computes [`TraceStats`] over a stream of page ids.
#[derive(Debug, Default)]
pub struct StatsBuilder {
    last: FxHashMap<u64, u32>,
    clock: StackClock,
    refs: u64,
    sum: f64,
    buckets: Vec<u64>,
}

impl StatsBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        StatsBuilder::default()
    }

    /// Adds the next reference.
    pub fn push(&mut self, page: u64) {
        self.refs += 1;
        let t = self.refs as u32;
        let prev = self.last.insert(page, t);
        if let Some(d) = self.clock.touch(t, prev) {
            self.sum += f64::from(d);
            let b = if d == 0 {
                0
            } else {
                (32 - d.leading_zeros()) as usize
            };
            if self.buckets.len() <= b {
                self.buckets.resize(b + 1, 0);
            }
            self.buckets[b] += 1;
        }
    }

    /// The statistics so far.
    pub fn finish(&self) -> TraceStats {
        let reuses: u64 = self.buckets.iter().sum();
        let pct = |q: f64| -> u64 {
            let want = (q * reuses as f64).ceil().max(1.0) as u64;
            let mut acc = 0;
            for (b, &c) in self.buckets.iter().enumerate() {
                acc += c;
                if acc >= want {
                    return if b == 0 { 0 } else { (1u64 << b) - 1 };
                }
            }
            0
        };
        let distinct = self.last.len() as u64;
        TraceStats {
            refs: self.refs,
            distinct,
            footprint_mib: (distinct * PAGE_BYTES) as f64 / (1024.0 * 1024.0),
            reuse: ReuseSummary {
                reuses,
                mean: if reuses == 0 {
                    0.0
                } else {
                    self.sum / reuses as f64
                },
                p50: pct(0.5),
                p90: pct(0.9),
                p99: pct(0.99),
                buckets: self.buckets.clone(),
            },
        }
    }
}

impl TraceStats {
    /// Statistics of a stream of page ids (an open
    /// [`TraceReader`](super::TraceReader), say). Position counts beyond
    /// `u32::MAX` references are not supported.
    pub fn compute(
        pages: impl IntoIterator<Item = Result<u64, TraceError>>,
    ) -> Result<TraceStats, TraceError> {
        let mut b = StatsBuilder::new();
        for p in pages {
            b.push(p?);
        }
        Ok(b.finish())
    }

    /// Statistics of the trace file at `path`.
    pub fn of_file(path: impl AsRef<std::path::Path>) -> Result<TraceStats, TraceError> {
        TraceStats::compute(super::TraceReader::open(path)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(trace: &[u64]) -> Vec<Option<usize>> {
        trace
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let prev = trace[..i].iter().rposition(|q| q == p)?;
                let mut seen: Vec<u64> = trace[prev + 1..i].to_vec();
                seen.sort_unstable();
                seen.dedup();
                Some(seen.len())
            })
            .collect()
    }

    #[test]
    fn distances_match_a_naive_count() {
        let mut x: u64 = 7;
        let trace: Vec<u64> = (0..3000)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 33) % 97
            })
            .collect();
        let mut b = StatsBuilder::new();
        let mut want_sum = 0.0;
        let mut want_buckets = [0u64; 16];
        for d in naive(&trace).into_iter().flatten() {
            want_sum += d as f64;
            let k = if d == 0 {
                0
            } else {
                (usize::BITS - d.leading_zeros()) as usize
            };
            want_buckets[k] += 1;
        }
        for &p in &trace {
            b.push(p);
        }
        let s = b.finish();
        assert_eq!(s.refs, 3000);
        assert_eq!(s.distinct, 97);
        let n = s.reuse.buckets.len();
        assert_eq!(s.reuse.buckets[..], want_buckets[..n]);
        assert!(want_buckets[n..].iter().all(|&c| c == 0));
        assert!((s.reuse.mean * s.reuse.reuses as f64 - want_sum).abs() < 1e-6);
    }
}
