//! Builders shared by the leaf-level tests (`leaves.rs`, `negative.rs`,
//! `proptest_leaves.rs`): a simple page table, page contents that are easy to
//! recognise, and a `TestEnclave` made of a SECS, one TCS with its SSA frame
//! and N REG pages of known content.

#![allow(dead_code)]

use epc_hw::*;
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Default ELRANGE base of test enclaves.
pub(crate) const BASE: LinearAddress = LinearAddress(0x4000_0000);
/// Default ELRANGE size of test enclaves: 256 pages.
pub(crate) const SIZE: u64 = 0x10_0000;

/// A machine with one EPC section of `pages` pages.
pub(crate) fn machine(pages: u32) -> Arc<Machine> {
    Machine::new(MachineConfig::with_pages(pages)).expect("machine")
}

/// A page whose every 8-byte word is derived from `seed` and its index, so
/// that two pages of different seeds never share a word in practice.
pub(crate) fn pattern(seed: u64) -> Box<[u8; 4096]> {
    let mut p = Box::new([0u8; 4096]);
    for (i, c) in p.chunks_exact_mut(8).enumerate() {
        let w = seed
            .wrapping_add(1)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(17)
            ^ (i as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03);
        c.copy_from_slice(&w.to_le_bytes());
    }
    p
}

/// A page table backed by a map, with one accessed bit per page. Its locks
/// are never held across a call into the machine, as the walk contract asks.
#[derive(Debug, Default)]
pub(crate) struct TestPageTable {
    ptes: Mutex<HashMap<u64, Pte>>,
    accessed: Mutex<HashSet<u64>>,
}

impl TestPageTable {
    pub(crate) fn new() -> Arc<TestPageTable> {
        Arc::new(TestPageTable::default())
    }

    pub(crate) fn map(&self, addr: LinearAddress, page: EpcPageId, writable: bool) {
        self.ptes
            .lock()
            .insert(addr.page().0, Pte { page, writable });
    }

    pub(crate) fn unmap(&self, addr: LinearAddress) -> Option<Pte> {
        self.ptes.lock().remove(&addr.page().0)
    }

    pub(crate) fn get(&self, addr: LinearAddress) -> Option<Pte> {
        self.ptes.lock().get(&addr.page().0).copied()
    }

    pub(crate) fn accessed(&self, addr: LinearAddress) -> bool {
        self.accessed.lock().contains(&addr.page().0)
    }

    pub(crate) fn clear_accessed(&self) {
        self.accessed.lock().clear();
    }
}

impl PageTable for TestPageTable {
    fn translate(&self, page: LinearAddress) -> Option<Pte> {
        self.ptes.lock().get(&page.0).copied()
    }

    fn mark_accessed(&self, page: LinearAddress) {
        self.accessed.lock().insert(page.0);
    }
}

/// An enclave built from consecutive EPC pages starting at `first`:
/// `first` is the SECS, `first + 1` the TCS (at `base`), `first + 2` its
/// single SSA frame (at `base + 0x1000`), and `first + 3 + i` REG page `i`
/// (RW, at `base + (2 + i) * 0x1000`, content `content(i)`). Every page is
/// mapped writable in `pt`.
#[derive(Debug)]
pub(crate) struct TestEnclave {
    pub(crate) machine: Arc<Machine>,
    pub(crate) secs: EpcPageId,
    pub(crate) eid: EnclaveId,
    pub(crate) base: LinearAddress,
    pub(crate) size: u64,
    pub(crate) tcs: LinearAddress,
    pub(crate) tcs_page: EpcPageId,
    pub(crate) ssa: LinearAddress,
    pub(crate) ssa_page: EpcPageId,
    pub(crate) pages: Vec<EpcPageId>,
    pub(crate) pt: Arc<TestPageTable>,
}

impl TestEnclave {
    /// Builds and initializes the enclave.
    pub(crate) fn build(machine: &Arc<Machine>, first: u32, base: LinearAddress, n: u32) -> Self {
        let e = TestEnclave::build_uninit(machine, first, base, n);
        machine.einit(e.secs).expect("EINIT");
        e
    }

