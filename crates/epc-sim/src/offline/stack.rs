//! LRU's whole miss-ratio curve in one pass (Mattson et al.'s stack
//! algorithm, 1970): exact LRU with `c` pages hits exactly the references
//! whose reuse (stack) distance is below `c`, so one histogram of distances
//! gives the misses at every size.
//!
//! Distances come from the same Fenwick tree over reference times as
//! `epc trace stats` ([`StackClock`]): O(log n) per reference, 4 bytes per
//! reference for the tree and 4 per distinct page for the last-reference
//! times, plus 8 bytes per distinct page for the histogram. On w106
//! (5.3 M references) that is one pass instead of one LRU simulation per
//! size; the curve equals per-size simulation exactly
//! (`tests/mrc_curves.rs`).

use super::Trace;
use crate::trace::StackClock;

/// LRU's misses at every cache size of one trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LruCurve {
    refs: u64,
    /// `hits_below[c]`: references whose distance is below `c`, for `c` in
    /// `0..=distinct` (beyond, every reuse hits).
    hits_below: Vec<u64>,
}

impl LruCurve {
    /// The curve of `trace`, in one pass.
    pub fn of(trace: &Trace) -> LruCurve {
        LruCurve::of_dense(trace.dense(), trace.distinct())
    }

    /// The curve of dense ids `0..distinct`.
    pub(crate) fn of_dense(ids: &[u32], distinct: usize) -> LruCurve {
        let mut clock = StackClock::with_capacity(ids.len());
        // Last reference time of each page, 0 for none (times are 1-based).
        let mut last = vec![0u32; distinct];
        let mut hist = vec![0u64; distinct + 1];
        for (i, &id) in ids.iter().enumerate() {
            let t = i as u32 + 1;
            let prev = std::mem::replace(&mut last[id as usize], t);
            if let Some(d) = clock.touch(t, (prev != 0).then_some(prev)) {
                hist[d as usize] += 1;
            }
        }
        // Turn counts per distance into hits below each size.
        let mut hits_below = Vec::with_capacity(distinct + 1);
        let mut acc = 0u64;
        hits_below.push(0);
        for &h in &hist[..distinct] {
            acc += h;
            hits_below.push(acc);
        }
        LruCurve {
            refs: ids.len() as u64,
            hits_below,
        }
    }

    /// References in the trace.
    pub fn refs(&self) -> u64 {
        self.refs
    }

    /// References whose reuse distance is below `pages` (LRU's hits with
    /// a cache of that many pages).
    pub fn hits(&self, pages: usize) -> u64 {
        self.hits_below[pages.min(self.hits_below.len() - 1)]
    }

    /// LRU's misses (cold ones included) with a cache of `pages` pages.
    pub fn misses(&self, pages: usize) -> u64 {
        self.refs - self.hits(pages)
    }
}
