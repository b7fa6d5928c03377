//! Loom models of the races that matter, run against the shipped code
//! through its `sync` module (see `loom.sh`):
//!
//! * free (enclave teardown) against reclaim of the same page;
//! * the owner reference dropped before the page returns to the free list:
//!   a thread that allocates the page must find its old owner gone;
//! * a group charge, an uncharge and a limit write racing: no charge passes
//!   the limit it could see, and usage always equals the pages held (the
//!   uncharge is a free whose charge goes to the group's reserve);
//! * a free into one group's reserve against a sibling's charge that meets
//!   their parent's limit and drains that reserve.
#![cfg(loom)]

use epc_hw::{EpcPageId, NodeId};
use epc_mm::{
    AllocError, AllocMode, BlockOutcome, EpcManager, EpcPage, FreeError, GroupLimits,
    ManagerConfig, OwnerId, PageKey, PageOwner, PolicyKind, ReclaimPermit, Tracked, WriteOutcome,
};
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Mutex;
use std::sync::{Arc, Weak};

const KEY: PageKey = PageKey::new(OwnerId(1), 0x1000);

/// An owner of one page.
struct Owner {
    mgr: Arc<EpcManager>,
    handle: Mutex<Option<EpcPage>>,
    dead: AtomicBool,
    dropped: Arc<AtomicBool>,
}

impl Owner {
    /// Enclave teardown: free the page unless the reclaimer holds it.
    fn teardown(&self) {
        self.dead.store(true, Ordering::SeqCst);
        let mut slot = self.handle.lock().unwrap();
        if let Some(page) = slot.take() {
            match self.mgr.free(page) {
                Ok(()) => {}
                Err(FreeError::Busy(page)) => *slot = Some(page),
                Err(e) => panic!("{e}"),
            }
        }
    }

    fn take(&self, page: EpcPageId) -> EpcPage {
        let h = self.handle.lock().unwrap().take().expect("handle held");
        assert_eq!(h.id(), page);
        h
    }
}

impl PageOwner for Owner {
    fn age(&self, _key: PageKey) -> bool {
        false
    }

    fn block(&self, _key: PageKey, page: EpcPageId) -> BlockOutcome {
        if self.dead.load(Ordering::SeqCst) {
            BlockOutcome::Abandoned(self.take(page))
        } else {
            BlockOutcome::Blocked
        }
    }

    fn track(&self) {}

    fn write(&self, _key: PageKey, page: EpcPageId, _tracked: &Tracked) -> WriteOutcome {
        WriteOutcome::Written(self.take(page))
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        // First: from here the page may be reused.
        self.dropped.store(true, Ordering::SeqCst);
        self.teardown();
    }
}

/// A deterministic one-page manager (no ksgxd thread: the model's threads
/// are the reclaimers) and an owner holding the page, marked reclaimable.
fn setup() -> (Arc<EpcManager>, Arc<Owner>, Arc<AtomicBool>) {
    let mut cfg = ManagerConfig::with_pages(1).deterministic();
    cfg.batch = 1;
    let mgr = Arc::new(EpcManager::new(cfg).unwrap());
    let dropped = Arc::new(AtomicBool::new(false));
    let owner = Arc::new(Owner {
        mgr: Arc::clone(&mgr),
        handle: Mutex::new(None),
        dead: AtomicBool::new(false),
        dropped: Arc::clone(&dropped),
    });
    let page = mgr.alloc(NodeId(0), AllocMode::NoReclaim).unwrap();
    let weak: Weak<dyn PageOwner> = Arc::downgrade(&owner) as Weak<dyn PageOwner>;
    let mut slot = owner.handle.lock().unwrap();
    mgr.mark_reclaimable(&page, KEY, weak).unwrap();
    *slot = Some(page);
    drop(slot);
    (mgr, owner, dropped)
}

#[test]
fn free_against_reclaim_of_the_same_page() {
    loom::model(|| {
        let (mgr, owner, _dropped) = setup();
        let o = Arc::clone(&owner);
        let teardown = loom::thread::spawn(move || o.teardown());
        let m = Arc::clone(&mgr);
        let reclaim = loom::thread::spawn(move || {
            m.reclaim_batch(&mut ReclaimPermit::new());
        });
        teardown.join().unwrap();
        reclaim.join().unwrap();
        // Whoever won, the page is free exactly once and nothing is held.
        assert!(owner.handle.lock().unwrap().is_none());
        assert_eq!(mgr.free_pages(), 1);
        mgr.validate().unwrap();
        let c = mgr.counters();
        assert_eq!(c.reclaimable_pages + c.isolated_pages, 0);
    });
}

