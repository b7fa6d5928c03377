//! Enclave threads: a workload thread bound to a TCS, running on its own
//! logical processor, reading and writing enclave addresses. Faults and
//! IPI-forced exits are handled underneath (AEX, the fault handler, ERESUME)
//! and show only in the counters and the fault latency histogram.

use crate::enclave::Enclave;
use crate::error::{EnclaveError, KillReason};
use crate::state::Residency;
use crate::triage::Resolution;
use epc_hw::{
    EpcPageId, LinearAddress, LogicalProcessor, LpError, PageFaultInfo, PageTable, SecInfo,
    PAGE_SIZE,
};
use epc_mm::ReclaimPermit;
use hdrhistogram::Histogram;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

/// A thread running in an enclave.
pub struct EnclaveThread {
    pub(crate) enclave: Arc<Enclave>,
    pub(crate) lp: LogicalProcessor,
    tcs_index: usize,
    tcs: LinearAddress,
    pub(crate) permit: ReclaimPermit,
    /// The page table its LP walks: the enclave's, composed with the
    /// guest's frames for a guest enclave.
    walk: Arc<dyn PageTable>,
    latency: Histogram<u64>,
    pub(crate) faults: u64,
}

impl fmt::Debug for EnclaveThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnclaveThread")
            .field("enclave", &self.enclave.eid())
            .field("tcs", &self.tcs)
            .field("lp", &self.lp)
            .field("faults", &self.faults)
            .finish()
    }
}

impl Enclave {
    /// A thread on a free TCS of this initialized enclave, with a new
    /// logical processor. Its TCS and SSA pages stay pinned in the EPC
    /// while it lives.
    pub fn thread(self: &Arc<Self>) -> Result<EnclaveThread, EnclaveError> {
        self.check_alive()?;
        if !self.is_initialized() {
            return Err(EnclaveError::Usage(
                "thread of an enclave before EINIT".into(),
            ));
        }
        let lp = self.machine.new_lp()?;
        let (tcs_index, tcs, ssa, nssa) = {
            let mut inner = self.inner.lock();
            let Some(i) = inner.tcs.iter().position(|t| !t.bound && !t.retired) else {
                return Err(EnclaveError::Usage("every TCS already has a thread".into()));
            };
            inner.tcs[i].bound = true;
            let t = inner.tcs[i];
            (i, t.addr, t.ssa, t.nssa)
        };
        self.pin(tcs, 1);
        for f in 0..u64::from(nssa) {
            self.pin(ssa.add(f * PAGE_SIZE), 1);
        }
        Ok(EnclaveThread {
            enclave: self.clone(),
            lp,
            tcs_index,
            tcs,
            permit: ReclaimPermit::new(),
            walk: self.machine.page_table(&self.pt),
            latency: Histogram::new_with_bounds(1, 60_000_000_000, 3)
                .expect("valid histogram bounds"),
            faults: 0,
        })
    }

    /// Adds `delta` pins to the page at `addr`: a pinned page leaves the
    /// manager's list (or, if the reclaimer holds it now, comes back
    /// unlisted after its reload); the last unpin lists it again.
    fn pin(&self, addr: LinearAddress, delta: i32) {
        let n = addr.page_number();
        let mut shard = self.pages.lock(n);
        let Some(rec) = shard.get_mut(&n) else {
            return;
        };
        rec.pins = rec.pins.saturating_add_signed(delta);
        let pins = rec.pins;
        if let Residency::Resident { page, listed } = &mut rec.residency {
            if pins > 0 && *listed {
                // Busy means the reclaimer holds it: it will be evicted and
                // come back unlisted when the thread faults it in.
                if self.mm.unmark_reclaimable(page).is_ok() {
                    *listed = false;
                }
            } else if pins == 0 && !*listed && !self.dead.load(std::sync::atomic::Ordering::Acquire)
            {
                *listed = self.mark(page, addr);
            }
        }
    }
}

impl EnclaveThread {
    /// The enclave.
    pub fn enclave(&self) -> &Arc<Enclave> {
        &self.enclave
    }

    /// Page faults this thread took.
    pub fn faults(&self) -> u64 {
        self.faults
    }

    /// Fault latency in nanoseconds, from the faulting access to the
    /// completed ERESUME.
    pub fn fault_latency(&self) -> &Histogram<u64> {
        &self.latency
    }

    /// The logical processor's access counters.
    pub fn lp_stats(&self) -> epc_hw::LpStats {
        self.lp.stats()
    }

    /// Reads the 64-bit word at `addr`.
    pub fn read_u64(&mut self, addr: LinearAddress) -> Result<u64, EnclaveError> {
        self.run(|lp| lp.read_u64(addr))
    }

    /// Writes the 64-bit word at `addr`.
    pub fn write_u64(&mut self, addr: LinearAddress, value: u64) -> Result<(), EnclaveError> {
        self.run(|lp| lp.write_u64(addr, value))
    }