    /// Builds the enclave without EINIT.
    pub(crate) fn build_uninit(
        machine: &Arc<Machine>,
        first: u32,
        base: LinearAddress,
        n: u32,
    ) -> Self {
        let secs = EpcPageId(first);
        let eid = machine.ecreate(secs, base, SIZE).expect("ECREATE");
        let pt = TestPageTable::new();
        let tcs = base;
        let ssa = base.add(PAGE_SIZE);
        let (tcs_page, ssa_page) = (EpcPageId(first + 1), EpcPageId(first + 2));
        let tcs_content = Tcs {
            ossa: PAGE_SIZE,
            nssa: 1,
            oentry: 0,
        }
        .to_page();
        machine
            .eadd(tcs_page, secs, tcs, SecInfo::tcs(), &tcs_content)
            .expect("EADD TCS");
        machine
            .eadd(ssa_page, secs, ssa, SecInfo::reg(Perms::RW), &[0u8; 4096])
            .expect("EADD SSA");
        pt.map(tcs, tcs_page, true);
        pt.map(ssa, ssa_page, true);
        let mut e = TestEnclave {
            machine: machine.clone(),
            secs,
            eid,
            base,
            size: SIZE,
            tcs,
            tcs_page,
            ssa,
            ssa_page,
            pages: Vec::new(),
            pt,
        };
        for i in 0..n {
            let page = EpcPageId(first + 3 + i);
            let addr = e.addr(i as usize);
            machine
                .eadd(
                    page,
                    secs,
                    addr,
                    SecInfo::reg(Perms::RW),
                    &e.content(i as usize),
                )
                .expect("EADD REG");
            e.pt.map(addr, page, true);
            e.pages.push(page);
        }
        e
    }

    /// The linear address of REG page `i`.
    pub(crate) fn addr(&self, i: usize) -> LinearAddress {
        self.base.add((2 + i as u64) * PAGE_SIZE)
    }

    /// The content REG page `i` was added with.
    pub(crate) fn content(&self, i: usize) -> Box<[u8; 4096]> {
        pattern(self.base.0 ^ ((i as u64) << 4))
    }

    /// A new logical processor entered at the TCS.
    pub(crate) fn enter(&self) -> LogicalProcessor {
        let mut lp = self.machine.new_lp().expect("new LP");
        lp.eenter(self.tcs, self.pt.clone()).expect("EENTER");
        lp
    }

    /// Reads the page at `addr` through a fresh logical processor (enter,
    /// read, exit).
    pub(crate) fn read_page(&self, addr: LinearAddress) -> Result<Box<[u8; 4096]>, LpError> {
        let mut lp = self.enter();
        let mut buf = Box::new([0u8; 4096]);
        let r = lp.read_page(addr, &mut buf);
        if lp.is_inside() {
            lp.eexit().expect("EEXIT");
        }
        r.map(|()| buf)
    }

    /// EBLOCK, ETRACK and EWB of `page` into `slot`, with no LP inside.
    pub(crate) fn evict(&self, page: EpcPageId, slot: VaSlot) -> (SealedPage, LinearAddress) {
        let m = &self.machine;
        assert_eq!(m.eblock(page).expect("EBLOCK").warning, None);
        m.etrack(self.secs).expect("ETRACK");
        let mut sealed = SealedPage::new();
        let done = m.ewb(page, slot, &mut sealed).expect("EWB");
        assert_eq!(done.warning, None);
        (sealed, done.value)
    }
}

/// A VA slot.
pub(crate) fn slot(page: EpcPageId, slot: u16) -> VaSlot {
    VaSlot { page, slot }
}

/// A fault as a leaf error.
pub(crate) fn pf(operand: Operand, cause: PfCause) -> LeafError {
    LeafError::Fault(Fault::PageFault { operand, cause })
}

/// A #GP as a leaf error.
pub(crate) fn gp(cause: GpCause) -> LeafError {
    LeafError::Fault(Fault::GeneralProtection(cause))
}

/// An SGX error code as a leaf error.
pub(crate) fn sgx(e: SgxError) -> LeafError {
    LeafError::Sgx(e)
}

/// Everything observable of the machine's state for the given pages: the
/// EPCM entries and what is known of each resident enclave. Compared before
/// and after a failing leaf to show it changed nothing.
pub(crate) fn snapshot(
    m: &Machine,
    pages: u32,
) -> (Vec<Option<EpcmEntry>>, Vec<Option<EnclaveInfo>>) {
    let ids = (0..pages).map(EpcPageId);
    (
        ids.clone().map(|p| m.epcm(p)).collect(),
        ids.map(|p| m.enclave_info(p)).collect(),
    )
}

/// Runs `f` (a leaf expected to fail) and asserts that it changed nothing
/// among the first `pages` EPC pages and their enclaves, and that the
/// machine is still valid.
pub(crate) fn assert_no_change<T>(m: &Machine, pages: u32, f: impl FnOnce() -> T) -> T {
    let before = snapshot(m, pages);
    let r = f();
    assert_eq!(snapshot(m, pages), before, "a failing leaf changed state");
    m.validate().expect("valid after a failing leaf");
    r
}
