//! A key written out by a batch comes back (its owner faults it in again on
//! another page) before the batch has finished: the manager must accept the
//! new page under the same key and keep its books straight.

use epc_hw::{EpcPageId, NodeId};
use epc_mm::{
    AllocMode, BlockOutcome, EpcManager, EpcPage, ManagerConfig, OwnerId, PageKey, PageOwner,
    ReclaimPermit, Tracked, WriteOutcome,
};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::{Arc, Weak};

struct Owner {
    mgr: Arc<EpcManager>,
    me: Weak<Owner>,
    pages: Mutex<HashMap<u64, EpcPage>>,
    remarked: Mutex<Option<Result<(), epc_mm::ListError>>>,
}

impl Owner {
    fn key(addr: u64) -> PageKey {
        PageKey::new(OwnerId(1), addr)
    }

    fn add(&self, addr: u64) {
        let page = self.mgr.alloc(NodeId(0), AllocMode::NoReclaim).unwrap();
        let me: Weak<dyn PageOwner> = self.me.clone();
        self.mgr
            .mark_reclaimable(&page, Owner::key(addr), me)
            .unwrap();
        self.pages.lock().insert(addr, page);
    }
}

impl PageOwner for Owner {
    fn age(&self, _key: PageKey) -> bool {
        false
    }

    fn block(&self, _key: PageKey, _page: EpcPageId) -> BlockOutcome {
        BlockOutcome::Blocked
    }

    fn track(&self) {}

    fn write(&self, key: PageKey, _page: EpcPageId, _tracked: &Tracked) -> WriteOutcome {
        let handle = self.pages.lock().remove(&key.addr).unwrap();
        if key.addr == 2 {
            // Page 1 was written just before: fault it back in now, while
            // the batch still holds its old page.
            let page = self.mgr.alloc(NodeId(0), AllocMode::NoReclaim).unwrap();
            let me: Weak<dyn PageOwner> = self.me.clone();
            let r = self.mgr.mark_reclaimable(&page, Owner::key(1), me);
            self.pages.lock().insert(1, page);
            *self.remarked.lock() = Some(r);
        }
        WriteOutcome::Written(handle)
    }
}

#[test]
fn a_key_can_come_back_before_its_batch_finishes() {
    let mut cfg = ManagerConfig::with_pages(8);
    cfg.deterministic = true;
    cfg.batch = 2;
    let mgr = Arc::new(EpcManager::new(cfg).unwrap());
    let owner = Arc::new_cyclic(|me| Owner {
        mgr: mgr.clone(),
        me: me.clone(),
        pages: Mutex::new(HashMap::new()),
        remarked: Mutex::new(None),
    });
    owner.add(1);
    owner.add(2);
    let report = mgr.reclaim_batch(&mut ReclaimPermit::new());
    assert_eq!(report.evicted, 2);
    assert_eq!(*owner.remarked.lock(), Some(Ok(())));
    mgr.validate().unwrap();
    let c = mgr.counters();
    assert_eq!(c.reclaimable_pages, 1, "page 1 is back on the list");
    // It can be reclaimed again, under the same key.
    assert_eq!(mgr.reclaim_batch(&mut ReclaimPermit::new()).evicted, 1);
    mgr.validate().unwrap();
    assert_eq!(mgr.free_pages(), 8);
}
