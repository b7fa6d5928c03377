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
//! A reload takes the enclave lock twice: the first look marks the page
//! `Loading` (the page to load it into was allocated before, see
//! `fault_loop`), and after ELDU the second maps and lists it.

use crate::counters::bump;
use crate::enclave::Enclave;
use crate::error::{EnclaveError, KillReason};
use crate::state::{Residency, SecsState};
use epc_hw::{
    EpcPageId, Event, LeafError, LinearAddress, PageTable, Perms, SealedPage, SgxError, VaSlot,
};
use epc_mm::{EpcPage, ReclaimPermit};

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

    /// The enclave lock is taken twice per reload: once to look and mark
    /// the page `Loading`, once to map and list it after ELDU. For that the
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

    /// The first look, under the lock: the access is checked against the
    /// page's record; a resident page is mapped; an evicted one, if enough
    /// pages are at hand, is marked `Loading` (the SECS reloaded first if it
    /// was evicted) and counted as a child, so the SECS stays.
    fn look(
        &self,
        addr: LinearAddress,
        write: bool,
        permit: &mut ReclaimPermit,
        spare: &mut Vec<EpcPage>,
    ) -> Result<Look, EnclaveError> {
        let n = addr.page_number();
        let mut inner = self.lock(permit);
        // Teardown may have removed the page since the caller looked.
        self.check_alive()?;
        let Some(rec) = inner.pages.get(&n) else {
            return Err(EnclaveError::AccessViolation {
                addr,
                why: "no enclave page at this address",
            });
        };
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
                return Ok(Look::Nothing);
            }
            Residency::Reclaiming { .. } | Residency::Loading => return Ok(Look::Wait),
            Residency::Evicted { .. } => {}
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
        let secs = secs.id();
        let rec = inner.pages.get_mut(&n).expect("checked above");
        let Residency::Evicted { sealed, slot } =
            std::mem::replace(&mut rec.residency, Residency::Loading)
        else {
            unreachable!("checked above")
        };
        // Counted as a child from now on, so the SECS stays resident.
        inner.children_in_epc += 1;
        let page = spare.pop().expect("enough pages checked above");
        Ok(Look::Load(Reload {
            page,
            sealed,
            slot,
            secs,
        }))
    }

    /// ELDU (the crypto) without the lock; then, under the lock, the page
    /// is mapped and listed. Returns the reason to kill the enclave if the
    /// reload failed its integrity check.
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

        let mut inner = self.lock(permit);
        if let Err(e) = result {
            let rec = inner
                .pages
                .get_mut(&n)
                .expect("a loading page keeps its record");
            rec.residency = Residency::Evicted { sealed, slot };
            inner.children_in_epc -= 1;
            spare.push(page);
            return Load::Kill(self.reload_kill(e, addr));
        }
        bump(&self.cells.eldu);
        // The VA slot and the backing copy are released at once (Linux once
        // leaked backing pages here until machines ran out of memory).
        drop(sealed);
        inner.va.free(slot);
        inner.evicted -= 1;
        if inner.tearing_down {
            // Destroyed while loading: remove the page at once.
            inner.pages.remove(&n);
            self.remove_epc_page(secs, page.id());
            inner.children_in_epc -= 1;
            spare.push(page);
            self.maybe_finish(&mut inner);
            return Load::Again;
        }
        let rec = &inner.pages[&n];
        let writable = rec.secinfo.perms.contains(Perms::W);
        let pinned = rec.pins > 0;
        self.pt.map(addr, page.id(), writable);
        let listed = !pinned && self.mark(&page, addr);
        let rec = inner.pages.get_mut(&n).expect("still there");
        rec.residency = Residency::Resident { page, listed };
        Load::Done
    }

    /// ELDU of the SECS, under the lock, before any child can come back.
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
                inner.va.free(slot);
                inner.evicted -= 1;
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
