//! The enclave as the EPC manager's page owner: the reclaim operations for
//! its pages (age, block, track, write with the EWB → ETRACK → IPI ladder),
//! and the SECS eviction that follows its last child.

use crate::counters::bump;
use crate::enclave::Enclave;
use crate::error::KillReason;
use crate::shards::Shard;
use crate::state::{Inner, Residency, SecsState};
use epc_hw::{
    EpcPageId, Fault, GpCause, LeafError, LinearAddress, Operand, SealedPage, SgxError, VaSlot,
};
use epc_mm::{BlockOutcome, EpcPage, PageKey, PageOwner, Tracked, WriteOutcome};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// ETRACK + IPI rounds of the EWB retry ladder, counting only rounds whose
/// ETRACK opened a cycle, before the write is declared failed. One such
/// round always suffices, since the IPIs are synchronous: every LP inside at
/// the ETRACK has left when they return. Refused ETRACKs (a cycle another
/// reclaimer opened, or its ETRACK running at this instant) do not count:
/// under CPU contention a preempted reclaimer can hold the tracking for a
/// long time, and that is no reason to kill an enclave.
pub(crate) const EWB_TRACKED_ROUNDS: u32 = 8;

/// How long the ladder may keep retrying refused ETRACKs.
pub(crate) const EWB_LADDER_TIMEOUT: Duration = Duration::from_secs(2);

/// A write in progress: what `begin_write` took under the lock.
#[derive(Debug)]
pub(crate) struct WriteJob {
    addr: LinearAddress,
    page: EpcPageId,
    secs: EpcPageId,
    slot: VaSlot,
}

impl Enclave {
    /// ETRACK on the SECS, counting the outcome; whether a cycle opened.
    pub(crate) fn etrack(&self, secs: EpcPageId) -> bool {
        match self.machine.etrack(secs) {
            Ok(()) => {
                bump(&self.cells.etrack);
                true
            }
            // A cycle is still open, or another reclaimer's ETRACK is
            // running right now (#GP on the SECS): the ladder's IPIs and
            // next ETRACK deal with both.
            Err(LeafError::Sgx(SgxError::PrevTrkIncmpl))
            | Err(LeafError::Fault(Fault::GeneralProtection(GpCause::Conflict(_)))) => {
                bump(&self.cells.prev_trk_incmpl);
                false
            }
            Err(e) => {
                // The SECS is gone only if the EPC was lost (a poisoned
                // SECS is not read by ETRACK).
                debug_assert!(self.epc_lost(), "ETRACK of a resident SECS: {e}");
                false
            }
        }
    }

    /// IPIs to every LP inside the enclave.
    pub(crate) fn ipi(&self, secs: EpcPageId) {
        self.machine.ipi_enclave(secs);
        bump(&self.cells.ipis);
    }

    /// EWB with the retry ladder: plain EWB (an earlier ETRACK may cover
    /// the page); on SGX_NOT_TRACKED, ETRACK and retry; then IPIs (forcing
    /// every LP that might hold a translation out) and retry; then ETRACK
    /// and IPIs together, for a cycle someone else opened
    /// (SGX_PREV_TRK_INCMPL) or threads that re-entered, yielding when the
    /// ETRACK is refused, until [`EWB_TRACKED_ROUNDS`] rounds with an
    /// accepted ETRACK or [`EWB_LADDER_TIMEOUT`] have passed.
    pub(crate) fn ewb_ladder(
        &self,
        secs: EpcPageId,
        page: EpcPageId,
        slot: VaSlot,
        out: &mut SealedPage,
    ) -> Result<LinearAddress, LeafError> {
        let mut round = 0u32;
        let mut tracked_rounds = 0;
        let mut deadline = None;
        loop {
            match self.machine.ewb(page, slot, out) {
                Ok(done) => {
                    debug_assert!(done.warning.is_none(), "slots are never reused while full");
                    bump(&self.cells.ewb);
                    return Ok(done.value);
                }
                Err(LeafError::Sgx(SgxError::NotTracked)) => {
                    bump(&self.cells.not_tracked);
                    match round {
                        0 => {
                            self.etrack(secs);
                        }
                        1 => self.ipi(secs),
                        _ => {
                            let started = *deadline
                                .get_or_insert_with(|| Instant::now() + EWB_LADDER_TIMEOUT);
                            if self.etrack(secs) {
                                tracked_rounds += 1;
                            } else {
                                std::thread::yield_now();
                            }
                            self.ipi(secs);
                            if tracked_rounds > EWB_TRACKED_ROUNDS || Instant::now() > started {
                                return Err(LeafError::Sgx(SgxError::NotTracked));
                            }
                        }
                    }
                    round += 1;
                }
                // EINIT holds the SECS exclusively for a moment while the
                // enclave is being built: a transient conflict, not a failure.
                Err(LeafError::Fault(Fault::GeneralProtection(GpCause::Conflict(
                    Operand::Secs,
                )))) => std::thread::yield_now(),
                Err(e) => return Err(e),
            }
        }
    }

