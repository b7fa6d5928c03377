//! The fault handler: brings an evicted page back (ELDU), the SECS first if
//! it was evicted too.
//!
//! The order is Linux's with one change the manager's API asks for: EPC
//! pages are allocated *before* the enclave lock is taken, so that the
//! allocation may reclaim directly (other enclaves' reclaim operations take
//! their locks, this enclave's included). Under the lock the handler checks
//! again: another thread may have loaded the page meanwhile (then the spare
//! page is freed), or the reclaimer may hold it (then the handler waits for
//! the write to finish and starts over).
//!
//! A reload takes its page's shard lock twice: the first look marks the
//! page `Loading` (the page to load it into was allocated before, see
//! `fault_loop`), and after ELDU the second maps and lists it. The enclave
//! lock is taken only when the SECS must be reloaded first (or is being
//! evicted at that instant: see `secs_gate.rs`).

use crate::counters::bump;
use crate::enclave::Enclave;
use crate::error::{EnclaveError, KillReason};
use crate::state::{PageRecord, Residency, SecsState};
use epc_hw::{
    EpcPageId, Event, LeafError, LinearAddress, PageTable, Perms, SealedPage, SgxError, VaSlot,
};
use epc_mm::{EpcPage, ReclaimPermit};
use std::sync::atomic::Ordering;

/// How a reload attempt ended.
enum Load {
    /// The page is resident and mapped.
    Done,
    /// The state changed since the handler looked: look again.
    Again,
    /// A reload failed its integrity check: kill the enclave.
    Kill(KillReason),
}

/// What the handler found, and did, in its first look under the lock.
enum Look {
    /// The page is usable: nothing to load.
    Nothing,
    /// The reclaimer or another loader holds it: retry after it is done.
    Wait,
    /// This many EPC pages (the page, and the SECS if it was evicted) are
    /// needed and fewer are at hand.
    Pages(usize),
    /// The page is marked `Loading` (the SECS reloaded first if it had
    /// been evicted): the ELDU to run without the lock.
    Load(Reload),
    /// Reloading the SECS failed its integrity check: kill the enclave.
    Kill(KillReason),
}

/// A reload in progress: what the first look took under the lock.
struct Reload {
    page: EpcPage,
    sealed: Box<SealedPage>,
    slot: VaSlot,
    secs: EpcPageId,
}

impl Enclave {
    /// Resolves a page fault at `addr` taken by an access (`write` says
    /// which kind), outside enclave mode. On return the page is resident and
    /// mapped, and the thread may ERESUME.
    pub fn handle_fault(
        &self,
        addr: LinearAddress,
        write: bool,
        permit: &mut ReclaimPermit,
    ) -> Result<(), EnclaveError> {
        bump(&self.cells.faults);
        self.machine.ledger().charge(Event::KernelFault);
        // After a power cycle the enclave's pages are gone, whatever its
        // records say: the fault cannot be fixed.
        if self.notice_epc_loss() {
            return self.check_alive();
        }
        let addr = addr.page();
        let mut spare: Vec<EpcPage> = Vec::with_capacity(2);
        let result = self.fault_loop(addr, write, permit, &mut spare);
        for page in spare {
            let _ = self.mm.free(page);
        }
        result
    }

    /// The page's shard lock is taken twice per reload: once to look and
    /// mark the page `Loading`, once to map and list it after ELDU. For that the
    /// page is allocated before the first look whenever the page table does
    /// not map the address (a fault then nearly always needs one); the rare
    /// fault that did not need it (another thread loaded the page
    /// meanwhile) frees it on the way out.
    fn fault_loop(
        &self,
        addr: LinearAddress,
        write: bool,
        permit: &mut ReclaimPermit,
        spare: &mut Vec<EpcPage>,
    ) -> Result<(), EnclaveError> {
        loop {
            self.check_alive()?;
            if spare.is_empty() && !self.pt.is_mapped(addr) {
                // No lock held: this may reclaim, even from this enclave. A
                // failure is not final: the page may not be needed, and if
                // it is, the allocation below reports the error.
                if let Ok(page) = self.alloc_reclaiming(permit) {
                    spare.push(page);
                }
            }
            let reload = match self.look(addr, write, permit, spare)? {
                Look::Nothing => return Ok(()),
                Look::Wait => {
                    bump(&self.cells.busy_retries);
                    std::thread::yield_now();
                    continue;
                }
                Look::Pages(needed) => {
                    while spare.len() < needed {
                        spare.push(self.alloc_reclaiming(permit)?);
                    }
                    continue;
                }
                Look::Load(reload) => reload,
                Look::Kill(reason) => {
                    self.kill(reason);
                    self.check_alive()?;
                    continue;
                }
            };
            match self.load(addr, reload, permit, spare) {
                Load::Done => return Ok(()),
                // Torn down while loading: look again (and find it dead).
                Load::Again => {}
                Load::Kill(reason) => {
                    self.kill(reason);
                    self.check_alive()?;
                }
            }
        }
    }

