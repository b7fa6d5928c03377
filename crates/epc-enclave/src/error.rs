//! Errors of the enclave layer.

use epc_hw::{EpcPageId, LeafError, LinearAddress, LpError};
use epc_mm::AllocError;
use std::fmt;
use thiserror::Error;

/// Why an enclave was killed. Every later access to it returns
/// [`EnclaveError::Killed`] with this reason, as a SIGBUS would.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KillReason {
    /// ELDU found the sealed copy of a page modified or replayed
    /// (SGX_MAC_COMPARE_FAIL).
    Integrity {
        /// The enclave page whose reload failed.
        page: LinearAddress,
    },
    /// EWB failed for good after EBLOCK, when no way back exists.
    WriteBack {
        /// The enclave page.
        page: LinearAddress,
        /// The leaf's last error.
        error: LeafError,
    },
    /// ELDU failed for a reason other than integrity.
    Reload {
        /// The enclave page.
        page: LinearAddress,
        /// The leaf's error.
        error: LeafError,
    },
    /// A thread of the enclave, or a leaf run for it, read a poisoned EPC
    /// page (a machine check): its contents are gone. Not an attack, unlike
    /// [`Integrity`](KillReason::Integrity); Linux sends SIGBUS.
    MemoryFailure {
        /// The enclave page whose EPC page was poisoned (for a VA page or
        /// the SECS, the page whose eviction or reload read it).
        page: LinearAddress,
        /// The poisoned EPC page.
        epc_page: EpcPageId,
    },
    /// The EPC was lost (suspend and resume, hibernation, VM migration):
    /// every enclave of the old power cycle is gone and must be rebuilt.
    EpcLost,
    /// The enclave was destroyed by its owner.
    Destroyed,
}

impl KillReason {
    /// A short stable name of the reason's kind, for reports that count
    /// killed enclaves by cause: `integrity`, `write_back`, `reload`,
    /// `memory_failure`, `epc_lost` or `destroyed`.
    pub const fn kind(&self) -> &'static str {
        match self {
            KillReason::Integrity { .. } => "integrity",
            KillReason::WriteBack { .. } => "write_back",
            KillReason::Reload { .. } => "reload",
            KillReason::MemoryFailure { .. } => "memory_failure",
            KillReason::EpcLost => "epc_lost",
            KillReason::Destroyed => "destroyed",
        }
    }
}

impl fmt::Display for KillReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KillReason::Integrity { page } => write!(
                f,
                "integrity failure: the sealed copy of page {page} was modified or replayed \
                 (ELDU: SGX_MAC_COMPARE_FAIL)"
            ),
            KillReason::WriteBack { page, error } => {
                write!(
                    f,
                    "page {page} could not be written back after EBLOCK: {error}"
                )
            }
            KillReason::Reload { page, error } => {
                write!(f, "page {page} could not be reloaded: {error}")
            }
            KillReason::MemoryFailure { page, epc_page } => write!(
                f,
                "memory failure: EPC page {epc_page} of page {page} is poisoned \
                 (machine check)"
            ),
            KillReason::EpcLost => f.write_str(
                "EPC lost: the machine lost the EPC (suspend, hibernation or migration)",
            ),
            KillReason::Destroyed => f.write_str("the enclave was destroyed"),
        }
    }
}

/// An enclave operation failed.
#[derive(Debug, Error)]
pub enum EnclaveError {
    /// The enclave is dead; nothing can enter or access it.
    #[error("enclave killed: {0}")]
    Killed(KillReason),
    /// No EPC page could be had.
    #[error("EPC allocation failed: {0}")]
    Alloc(#[from] AllocError),
    /// A leaf failed where the OS does not expect it (a bug in the layer or
    /// a misuse of the API, reported rather than hidden).
    #[error("{leaf} failed: {error}")]
    Leaf {
        /// The leaf.
        leaf: &'static str,
        /// Its error.
        error: LeafError,
    },
    /// An access outside the enclave's pages, or one the page's permissions
    /// do not allow (a SIGSEGV).
    #[error("access violation at {addr}: {why}")]
    AccessViolation {
        /// The faulting page.
        addr: LinearAddress,
        /// What is wrong.
        why: &'static str,
    },
    /// The enclave layer was used out of order (adding after EINIT,
    /// entering before it, a page added twice, no free TCS).
    #[error("invalid use: {0}")]
    Usage(String),
    /// The logical processor refused (for example, no free LP).
    #[error(transparent)]
    Lp(#[from] LpError),
}

pub(crate) fn leaf(leaf: &'static str) -> impl FnOnce(LeafError) -> EnclaveError {
    move |error| EnclaveError::Leaf { leaf, error }
}
