//! A mock page owner for the manager's tests: it keeps its pages' handles
//! by address, simulated accessed bits, a log of the pipeline's calls, and
//! switches to make it decline, fail a write, or be torn down mid-batch.
#![allow(dead_code)]

use epc_hw::{EpcPageId, NodeId};
use epc_mm::{
    AllocError, AllocMode, BlockOutcome, EpcManager, EpcPage, FreeError, GroupId, OwnerId, PageKey,
    PageOwner, Tracked, WriteOutcome,
};
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

/// One call the pipeline made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Call {
    Age(u64),
    Block(u64),
    Track,
    Write(u64),
}

type Hook = Box<dyn FnMut(&MockOwner, u64) + Send>;

pub(crate) struct MockOwner {
    pub(crate) id: OwnerId,
    pub(crate) mgr: Arc<EpcManager>,
    me: Weak<MockOwner>,
    pub(crate) pages: Mutex<HashMap<u64, EpcPage>>,
    pub(crate) accessed: Mutex<HashSet<u64>>,
    pub(crate) dead: AtomicBool,
    pub(crate) log: Mutex<Vec<Call>>,
    pub(crate) decline: Mutex<HashSet<u64>>,
    /// Declines every page ksgxd tries (direct reclaim still succeeds).
    pub(crate) decline_ksgxd: AtomicBool,
    pub(crate) fail_write: Mutex<HashSet<u64>>,
    pub(crate) evicted: Mutex<Vec<u64>>,
    /// The `Tracked` proof of each write, in order.
    pub(crate) proofs: Mutex<Vec<Tracked>>,
    /// Runs inside `block`, before the owner answers.
    pub(crate) on_block: Mutex<Option<Hook>>,
    /// Runs first thing in `drop`.
    pub(crate) on_drop: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl std::fmt::Debug for MockOwner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MockOwner({})", self.id.0)
    }
}

impl MockOwner {
    pub(crate) fn new(mgr: &Arc<EpcManager>, id: u64) -> Arc<Self> {
        Arc::new_cyclic(|me| MockOwner {
            id: OwnerId(id),
            mgr: Arc::clone(mgr),
            me: me.clone(),
            pages: Mutex::new(HashMap::new()),
            accessed: Mutex::new(HashSet::new()),
            dead: AtomicBool::new(false),
            log: Mutex::new(Vec::new()),
            decline: Mutex::new(HashSet::new()),
            decline_ksgxd: AtomicBool::new(false),
            fail_write: Mutex::new(HashSet::new()),
            evicted: Mutex::new(Vec::new()),
            proofs: Mutex::new(Vec::new()),
            on_block: Mutex::new(None),
            on_drop: Mutex::new(None),
        })
    }

    pub(crate) fn key(&self, addr: u64) -> PageKey {
        PageKey::new(self.id, addr)
    }

    /// Allocates a page for `addr`, keeps its handle and marks it
    /// reclaimable (no owner lock is held while allocating).
    pub(crate) fn add(&self, addr: u64, mode: AllocMode<'_>) -> Result<EpcPageId, AllocError> {
        let page = self.mgr.alloc(NodeId(0), mode)?;
        let id = page.id();
        self.adopt(addr, page);
        Ok(id)
    }

    /// As [`add`](Self::add), charged to `group`.
    pub(crate) fn add_in(
        &self,
        group: GroupId,
        addr: u64,
        mode: AllocMode<'_>,
    ) -> Result<EpcPageId, AllocError> {
        let page = self.mgr.alloc_in(group, NodeId(0), mode)?;
        let id = page.id();
        self.adopt(addr, page);
        Ok(id)
    }

    /// Takes an already allocated page for `addr` and marks it.
    pub(crate) fn adopt(&self, addr: u64, page: EpcPage) {
        // Marked under the owner's lock, with the handle already where
        // block/write look for it: the reclaimer may take the page at once.
        let weak: Weak<dyn PageOwner> = self.me.clone();
        let mut pages = self.pages.lock();
        self.mgr
            .mark_reclaimable(&page, self.key(addr), weak)
            .expect("mark");
        pages.insert(addr, page);
    }

    /// Takes `addr`'s page off the reclaimable list (it stays resident).
    pub(crate) fn unmark(&self, addr: u64) -> bool {
        let pages = self.pages.lock();
        pages
            .get(&addr)
            .is_some_and(|p| self.mgr.unmark_reclaimable(p).unwrap_or(false))
    }

