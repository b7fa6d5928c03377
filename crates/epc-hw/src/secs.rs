//! The model's per-enclave control state, attached to a resident SECS page.
//!
//! The architectural content of a SECS (base, size, EID, the initialized
//! attribute) lives in the SECS page's words, so EWB seals it and ELDU
//! restores it like any page; the control block is rebuilt from the page on
//! ELDU. The rest (tracking, the count of resident children) is
//! micro-architectural and is necessarily empty when a SECS may be evicted
//! (no children resident, so no thread inside).

use crate::epc::PageData;
use crate::ids::{EnclaveId, LinearAddress, PAGE_SIZE};
use crate::tracking::TrackingCell;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Word offsets of the SECS fields the model uses (SIZE at 0 and BASEADDR at
/// 8 as in the SDM; the rest model-defined).
const SIZE_WORD: usize = 0;
const BASE_WORD: usize = 1;
const INIT_WORD: usize = 3;
const EID_WORD: usize = 4;

/// Control state of one enclave while its SECS is resident.
#[derive(Debug)]
pub(crate) struct SecsControl {
    pub(crate) eid: EnclaveId,
    pub(crate) base: LinearAddress,
    pub(crate) size: u64,
    pub(crate) initialized: AtomicBool,
    /// Resident child pages (REG, TCS, TRIM) whose EPCM names this SECS.
    pub(crate) children: AtomicU32,
    /// Lock order: this, then a page's EPCM entry.
    pub(crate) tracking: TrackingCell,
    /// Set while an ETRACK runs on this SECS (a second one gets #GP).
    pub(crate) etrack_running: AtomicBool,
}

impl SecsControl {
    pub(crate) fn new(eid: EnclaveId, base: LinearAddress, size: u64) -> SecsControl {
        SecsControl {
            eid,
            base,
            size,
            initialized: AtomicBool::new(false),
            children: AtomicU32::new(0),
            tracking: TrackingCell::default(),
            etrack_running: AtomicBool::new(false),
        }
    }

    /// Whether `addr` lies in the enclave's range (ELRANGE).
    pub(crate) fn contains(&self, addr: LinearAddress) -> bool {
        addr.0 >= self.base.0 && addr.0 - self.base.0 < self.size
    }

    pub(crate) fn is_initialized(&self) -> bool {
        self.initialized.load(Ordering::Acquire)
    }

    /// Writes the architectural fields into the SECS page.
    pub(crate) fn store(&self, page: &PageData) {
        page.zero();
        let w = &page.words;
        w[SIZE_WORD].store(self.size, Ordering::Relaxed);
        w[BASE_WORD].store(self.base.0, Ordering::Relaxed);
        w[INIT_WORD].store(u64::from(self.is_initialized()), Ordering::Relaxed);
        w[EID_WORD].store(self.eid.0, Ordering::Relaxed);
    }

    /// Marks the enclave initialized, in the control block and the page.
    pub(crate) fn set_initialized(&self, page: &PageData) {
        self.initialized.store(true, Ordering::Release);
        page.words[INIT_WORD].store(1, Ordering::Relaxed);
    }

    /// Rebuilds the control block from a SECS page (ELDU of a SECS).
    pub(crate) fn load(page: &PageData) -> SecsControl {
        let w = &page.words;
        let c = SecsControl::new(
            EnclaveId(w[EID_WORD].load(Ordering::Relaxed)),
            LinearAddress(w[BASE_WORD].load(Ordering::Relaxed)),
            w[SIZE_WORD].load(Ordering::Relaxed),
        );
        c.initialized
            .store(w[INIT_WORD].load(Ordering::Relaxed) != 0, Ordering::Relaxed);
        c
    }
}

/// Whether ECREATE accepts this range: a power-of-two size of at least two
/// pages, naturally aligned base.
pub(crate) fn valid_range(base: LinearAddress, size: u64) -> bool {
    size >= 2 * PAGE_SIZE && size.is_power_of_two() && base.0 % size == 0
}