    /// Unmaps and EBLOCKs a resident page, moving it to `Reclaiming`, under
    /// its shard lock (`shard`). `false` if the page is not resident at
    /// `page` or is pinned.
    pub(crate) fn block_locked(
        &self,
        shard: &mut Shard,
        addr: LinearAddress,
        page: EpcPageId,
    ) -> bool {
        let Some(rec) = shard.get_mut(&addr.page_number()) else {
            return false;
        };
        if rec.pins > 0 {
            return false;
        }
        let Residency::Resident { page: p, .. } = &rec.residency else {
            return false;
        };
        if p.id() != page {
            return false;
        }
        self.pt.unmap(addr);
        if let Err(e) = self.machine.eblock(page) {
            // Cannot happen to a valid page we own, unless the EPC was
            // lost under it; stay resident (teardown takes it).
            debug_assert!(self.epc_lost(), "EBLOCK of a resident page: {e}");
            self.pt
                .map(addr, page, rec.secinfo.perms.contains(epc_hw::Perms::W));
            return false;
        }
        bump(&self.cells.eblock);
        rec.residency = match std::mem::replace(&mut rec.residency, Residency::Loading) {
            Residency::Resident { page, .. } => Residency::Reclaiming { page },
            other => other,
        };
        true
    }

    /// First step of a write, under the lock: a VA slot for the page and
    /// the SECS it is written under. The page stays `Reclaiming`, so faults
    /// wait and teardown leaves it alone while EWB runs without the lock.
    pub(crate) fn begin_write(&self, inner: &Inner, addr: LinearAddress) -> WriteJob {
        let n = addr.page_number();
        let page = {
            let shard = self.pages.lock(n);
            let rec = shard.get(&n).expect("a reclaiming page has a record");
            let Residency::Reclaiming { page } = &rec.residency else {
                panic!("write of page {addr} that is not being reclaimed");
            };
            page.id()
        };
        let SecsState::Resident(secs) = &inner.secs else {
            unreachable!("a child page in the EPC keeps the SECS resident");
        };
        WriteJob {
            addr,
            page,
            secs: secs.id(),
            slot: self.va.lock().alloc().expect("VA slots are reserved ahead"),
        }
    }

    /// Second step, without the lock: EWB with the retry ladder. The crypto
    /// runs here, so faults on other pages of the enclave are not held up.
    pub(crate) fn run_write(&self, job: &WriteJob) -> Result<Box<SealedPage>, LeafError> {
        let mut sealed = Box::new(SealedPage::new());
        let linaddr = self.ewb_ladder(job.secs, job.page, job.slot, &mut sealed)?;
        debug_assert_eq!(linaddr, job.addr);
        Ok(sealed)
    }

    /// Last step, under the lock: record the outcome and give the handle
    /// back: `Ok` if EWB succeeded (the page is sealed in the backing store),
    /// `Err` if it failed for good (the enclave is killed, the page removed).
    pub(crate) fn finish_write(
        &self,
        inner: &mut Inner,
        job: WriteJob,
        result: Result<Box<SealedPage>, LeafError>,
    ) -> Result<EpcPage, EpcPage> {
        let n = job.addr.page_number();
        let mut shard = self.pages.lock(n);
        let rec = shard.remove(&n).expect("a reclaiming page has a record");
        let Residency::Reclaiming { page } = rec.residency else {
            unreachable!("only the writer moves a reclaiming page");
        };
        match result {
            Ok(sealed) => {
                if self.tearing_down.load(Ordering::SeqCst) {
                    // Destroyed meanwhile: the sealed copy is of no use. Its
                    // slot keeps the version and is never handed out again.
                    drop(shard);
                    self.gate.remove_child();
                } else {
                    // Counted before a fault can reload it and uncount it.
                    self.evicted.fetch_add(1, Ordering::SeqCst);
                    shard.insert(
                        n,
                        crate::state::PageRecord {
                            residency: Residency::Evicted {
                                sealed,
                                slot: job.slot,
                            },
                            ..rec
                        },
                    );
                    drop(shard);
                    self.gate.remove_child();
                    self.maybe_evict_secs(inner);
                }
                Ok(page)
            }
            Err(error) => {
                drop(shard);
                // A failed EWB changed nothing: the slot is still empty.
                self.va.lock().free(job.slot);
                self.mark_dead(self.leaf_kill(
                    error,
                    job.addr,
                    KillReason::WriteBack {
                        page: job.addr,
                        error,
                    },
                ));
                self.remove_epc_page(job.secs, page.id());
                self.gate.remove_child();
                Err(page)
            }
        }
    }