    /// Reads the page at `addr`.
    pub fn read_page(
        &mut self,
        addr: LinearAddress,
        out: &mut [u8; 4096],
    ) -> Result<(), EnclaveError> {
        self.run(|lp| lp.read_page(addr, out))
    }

    /// Overwrites the page at `addr`.
    pub fn write_page(
        &mut self,
        addr: LinearAddress,
        bytes: &[u8; 4096],
    ) -> Result<(), EnclaveError> {
        self.run(|lp| lp.write_page(addr, bytes))
    }

    /// Leaves the enclave (EEXIT); the next access enters again.
    pub fn exit(&mut self) -> Result<(), EnclaveError> {
        loop {
            match self.lp.eexit() {
                Ok(()) | Err(LpError::NotInEnclave) => return Ok(()),
                Err(LpError::Interrupted) => self.resume()?,
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn run<R>(
        &mut self,
        mut access: impl FnMut(&mut LogicalProcessor) -> Result<R, LpError>,
    ) -> Result<R, EnclaveError> {
        loop {
            match access(&mut self.lp) {
                Ok(r) => return Ok(r),
                Err(LpError::PageFault(pf)) => {
                    let start = Instant::now();
                    self.faults += 1;
                    match self.fault(&pf)? {
                        Resolution::Retry => self.resume()?,
                        // The enclave's own handler: accept the page added
                        // at run time, then retry the access.
                        Resolution::Augmented | Resolution::Accept => {
                            self.resume()?;
                            self.accept(pf.page, SecInfo::eaug())?;
                        }
                    }
                    let ns = start.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64;
                    self.latency.saturating_record(ns.max(1));
                }
                Err(LpError::Interrupted) => self.resume()?,
                Err(LpError::NotInEnclave) => self.enter()?,
                Err(LpError::MachineCheck { addr, epc_page }) => {
                    return Err(self.machine_check(addr, epc_page))
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The thread read a poisoned page: the enclave is killed (Linux sends
    /// SIGBUS), with the EPC loss as the reason if the page is gone because
    /// of it. Other enclaves go on.
    pub(crate) fn machine_check(
        &mut self,
        addr: LinearAddress,
        epc_page: EpcPageId,
    ) -> EnclaveError {
        let reason = if self.enclave.epc_lost() {
            KillReason::EpcLost
        } else {
            KillReason::MemoryFailure {
                page: addr,
                epc_page,
            }
        };
        self.enclave.kill(reason);
        match self.enclave.check_alive() {
            Err(e) => e,
            Ok(()) => unreachable!("killed above"),
        }
    }

    /// Hands the fault to the enclave's fault path. An access error is
    /// returned after this one fault, with the thread resumed (back inside
    /// the enclave, ready for its next access) if it had taken an AEX.
    pub(crate) fn fault(&mut self, pf: &PageFaultInfo) -> Result<Resolution, EnclaveError> {
        self.enclave.check_alive()?;
        match self.enclave.resolve_fault(pf, &mut self.permit) {
            Err(e @ EnclaveError::AccessViolation { .. }) => {
                // One ERESUME, not `resume()`: if it faults too, the next
                // access handles that, instead of this error path
                // recursing through the fault handler.
                if self.lp.is_interrupted() {
                    let _ = self.lp.eresume();
                }
                Err(e)
            }
            r => r,
        }
    }

    pub(crate) fn enter(&mut self) -> Result<(), EnclaveError> {
        loop {
            self.enclave.check_alive()?;
            match self.lp.eenter(self.tcs, self.walk.clone()) {
                Ok(()) => return Ok(()),
                // The TCS or SSA page is not resident: load it and retry.
                Err(LpError::PageFault(pf)) => {
                    self.fault(&pf)?;
                }
                Err(LpError::MachineCheck { addr, epc_page }) => {
                    return Err(self.machine_check(addr, epc_page))
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    pub(crate) fn resume(&mut self) -> Result<(), EnclaveError> {
        loop {
            self.enclave.check_alive()?;
            match self.lp.eresume() {
                Ok(()) => return Ok(()),
                Err(LpError::PageFault(pf)) => {
                    self.fault(&pf)?;
                }
                Err(LpError::MachineCheck { addr, epc_page }) => {
                    return Err(self.machine_check(addr, epc_page))
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Drop for EnclaveThread {
    fn drop(&mut self) {
        // Resume an interrupted context before leaving, so the TCS's SSA
        // frame is free for the next thread.
        let _ = self.exit();
        let e = &self.enclave;
        let (tcs, ssa, nssa) = {
            let mut inner = e.inner.lock();
            let t = &mut inner.tcs[self.tcs_index];
            t.bound = false;
            (t.addr, t.ssa, t.nssa)
        };
        e.pin_release(tcs, ssa, nssa);
    }
}

impl Enclave {
    fn pin_release(&self, tcs: LinearAddress, ssa: LinearAddress, nssa: u32) {
        self.pin(tcs, -1);
        for f in 0..u64::from(nssa) {
            self.pin(ssa.add(f * PAGE_SIZE), -1);
        }
    }
}
