//! The outcome classes of an SGX leaf, kept apart in the types as the
//! processor keeps them apart in its flags:
//!
//! * a [`Fault`] (#GP or #PF): the leaf did nothing;
//! * an [`SgxError`] code (RFLAGS.ZF and RAX): the leaf changed no state;
//! * success, possibly with an [`SgxWarning`] (RFLAGS.CF): the leaf completed;
//! * a [`MachineCheck`] (#MC): the leaf read a poisoned EPC page, consumed
//!   the poison and stopped before changing any state. It is neither a fault
//!   the OS can fix nor an SGX code: the data is gone.
//!
//! Numeric codes are those of the Linux UAPI `sgx_errno.h` and the SDM.

use crate::ids::{EpcPageId, LinearAddress};
use std::fmt;
use thiserror::Error;

/// Which operand of a leaf a fault refers to (RCX, RDX, or the SECS named by
/// PAGEINFO).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    /// The target EPC page (RCX).
    Target,
    /// The Version Array slot (RDX).
    VaSlot,
    /// The SECS named in PAGEINFO, or the SECS operand of ETRACK/EINIT.
    Secs,
}

/// Why a leaf raised #GP(0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpCause {
    /// An address operand is not aligned as the leaf requires (a linear
    /// address not on a page boundary, a VA slot outside its page).
    Misaligned,
    /// Another leaf is using the page in a conflicting way (the SDM's
    /// concurrency tables).
    Conflict(Operand),
    /// RCX and RDX name the same EPC page.
    SamePage,
    /// The SECINFO or PAGEINFO content is not allowed for this leaf (for
    /// example EADD of a VA page, or reserved bits set).
    InvalidSecInfo,
    /// A PAGEINFO.SECS was given where it must be 0, or omitted where a SECS is
    /// required.
    InvalidSecsOperand,
    /// ECREATE parameters are invalid (size not a power of two, base not
    /// naturally aligned).
    InvalidSecs,
    /// The linear address lies outside the enclave's range (ELRANGE).
    OutsideElrange,
    /// The TCS content is invalid (EADD).
    InvalidTcs,
    /// The enclave is already initialized (EADD, EINIT).
    AlreadyInitialized,
    /// The enclave is not initialized (EENTER).
    NotInitialized,
    /// The TCS is busy: another logical processor runs on it.
    TcsBusy,
    /// No SSA frame is left (CSSA = NSSA on EENTER), or none to resume from
    /// (CSSA = 0 on ERESUME).
    SsaFrame,
}

/// An architectural fault: the leaf had no effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum Fault {
    /// #GP(0).
    #[error("#GP(0): {0:?}")]
    GeneralProtection(GpCause),
    /// #PF on an operand.
    #[error("#PF on the {operand:?} operand: {cause:?}")]
    PageFault {
        /// The operand.
        operand: Operand,
        /// Why.
        cause: PfCause,
    },
}

/// Why a leaf raised #PF.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PfCause {
    /// The operand is not an EPC page.
    NotEpc,
    /// The page is not valid (EPCM.VALID = 0) where it must be.
    NotValid,
    /// The page is valid where it must be free.
    AlreadyValid,
    /// The page has the wrong type (a VA slot in a page that is not PT_VA, a
    /// SECS operand that is not PT_SECS).
    WrongType,
}

/// An SGX error code: RFLAGS.ZF set, RAX holds the code, no state changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Error)]
pub enum SgxError {
    /// SGX_PG_INVLD (6): EBLOCK of a page that is not valid.
    #[error("SGX_PG_INVLD")]
    PgInvld,
    /// SGX_EPC_PAGE_CONFLICT (7): EBLOCK raced with a leaf writing the page.
    #[error("SGX_EPC_PAGE_CONFLICT")]
    EpcPageConflict,
    /// SGX_MAC_COMPARE_FAIL (9): ELDU/ELDB found the sealed page or its
    /// metadata modified, replayed, or bound to another enclave, address,
    /// slot or machine.
    #[error("SGX_MAC_COMPARE_FAIL")]
    MacCompareFail,
    /// SGX_PAGE_NOT_BLOCKED (10): EWB of a page that was not EBLOCKed.
    #[error("SGX_PAGE_NOT_BLOCKED")]
    PageNotBlocked,
    /// SGX_NOT_TRACKED (11): EWB before every logical processor that could
    /// hold a translation has left the enclave since an ETRACK that followed
    /// the page's EBLOCK.
    #[error("SGX_NOT_TRACKED")]
    NotTracked,
    /// SGX_CHILD_PRESENT (13): EWB or EREMOVE of a SECS with resident children.
    #[error("SGX_CHILD_PRESENT")]
    ChildPresent,
    /// SGX_ENCLAVE_ACT (14): EREMOVE of an enclave page while a logical
    /// processor runs inside the enclave.
    #[error("SGX_ENCLAVE_ACT")]
    EnclaveAct,
    /// SGX_PREV_TRK_INCMPL (17): ETRACK while the previous tracking cycle is
    /// still open.
    #[error("SGX_PREV_TRK_INCMPL")]
    PrevTrkIncmpl,
    /// SGX_PAGE_ATTRIBUTES_MISMATCH (19): EACCEPT or EACCEPTCOPY whose
    /// SECINFO does not match the page's EPCM entry exactly (type, R, W, X,
    /// PENDING, MODIFIED, address), or EACCEPTCOPY of a page that is not a
    /// pending REG page.
    #[error("SGX_PAGE_ATTRIBUTES_MISMATCH")]
    PageAttributesMismatch,
    /// SGX_PAGE_NOT_MODIFIABLE (20): EMODPR or EMODT of a page that is
    /// PENDING or MODIFIED (an earlier change is not accepted yet).
    #[error("SGX_PAGE_NOT_MODIFIABLE")]
    PageNotModifiable,
}

