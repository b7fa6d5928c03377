//! The SGX2 flows as an enclave runtime drives them from one of its
//! threads: the OS call, then the enclave's EACCEPT of every page.
//!
//! * [`EnclaveThread::trim`]: give pages back (EMODT to TRIM, EACCEPT,
//!   remove), as an allocator returns free chunks;
//! * [`EnclaveThread::restrict`]: drop permissions (EMODPR, EACCEPT);
//! * [`EnclaveThread::add_tcs`]: a thread created at run time: two pages
//!   added on first touch become a TCS and its SSA frame (EMODT to TCS,
//!   EACCEPT), and [`Enclave::thread`](crate::Enclave::thread) can then
//!   bind a new thread to it.
//!
//! Pages are added (EAUG) by touching them, with the enclave's
//! [`dynamic`](crate::EnclaveConfig::dynamic) flag set.

use crate::error::EnclaveError;
use crate::modify::ModifyOutcome;
use crate::thread::EnclaveThread;
use epc_hw::{LinearAddress, PageType, Perms, SecInfo, Tcs, PAGE_SIZE};

impl EnclaveThread {
    /// Trims and removes the `pages` pages from `addr`: EMODT to TRIM (and
    /// ETRACK, IPIs), EACCEPT of each page, then removal (retried while the
    /// reclaimer holds a page). Returns the pages removed.
    pub fn trim(&mut self, addr: LinearAddress, pages: u64) -> Result<u64, EnclaveError> {
        let enclave = self.enclave.clone();
        let out = enclave.modify_types(addr, pages, PageType::Trim, &mut self.permit)?;
        check(out, pages)?;
        self.accept_range(addr, pages, SecInfo::emodt(PageType::Trim))?;
        let mut done = 0;
        while done < pages {
            let from = addr.add(done * PAGE_SIZE);
            match enclave.remove_pages(from, pages - done, &mut self.permit) {
                Ok(n) => done += n,
                Err(EnclaveError::Busy { done: n, .. }) => {
                    done += n;
                    std::thread::yield_now();
                }
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    /// Restricts the `pages` pages from `addr` to `perms` (EMODPR, ETRACK,
    /// IPIs) and accepts each (EACCEPT).
    pub fn restrict(
        &mut self,
        addr: LinearAddress,
        pages: u64,
        perms: Perms,
    ) -> Result<(), EnclaveError> {
        let enclave = self.enclave.clone();
        let out = enclave.restrict_permissions(addr, pages, perms, &mut self.permit)?;
        check(out, pages)?;
        for i in 0..pages {
            let a = addr.add(i * PAGE_SIZE);
            let now = enclave.page_perms(a).unwrap_or(perms);
            self.accept(a, SecInfo::emodpr(now))?;
        }
        Ok(())
    }

    /// Makes a TCS at `tcs` with one SSA frame at `ssa`, both pages of a
    /// dynamic enclave that have no page yet: the SSA is added and accepted
    /// on first touch, so is the future TCS page, which is filled with a
    /// TCS, changed to the TCS type (EMODT) and accepted. A new thread can
    /// then enter through it ([`Enclave::thread`](crate::Enclave::thread)).
    pub fn add_tcs(&mut self, tcs: LinearAddress, ssa: LinearAddress) -> Result<(), EnclaveError> {
        let enclave = self.enclave.clone();
        let base = enclave.config().base;
        if ssa.0 < base.0 {
            return Err(EnclaveError::Usage(format!(
                "SSA at {ssa} is not inside the enclave"
            )));
        }
        self.write_page(ssa, &[0; 4096])?;
        let page = Tcs {
            ossa: ssa.0 - base.0,
            nssa: 1,
            oentry: 0,
        }
        .to_page();
        self.write_page(tcs, &page)?;
        let out = enclave.modify_types(tcs, 1, PageType::Tcs, &mut self.permit)?;
        check(out, 1)?;
        self.accept(tcs, SecInfo::emodt(PageType::Tcs))?;
        enclave.register_tcs(tcs, ssa, 1);
        Ok(())
    }
}

/// A range operation that stopped early is reported as the leaf's error.
fn check(out: ModifyOutcome, pages: u64) -> Result<(), EnclaveError> {
    match out.result {
        Some(e) if out.count < pages => Err(EnclaveError::Lp(epc_hw::LpError::Sgx(e))),
        _ => Ok(()),
    }
}
