//! Event counters, updated atomically and readable as a snapshot at any
//! time (the figures the out-of-tree Intel driver exported and upstream
//! users missed).

use crate::nodes::NodeCounters;
use crate::sync::{AtomicU64, Ordering};
use crate::watermark::Watermarks;

/// Counters written by rare events (everything except the allocation fast
/// path, whose counts live with the free lists).
#[derive(Debug)]
pub(crate) struct CounterCells {
    pub(crate) no_memory: AtomicU64,
    pub(crate) busy: AtomicU64,
    pub(crate) interrupted: AtomicU64,
    pub(crate) direct_reclaims: AtomicU64,
    pub(crate) ksgxd_wakeups: AtomicU64,
    pub(crate) ksgxd_evicted: AtomicU64,
    pub(crate) throttled: AtomicU64,
    pub(crate) assisted: AtomicU64,
    pub(crate) assisted_evicted: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) pages_scanned: AtomicU64,
    pub(crate) second_chances: AtomicU64,
    pub(crate) evicted: AtomicU64,
    pub(crate) skipped: AtomicU64,
    pub(crate) declined: AtomicU64,
    pub(crate) write_failures: AtomicU64,
}

impl CounterCells {
    pub(crate) fn new() -> Self {
        CounterCells {
            no_memory: AtomicU64::new(0),
            busy: AtomicU64::new(0),
            interrupted: AtomicU64::new(0),
            direct_reclaims: AtomicU64::new(0),
            ksgxd_wakeups: AtomicU64::new(0),
            ksgxd_evicted: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            assisted: AtomicU64::new(0),
            assisted_evicted: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            pages_scanned: AtomicU64::new(0),
            second_chances: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            declined: AtomicU64::new(0),
            write_failures: AtomicU64::new(0),
        }
    }
}

/// Adds `n` to a counter cell.
#[inline]
pub(crate) fn bump(cell: &AtomicU64, n: u64) {
    if n != 0 {
        cell.fetch_add(n, Ordering::Relaxed);
    }
}

#[inline]
pub(crate) fn read(cell: &AtomicU64) -> u64 {
    cell.load(Ordering::Relaxed)
}

/// Allocation failures, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocFailures {
    /// Nothing free and nothing reclaimable.
    pub no_memory: u64,
    /// Nothing free and the caller could not reclaim (or reclaim made no
    /// progress); the caller retries.
    pub busy: u64,
    /// The manager was shutting down.
    pub interrupted: u64,
}

/// A snapshot of the manager's counters. Each field is read atomically but
/// the snapshot as a whole is only consistent at quiescence.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Pages in the EPC.
    pub total_pages: u64,
    /// Pages on the free lists.
    pub free_pages: u64,
    /// The effective low watermark: the configured one plus the adaptive
    /// boost (0 in deterministic mode, where it is unused).
    pub low_watermark: u64,
    /// The effective high watermark: the configured one plus twice the
    /// adaptive boost (0 in deterministic mode, where it is unused).
    pub high_watermark: u64,
    /// How the watermarks behave (fixed, adaptive, throttled or assisted).
    pub watermarks: Watermarks,
    /// Pages the adaptive mode adds to the low watermark now (0 when fixed,
    /// deterministic, or without recent direct reclaims).
    pub watermark_boost: u64,
    /// Pages on the reclaimable list.
    pub reclaimable_pages: u64,
    /// Pages held by reclaim batches in flight.
    pub isolated_pages: u64,
    /// Successful allocations.
    pub allocations: u64,
    /// Failed allocations, by kind.
    pub alloc_failures: AllocFailures,
    /// Reclaims run inline by allocating threads.
    pub direct_reclaims: u64,
    /// Times ksgxd woke up to reclaim.
    pub ksgxd_wakeups: u64,
    /// Pages ksgxd evicted under global pressure (its share of `evicted`;
    /// the rest is direct reclaim and group reclaim).
    pub ksgxd_evicted: u64,
    /// Allocations that waited for ksgxd's next batch instead of taking
    /// the last free pages or reclaiming directly (adaptive mode; see
    /// `docs/epc-mm.md`, *Throttling*).
    pub throttled: u64,
    /// Reclaim batches run by allocations that helped ksgxd before the
    /// free lists ran dry (the assisted mode; not counted in
    /// `direct_reclaims`).
    pub assisted: u64,
    /// Pages those batches evicted (with `ksgxd_evicted`, the rest of
    /// `evicted` is direct and group reclaim).
    pub assisted_evicted: u64,
    /// Reclaim batches run (ksgxd, direct, deterministic and explicit).
    pub batches: u64,
    /// Pages the policy examined.
    pub pages_scanned: u64,
    /// Pages found young and given another round.
    pub second_chances: u64,
    /// Pages written out and freed.
    pub evicted: u64,
    /// Pages dropped from reclaim because their owner was going away.
    pub skipped: u64,
    /// Pages an owner declined to block; put back on the list.
    pub declined: u64,
    /// Pages whose write failed for good (their enclave was killed).
    pub write_failures: u64,
    /// Pages a memory failure named (held by owners or retired).
    pub poisoned_pages: u64,
    /// Poisoned pages on the poison lists, never allocated again.
    pub retired_pages: u64,
    /// Each NUMA node's view, in node order.
    pub nodes: Vec<NodeCounters>,
}