#[test]
fn owner_reference_dropped_before_the_page_is_free() {
    loom::model(|| {
        let (mgr, owner, dropped) = setup();
        let weak = Arc::downgrade(&owner);
        let user_gone = Arc::new(AtomicBool::new(false));
        let gone = Arc::clone(&user_gone);
        // The enclave's user lets go while reclaim may be running.
        let user = loom::thread::spawn(move || {
            drop(owner);
            gone.store(true, Ordering::SeqCst);
        });
        let m = Arc::clone(&mgr);
        let reclaim = loom::thread::spawn(move || {
            m.reclaim_batch(&mut ReclaimPermit::new());
        });
        // Whoever allocates the page must find that the reclaimer holds no
        // reference to its old owner: at most the user's own is left.
        if let Ok(page) = mgr.alloc(NodeId(0), AllocMode::NoReclaim) {
            let user_has_dropped = user_gone.load(Ordering::SeqCst);
            let references = weak.strong_count();
            let allowed = usize::from(!user_has_dropped);
            assert!(
                references <= allowed,
                "page reused while the reclaimer held its old owner \
                 ({references} references, user dropped: {user_has_dropped})"
            );
            // Loom sees the pipeline's reference only when it is the last
            // one (then dropping it runs the owner's Drop, a loom event).
            assert!(
                !user_has_dropped || dropped.load(Ordering::SeqCst),
                "page reused before its old owner's last reference was dropped"
            );
            mgr.free(page).unwrap();
        }
        user.join().unwrap();
        reclaim.join().unwrap();
        assert!(dropped.load(Ordering::SeqCst));
        assert_eq!(mgr.free_pages(), 1);
        mgr.validate().unwrap();
    });
}

#[test]
fn charge_uncharge_and_limit_write_racing() {
    loom::model(|| {
        let mgr = Arc::new(EpcManager::new(ManagerConfig::with_pages(4).deterministic()).unwrap());
        let a = mgr
            .create_group("/a", GroupLimits::max(2), PolicyKind::Fifo)
            .unwrap();
        let held = mgr.alloc_in(a, NodeId(0), AllocMode::NoReclaim).unwrap();
        let m = Arc::clone(&mgr);
        let charge = loom::thread::spawn(move || m.alloc_in(a, NodeId(0), AllocMode::NoReclaim));
        let m = Arc::clone(&mgr);
        let write = loom::thread::spawn(move || m.set_max(a, Some(0)).unwrap());
        // The uncharge, on the model's main thread.
        mgr.free(held).unwrap();
        let got = charge.join().unwrap();
        write.join().unwrap();
        // Nothing is reclaimable, so a refused charge is "no memory".
        assert!(matches!(got, Ok(_) | Err(AllocError::NoMemory)), "{got:?}");
        assert_eq!(
            mgr.group_stats(a).unwrap().current,
            usize::from(got.is_ok())
        );
        // Usage recounted from page ownership, and above the new limit only
        // if the limit write saw the charge.
        mgr.validate().unwrap();
        if let Ok(page) = got {
            mgr.free(page).unwrap();
        }
        assert_eq!(mgr.group_stats(a).unwrap().current, 0);
        mgr.validate().unwrap();
    });
}

#[test]
fn reserve_free_and_sibling_charge_at_the_parent_limit_racing() {
    loom::model(|| {
        let mgr = Arc::new(EpcManager::new(ManagerConfig::with_pages(4).deterministic()).unwrap());
        let p = mgr
            .create_group("/p", GroupLimits::max(1), PolicyKind::Fifo)
            .unwrap();
        let x = mgr
            .create_group("/p/x", GroupLimits::UNLIMITED, PolicyKind::Fifo)
            .unwrap();
        let y = mgr
            .create_group("/p/y", GroupLimits::UNLIMITED, PolicyKind::Fifo)
            .unwrap();
        let held = mgr.alloc_in(x, NodeId(0), AllocMode::NoReclaim).unwrap();
        let m = Arc::clone(&mgr);
        // The free keeps the charge in x's reserve.
        let free = loom::thread::spawn(move || m.free(held).unwrap());
        let got = mgr.alloc_in(y, NodeId(0), AllocMode::NoReclaim);
        free.join().unwrap();
        // Either the charge met x's page in use (nothing reclaimable: no
        // memory), or it took x's reserve back and charged.
        assert!(matches!(got, Ok(_) | Err(AllocError::NoMemory)), "{got:?}");
        let s = mgr.group_stats(p).unwrap();
        assert_eq!(s.current, usize::from(got.is_ok()));
        assert!(s.peak <= 1, "peak {} above the limit", s.peak);
        mgr.validate().unwrap();
        if let Ok(page) = got {
            mgr.free(page).unwrap();
        }
        assert_eq!(mgr.group_stats(p).unwrap().current, 0);
        mgr.validate().unwrap();
    });
}
