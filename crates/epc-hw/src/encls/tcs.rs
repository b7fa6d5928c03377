//! The TCS fields the model uses, at their SDM offsets: STATE (busy) at 0,
//! OSSA at 16, CSSA at 24, NSSA at 28, OENTRY at 32. The fields live in the
//! TCS page itself, so EWB and ELDU carry them along.

use crate::epc::PageData;
use std::sync::atomic::Ordering;

const STATE_WORD: usize = 0;
const OSSA_WORD: usize = 2;
const SSA_WORD: usize = 3;

/// The content of a TCS page as EADD takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tcs {
    /// Offset of the first State Save Area frame from the enclave base; page
    /// aligned. Each frame is one page.
    pub ossa: u64,
    /// Number of SSA frames (at least 1).
    pub nssa: u32,
    /// Entry point offset (not executed by the model; kept for fidelity).
    pub oentry: u64,
}

impl Tcs {
    /// The 4 KiB page EADD copies in.
    pub fn to_page(&self) -> Box<[u8; 4096]> {
        let mut p = Box::new([0u8; 4096]);
        p[16..24].copy_from_slice(&self.ossa.to_le_bytes());
        p[28..32].copy_from_slice(&self.nssa.to_le_bytes());
        p[32..40].copy_from_slice(&self.oentry.to_le_bytes());
        p
    }
}

/// Reads the TCS fields from a page.
pub(crate) struct TcsView<'a>(pub(crate) &'a PageData);

impl TcsView<'_> {
    pub(crate) fn ossa(&self) -> u64 {
        self.0.words[OSSA_WORD].load(Ordering::Relaxed)
    }

    pub(crate) fn cssa(&self) -> u32 {
        self.0.words[SSA_WORD].load(Ordering::Relaxed) as u32
    }

    pub(crate) fn nssa(&self) -> u32 {
        (self.0.words[SSA_WORD].load(Ordering::Relaxed) >> 32) as u32
    }

    pub(crate) fn is_busy(&self) -> bool {
        self.0.words[STATE_WORD].load(Ordering::Relaxed) != 0
    }

    /// Marks the TCS busy if it is not; false if another LP holds it.
    pub(crate) fn try_acquire(&self) -> bool {
        self.0.words[STATE_WORD]
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }

    pub(crate) fn release(&self) {
        self.0.words[STATE_WORD].store(0, Ordering::Release);
    }

    pub(crate) fn set_cssa(&self, cssa: u32) {
        let w = &self.0.words[SSA_WORD];
        let nssa = w.load(Ordering::Relaxed) >> 32;
        w.store((nssa << 32) | u64::from(cssa), Ordering::Relaxed);
    }
}
