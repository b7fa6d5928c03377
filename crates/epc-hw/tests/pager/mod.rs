//! A minimal OS for integration tests: one enclave, a lock-free page table,
//! a free list, VA slots and a sealed-page store, with eviction through the
//! architectural EBLOCK → ETRACK → EWB (→ IPI → EWB) sequence and reload by
//! ELDU. It is deliberately simple (one lock over the OS state) so that the
//! tests exercise the hardware model, not an OS design.

#![allow(dead_code, unreachable_pub)]

use epc_hw::*;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A page table of atomic entries: 0 unmapped, else `(epc + 1) << 1 | writable`,
/// plus one accessed bit per page. Never blocks, as the walk contract asks.
pub struct AtomicPageTable {
    base: u64,
    entries: Vec<AtomicU64>,
    accessed: Vec<AtomicU64>,
}

impl AtomicPageTable {
    pub fn new(base: LinearAddress, pages: usize) -> Self {
        AtomicPageTable {
            base: base.0,
            entries: (0..pages).map(|_| AtomicU64::new(0)).collect(),
            accessed: (0..pages).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn index(&self, page: LinearAddress) -> Option<usize> {
        let i = (page.0.checked_sub(self.base)? / PAGE_SIZE) as usize;
        (i < self.entries.len()).then_some(i)
    }

    pub fn map(&self, page: LinearAddress, epc: EpcPageId, writable: bool) {
        let i = self.index(page).expect("mapped inside the table");
        self.entries[i].store(
            ((u64::from(epc.0) + 1) << 1) | u64::from(writable),
            Ordering::SeqCst,
        );
    }

    pub fn unmap(&self, page: LinearAddress) {
        let i = self.index(page).expect("unmapped inside the table");
        self.entries[i].store(0, Ordering::SeqCst);
    }

    pub fn test_and_clear_accessed(&self, page: LinearAddress) -> bool {
        let i = self.index(page).expect("inside the table");
        self.accessed[i].swap(0, Ordering::SeqCst) != 0
    }
}

impl PageTable for AtomicPageTable {
    fn translate(&self, page: LinearAddress) -> Option<Pte> {
        let v = self.entries[self.index(page)?].load(Ordering::SeqCst);
        (v != 0).then(|| Pte {
            page: EpcPageId(((v >> 1) - 1) as u32),
            writable: v & 1 != 0,
        })
    }

    fn mark_accessed(&self, page: LinearAddress) {
        if let Some(i) = self.index(page) {
            self.accessed[i].store(1, Ordering::SeqCst);
        }
    }
}

enum PageState {
    Resident(EpcPageId),
    Evicted { sealed: SealedPage, slot: VaSlot },
}

struct OsState {
    free: Vec<EpcPageId>,
    free_slots: Vec<VaSlot>,
    pages: HashMap<u64, PageState>,
    /// Pages that may be evicted (the data pages, not TCS or SSA).
    evictable: Vec<u64>,
    rng: u64,
}

/// Counters of what the OS had to do.
#[derive(Default, Debug)]
pub struct OsCounters {
    pub evictions: AtomicU64,
    pub reloads: AtomicU64,
    pub not_tracked: AtomicU64,
    pub ipis: AtomicU64,
}

/// One enclave and the OS state around it.
pub struct Pager {
    pub machine: Arc<Machine>,
    pub secs: EpcPageId,
    pub base: LinearAddress,
    pub pt: Arc<AtomicPageTable>,
    pub tcs: Vec<LinearAddress>,
    pub data_pages: u64,
    pub counters: OsCounters,
    state: Mutex<OsState>,
}

/// Page `i`'s address in the data area.
pub fn data_addr(base: LinearAddress, i: u64) -> LinearAddress {
    base.add(i * PAGE_SIZE)
}

impl Pager {
    /// An enclave with `data_pages` REG pages (filled by `content(i)`),
    /// `threads` TCS pages each with one SSA frame, on an EPC of `epc_pages`.
    /// Data pages that do not fit are evicted while the enclave is built.
    pub fn build(
        epc_pages: u32,
        tlb_entries: usize,
        data_pages: u64,
        threads: u64,
        content: impl Fn(u64) -> Box<[u8; 4096]>,
    ) -> Pager {
        let mut cfg = MachineConfig::with_pages(epc_pages);
        cfg.tlb_entries = tlb_entries;
        let machine = Machine::new(cfg).unwrap();
        let total_pages = data_pages + 2 * threads;
        let size = (total_pages * PAGE_SIZE)
            .next_power_of_two()
            .max(2 * PAGE_SIZE);
        let base = LinearAddress(size);
        let secs = EpcPageId(0);
        machine.ecreate(secs, base, size).unwrap();
        // One VA page per 512 slots needed (every page may be evicted once).
        let va_pages = (total_pages as u32).div_ceil(512);
        let mut free_slots = Vec::new();
        for v in 0..va_pages {
            let va = EpcPageId(1 + v);
            machine.epa(va).unwrap();
            free_slots.extend((0..VA_SLOTS_PER_PAGE).map(|s| VaSlot { page: va, slot: s }));
        }
        let free: Vec<EpcPageId> = (1 + va_pages..epc_pages).rev().map(EpcPageId).collect();
        let pager = Pager {
            pt: Arc::new(AtomicPageTable::new(base, (size / PAGE_SIZE) as usize)),
            machine,
            secs,
            base,
            tcs: Vec::new(),
            data_pages,
            counters: OsCounters::default(),
            state: Mutex::new(OsState {
                free,
                free_slots,
                pages: HashMap::new(),
                evictable: Vec::new(),
                rng: 0x9e37_79b9_7f4a_7c15,
            }),
        };
        let mut pager = pager;
        for i in 0..data_pages {
            pager.add(i, SecInfo::reg(Perms::RW), &content(i), true);
        }
        for t in 0..threads {
            let tcs_i = data_pages + 2 * t;
            let ssa_i = tcs_i + 1;
            let tcs = Tcs {
                ossa: ssa_i * PAGE_SIZE,
                nssa: 1,
                oentry: 0,
            };
            pager.add(tcs_i, SecInfo::tcs(), &tcs.to_page(), false);
            pager.add(ssa_i, SecInfo::reg(Perms::RW), &[0u8; 4096], false);
            pager.tcs.push(data_addr(base, tcs_i));
        }
        pager.machine.einit(secs).unwrap();
        pager
    }

    fn add(&mut self, i: u64, secinfo: SecInfo, content: &[u8; 4096], evictable: bool) {
        let addr = data_addr(self.base, i);
        let epc = loop {
            if let Some(p) = self.state.lock().free.pop() {
                break p;
            }
            assert!(self.evict_one(), "no room to build the enclave");
        };
        self.machine
            .eadd(epc, self.secs, addr, secinfo, content)
            .unwrap();
        self.pt.map(addr, epc, secinfo.page_type == PageType::Reg);
        let mut st = self.state.lock();
        st.pages.insert(i, PageState::Resident(epc));
        if evictable {
            st.evictable.push(i);
        }
    }

    /// Evicts one random resident data page; false if none is resident.
    pub fn evict_one(&self) -> bool {
        let mut st = self.state.lock();
        let resident: Vec<u64> = st
            .evictable
            .iter()
            .copied()
            .filter(|i| matches!(st.pages.get(i), Some(PageState::Resident(_))))
            .collect();
        if resident.is_empty() {
            return false;
        }
        st.rng ^= st.rng << 13;
        st.rng ^= st.rng >> 7;
        st.rng ^= st.rng << 17;
        let victim = resident[(st.rng % resident.len() as u64) as usize];
        self.evict_locked(&mut st, &[victim]);
        true
    }

    /// Evicts up to `n` random resident data pages as one batch.
    pub fn evict_batch(&self, n: usize) -> usize {
        let mut st = self.state.lock();
        let mut resident: Vec<u64> = st
            .evictable
            .iter()
            .copied()
            .filter(|i| matches!(st.pages.get(i), Some(PageState::Resident(_))))
            .collect();
        let mut batch = Vec::new();
        while batch.len() < n && !resident.is_empty() {
            st.rng ^= st.rng << 13;
            st.rng ^= st.rng >> 7;
            st.rng ^= st.rng << 17;
            let k = (st.rng % resident.len() as u64) as usize;
            batch.push(resident.swap_remove(k));
        }
        self.evict_locked(&mut st, &batch);
        batch.len()
    }

    /// The architectural eviction sequence for a batch: unmap and EBLOCK
    /// every page, one ETRACK, then EWB each, with ETRACK and IPIs on
    /// SGX_NOT_TRACKED.
    fn evict_locked(&self, st: &mut OsState, batch: &[u64]) {
        let mut epcs = Vec::new();
        for &i in batch {
            let Some(PageState::Resident(epc)) = st.pages.get(&i) else {
                panic!("victim {i} not resident");
            };
            let epc = *epc;
            self.pt.unmap(data_addr(self.base, i));
            let done = self.machine.eblock(epc).unwrap();
            assert_eq!(done.warning, None);
            epcs.push((i, epc));
        }
        let _ = self.machine.etrack(self.secs);
        for (i, epc) in epcs {
            let slot = st.free_slots.pop().expect("a VA slot per page");
            let mut sealed = SealedPage::new();
            let mut tries = 0;
            loop {
                match self.machine.ewb(epc, slot, &mut sealed) {
                    Ok(done) => {
                        assert_eq!(done.warning, None);
                        assert_eq!(done.value, data_addr(self.base, i));
                        break;
                    }
                    Err(LeafError::Sgx(SgxError::NotTracked)) => {
                        self.counters.not_tracked.fetch_add(1, Ordering::Relaxed);
                        tries += 1;
                        assert!(tries < 100, "EWB never tracked");
                        if tries % 2 == 1 {
                            let _ = self.machine.etrack(self.secs);
                        } else {
                            self.machine.ipi_enclave(self.secs);
                            self.counters.ipis.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(e) => panic!("EWB of page {i}: {e}"),
                }
            }
            st.free.push(epc);
            st.pages.insert(i, PageState::Evicted { sealed, slot });
            self.counters.evictions.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Handles a page fault at `page`: reloads it if evicted (evicting
    /// another page when the EPC is full). Called outside enclave mode.
    pub fn handle_fault(&self, page: LinearAddress) {
        let i = (page.0 - self.base.0) / PAGE_SIZE;
        let mut st = self.state.lock();
        if matches!(st.pages.get(&i), Some(PageState::Resident(_))) {
            return; // another thread loaded it first
        }
        if st.free.is_empty() {
            let victim = st
                .evictable
                .iter()
                .copied()
                .find(|j| *j != i && matches!(st.pages.get(j), Some(PageState::Resident(_))))
                .expect("something to evict");
            self.evict_locked(&mut st, &[victim]);
        }
        let epc = st.free.pop().unwrap();
        let Some(PageState::Evicted { sealed, slot }) = st.pages.remove(&i) else {
            panic!("fault on page {i} that is neither resident nor evicted");
        };
        self.machine
            .eldu(epc, page, &sealed, Some(self.secs), slot)
            .unwrap();
        st.free_slots.push(slot);
        st.pages.insert(i, PageState::Resident(epc));
        self.pt.map(page, epc, true);
        self.counters.reloads.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether data page `i` is resident.
    pub fn is_resident(&self, i: u64) -> bool {
        matches!(
            self.state.lock().pages.get(&i),
            Some(PageState::Resident(_))
        )
    }

    /// Evicted pages as `(index, sealed)` copies (for tamper tests).
    pub fn free_pages(&self) -> usize {
        self.state.lock().free.len()
    }

    /// Runs `f` on an LP inside the enclave at TCS `t`, handling faults and
    /// IPIs as an OS would, until `f` succeeds.
    pub fn run<R>(
        &self,
        lp: &mut LogicalProcessor,
        mut f: impl FnMut(&mut LogicalProcessor) -> Result<R, LpError>,
    ) -> R {
        loop {
            match f(lp) {
                Ok(r) => return r,
                Err(LpError::PageFault(pf)) => {
                    self.handle_fault(pf.page);
                    self.resume(lp);
                }
                Err(LpError::Interrupted) => self.resume(lp),
                Err(e) => panic!("access failed: {e}"),
            }
        }
    }

    /// ERESUME, fixing faults on the TCS or SSA (they are never evicted
    /// here, so this only loops on IPIs racing the resume).
    pub fn resume(&self, lp: &mut LogicalProcessor) {
        loop {
            match lp.eresume() {
                Ok(()) => return,
                Err(LpError::PageFault(pf)) => self.handle_fault(pf.page),
                Err(e) => panic!("ERESUME failed: {e}"),
            }
        }
    }
}