impl SgxError {
    /// The numeric code the processor puts in RAX.
    pub const fn code(self) -> u32 {
        match self {
            SgxError::PgInvld => 6,
            SgxError::EpcPageConflict => 7,
            SgxError::MacCompareFail => 9,
            SgxError::PageNotBlocked => 10,
            SgxError::NotTracked => 11,
            SgxError::ChildPresent => 13,
            SgxError::EnclaveAct => 14,
            SgxError::PrevTrkIncmpl => 17,
            SgxError::PageAttributesMismatch => 19,
            SgxError::PageNotModifiable => 20,
        }
    }
}

/// A warning: RFLAGS.CF set, RAX holds the code, and the leaf completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SgxWarning {
    /// SGX_BLKSTATE (3): EBLOCK of a page already blocked; it stays blocked.
    BlkState,
    /// SGX_NOTBLOCKABLE (5): EBLOCK of a page type that cannot be blocked
    /// (VA).
    NotBlockable,
    /// SGX_VA_SLOT_OCCUPIED (12): EWB into a slot that held a version; the
    /// eviction completed and the old version is lost, so the page it
    /// belonged to can never be loaded again.
    VaSlotOccupied,
    /// SGX_PG_IS_SECS (18): EBLOCK of a SECS.
    PgIsSecs,
}

impl SgxWarning {
    /// The numeric code the processor puts in RAX.
    pub const fn code(self) -> u32 {
        match self {
            SgxWarning::BlkState => 3,
            SgxWarning::NotBlockable => 5,
            SgxWarning::VaSlotOccupied => 12,
            SgxWarning::PgIsSecs => 18,
        }
    }
}

impl fmt::Display for SgxWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SgxWarning::BlkState => "SGX_BLKSTATE",
            SgxWarning::NotBlockable => "SGX_NOTBLOCKABLE",
            SgxWarning::VaSlotOccupied => "SGX_VA_SLOT_OCCUPIED",
            SgxWarning::PgIsSecs => "SGX_PG_IS_SECS",
        })
    }
}

/// A machine check (#MC): an instruction consumed a poisoned EPC page (an
/// uncorrectable memory error). The leaf or access stopped before changing
/// any architectural state; the page's contents cannot be read again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("#MC: poisoned EPC page {page:?} read as the {operand:?} operand")]
pub struct MachineCheck {
    /// The poisoned page.
    pub page: EpcPageId,
    /// Which operand of the leaf it was ([`Operand::Target`] for an access).
    pub operand: Operand,
}

