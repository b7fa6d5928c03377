//! The enclave side of SGX2: a thread accepts the changes the OS made to
//! its pages (EACCEPT), as an enclave runtime's page-fault handler or
//! memory manager does.
//!
//! EACCEPT is a leaf executed inside the enclave; when it faults (its
//! operand not mapped because the reclaimer evicted the page, or being
//! evicted), the LP takes an AEX, the OS fixes the page as for any fault,
//! and ERESUME re-executes the leaf (here: the loop issues it again). A
//! leaf holding the page exclusively (EWB, ELDU, EMODPR, EMODT) makes it
//! #GP: the thread resumes and tries again.

use crate::counters::bump;
use crate::error::EnclaveError;
use crate::thread::EnclaveThread;
use epc_hw::{GpCause, LinearAddress, LpError, SecInfo, SgxError, PAGE_SIZE};

/// How many #GP conflicts (another leaf holding the page for a moment)
/// one EACCEPT tolerates before the error is reported.
const CONFLICT_RETRIES: u32 = 100_000;

impl EnclaveThread {
    /// EACCEPT of the page at `addr` with the attributes `secinfo` the
    /// change left it with: [`SecInfo::eaug`] after EAUG (a page added at
    /// run time), [`SecInfo::emodpr`] after a restriction,
    /// [`SecInfo::emodt`] after a type change.
    ///
    /// A page added by EAUG that another thread accepted first is not an
    /// error (its EACCEPT answers SGX_PAGE_ATTRIBUTES_MISMATCH: no longer
    /// PENDING). SGX_NOT_TRACKED means the OS has not finished the change
    /// (ETRACK and IPIs): [`EnclaveError::Lp`] with [`LpError::Sgx`].
    pub fn accept(&mut self, addr: LinearAddress, secinfo: SecInfo) -> Result<(), EnclaveError> {
        let mut conflicts = 0u32;
        loop {
            match self.lp.eaccept(addr, secinfo) {
                Ok(()) => {
                    bump(&self.enclave.cells.eaccept);
                    return Ok(());
                }
                Err(LpError::Sgx(SgxError::PageAttributesMismatch)) if secinfo.pending => {
                    return Ok(());
                }
                Err(LpError::PageFault(pf)) => {
                    self.faults += 1;
                    // Whatever the fault path did (reload, or EAUG when the
                    // address had no page), the leaf is issued again.
                    self.fault(&pf)?;
                    self.resume()?;
                }
                Err(LpError::GeneralProtection(GpCause::Conflict(_)))
                    if conflicts < CONFLICT_RETRIES =>
                {
                    conflicts += 1;
                    self.resume()?;
                    std::thread::yield_now();
                }
                Err(LpError::Interrupted) => self.resume()?,
                Err(LpError::NotInEnclave) => self.enter()?,
                Err(LpError::MachineCheck { addr, epc_page }) => {
                    return Err(self.machine_check(addr, epc_page))
                }
                Err(e @ LpError::GeneralProtection(_)) => {
                    let _ = self.resume();
                    return Err(e.into());
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// [`accept`](Self::accept) of `pages` pages from `addr`.
    pub fn accept_range(
        &mut self,
        addr: LinearAddress,
        pages: u64,
        secinfo: SecInfo,
    ) -> Result<(), EnclaveError> {
        for i in 0..pages {
            self.accept(addr.add(i * PAGE_SIZE), secinfo)?;
        }
        Ok(())
    }
}
