//! Per-enclave event counters, readable at any time.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counter cells, bumped with relaxed atomics.
#[derive(Debug, Default)]
pub(crate) struct Cells {
    pub(crate) faults: AtomicU64,
    pub(crate) eldu: AtomicU64,
    pub(crate) ewb: AtomicU64,
    pub(crate) eblock: AtomicU64,
    pub(crate) etrack: AtomicU64,
    pub(crate) not_tracked: AtomicU64,
    pub(crate) prev_trk_incmpl: AtomicU64,
    pub(crate) ipis: AtomicU64,
    pub(crate) secs_evictions: AtomicU64,
    pub(crate) secs_reloads: AtomicU64,
    pub(crate) busy_retries: AtomicU64,
    pub(crate) eremove: AtomicU64,
    pub(crate) access_errors: AtomicU64,
    pub(crate) eaug: AtomicU64,
    pub(crate) eaccept: AtomicU64,
    pub(crate) emodpr: AtomicU64,
    pub(crate) emodt: AtomicU64,
    pub(crate) eremove_trim: AtomicU64,
}

pub(crate) fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// A snapshot of one enclave's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EnclaveCounters {
    /// Page faults handled (an access or entry that found a page absent).
    pub faults: u64,
    /// Pages reloaded (ELDU), the SECS included.
    pub eldu: u64,
    /// Pages written back (EWB), the SECS included.
    pub ewb: u64,
    /// EBLOCKs run.
    pub eblock: u64,
    /// ETRACKs that opened a cycle.
    pub etrack: u64,
    /// EWBs that returned SGX_NOT_TRACKED and were retried.
    pub not_tracked: u64,
    /// ETRACKs refused with SGX_PREV_TRK_INCMPL.
    pub prev_trk_incmpl: u64,
    /// IPI rounds sent to the enclave's logical processors.
    pub ipis: u64,
    /// SECS evictions (after the last child page left).
    pub secs_evictions: u64,
    /// SECS reloads (before a child page could come back).
    pub secs_reloads: u64,
    /// Faults that found the page in the reclaimer's hands and retried.
    pub busy_retries: u64,
    /// Pages removed (EREMOVE) at teardown or kill.
    pub eremove: u64,
    /// Faults that were access errors (the EPCM or the page table refuses
    /// the access for good): reported to the thread after one fault, never
    /// retried.
    pub access_errors: u64,
    /// Pages added at run time (EAUG on fault), SGX2.
    pub eaug: u64,
    /// Changes accepted by the enclave's threads (EACCEPT), SGX2.
    pub eaccept: u64,
    /// Permission restrictions (EMODPR), one per page, SGX2.
    pub emodpr: u64,
    /// Type changes (EMODT) to TCS or TRIM, one per page, SGX2.
    pub emodt: u64,
    /// Trimmed pages removed at run time (EREMOVE of accepted TRIM pages).
    pub eremove_trim: u64,
}

impl Cells {
    pub(crate) fn snapshot(&self) -> EnclaveCounters {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        EnclaveCounters {
            faults: r(&self.faults),
            eldu: r(&self.eldu),
            ewb: r(&self.ewb),
            eblock: r(&self.eblock),
            etrack: r(&self.etrack),
            not_tracked: r(&self.not_tracked),
            prev_trk_incmpl: r(&self.prev_trk_incmpl),
            ipis: r(&self.ipis),
            secs_evictions: r(&self.secs_evictions),
            secs_reloads: r(&self.secs_reloads),
            busy_retries: r(&self.busy_retries),
            eremove: r(&self.eremove),
            access_errors: r(&self.access_errors),
            eaug: r(&self.eaug),
            eaccept: r(&self.eaccept),
            emodpr: r(&self.emodpr),
            emodt: r(&self.emodt),
            eremove_trim: r(&self.eremove_trim),
        }
    }

    pub(crate) fn reset(&self) {
        for c in [
            &self.faults,
            &self.eldu,
            &self.ewb,
            &self.eblock,
            &self.etrack,
            &self.not_tracked,
            &self.prev_trk_incmpl,
            &self.ipis,
            &self.secs_evictions,
            &self.secs_reloads,
            &self.busy_retries,
            &self.eremove,
            &self.access_errors,
            &self.eaug,
            &self.eaccept,
            &self.emodpr,
            &self.emodt,
            &self.eremove_trim,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}