    /// The first look, under the page's shard lock: the access is checked
    /// against the page's record; a resident page is mapped; an evicted
    /// one, if a page is at hand and the SECS is resident (the gate lets
    /// the fault in as a child, which keeps the SECS there), is marked
    /// `Loading`. Only if the SECS is evicted, or being evicted this
    /// instant, does the fault take the enclave lock (`look_locked`).
    fn look(
        &self,
        addr: LinearAddress,
        write: bool,
        permit: &mut ReclaimPermit,
        spare: &mut Vec<EpcPage>,
    ) -> Result<Look, EnclaveError> {
        let n = addr.page_number();
        {
            let mut shard = self.lock_page(n, permit);
            // Teardown may have removed the page since the caller looked.
            self.check_alive()?;
            let rec = shard.get_mut(&n).ok_or(EnclaveError::AccessViolation {
                addr,
                why: "no enclave page at this address",
            })?;
            if let Some(look) = self.settled(rec, addr, write)? {
                return Ok(look);
            }
            if spare.is_empty() {
                return Ok(Look::Pages(1));
            }
            if let Some(secs) = self.gate.enter() {
                return Ok(Look::Load(start_load(rec, EpcPageId(secs), spare)));
            }
        }
        self.look_locked(addr, write, permit, spare)
    }

    /// The first look under the enclave lock (then the shard lock), where
    /// the SECS cannot change: reload it first if it was evicted.
    fn look_locked(
        &self,
        addr: LinearAddress,
        write: bool,
        permit: &mut ReclaimPermit,
        spare: &mut Vec<EpcPage>,
    ) -> Result<Look, EnclaveError> {
        let n = addr.page_number();
        let mut inner = self.lock(permit);
        let mut shard = self.pages.lock(n);
        self.check_alive()?;
        let rec = shard.get_mut(&n).ok_or(EnclaveError::AccessViolation {
            addr,
            why: "no enclave page at this address",
        })?;
        if let Some(look) = self.settled(rec, addr, write)? {
            return Ok(look);
        }
        let needed = 1 + usize::from(!matches!(inner.secs, SecsState::Resident(_)));
        if spare.len() < needed {
            return Ok(Look::Pages(needed));
        }
        if let SecsState::Evicted { .. } = inner.secs {
            if let Some(reason) = self.reload_secs(&mut inner, addr, spare) {
                return Ok(Look::Kill(reason));
            }
        }
        let SecsState::Resident(secs) = &inner.secs else {
            unreachable!("reloaded above")
        };
        // Counted as a child from now on, so the SECS stays resident.
        self.gate.add_child();
        Ok(Look::Load(start_load(rec, secs.id(), spare)))
    }

    /// What the record alone decides: the access is refused, the page is
    /// resident (mapped now if it was not), or someone else holds it.
    /// `None` if it is evicted.
    fn settled(
        &self,
        rec: &PageRecord,
        addr: LinearAddress,
        write: bool,
    ) -> Result<Option<Look>, EnclaveError> {
        if write
            && rec.secinfo.page_type == epc_hw::PageType::Reg
            && !rec.secinfo.perms.contains(Perms::W)
        {
            return Err(EnclaveError::AccessViolation {
                addr,
                why: "write to a page without write permission",
            });
        }
        match &rec.residency {
            Residency::Resident { page, .. } => {
                // Resident: map it unless the entry already names this
                // page. An entry naming another page (a corrupted page
                // table, or a stale one) is rewritten; returning with it
                // in place would fault again forever.
                let right = self
                    .pt
                    .translate(addr)
                    .is_some_and(|pte| pte.page == page.id());
                if !right {
                    self.pt
                        .map(addr, page.id(), rec.secinfo.perms.contains(Perms::W));
                }
                Ok(Some(Look::Nothing))
            }
            Residency::Reclaiming { .. } | Residency::Loading => Ok(Some(Look::Wait)),
            Residency::Evicted { .. } => Ok(None),
        }
    }

