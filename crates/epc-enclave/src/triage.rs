//! Fault triage: what a page fault taken by an enclave thread means, before
//! anything is loaded.
//!
//! Linux's fault handler tells three kinds of fault apart, and so does this
//! one, from the fault's cause (the SGX bit of the error code and, in the
//! model, [`FaultCause`]):
//!
//! * **fix and retry**: the page table has no mapping, or the page is
//!   being evicted (BLOCKED). The handler reloads the page (ELDU), or, in a
//!   dynamic (SGX2) enclave, adds a fresh one where there was none (EAUG on
//!   fault, `augment.rs`); the thread resumes and retries.
//! * **the enclave's own business**: a PENDING page (added by EAUG, not yet
//!   accepted). The OS can do nothing; the enclave's handler accepts it
//!   (EACCEPT) and retries.
//! * **access errors**: the EPCM refuses the access on a resident, mapped
//!   page (permissions, type, owner), or the page table maps it read-only.
//!   Retrying can never succeed: the error reaches the thread at once as
//!   [`EnclaveError::AccessViolation`], counted in `access_errors`, after
//!   this one fault (Linux sends SIGSEGV; before this triage such a fault
//!   was handled as "not present" and the thread faulted forever).

use crate::counters::bump;
use crate::enclave::Enclave;
use crate::error::EnclaveError;
use epc_hw::{Event, FaultCause, PageFaultInfo};
use epc_mm::ReclaimPermit;

/// What the thread does after the fault handler returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resolution {
    /// The page is resident and mapped: resume and retry.
    Retry,
    /// A fresh page was added (EAUG): resume, accept it, retry.
    Augmented,
    /// The page is PENDING: the enclave accepts it, then retries.
    Accept,
}

impl Enclave {
    /// Handles the fault `pf` taken by a thread of this enclave, outside
    /// enclave mode: reloads or adds the page when that fixes it, passes a
    /// PENDING page to the enclave, and turns everything else into an
    /// access error.
    pub(crate) fn resolve_fault(
        &self,
        pf: &PageFaultInfo,
        permit: &mut ReclaimPermit,
    ) -> Result<Resolution, EnclaveError> {
        self.check_alive()?;
        // After a power cycle every EPCM entry is invalid: the fault is the
        // EPC's loss (the enclave is killed), not an access error.
        if self.notice_epc_loss() {
            self.count_fault();
            return self.check_alive().map(|()| Resolution::Retry);
        }
        let r = match pf.cause {
            FaultCause::NotPresent if self.may_augment(pf.page) => {
                match self.augment(pf.page, permit) {
                    Ok(true) => {
                        self.count_fault();
                        Ok(Resolution::Augmented)
                    }
                    // Another thread added it first: an ordinary fault
                    // (which `handle_fault` counts).
                    Ok(false) => self
                        .handle_fault(pf.page, pf.write, permit)
                        .map(|()| Resolution::Retry),
                    Err(e) => {
                        self.count_fault();
                        Err(e)
                    }
                }
            }
            cause if cause.is_retryable() => self
                .handle_fault(pf.page, pf.write, permit)
                .map(|()| Resolution::Retry),
            FaultCause::Pending => {
                self.count_fault();
                Ok(Resolution::Accept)
            }
            cause => {
                self.count_fault();
                Err(EnclaveError::AccessViolation {
                    addr: pf.page,
                    why: describe(cause),
                })
            }
        };
        if let Err(EnclaveError::AccessViolation { .. }) = &r {
            bump(&self.cells.access_errors);
        }
        r
    }
}

impl Enclave {
    /// Counts a fault this layer handled (`handle_fault`
    /// counts its own).
    fn count_fault(&self) {
        bump(&self.cells.faults);
        self.machine.ledger().charge(Event::KernelFault);
    }
}

/// The access error, in words.
fn describe(cause: FaultCause) -> &'static str {
    match cause {
        FaultCause::PteReadOnly => "write to a page mapped read-only",
        FaultCause::NotEpc => "the page table maps a page outside the EPC",
        FaultCause::EpcmInvalid => "the EPCM entry is not valid",
        FaultCause::Modified => "the page's type was changed and not yet accepted",
        FaultCause::WrongType => "the page's type does not allow the access",
        FaultCause::WrongOwner => "the page belongs to another enclave or address",
        FaultCause::Permission => "the page's EPCM permissions refuse the access",
        FaultCause::NotPresent | FaultCause::Blocked | FaultCause::Pending => {
            "the page is not usable"
        }
    }
}