    /// Sets the accessed bit, as an access through a TLB fill would.
    pub(crate) fn touch(&self, addr: u64) {
        self.accessed.lock().insert(addr);
    }

    pub(crate) fn resident(&self) -> usize {
        self.pages.lock().len()
    }

    /// Removes one page (EREMOVE + free); `false` if the reclaimer holds it.
    pub(crate) fn remove(&self, addr: u64) -> bool {
        let mut pages = self.pages.lock();
        let Some(page) = pages.remove(&addr) else {
            return true;
        };
        match self.mgr.free(page) {
            Ok(()) => true,
            Err(FreeError::Busy(page)) => {
                pages.insert(addr, page);
                false
            }
            Err(e) => panic!("free: {e}"),
        }
    }

    /// Enclave teardown: frees every page the reclaimer does not hold;
    /// returns how many were busy (left for block/write to hand back).
    pub(crate) fn teardown(&self) -> usize {
        self.dead.store(true, Ordering::SeqCst);
        let mut pages = self.pages.lock();
        let mut busy = HashMap::new();
        for (addr, page) in pages.drain() {
            match self.mgr.free(page) {
                Ok(()) => {}
                Err(FreeError::Busy(page)) => {
                    busy.insert(addr, page);
                }
                Err(e) => panic!("free: {e}"),
            }
        }
        let n = busy.len();
        *pages = busy;
        n
    }

    fn take(&self, addr: u64, page: EpcPageId) -> EpcPage {
        let handle = self
            .pages
            .lock()
            .remove(&addr)
            .expect("the reclaimer asked for a page the owner does not hold");
        assert_eq!(handle.id(), page);
        handle
    }
}

impl PageOwner for MockOwner {
    fn age(&self, key: PageKey) -> bool {
        self.log.lock().push(Call::Age(key.addr));
        self.accessed.lock().remove(&key.addr)
    }

    fn block(&self, key: PageKey, page: EpcPageId) -> BlockOutcome {
        self.log.lock().push(Call::Block(key.addr));
        let hook = self.on_block.lock().take();
        if let Some(mut hook) = hook {
            hook(self, key.addr);
            *self.on_block.lock() = Some(hook);
        }
        if self.dead.load(Ordering::SeqCst) {
            return BlockOutcome::Abandoned(self.take(key.addr, page));
        }
        if self.decline.lock().contains(&key.addr) {
            return BlockOutcome::Declined;
        }
        if self.decline_ksgxd.load(Ordering::SeqCst)
            && std::thread::current().name() == Some("ksgxd")
        {
            return BlockOutcome::Declined;
        }
        BlockOutcome::Blocked
    }

    fn track(&self) {
        self.log.lock().push(Call::Track);
    }

    fn write(&self, key: PageKey, page: EpcPageId, tracked: &Tracked) -> WriteOutcome {
        self.log.lock().push(Call::Write(key.addr));
        self.proofs.lock().push(*tracked);
        let handle = self.take(key.addr, page);
        if self.fail_write.lock().contains(&key.addr) {
            // Unrecoverable: the enclave is killed.
            self.dead.store(true, Ordering::SeqCst);
            return WriteOutcome::Failed(handle);
        }
        self.evicted.lock().push(key.addr);
        WriteOutcome::Written(handle)
    }
}

impl Drop for MockOwner {
    fn drop(&mut self) {
        if let Some(hook) = self.on_drop.lock().take() {
            hook();
        }
        // Teardown on the last reference, as the enclave layer does.
        for (_, page) in self.pages.lock().drain() {
            self.mgr
                .free(page)
                .expect("no page of a dropped owner is busy");
        }
    }
}

/// A deterministic manager of `pages` pages with the given batch.
pub(crate) fn det_manager(pages: u32, batch: usize) -> Arc<EpcManager> {
    let mut cfg = epc_mm::ManagerConfig::with_pages(pages).deterministic();
    cfg.batch = batch;
    Arc::new(EpcManager::new(cfg).expect("config"))
}

/// How long a liveness wait may take before the test fails (a bound, not a
/// timing assertion).
pub(crate) const DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

/// Waits until `cond` holds, failing after [`DEADLINE`].
pub(crate) fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting until {what}");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Waits until ksgxd is idle: no pages isolated, and the counters stable.
pub(crate) fn settle(mgr: &EpcManager) {
    let mut last = mgr.counters();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(20));
        let now = mgr.counters();
        if now == last && now.isolated_pages == 0 {
            return;
        }
        last = now;
    }
}
