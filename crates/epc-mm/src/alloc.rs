//! Allocation: the free-list fast path, the ksgxd wake-up below the low
//! watermark, and the direct-reclaim retry loop (Linux's
//! `sgx_alloc_epc_page`).

use crate::counters::bump;
use crate::inner::Inner;
use crate::manager::EpcManager;
use crate::page::EpcPage;
use crate::permit::AllocMode;
use crate::reclaim;
use crate::sync::thread;
use epc_hw::NodeId;
use thiserror::Error;

/// How many direct reclaims in a row may free nothing (every owner declined,
/// or other batches hold every reclaimable page) before a reclaiming
/// allocation gives up with `Busy` instead of spinning.
const FRUITLESS_RECLAIMS: u32 = 64;

/// Why an allocation failed.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum AllocError {
    /// Nothing is free and nothing is reclaimable.
    #[error("no EPC page free and none reclaimable")]
    NoMemory,
    /// Nothing is free and the caller may not reclaim (or reclaim made no
    /// progress); ksgxd was woken. Release locks and retry.
    #[error("no EPC page free right now; retry")]
    Busy,
    /// The manager is shutting down.
    #[error("the EPC manager is shutting down")]
    Interrupted,
}

impl EpcManager {
    /// Allocates a page, from `node` first, then the other nodes in turn.
    ///
    /// If nothing is free: with [`AllocMode::NoReclaim`], wakes ksgxd and
    /// returns [`AllocError::Busy`]; with [`AllocMode::Reclaim`], reclaims
    /// directly (one batch, or exactly one victim in deterministic mode) and
    /// retries. [`AllocError::NoMemory`] when nothing is reclaimable either.
    /// An allocation that leaves fewer free pages than the low watermark
    /// wakes ksgxd.
    #[inline]
    pub fn alloc(&self, node: NodeId, mode: AllocMode<'_>) -> Result<EpcPage, AllocError> {
        let s = &self.inner.shared;
        if let Some(page) = s.free.take(node, &s.states) {
            if !s.deterministic {
                self.inner.wake_below_low();
            }
            return Ok(EpcPage::new(page));
        }
        self.inner.alloc_slow(node, mode)
    }
}

impl Inner {
    #[inline]
    fn wake_below_low(&self) {
        let s = &self.shared;
        if s.free.nr_free() < s.low_watermark && s.totals.listed() > 0 {
            self.ksgxd.wake();
        }
    }

    #[cold]
    fn alloc_slow(&self, node: NodeId, mode: AllocMode<'_>) -> Result<EpcPage, AllocError> {
        let s = &self.shared;
        let mut fruitless = 0;
        loop {
            if self.ksgxd.is_stopping() {
                bump(&s.counters.interrupted, 1);
                return Err(AllocError::Interrupted);
            }
            if let Some(page) = s.free.take(node, &s.states) {
                if !s.deterministic {
                    self.wake_below_low();
                }
                return Ok(EpcPage::new(page));
            }
            if s.totals.listed() == 0 && s.totals.isolated() == 0 {
                bump(&s.counters.no_memory, 1);
                return Err(AllocError::NoMemory);
            }
            let AllocMode::Reclaim(_) = mode else {
                if !s.deterministic {
                    self.ksgxd.wake();
                }
                bump(&s.counters.busy, 1);
                return Err(AllocError::Busy);
            };
            bump(&s.counters.direct_reclaims, 1);
            let max = if s.deterministic { 1 } else { s.batch };
            let report = reclaim::reclaim_pages(s, &self.reclaimable, max);
            if report.freed() == 0 {
                fruitless += 1;
                if fruitless >= FRUITLESS_RECLAIMS {
                    bump(&s.counters.busy, 1);
                    return Err(AllocError::Busy);
                }
                thread::yield_now();
            } else {
                fruitless = 0;
            }
        }
    }
}
