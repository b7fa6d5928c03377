//! EAUG on fault (SGX2): an initialized dynamic enclave's access to an
//! address of its range that has no page gets a fresh one.
//!
//! The order is the fault handler's (`fault.rs`), for a page that never
//! existed rather than one that was evicted, and follows Linux's
//! `sgx_encl_eaug_page` with the manager's rule that allocation may
//! reclaim and so runs without the enclave lock:
//!
//! 1. without the lock, reserve a VA slot for the page (adding a VA page
//!    when the last one is full), so that it can be evicted later like any
//!    other, and allocate the EPC page (two if the SECS was evicted);
//! 2. under the lock, look again: another thread may have added the page
//!    meanwhile (then this one is freed and its slot given back: two
//!    threads faulting one address cause one EAUG); reload the SECS first if
//!    it was evicted (EAUG needs it resident: the race Linux fixed in 2023,
//!    where EAUG ran against a SECS the reclaimer had just written back);
//! 3. EAUG: a zeroed REG page, read-write, PENDING; count it as a child,
//!    map it writable, put it on the reclaimable list (the reclaimer may
//!    evict it before the enclave accepts it: EWB and ELDU carry PENDING).
//!
//! The faulting thread then resumes and EACCEPTs the page (`accept.rs`).

use crate::counters::bump;
use crate::enclave::Enclave;
use crate::error::{leaf, EnclaveError};
use crate::state::{PageRecord, Residency, SecsState};
use epc_hw::{Fault, GpCause, LeafError, LinearAddress, Perms, SecInfo};
use epc_mm::{EpcPage, ReclaimPermit};

impl Enclave {
    /// Reserves VA slots for `pages` pages to be added later by EAUG
    /// (adding the VA pages now), as for pages added by EADD: the EPC taken
    /// by VA pages then stays the same while the enclave grows, which a
    /// replay that compares faults with a fixed-size cache needs. Each
    /// EAUG uses one of these before reserving a slot of its own.
    pub fn reserve_ahead(
        &self,
        pages: u64,
        permit: &mut ReclaimPermit,
    ) -> Result<(), EnclaveError> {
        for _ in 0..pages {
            self.grow(permit)?;
            self.lock(permit).reserved_ahead += 1;
        }
        Ok(())
    }

    /// Whether a not-present fault at `addr` is one for EAUG: a dynamic,
    /// initialized enclave, an address of its range, no page there.
    pub(crate) fn may_augment(&self, addr: LinearAddress) -> bool {
        let (base, size) = (self.config.base.0, self.config.size);
        self.config.dynamic
            && self.is_initialized()
            && (base..base + size).contains(&addr.0)
            && !self.pages.contains(addr.page_number())
    }

    /// Adds a fresh page at `addr` (EAUG). `Ok(false)` if another thread
    /// added one first (nothing was done).
    pub(crate) fn augment(
        &self,
        addr: LinearAddress,
        permit: &mut ReclaimPermit,
    ) -> Result<bool, EnclaveError> {
        let addr = addr.page();
        let ahead = {
            let mut inner = self.lock(permit);
            let ahead = inner.reserved_ahead > 0;
            inner.reserved_ahead -= usize::from(ahead);
            ahead
        };
        if !ahead {
            self.grow(permit)?;
        }
        let mut spare: Vec<EpcPage> = Vec::with_capacity(2);
        let r = self.augment_loop(addr, permit, &mut spare);
        if !matches!(r, Ok(true)) {
            if ahead {
                self.inner.lock().reserved_ahead += 1;
            } else {
                self.va.lock().unreserve();
            }
        }
        for page in spare {
            let _ = self.mm.free(page);
        }
        r
    }

    fn augment_loop(
        &self,
        addr: LinearAddress,
        permit: &mut ReclaimPermit,
        spare: &mut Vec<EpcPage>,
    ) -> Result<bool, EnclaveError> {
        let n = addr.page_number();
        loop {
            self.check_alive()?;
            let needed = {
                let inner = self.lock(permit);
                if self.pages.contains(n) {
                    return Ok(false);
                }
                1 + usize::from(!matches!(inner.secs, SecsState::Resident(_)))
            };
            while spare.len() < needed {
                // No lock held: this may reclaim, even from this enclave.
                spare.push(self.alloc_reclaiming(permit)?);
            }
            let mut inner = self.lock(permit);
            self.check_alive()?;
            if self.tearing_down.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(EnclaveError::Killed(
                    self.death
                        .get()
                        .cloned()
                        .unwrap_or(crate::KillReason::Destroyed),
                ));
            }
            if self.pages.contains(n) {
                return Ok(false);
            }
            if let SecsState::Evicted { .. } = inner.secs {
                if spare.len() < 2 {
                    continue; // the SECS left since we looked
                }
                if let Some(reason) = self.reload_secs(&mut inner, addr, spare) {
                    drop(inner);
                    self.kill(reason);
                    self.check_alive()?;
                    continue;
                }
            }
            let SecsState::Resident(secs) = &inner.secs else {
                unreachable!("reloaded above; a live enclave's SECS is never gone")
            };
            let secs = secs.id();
            let page = spare.pop().expect("a page was allocated for EAUG");
            // The reclaimer's EWB or ETRACK of this enclave holds the SECS
            // shared and never conflicts with EAUG's shared hold; only a
            // leaf holding it exclusively could, and none runs on a live,
            // initialized enclave's resident SECS while its lock is held.
            let mut tries = 0;
            loop {
                match self.machine.eaug(page.id(), secs, addr) {
                    Ok(()) => break,
                    Err(LeafError::Fault(Fault::GeneralProtection(GpCause::Conflict(_))))
                        if tries < 1000 =>
                    {
                        tries += 1;
                        std::thread::yield_now();
                    }
                    Err(e) => {
                        spare.push(page);
                        return Err(leaf("EAUG")(e));
                    }
                }
            }
            bump(&self.cells.eaug);
            self.gate.add_child();
            // Listed under the shard lock, so that the reclaimer, which may
            // pick the page at once, finds its record.
            let mut shard = self.pages.lock(n);
            self.pt.map(addr, page.id(), true);
            let listed = self.mark(&page, addr);
            shard.insert(
                n,
                PageRecord {
                    secinfo: SecInfo::reg(Perms::RW),
                    pins: 0,
                    residency: Residency::Resident { page, listed },
                },
            );
            return Ok(true);
        }
    }
}
