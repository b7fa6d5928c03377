//! What an enclave keeps under its lock: a record per enclave page (where it
//! is: resident, in the reclaimer's hands, or sealed in the backing store),
//! the SECS's whereabouts, the VA pages, the TCS list, and the backing
//! store's size. The backing store is the set of `Evicted` records: each
//! holds its sealed page and PCMD, and the VA slot with its version.

use crate::va::VaPages;
use epc_hw::{LinearAddress, SealedPage, SecInfo, VaSlot, PAGE_SIZE};
use epc_mm::EpcPage;
use std::collections::HashMap;

/// Bytes of backing store one evicted page takes: its ciphertext and PCMD.
pub const BACKING_BYTES_PER_PAGE: u64 = PAGE_SIZE + 128;

/// Where an enclave page is.
#[derive(Debug)]
pub(crate) enum Residency {
    /// In the EPC, mapped. `listed` says whether it is on the manager's
    /// reclaimable list (pinned pages are not).
    Resident { page: EpcPage, listed: bool },
    /// Blocked by the reclaimer, being written: a fault waits.
    Reclaiming { page: EpcPage },
    /// Being reloaded by a fault handler (ELDU runs without the lock): a
    /// fault waits, teardown leaves it to the loader.
    Loading,
    /// Sealed in the backing store; its version is in `slot`.
    Evicted {
        sealed: Box<SealedPage>,
        slot: VaSlot,
    },
}

/// One enclave page.
#[derive(Debug)]
pub(crate) struct PageRecord {
    /// Type and permissions, as EADD gave them.
    pub(crate) secinfo: SecInfo,
    /// Threads running on this page as their TCS or SSA: never reclaimed
    /// while non-zero.
    pub(crate) pins: u32,
    pub(crate) residency: Residency,
}

/// Where the SECS is.
#[derive(Debug)]
pub(crate) enum SecsState {
    Resident(EpcPage),
    Evicted {
        sealed: Box<SealedPage>,
        slot: VaSlot,
    },
    /// Removed at teardown.
    Gone,
}

/// A thread control structure of the enclave.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TcsInfo {
    pub(crate) addr: LinearAddress,
    pub(crate) ssa: LinearAddress,
    pub(crate) nssa: u32,
    pub(crate) bound: bool,
    /// Trimmed at run time (SGX2): no thread may bind to it.
    pub(crate) retired: bool,
}

/// The enclave's state under its lock.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) pages: HashMap<u64, PageRecord>,
    pub(crate) secs: SecsState,
    pub(crate) va: VaPages,
    pub(crate) tcs: Vec<TcsInfo>,
    /// Child pages in the EPC or on their way in (resident, reclaiming,
    /// loading): the SECS may leave only at zero.
    pub(crate) children_in_epc: usize,
    /// Pages sealed in the backing store, the SECS included.
    pub(crate) evicted: usize,
    /// Set once teardown has freed everything it could; the rest is left to
    /// the reclaimer, and the last page it hands back finishes the job.
    pub(crate) tearing_down: bool,
    /// VA slots reserved ahead for pages to be added by EAUG
    /// ([`Enclave::reserve_ahead`](crate::Enclave::reserve_ahead)).
    pub(crate) reserved_ahead: usize,
    /// Set once the SECS and VA pages are gone.
    pub(crate) finished: bool,
}

impl Inner {
    pub(crate) fn new(secs: EpcPage) -> Inner {
        Inner {
            pages: HashMap::new(),
            secs: SecsState::Resident(secs),
            va: VaPages::default(),
            tcs: Vec::new(),
            children_in_epc: 0,
            evicted: 0,
            tearing_down: false,
            reserved_ahead: 0,
            finished: false,
        }
    }

    /// Bytes the backing store holds.
    pub(crate) fn backing_bytes(&self) -> u64 {
        self.evicted as u64 * BACKING_BYTES_PER_PAGE
    }
}