/// How an ENCLS leaf can fail: a fault, an SGX error code, or a machine
/// check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum LeafError {
    /// An architectural fault.
    #[error(transparent)]
    Fault(#[from] Fault),
    /// An SGX error code.
    #[error(transparent)]
    Sgx(#[from] SgxError),
    /// The leaf read a poisoned page.
    #[error(transparent)]
    MachineCheck(#[from] MachineCheck),
}

impl LeafError {
    /// The SGX error code, if this is one.
    pub fn sgx(self) -> Option<SgxError> {
        match self {
            LeafError::Sgx(e) => Some(e),
            LeafError::Fault(_) | LeafError::MachineCheck(_) => None,
        }
    }

    /// The machine check, if this is one.
    pub fn machine_check(self) -> Option<MachineCheck> {
        match self {
            LeafError::MachineCheck(mc) => Some(mc),
            LeafError::Fault(_) | LeafError::Sgx(_) => None,
        }
    }
}

pub(crate) fn gp(cause: GpCause) -> LeafError {
    LeafError::Fault(Fault::GeneralProtection(cause))
}

pub(crate) fn pf(operand: Operand, cause: PfCause) -> LeafError {
    LeafError::Fault(Fault::PageFault { operand, cause })
}

/// A leaf that completed, with the warning it raised, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub struct Done<T> {
    /// What the leaf produced.
    pub value: T,
    /// The CF warning, if the leaf raised one.
    pub warning: Option<SgxWarning>,
}

impl<T> Done<T> {
    pub(crate) fn ok(value: T) -> Self {
        Done {
            value,
            warning: None,
        }
    }

    pub(crate) fn warn(value: T, warning: SgxWarning) -> Self {
        Done {
            value,
            warning: Some(warning),
        }
    }
}

/// Result of an ENCLS leaf.
pub type LeafResult<T> = Result<T, LeafError>;

/// A page fault taken by an access, EENTER, ERESUME or an SGX2 ENCLU leaf.
/// As after a real AEX, only the page is reported: the low 12 bits of CR2
/// are cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageFaultInfo {
    /// The faulting enclave page.
    pub page: LinearAddress,
    /// Whether the access was a write.
    pub write: bool,
    /// Whether an EPCM check failed (PFEC bit 15, the SGX bit): the page is
    /// resident and mapped, but the EPCM refuses the access (blocked,
    /// PENDING, MODIFIED, of the wrong type, enclave or address, or lacking
    /// the permission). `false` means an ordinary page fault: the OS page
    /// table has no mapping, maps it read-only, or maps a frame outside the
    /// EPC. Equal to `cause.is_sgx()`.
    pub sgx: bool,
    /// Why, in the model's words. Real hardware reports only the error code
    /// (present, write, SGX); an OS learns the rest from its own records.
    /// The enclave layer uses it to tell a fault to fix and retry (not
    /// present, blocked) from an access error (permission, type) and from a
    /// page the enclave has yet to accept (PENDING, MODIFIED).
    pub cause: FaultCause,
    /// The EPC page the page table pointed at, if any.
    pub epc_page: Option<EpcPageId>,
}

impl PageFaultInfo {
    pub(crate) fn new(
        page: LinearAddress,
        write: bool,
        cause: FaultCause,
        epc_page: Option<EpcPageId>,
    ) -> PageFaultInfo {
        PageFaultInfo {
            page,
            write,
            sgx: cause.is_sgx(),
            cause,
            epc_page,
        }
    }
}

/// What made an access (or an ENCLU leaf's memory operand) fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultCause {
    /// The OS page table has no mapping (PFEC.P = 0): the OS loads or adds
    /// the page, maps it, and the thread retries.
    NotPresent,
    /// The OS page table maps the page read-only and the access writes (an
    /// ordinary protection fault, SGX bit clear).
    PteReadOnly,
    /// The OS page table maps a frame outside the EPC.
    NotEpc,
    /// EPCM: the page is not valid (freed or evicted while still mapped).
    EpcmInvalid,
    /// EPCM: BLOCKED, being evicted (no new translation may be made).
    Blocked,
    /// EPCM: PENDING, added by EAUG and not yet accepted (SGX2).
    Pending,
    /// EPCM: MODIFIED, its type changed by EMODT and not yet accepted
    /// (SGX2).
    Modified,
    /// EPCM: the page's type does not allow the access (a TCS, TRIM, VA or
    /// SECS page where a REG page is needed, or the reverse).
    WrongType,
    /// EPCM: the page belongs to another enclave or another linear address.
    WrongOwner,
    /// EPCM: the page's R/W permissions refuse the access.
    Permission,
}

impl FaultCause {
    /// Whether the EPCM caused the fault (PFEC bit 15, the SGX bit), on a
    /// page that is resident and mapped.
    pub const fn is_sgx(self) -> bool {
        !matches!(
            self,
            FaultCause::NotPresent | FaultCause::PteReadOnly | FaultCause::NotEpc
        )
    }

    /// Whether retrying after the OS fixes its side can succeed without the
    /// enclave doing anything: the page is not mapped, or is being evicted.
    /// Everything else is an access error (or, for PENDING and MODIFIED, a
    /// change the enclave must EACCEPT first).
    pub const fn is_retryable(self) -> bool {
        matches!(self, FaultCause::NotPresent | FaultCause::Blocked)
    }
}

impl fmt::Display for PageFaultInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "#PF at {} ({}{}, {:?})",
            self.page,
            if self.write { "write" } else { "read" },
            if self.sgx { ", SGX" } else { "" },
            self.cause
        )
    }
}