    /// EREMOVEs a blocked page of a dead enclave and returns its handle.
    pub(crate) fn abandon_reclaiming(&self, inner: &mut Inner, addr: LinearAddress) -> EpcPage {
        let n = addr.page_number();
        let rec = self
            .pages
            .lock(n)
            .remove(&n)
            .expect("a reclaiming page has a record");
        let Residency::Reclaiming { page } = rec.residency else {
            panic!("abandon of page {addr} that is not being reclaimed");
        };
        let SecsState::Resident(secs) = &inner.secs else {
            unreachable!("a child page in the EPC keeps the SECS resident");
        };
        self.remove_epc_page(secs.id(), page.id());
        self.gate.remove_child();
        page
    }

    /// Evicts the SECS once the last child page of an initialized enclave
    /// has left the EPC (Linux's `sgx_reclaimer_write`), under the enclave
    /// lock; the gate's handshake keeps lock-free faults out meanwhile.
    fn maybe_evict_secs(&self, inner: &mut Inner) {
        if !self.is_initialized() || self.tearing_down.load(Ordering::SeqCst) {
            return;
        }
        let SecsState::Resident(secs) = &inner.secs else {
            return;
        };
        let secs_id = secs.id();
        if !self.gate.try_hide() {
            return;
        }
        let slot = self
            .va
            .lock()
            .alloc()
            .expect("the SECS reserved its VA slot");
        let mut sealed = Box::new(SealedPage::new());
        match self.machine.ewb(secs_id, slot, &mut sealed) {
            Ok(_) => {
                bump(&self.cells.ewb);
                bump(&self.cells.secs_evictions);
                let SecsState::Resident(page) =
                    std::mem::replace(&mut inner.secs, SecsState::Evicted { sealed, slot })
                else {
                    unreachable!("matched as resident above")
                };
                self.evicted.fetch_add(1, Ordering::SeqCst);
                if let Err(e) = self.mm.free(page) {
                    debug_assert!(false, "freeing the SECS page: {e:?}");
                }
            }
            Err(e) => {
                // The SECS simply stays; nothing depends on evicting it.
                self.va.lock().free(slot);
                self.gate.show(secs_id.0);
                // A poisoned SECS cannot be written out; neither can one
                // the EPC lost.
                debug_assert!(
                    self.epc_lost() || e.machine_check().is_some(),
                    "EWB of a childless SECS: {e}"
                );
            }
        }
    }
}

impl PageOwner for Enclave {
    fn age(&self, key: PageKey) -> bool {
        self.pt.test_and_clear_accessed(LinearAddress(key.addr))
    }

    fn block(&self, key: PageKey, page: EpcPageId) -> BlockOutcome {
        let addr = LinearAddress(key.addr);
        if self.epc_lost() {
            self.mark_dead(KillReason::EpcLost);
        }
        if self.dead.load(Ordering::Acquire) {
            // Teardown skipped this page because the reclaimer held it.
            let mut inner = self.inner.lock();
            return match self.take_for_teardown(&mut inner, addr) {
                Some(handle) => BlockOutcome::Abandoned(handle),
                None => BlockOutcome::Declined,
            };
        }
        // Only the page's shard: teardown, if it starts now, finds the
        // page blocked (or the reclaimer's) and leaves it to `write`.
        let mut shard = self.pages.lock(addr.page_number());
        if self.block_locked(&mut shard, addr, page) {
            BlockOutcome::Blocked
        } else {
            BlockOutcome::Declined
        }
    }

    fn track(&self) {
        let inner = self.inner.lock();
        if let SecsState::Resident(secs) = &inner.secs {
            let _ = self.etrack(secs.id());
        }
    }

    fn write(&self, key: PageKey, _page: EpcPageId, _tracked: &Tracked) -> WriteOutcome {
        let mut inner = self.inner.lock();
        let addr = LinearAddress(key.addr);
        if self.tearing_down.load(Ordering::SeqCst) {
            // Nobody will read this page again: remove it rather than seal it.
            let handle = self.abandon_reclaiming(&mut inner, addr);
            self.maybe_finish(&mut inner);
            return WriteOutcome::Abandoned(handle);
        }
        let job = self.begin_write(&inner, addr);
        drop(inner);
        let result = self.run_write(&job);
        let mut inner = self.inner.lock();
        let r = self.finish_write(&mut inner, job, result);
        self.maybe_finish(&mut inner);
        match r {
            Ok(page) => WriteOutcome::Written(page),
            Err(page) => WriteOutcome::Failed(page),
        }
    }
}
