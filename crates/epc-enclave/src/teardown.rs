//! Teardown and killing: EREMOVE and free every page, the SECS last, while
//! the reclaimer may hold some of them.
//!
//! Pages the reclaimer holds at that moment (isolated from the manager's
//! list, or blocked and being written) are skipped; the reclaimer, finding
//! the enclave dead, hands each back (`block` abandons it, `write` finishes
//! and discards it), and the last one to come back finishes the teardown:
//! the SECS, then the VA pages. Nothing is freed twice, nothing leaks.

use crate::counters::bump;
use crate::enclave::Enclave;
use crate::error::KillReason;
use crate::state::{Inner, Residency, SecsState};
use epc_hw::{EpcPageId, LeafError, LinearAddress, SgxError};
use epc_mm::{EpcPage, ListError};
use std::sync::atomic::Ordering;

/// How many IPI rounds EREMOVE tries against SGX_ENCLAVE_ACT before giving
/// up on a page (a thread that keeps re-entering a dead enclave is a bug of
/// the caller; the page is then leaked, as Linux leaks a page whose EREMOVE
/// fails).
const EREMOVE_ROUNDS: u32 = 64;

impl Enclave {
    /// Destroys the enclave: every thread is sent out and refused from now
    /// on, and every page is removed and freed (those the reclaimer holds as
    /// soon as it hands them back). The backing store is emptied.
    pub fn destroy(&self) {
        self.kill(KillReason::Destroyed);
    }

    /// Marks the enclave dead with `reason` (the first reason wins).
    pub(crate) fn mark_dead(&self, reason: KillReason) {
        let _ = self.death.set(reason);
        self.dead.store(true, Ordering::Release);
    }

    /// Kills the enclave: no thread may enter it again, the LPs inside are
    /// sent out with an IPI, and its pages are removed and freed. Other
    /// enclaves are unaffected.
    pub(crate) fn kill(&self, reason: KillReason) {
        self.mark_dead(reason);
        let mut inner = self.inner.lock();
        self.teardown_locked(&mut inner);
    }

    fn teardown_locked(&self, inner: &mut Inner) {
        if inner.finished {
            return;
        }
        inner.tearing_down = true;
        if let SecsState::Resident(secs) = &inner.secs {
            self.ipi(secs.id());
        }
        let keys: Vec<u64> = inner.pages.keys().copied().collect();
        for n in keys {
            let addr = LinearAddress(n * epc_hw::PAGE_SIZE);
            let (resident_listed_busy, evicted) = match &inner.pages[&n].residency {
                Residency::Resident { page, listed } => (
                    Some(*listed && self.mm.unmark_reclaimable(page) == Err(ListError::Busy)),
                    false,
                ),
                Residency::Reclaiming { .. } | Residency::Loading => (None, false),
                Residency::Evicted { .. } => (None, true),
            };
            match resident_listed_busy {
                // The reclaimer holds it and will hand it back.
                Some(true) => {}
                Some(false) => {
                    if let Some(handle) = self.take_for_teardown(inner, addr) {
                        if let Err(e) = self.mm.free(handle) {
                            debug_assert!(false, "freeing a removed page: {e:?}");
                        }
                    }
                }
                None if evicted => {
                    // The sealed copy goes; its VA slot still holds the
                    // version and is never handed out again (the VA page is
                    // removed at the end).
                    inner.pages.remove(&n);
                    inner.evicted -= 1;
                }
                None => {}
            }
        }
        self.maybe_finish(inner);
    }

    /// Removes a resident page of a dead enclave: EREMOVE, and its handle
    /// comes back to be freed. `None` if the page is not resident.
    pub(crate) fn take_for_teardown(
        &self,
        inner: &mut Inner,
        addr: LinearAddress,
    ) -> Option<EpcPage> {
        let n = addr.page_number();
        if !matches!(
            inner.pages.get(&n).map(|r| &r.residency),
            Some(Residency::Resident { .. })
        ) {
            return None;
        }
        let rec = inner.pages.remove(&n).expect("checked above");
        let Residency::Resident { page, .. } = rec.residency else {
            unreachable!("checked above")
        };
        self.pt.unmap(addr);
        let secs = match &inner.secs {
            SecsState::Resident(s) => s.id(),
            _ => unreachable!("a resident child keeps the SECS resident"),
        };
        self.remove_epc_page(secs, page.id());
        inner.children_in_epc -= 1;
        self.maybe_finish(inner);
        Some(page)
    }

    /// EREMOVE, sending IPIs while a thread is still inside.
    pub(crate) fn remove_epc_page(&self, secs: EpcPageId, page: EpcPageId) {
        for _ in 0..EREMOVE_ROUNDS {
            match self.machine.eremove(page) {
                Ok(()) => {
                    bump(&self.cells.eremove);
                    return;
                }
                Err(LeafError::Sgx(SgxError::EnclaveAct)) => self.ipi(secs),
                // A power cycle under way may have dropped the SECS first:
                // the page is being lost anyway.
                Err(e) => {
                    debug_assert!(self.epc_lost(), "EREMOVE of {page:?}: {e}");
                    return;
                }
            }
        }
        debug_assert!(
            false,
            "EREMOVE of {page:?}: a thread keeps entering a dead enclave"
        );
    }

    /// Once no enclave page is left, removes the SECS and the VA pages.
    pub(crate) fn maybe_finish(&self, inner: &mut Inner) {
        if !inner.tearing_down || inner.finished || !inner.pages.is_empty() {
            return;
        }
        match std::mem::replace(&mut inner.secs, SecsState::Gone) {
            SecsState::Resident(page) => {
                if let Err(e) = self.machine.eremove(page.id()) {
                    debug_assert!(self.epc_lost(), "EREMOVE of the SECS: {e}");
                }
                bump(&self.cells.eremove);
                let _ = self.mm.free(page);
            }
            SecsState::Evicted { .. } => inner.evicted -= 1,
            SecsState::Gone => {}
        }
        for page in inner.va.drain() {
            if let Err(e) = self.machine.eremove(page.id()) {
                debug_assert!(self.epc_lost(), "EREMOVE of a VA page: {e}");
            }
            bump(&self.cells.eremove);
            let _ = self.mm.free(page);
        }
        inner.finished = true;
    }
}

impl Drop for Enclave {
    fn drop(&mut self) {
        // The last reference is gone, so the reclaimer holds none of our
        // pages (it holds a reference while it does): teardown completes.
        if !self.dead.load(Ordering::Acquire) {
            self.mark_dead(KillReason::Destroyed);
        }
        let mut inner = self.inner.lock();
        self.teardown_locked(&mut inner);
        debug_assert!(inner.finished, "teardown of a dropped enclave completes");
    }
}
