//! How an ENCLU leaf or an access made by a logical processor failed.

use crate::error::{GpCause, PageFaultInfo, SgxError};
use crate::ids::{EpcPageId, LinearAddress};
use thiserror::Error;

/// How an ENCLU leaf or an access failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum LpError {
    /// A page fault. From an access or an SGX2 ENCLU leaf, the LP has taken
    /// an AEX and must [`eresume`](super::LogicalProcessor::eresume) once the
    /// OS has fixed the page (the leaf is then executed again); from EENTER
    /// or ERESUME it is a fault outside enclave mode (the TCS or SSA page is
    /// not usable) and the leaf can be retried. Its
    /// [`sgx`](PageFaultInfo::sgx) bit and [`cause`](PageFaultInfo::cause)
    /// tell a page that is not mapped (fix and retry) from one the EPCM
    /// refuses (an access error, or a change to accept first).
    #[error("{0}")]
    PageFault(PageFaultInfo),
    /// A machine check: the access (or EENTER/ERESUME reading the TCS or
    /// the SSA frame) read a poisoned EPC page. From an access, the LP has
    /// taken an AEX like a fault; but no OS action can repair the page, so
    /// the enclave should be given up (Linux sends SIGBUS).
    #[error("#MC: poisoned EPC page {epc_page:?} read at {addr}")]
    MachineCheck {
        /// The enclave page accessed (low 12 bits cleared).
        addr: LinearAddress,
        /// The poisoned EPC page.
        epc_page: EpcPageId,
    },
    /// An IPI forced an AEX; resume with
    /// [`eresume`](super::LogicalProcessor::eresume).
    #[error("interrupted: an IPI forced an asynchronous exit")]
    Interrupted,
    /// #GP(0). From EENTER or ERESUME, outside enclave mode; from an SGX2
    /// ENCLU leaf (EACCEPT, EACCEPTCOPY, EMODPE), inside it: the LP has
    /// taken an AEX, as for a page fault.
    #[error("#GP(0): {0:?}")]
    GeneralProtection(GpCause),
    /// An SGX2 ENCLU leaf returned an SGX error code (ZF set, RAX): it
    /// changed nothing, and the LP is still inside the enclave.
    #[error("{0} ({code})", code = .0.code())]
    Sgx(SgxError),
    /// An access or EEXIT while the LP is not in enclave mode.
    #[error("the logical processor is not in an enclave")]
    NotInEnclave,
    /// EENTER while the LP is inside or has an interrupted context.
    #[error("the logical processor is already in an enclave or has one to resume")]
    AlreadyInEnclave,
    /// ERESUME with no interrupted context.
    #[error("the logical processor has no interrupted enclave context to resume")]
    NothingToResume,
    /// An access that is not naturally aligned (it could straddle pages).
    #[error("misaligned access at {0}")]
    Misaligned(LinearAddress),
    /// Every logical processor of the machine is taken.
    #[error("all {0} logical processors are in use")]
    NoFreeLp(u32),
}
