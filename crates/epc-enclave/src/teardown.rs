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

/// Pages teardown releases per batch. Between batches it drops the
/// enclave lock and yields the CPU, so a large enclave's release does not
/// hold up other threads' faults (Linux releases in `XA_CHECK_SCHED`
/// batches since "x86/sgx: Reduce delay and interference of enclave
/// release", 6.2; a `cond_resched()` per page had cost 25%).
pub const RELEASE_BATCH: usize = 64;

impl Enclave {
    /// Destroys the enclave: every thread is sent out and refused from now
    /// on, and every page is removed and freed (those the reclaimer holds as
    /// soon as it hands them back). The backing store is emptied. Pages are
    /// released [`RELEASE_BATCH`] at a time, yielding between batches.
    pub fn destroy(&self) {
        self.destroy_in_batches(RELEASE_BATCH);
    }

    /// [`destroy`](Enclave::destroy) with `batch` pages per batch (at least
    /// one); `usize::MAX` releases everything under one hold of the lock.
    pub fn destroy_in_batches(&self, batch: usize) {
        self.mark_dead(KillReason::Destroyed);
        self.release(batch);
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
        self.release(RELEASE_BATCH);
    }

    /// Teardown in batches of `batch` pages: the enclave lock is taken for
    /// each batch and dropped, with a yield, between them. Faults of this
    /// enclave are refused meanwhile (it is dead); the reclaimer and loaders
    /// see `tearing_down` and hand pages back as before.
    fn release(&self, batch: usize) {
        let keys: Vec<u64> = {
            let mut inner = self.inner.lock();
            if inner.finished {
                return;
            }
            self.begin_teardown(&mut inner);
            self.pages.keys()
        };
        for chunk in keys.chunks(batch.max(1)) {
            let mut inner = self.inner.lock();
            for &n in chunk {
                self.release_page(&mut inner, n);
            }
            drop(inner);
        }
        let mut inner = self.inner.lock();
        self.maybe_finish(&mut inner);
    }

    /// Teardown under one hold of the lock (the last reference is gone, so
    /// no one else waits for it).
    fn teardown_locked(&self, inner: &mut Inner) {
        if inner.finished {
            return;
        }
        self.begin_teardown(inner);
        let keys = self.pages.keys();
        for n in keys {
            self.release_page(inner, n);
        }
        self.maybe_finish(inner);
    }

    /// Sets the flag, under the enclave lock, before any shard is looked
    /// at: a loader or writer that finds its page after teardown passed it
    /// sees the flag and removes the page itself.
    fn begin_teardown(&self, inner: &mut Inner) {
        self.tearing_down.store(true, Ordering::SeqCst);
        if let SecsState::Resident(secs) = &inner.secs {
            self.ipi(secs.id());
        }
    }

    /// Releases enclave page number `n`, if it is still there: a resident
    /// page is removed and freed unless the reclaimer holds it (it hands it
    /// back later); a sealed copy is dropped; a page being written or
    /// loaded is left to the writer or loader.
    fn release_page(&self, inner: &mut Inner, n: u64) {
        let addr = LinearAddress(n * epc_hw::PAGE_SIZE);
        let mut shard = self.pages.lock(n);
        let Some(rec) = shard.get(&n) else {
            return;
        };
        let (resident_listed_busy, evicted) = match &rec.residency {
            Residency::Resident { page, listed } => (
                Some(*listed && self.mm.unmark_reclaimable(page) == Err(ListError::Busy)),
                false,
            ),
            Residency::Reclaiming { .. } | Residency::Loading => (None, false),
            Residency::Evicted { .. } => (None, true),
        };
        if evicted {
            // The sealed copy goes; its VA slot still holds the version and
            // is never handed out again (the VA page is removed at the end).
            shard.remove(&n);
            self.evicted.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        drop(shard);
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
            None => {}
        }
    }

    /// Removes a resident page of a dead enclave: EREMOVE, and its handle
    /// comes back to be freed. `None` if the page is not resident.
    pub(crate) fn take_for_teardown(
        &self,
        inner: &mut Inner,
        addr: LinearAddress,
    ) -> Option<EpcPage> {
        let n = addr.page_number();
        let mut shard = self.pages.lock(n);
        if !matches!(
            shard.get(&n).map(|r| &r.residency),
            Some(Residency::Resident { .. })
        ) {
            return None;
        }
        let rec = shard.remove(&n).expect("checked above");
        drop(shard);
        let Residency::Resident { page, .. } = rec.residency else {
            unreachable!("checked above")
        };
        self.pt.unmap(addr);
        let secs = match &inner.secs {
            SecsState::Resident(s) => s.id(),
            _ => unreachable!("a resident child keeps the SECS resident"),
        };
        self.remove_epc_page(secs, page.id());
        self.gate.remove_child();
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
        if !self.tearing_down.load(Ordering::SeqCst) || inner.finished || !self.pages.is_empty() {
            return;
        }
        self.gate.hide();
        match std::mem::replace(&mut inner.secs, SecsState::Gone) {
            SecsState::Resident(page) => {
                if let Err(e) = self.machine.eremove(page.id()) {
                    debug_assert!(self.epc_lost(), "EREMOVE of the SECS: {e}");
                }
                bump(&self.cells.eremove);
                let _ = self.mm.free(page);
            }
            SecsState::Evicted { .. } => {
                self.evicted.fetch_sub(1, Ordering::SeqCst);
            }
            SecsState::Gone => {}
        }
        let va_pages = self.va.lock().drain();
        for page in va_pages {
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