    /// ELDU (the crypto) without any lock; then, under the shard lock, the
    /// page is mapped and listed. Returns the reason to kill the enclave if
    /// the reload failed its integrity check.
    fn load(
        &self,
        addr: LinearAddress,
        reload: Reload,
        permit: &mut ReclaimPermit,
        spare: &mut Vec<EpcPage>,
    ) -> Load {
        let n = addr.page_number();
        let Reload {
            page,
            sealed,
            slot,
            secs,
        } = reload;

        let result = self
            .machine
            .eldu(page.id(), addr, &sealed, Some(secs), slot);

        if let Err(e) = result {
            let mut shard = self.lock_page(n, permit);
            let rec = shard.get_mut(&n).expect("a loading page keeps its record");
            rec.residency = Residency::Evicted { sealed, slot };
            drop(shard);
            self.gate.remove_child();
            spare.push(page);
            return Load::Kill(self.reload_kill(e, addr));
        }
        bump(&self.cells.eldu);
        // The VA slot and the backing copy are released at once (Linux once
        // leaked backing pages here until machines ran out of memory).
        drop(sealed);
        self.va.lock().free(slot);
        self.evicted.fetch_sub(1, Ordering::SeqCst);
        let mut shard = self.lock_page(n, permit);
        // Teardown sets the flag before it looks at any shard: if it passed
        // this page (it was loading), the flag is seen here.
        if self.tearing_down.load(Ordering::SeqCst) {
            // Destroyed while loading: remove the page at once, before the
            // record goes (the last record gone lets the SECS go).
            self.remove_epc_page(secs, page.id());
            shard.remove(&n);
            drop(shard);
            self.gate.remove_child();
            spare.push(page);
            let mut inner = self.lock(permit);
            self.maybe_finish(&mut inner);
            return Load::Again;
        }
        let rec = shard.get_mut(&n).expect("a loading page keeps its record");
        let writable = rec.secinfo.perms.contains(Perms::W);
        let pinned = rec.pins > 0;
        self.pt.map(addr, page.id(), writable);
        let listed = !pinned && self.mark(&page, addr);
        rec.residency = Residency::Resident { page, listed };
        Load::Done
    }

    /// ELDU of the SECS, under the enclave lock, before any child can come
    /// back; the gate shows it once it is resident.
    pub(crate) fn reload_secs(
        &self,
        inner: &mut crate::state::Inner,
        addr: LinearAddress,
        spare: &mut Vec<EpcPage>,
    ) -> Option<KillReason> {
        let page = spare.pop().expect("a page was allocated for the SECS");
        let SecsState::Evicted { sealed, slot } =
            std::mem::replace(&mut inner.secs, SecsState::Gone)
        else {
            unreachable!("called for an evicted SECS")
        };
        match self
            .machine
            .eldu(page.id(), LinearAddress(0), &sealed, None, slot)
        {
            Ok(()) => {
                bump(&self.cells.eldu);
                bump(&self.cells.secs_reloads);
                self.va.lock().free(slot);
                self.evicted.fetch_sub(1, Ordering::SeqCst);
                self.gate.show(page.id().0);
                inner.secs = SecsState::Resident(page);
                None
            }
            Err(e) => {
                inner.secs = SecsState::Evicted { sealed, slot };
                spare.push(page);
                Some(self.reload_kill(e, addr))
            }
        }
    }
}

/// Marks the evicted page of `rec` `Loading` (its caller counted it as a
/// child of the SECS at `secs`) and takes what ELDU needs.
fn start_load(rec: &mut PageRecord, secs: EpcPageId, spare: &mut Vec<EpcPage>) -> Reload {
    let Residency::Evicted { sealed, slot } =
        std::mem::replace(&mut rec.residency, Residency::Loading)
    else {
        unreachable!("called for an evicted page")
    };
    let page = spare.pop().expect("a page is at hand");
    Reload {
        page,
        sealed,
        slot,
        secs,
    }
}

impl Enclave {
    /// Why a failed reload kills the enclave: the EPC was lost, a poisoned
    /// VA page or SECS was read, the sealed copy failed its MAC (tampered or
    /// replayed), or another leaf error.
    fn reload_kill(&self, e: LeafError, page: LinearAddress) -> KillReason {
        let otherwise = match e {
            LeafError::Sgx(SgxError::MacCompareFail) => KillReason::Integrity { page },
            error => KillReason::Reload { page, error },
        };
        self.leaf_kill(e, page, otherwise)
    }
}
