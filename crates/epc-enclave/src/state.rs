//! An enclave's state: a record per enclave page (where it is: resident, in
//! the reclaimer's hands, or sealed in the backing store), kept in the page
//! shards (`shards.rs`), and what stays under the enclave lock: the SECS's
//! whereabouts, the TCS list, teardown's progress. The backing store is the
//! set of `Evicted` records: each holds its sealed page and PCMD, and the
//! VA slot with its version.

use epc_hw::{LinearAddress, SealedPage, SecInfo, VaSlot, PAGE_SIZE};
use epc_mm::EpcPage;

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

/// The enclave's state under its lock. The SECS changes only under it
/// (and [`SecsGate`](crate::secs_gate::SecsGate) mirrors it for the fault
/// fast path).
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) secs: SecsState,
    pub(crate) tcs: Vec<TcsInfo>,
    /// VA slots reserved ahead for pages to be added by EAUG
    /// ([`Enclave::reserve_ahead`](crate::Enclave::reserve_ahead)).
    pub(crate) reserved_ahead: usize,
    /// Set once the SECS and VA pages are gone.
    pub(crate) finished: bool,
}

impl Inner {
    pub(crate) fn new(secs: EpcPage) -> Inner {
        Inner {
            secs: SecsState::Resident(secs),
            tcs: Vec::new(),
            reserved_ahead: 0,
            finished: false,
        }
    }
}
