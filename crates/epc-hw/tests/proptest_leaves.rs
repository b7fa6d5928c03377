//! Random sequences of ENCLS leaves, valid and invalid, interleaved with
//! EENTER/EEXIT/ERESUME, accesses and IPIs of two logical processors driven
//! from this thread. After every step nothing has panicked and
//! `Machine::validate` holds. Beside that, a small reference model checks
//! what it can predict exactly:
//!
//! * every successful ELDU of a REG page returns the exact content that was
//!   EWB'd (read back at once through a logical processor);
//! * an ELDU/ELDB with the right blob, slot, address and SECS into a free page
//!   succeeds, and one that succeeds had all of those right (so stale,
//!   replayed and misdirected blobs never load);
//! * EWB warns SGX_VA_SLOT_OCCUPIED exactly when the slot held a live version;
//! * the proper EBLOCK → ETRACK → IPI → EWB sequence always succeeds;
//! * every access that succeeds returns the last value written to that page
//!   (through the page table on a walk, through the modelled TLB on a hit),
//!   so no access ever reaches a freed or reused page;
//! * the SGX2 steps (`proptest_leaves/sgx2.rs`): EAUG, EMODPR and EMODT
//!   change the EPCM as the SDM says when they succeed, EACCEPT clears the
//!   SGX2 bits, EACCEPTCOPY copies what the model holds, EMODPE only adds
//!   rights, and the grow and trim flows always succeed (EREMOVE of the
//!   accepted TRIM page with threads inside).

mod common;
#[path = "proptest_leaves/sgx2.rs"]
mod sgx2;

use common::*;
use epc_hw::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// EPC pages of the machine; page ids up to `PAGES + 3` and `u32::MAX` are
/// generated too, to hit #PF(not EPC).
const PAGES: u32 = 40;
const BASE_A: LinearAddress = LinearAddress(0x4000_0000);
const BASE_B: LinearAddress = LinearAddress(0x8000_0000);
const BASES: [u64; 4] = [BASE_A.0, BASE_B.0, 0xC000_0000, 0];
/// Pages of the two checker TCSs and their SSA frames, which random leaves
/// leave alone so that an ELDU'd page can always be read back.
const PROTECTED: [u32; 4] = [9, 10, 16, 17];
/// Number of logical processors the random steps drive.
const LPS: usize = 2;

/// An enclave linear address, from a small pool so that steps meet.
#[derive(Clone, Copy, Debug)]
struct Addr {
    base: u8,
    page: u8,
    word: u16,
    misaligned: bool,
}

impl Addr {
    fn resolve(self) -> LinearAddress {
        let base = BASES[usize::from(self.base) % BASES.len()];
        LinearAddress(
            base + u64::from(self.page) * PAGE_SIZE
                + u64::from(self.word % 512) * 8
                + u64::from(self.misaligned),
        )
    }
}

#[derive(Clone, Debug)]
enum Op {
    Ecreate {
        page: u32,
        base: u8,
        size: u8,
    },
    Eadd {
        page: u32,
        secs: u32,
        addr: Addr,
        kind: u8,
        seed: u64,
    },
    Einit {
        secs: u32,
    },
    Epa {
        page: u32,
    },
    Eremove {
        page: u32,
    },
    Eblock {
        page: u32,
    },
    Etrack {
        secs: u32,
    },
    Ewb {
        page: u32,
        va: u32,
        slot: u16,
    },
    Load {
        blob: usize,
        dest: u32,
        right_slot: bool,
        va: u32,
        slot: u16,
        right_addr: bool,
        addr: Addr,
        secs_mode: u8,
        secs: u32,
        blocked: bool,
    },
    Evict {
        pick: usize,
    },
    EvictSecs {
        pick: usize,
    },
    Reload {
        pick: usize,
        blocked: bool,
    },
    Enter {
        lp: usize,
        tcs: u8,
        addr: Addr,
    },
    Exit {
        lp: usize,
    },
    Resume {
        lp: usize,
    },
    Access {
        lp: usize,
        addr: Addr,
        write: bool,
        value: u64,
    },
    Ipi {
        secs: u32,
    },
    Map {
        addr: Addr,
        page: u32,
        writable: bool,
        unmap: bool,
    },
    Sgx2(sgx2::Sgx2Op),
}

fn page_id() -> impl Strategy<Value = u32> {
    // A selector: most often resolved to a page of interest by the
    // harness, otherwise a raw id (see `Harness::page`).
    prop_oneof![
        20 => any::<u32>(),
        1 => Just(u32::MAX),
    ]
}

fn addr() -> impl Strategy<Value = Addr> {
    (0u8..4, 0u8..26, any::<u16>(), prop::bool::weighted(0.05)).prop_map(
        |(base, page, word, misaligned)| Addr {
            base,
            page,
            word,
            misaligned,
        },
    )
}

fn slot_index() -> impl Strategy<Value = u16> {
    prop_oneof![8 => 0u16..6, 1 => Just(511u16), 1 => 512u16..520, 1 => Just(u16::MAX)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (page_id(), any::<u8>(), any::<u8>()).prop_map(|(page, base, size)| Op::Ecreate { page, base, size }),
        3 => (page_id(), page_id(), addr(), any::<u8>(), any::<u64>())
            .prop_map(|(page, secs, addr, kind, seed)| Op::Eadd { page, secs, addr, kind, seed }),
        1 => page_id().prop_map(|secs| Op::Einit { secs }),
        2 => page_id().prop_map(|page| Op::Epa { page }),
        2 => page_id().prop_map(|page| Op::Eremove { page }),
        4 => page_id().prop_map(|page| Op::Eblock { page }),
        3 => page_id().prop_map(|secs| Op::Etrack { secs }),
        4 => (page_id(), page_id(), slot_index()).prop_map(|(page, va, slot)| Op::Ewb { page, va, slot }),
        5 => (
            any::<usize>(),
            page_id(),
            prop::bool::weighted(0.8),
            page_id(),
            slot_index(),
            prop::bool::weighted(0.8),
            addr(),
            0u8..8,
            page_id(),
            any::<bool>(),
        )
            .prop_map(|(blob, dest, right_slot, va, slot, right_addr, addr, secs_mode, secs, blocked)| Op::Load {
                blob, dest, right_slot, va, slot, right_addr, addr, secs_mode, secs, blocked
            }),
        6 => any::<usize>().prop_map(|pick| Op::Evict { pick }),
        1 => any::<usize>().prop_map(|pick| Op::EvictSecs { pick }),
        6 => (any::<usize>(), prop::bool::weighted(0.2)).prop_map(|(pick, blocked)| Op::Reload { pick, blocked }),
        4 => (0..LPS, any::<u8>(), addr()).prop_map(|(lp, tcs, addr)| Op::Enter { lp, tcs, addr }),
        3 => (0..LPS).prop_map(|lp| Op::Exit { lp }),
        2 => (0..LPS).prop_map(|lp| Op::Resume { lp }),
        10 => (0..LPS, addr(), any::<bool>(), any::<u64>())
            .prop_map(|(lp, addr, write, value)| Op::Access { lp, addr, write, value }),
        2 => page_id().prop_map(|secs| Op::Ipi { secs }),
        1 => (addr(), page_id(), any::<bool>(), prop::bool::weighted(0.3))
            .prop_map(|(addr, page, writable, unmap)| Op::Map { addr, page, writable, unmap }),
        18 => sgx2::sgx2_op().prop_map(Op::Sgx2),
    ]
}

/// A page sealed by a successful EWB, kept forever (stale ones included).
struct Blob {
    sealed: SealedPage,
    linaddr: LinearAddress,
    page_type: PageType,
    /// The owning enclave (children and SECS pages).
    enclave: Option<usize>,
    /// The plaintext of a REG page.
    content: Option<Box<[u8; 4096]>>,
    /// For a VA page: the logical VA page it carries.
    carries_vid: Option<u64>,
    /// The logical VA page and slot holding its version.
    vid: u64,
    slot: u16,
    /// The VA page that held that slot at EWB time.
    va_page: EpcPageId,
}

struct EnclaveModel {
    eid: EnclaveId,
    secs_page: Option<EpcPageId>,
    /// The checker TCS, for the two initial enclaves.
    checker: Option<LinearAddress>,
}

struct LpSlot {
    lp: LogicalProcessor,
    /// What the LP's TLB may hold: linear page to EPC page, filled on
    /// walks, cleared on every flush.
    tlb: HashMap<u64, EpcPageId>,
}

struct Harness {
    m: Arc<Machine>,
    pt: Arc<TestPageTable>,
    enclaves: Vec<EnclaveModel>,
    /// Content of every valid REG page.
    content: BTreeMap<EpcPageId, Box<[u8; 4096]>>,
    blobs: Vec<Blob>,
    lps: Vec<LpSlot>,
    /// Which blob's version each live slot holds, by logical VA page.
    slot_owner: BTreeMap<(u64, u16), usize>,
    /// Logical id of every valid VA page.
    va_id: BTreeMap<EpcPageId, u64>,
    next_vid: u64,
    tcs_pool: Vec<LinearAddress>,
    /// ELDUs of REG pages that succeeded / whose content was read back.
    loads: u64,
    verified: u64,
    /// Loads of blobs whose version was no longer in any slot, refused.
    stale_refused: u64,
}

fn reg_page(seed: u64) -> Box<[u8; 4096]> {
    pattern(seed)
}

impl Harness {
    fn new() -> Harness {
        let mut config = MachineConfig::with_pages(PAGES);
        config.tlb_entries = 8;
        let m = Machine::new(config).unwrap();
        let pt = TestPageTable::new();
        let mut h = Harness {
            m,
            pt,
            enclaves: Vec::new(),
            content: BTreeMap::new(),
            blobs: Vec::new(),
            lps: Vec::new(),
            slot_owner: BTreeMap::new(),
            va_id: BTreeMap::new(),
            next_vid: 0,
            tcs_pool: Vec::new(),
            loads: 0,
            verified: 0,
            stale_refused: 0,
        };
        // Enclave A: SECS 0, TCS 1 + SSA 2, REG 3..=6, TCS 7 + SSA 8,
        // checker TCS 9 + SSA 10.
        h.build(
            0,
            BASE_A,
            &[(1, 0, 2, 1), (7, 20, 8, 21), (9, 22, 10, 23)],
            3..7,
        );
        // Enclave B: SECS 11, TCS 12 + SSA 13, REG 14..=15, checker TCS 16
        // + SSA 17.
        h.build(11, BASE_B, &[(12, 0, 13, 1), (16, 22, 17, 23)], 14..16);
        for va in [18, 19] {
            h.epa(EpcPageId(va));
        }
        h.m.validate().unwrap();
        for _ in 0..LPS {
            let lp = h.m.new_lp().unwrap();
            h.lps.push(LpSlot {
                lp,
                tlb: HashMap::new(),
            });
        }
        h
    }

    /// An initialized enclave with the given TCSs `(tcs page, tcs index,
    /// ssa page, ssa index)` (indices in pages from the base) and REG pages
    /// at indices 2.. ; the last TCS is its checker.
    fn build(
        &mut self,
        secs: u32,
        base: LinearAddress,
        tcss: &[(u32, u64, u32, u64)],
        regs: std::ops::Range<u32>,
    ) {
        let m = self.m.clone();
        let secs = EpcPageId(secs);
        let eid = m.ecreate(secs, base, SIZE).unwrap();
        for (n, &(tcs, ti, ssa, si)) in tcss.iter().enumerate() {
            let tcs_addr = base.add(ti * PAGE_SIZE);
            let content = Tcs {
                ossa: si * PAGE_SIZE,
                nssa: 1,
                oentry: 0,
            }
            .to_page();
            m.eadd(EpcPageId(tcs), secs, tcs_addr, SecInfo::tcs(), &content)
                .unwrap();
            self.pt.map(tcs_addr, EpcPageId(tcs), true);
            let ssa_addr = base.add(si * PAGE_SIZE);
            m.eadd(
                EpcPageId(ssa),
                secs,
                ssa_addr,
                SecInfo::reg(Perms::RW),
                &[0; 4096],
            )
            .unwrap();
            self.pt.map(ssa_addr, EpcPageId(ssa), true);
            self.content.insert(EpcPageId(ssa), Box::new([0; 4096]));
            if n + 1 < tcss.len() {
                self.tcs_pool.push(tcs_addr);
            }
        }
        for (i, page) in regs.enumerate() {
            let addr = base.add((2 + i as u64) * PAGE_SIZE);
            let content = reg_page(base.0 + i as u64);
            m.eadd(
                EpcPageId(page),
                secs,
                addr,
                SecInfo::reg(Perms::RW),
                &content,
            )
            .unwrap();
            self.pt.map(addr, EpcPageId(page), true);
            self.content.insert(EpcPageId(page), content);
        }
        m.einit(secs).unwrap();
        let (_, ti, _, _) = *tcss.last().unwrap();
        self.enclaves.push(EnclaveModel {
            eid,
            secs_page: Some(secs),
            checker: Some(base.add(ti * PAGE_SIZE)),
        });
    }

    fn valid_pages(&self) -> Vec<(EpcPageId, EpcmEntry)> {
        (0..PAGES)
            .map(EpcPageId)
            .filter_map(|p| self.m.epcm(p).filter(|e| e.valid).map(|e| (p, e)))
            .collect()
    }

    /// Resolves a page selector: mostly a valid page, sometimes any id.
    fn page(&self, sel: u32) -> EpcPageId {
        if sel == u32::MAX {
            return EpcPageId(u32::MAX);
        }
        if sel % 3 != 0 {
            let valid = self.valid_pages();
            if !valid.is_empty() {
                return valid[(sel / 3) as usize % valid.len()].0;
            }
        }
        EpcPageId((sel / 3) % (PAGES + 4))
    }

    /// Resolves a SECS selector: mostly a resident SECS.
    fn secs(&self, sel: u32) -> EpcPageId {
        let resident: Vec<EpcPageId> = self.enclaves.iter().filter_map(|e| e.secs_page).collect();
        if sel % 4 != 0 && !resident.is_empty() {
            return resident[(sel / 4) as usize % resident.len()];
        }
        self.page(sel / 4)
    }

    fn va(&self, sel: u32) -> EpcPageId {
        if sel % 4 != 0 && !self.va_id.is_empty() {
            let vas: Vec<EpcPageId> = self.va_id.keys().copied().collect();
            return vas[(sel / 4) as usize % vas.len()];
        }
        self.page(sel / 4)
    }

    /// A leaf must not touch the checkers' pages.
    fn protected(page: EpcPageId) -> bool {
        PROTECTED.contains(&page.0)
    }

    /// Maps `addr` in the page table, unless it is one of the checkers'
    /// TCS or SSA addresses (pages 22 and 23 of enclaves A and B).
    fn map(&self, addr: LinearAddress, page: EpcPageId, writable: bool) {
        if !Self::protected_addr(addr) {
            self.pt.map(addr, page, writable);
        }
    }

    fn protected_addr(addr: LinearAddress) -> bool {
        [BASE_A, BASE_B]
            .iter()
            .any(|b| [22, 23].contains(&(addr.page().0.wrapping_sub(b.0) / PAGE_SIZE)))
    }

    fn enclave_of(&self, secs: EpcPageId) -> Option<usize> {
        self.enclaves.iter().position(|e| e.secs_page == Some(secs))
    }

    fn free_page(&self) -> Option<EpcPageId> {
        (0..PAGES)
            .map(EpcPageId)
            .find(|&p| self.m.epcm(p).is_some_and(|e| !e.valid))
    }

    fn free_slot(&mut self) -> Option<VaSlot> {
        for (&page, &vid) in &self.va_id {
            if let Some(s) =
                (0..VA_SLOTS_PER_PAGE).find(|s| !self.slot_owner.contains_key(&(vid, *s)))
            {
                return Some(slot(page, s));
            }
        }
        let page = self.free_page()?;
        self.epa(page);
        Some(slot(page, 0))
    }

    fn check(&self) {
        if let Err(e) = self.m.validate() {
            panic!("{e}");
        }
    }

    // ------------------------------------------------------------ leaves

    fn ecreate(&mut self, page: EpcPageId, base: LinearAddress, size: u64) {
        if let Ok(eid) = self.m.ecreate(page, base, size) {
            assert!(self.enclaves.iter().all(|e| e.eid != eid), "EID reused");
            self.enclaves.push(EnclaveModel {
                eid,
                secs_page: Some(page),
                checker: None,
            });
        }
    }

    fn eadd(&mut self, page: EpcPageId, secs: EpcPageId, addr: LinearAddress, kind: u8, seed: u64) {
        let tcs = |ossa: u64, nssa: u32| {
            Tcs {
                ossa,
                nssa,
                oentry: 0,
            }
            .to_page()
        };
        let (secinfo, content) = match kind % 8 {
            0 | 1 => (SecInfo::reg(Perms::RW), reg_page(seed)),
            2 => (SecInfo::reg(Perms::R), reg_page(seed)),
            3 => (SecInfo::reg(Perms::RWX), reg_page(seed)),
            4 => (SecInfo::tcs(), tcs((seed % 24) * PAGE_SIZE, 1)),
            5 => (SecInfo::tcs(), tcs(PAGE_SIZE, 0)),
            6 => (
                SecInfo {
                    perms: Perms::RW,
                    ..SecInfo::tcs()
                },
                tcs(PAGE_SIZE, 1),
            ),
            _ => (
                SecInfo {
                    page_type: PageType::Va,
                    ..SecInfo::default()
                },
                reg_page(seed),
            ),
        };
        if self.m.eadd(page, secs, addr, secinfo, &content).is_ok() {
            assert!(matches!(secinfo.page_type, PageType::Reg | PageType::Tcs));
            if secinfo.page_type == PageType::Reg {
                self.content.insert(page, content);
            }
            self.map(addr, page, true);
        }
    }

    fn epa(&mut self, page: EpcPageId) {
        if self.m.epa(page).is_ok() {
            self.va_id.insert(page, self.next_vid);
            self.next_vid += 1;
        }
    }

    fn eremove(&mut self, page: EpcPageId) {
        if Self::protected(page) {
            return;
        }
        let before = self.m.epcm(page);
        let inside = before
            .and_then(|e| e.secs)
            .and_then(|s| self.m.enclave_info(s))
            .map_or(0, |i| i.lps_inside);
        match self.m.eremove(page) {
            Ok(()) => {
                let e = before.expect("EREMOVE succeeded on an EPC page");
                if !e.valid {
                    return;
                }
                match e.secinfo.page_type {
                    PageType::Reg | PageType::Tcs | PageType::Trim => {
                        let accepted_trim =
                            e.secinfo.page_type == PageType::Trim && !e.secinfo.modified;
                        assert!(
                            inside == 0 || accepted_trim,
                            "EREMOVE of an enclave page with an LP inside"
                        );
                        // A page EMODT took from REG keeps its content in
                        // the model (stale translations may still use it).
                        let content = self.content.remove(&page);
                        assert!(content.is_some() || e.secinfo.page_type != PageType::Reg);
                    }
                    PageType::Va => {
                        self.va_id.remove(&page).expect("a known VA page");
                    }
                    PageType::Secs => {
                        let i = self.enclave_of(page).expect("a known SECS");
                        self.enclaves[i].secs_page = None;
                    }
                }
            }
            Err(LeafError::Sgx(SgxError::EnclaveAct)) => assert!(inside > 0),
            Err(_) => {}
        }
    }

    fn ewb(&mut self, page: EpcPageId, va: VaSlot) -> LeafResult<()> {
        if Self::protected(page) {
            return Ok(());
        }
        let before = self.m.epcm(page);
        let vid = self.va_id.get(&va.page).copied();
        let occupied = vid.is_some_and(|v| self.slot_owner.contains_key(&(v, va.slot)));
        let mut sealed = SealedPage::new();
        let done = self.m.ewb(page, va, &mut sealed)?;
        let e = before.expect("EWB of an EPC page");
        assert!(e.valid);
        let vid = vid.expect("EWB into a page the model does not know as VA");
        assert_eq!(
            done.warning,
            occupied.then_some(SgxWarning::VaSlotOccupied),
            "VA_SLOT_OCCUPIED iff the slot held a live version"
        );
        assert_eq!(done.value, e.linaddr);
        assert_eq!(sealed.pcmd.secinfo, e.secinfo);
        assert_eq!(sealed.pcmd.reserved, [0; 40]);
        let (enclave, content, carries_vid) = match e.secinfo.page_type {
            PageType::Reg | PageType::Tcs | PageType::Trim => {
                assert!(e.blocked, "EWB of an unblocked enclave page");
                let i = self.enclave_of(e.secs.unwrap()).expect("resident SECS");
                assert_eq!(sealed.pcmd.enclave_id, self.enclaves[i].eid);
                let content = self.content.remove(&page);
                assert!(content.is_some() || e.secinfo.page_type != PageType::Reg);
                let content = content.filter(|_| e.secinfo.page_type == PageType::Reg);
                (Some(i), content, None)
            }
            PageType::Secs => {
                let i = self.enclave_of(page).expect("a known SECS");
                assert_eq!(sealed.pcmd.enclave_id, self.enclaves[i].eid);
                self.enclaves[i].secs_page = None;
                (Some(i), None, None)
            }
            PageType::Va => {
                assert_eq!(sealed.pcmd.enclave_id, EnclaveId(0));
                (
                    None,
                    None,
                    Some(self.va_id.remove(&page).expect("a known VA page")),
                )
            }
        };
        self.blobs.push(Blob {
            sealed,
            linaddr: e.linaddr,
            page_type: e.secinfo.page_type,
            enclave,
            content,
            carries_vid,
            vid,
            slot: va.slot,
            va_page: va.page,
        });
        self.slot_owner.insert((vid, va.slot), self.blobs.len() - 1);
        Ok(())
    }

    fn load(
        &mut self,
        b: usize,
        dest: EpcPageId,
        linaddr: LinearAddress,
        secs: Option<EpcPageId>,
        va: VaSlot,
        blocked: bool,
    ) -> LeafResult<()> {
        let blob = &self.blobs[b];
        let child = blob.page_type.is_child();
        let dest_free =
            self.m.epcm(dest).is_some_and(|e| !e.valid) && dest != va.page && Some(dest) != secs;
        let vid = self.va_id.get(&va.page).copied();
        let slot_ok = vid.is_some_and(|v| self.slot_owner.get(&(v, va.slot)) == Some(&b));
        let addr_ok = linaddr == blob.linaddr;
        let secs_ok = if child {
            let current = blob.enclave.and_then(|i| self.enclaves[i].secs_page);
            current.is_some() && current == secs
        } else {
            secs.is_none()
        };
        let right = dest_free && slot_ok && addr_ok && secs_ok;
        let r = if blocked {
            self.m.eldb(dest, linaddr, &blob.sealed, secs, va)
        } else {
            self.m.eldu(dest, linaddr, &blob.sealed, secs, va)
        };
        match r {
            Ok(()) => assert!(
                right,
                "a load succeeded with dest free {dest_free}, slot {slot_ok}, address {addr_ok}, SECS {secs_ok}"
            ),
            Err(e) => {
                assert!(!right, "a correct load failed: {e:?}");
                if e == LeafError::Sgx(SgxError::MacCompareFail) {
                    assert!(!(slot_ok && addr_ok && secs_ok), "MAC failure of a genuine blob");
                    if !self.slot_owner.values().any(|&o| o == b) {
                        self.stale_refused += 1;
                    }
                }
                return Err(e);
            }
        }
        let vid = vid.unwrap();
        self.slot_owner.remove(&(vid, va.slot));
        let blob = &self.blobs[b];
        match blob.page_type {
            PageType::Reg => {
                let content = blob.content.clone().expect("REG blobs carry their content");
                self.content.insert(dest, content);
                self.map(linaddr, dest, true);
                self.loads += 1;
                if !blocked {
                    self.verify(b, dest, linaddr);
                }
            }
            PageType::Tcs | PageType::Trim => self.map(linaddr, dest, true),
            PageType::Va => {
                self.va_id.insert(dest, blob.carries_vid.unwrap());
            }
            PageType::Secs => {
                let i = blob.enclave.unwrap();
                self.enclaves[i].secs_page = Some(dest);
                assert_eq!(self.m.enclave_info(dest).unwrap().eid, self.enclaves[i].eid);
            }
        }
        Ok(())
    }

    /// Reads a freshly ELDU'd REG page through a new LP on the enclave's
    /// checker TCS and compares it with what EWB sealed.
    fn verify(&mut self, b: usize, dest: EpcPageId, linaddr: LinearAddress) {
        let blob = &self.blobs[b];
        let Some(tcs) = blob.enclave.and_then(|i| self.enclaves[i].checker) else {
            return;
        };
        // A page still pending, or without R, is not readable.
        let si = blob.sealed.pcmd.secinfo;
        if si.pending || !si.perms.contains(Perms::R) {
            return;
        }
        let mut lp = self.m.new_lp().unwrap();
        lp.eenter(tcs, self.pt.clone())
            .expect("the checker TCS is always usable");
        let mut buf = Box::new([0u8; 4096]);
        lp.read_page(linaddr, &mut buf)
            .unwrap_or_else(|e| panic!("reading back {dest:?} at {linaddr}: {e}"));
        assert!(
            buf == *blob.content.as_ref().unwrap(),
            "ELDU of {linaddr} returned other content than EWB sealed"
        );
        lp.eexit().unwrap();
        self.verified += 1;
    }

    fn flush(&mut self, lp: usize) {
        self.lps[lp].tlb.clear();
    }

    fn access(&mut self, lp: usize, addr: LinearAddress, write: bool, value: u64) {
        let before = self.lps[lp].lp.stats();
        let r = if write {
            self.lps[lp].lp.write_u64(addr, value).map(|()| value)
        } else {
            self.lps[lp].lp.read_u64(addr)
        };
        let got = match r {
            Ok(v) => v,
            Err(LpError::PageFault(_) | LpError::Interrupted) => {
                self.flush(lp);
                return;
            }
            Err(_) => return,
        };
        let after = self.lps[lp].lp.stats();
        let page = addr.page();
        let epc = if after.tlb_hits > before.tlb_hits {
            *self.lps[lp].tlb.get(&page.0).unwrap_or_else(|| {
                panic!("a TLB hit at {page} with no translation since the last flush")
            })
        } else {
            assert_eq!(after.walks, before.walks + 1);
            self.pt
                .get(page)
                .expect("a walk succeeded without a mapping")
                .page
        };
        self.lps[lp].tlb.insert(page.0, epc);
        let content = self.content.get_mut(&epc).unwrap_or_else(|| {
            panic!("an access at {addr} reached {epc:?}, which holds no REG page")
        });
        let word = addr.offset() as usize;
        let cell: &mut [u8] = &mut content[word..word + 8];
        if write {
            cell.copy_from_slice(&value.to_le_bytes());
        } else {
            let mut b = [0u8; 8];
            b.copy_from_slice(cell);
            assert_eq!(got, u64::from_le_bytes(b), "read at {addr} from {epc:?}");
        }
    }

    // ------------------------------------------------------------ steps

    fn step(&mut self, op: &Op) {
        match *op {
            Op::Ecreate { page, base, size } => {
                let base =
                    LinearAddress([BASE_A.0, BASE_B.0, 0xC000_0000, 0x123][usize::from(base % 4)]);
                let size = [SIZE, 2 * PAGE_SIZE, 3 * PAGE_SIZE, 0][usize::from(size % 4)];
                self.ecreate(EpcPageId(page % (PAGES + 4)), base, size);
            }
            Op::Eadd {
                page,
                secs,
                addr,
                kind,
                seed,
            } => {
                let (page, secs) = (EpcPageId(page % (PAGES + 4)), self.secs(secs));
                self.eadd(page, secs, addr.resolve(), kind, seed);
            }
            Op::Einit { secs } => {
                let _ = self.m.einit(self.secs(secs));
            }
            Op::Epa { page } => self.epa(EpcPageId(page % (PAGES + 4))),
            Op::Eremove { page } => self.eremove(self.page(page)),
            Op::Eblock { page } => {
                let page = self.page(page);
                if !Self::protected(page) {
                    let _ = self.m.eblock(page);
                }
            }
            Op::Etrack { secs } => {
                let _ = self.m.etrack(self.secs(secs));
            }
            Op::Ewb { page, va, slot: s } => {
                let (page, va) = (self.page(page), self.va(va));
                let _ = self.ewb(page, slot(va, s));
            }
            Op::Load {
                blob,
                dest,
                right_slot,
                va,
                slot: s,
                right_addr,
                addr,
                secs_mode,
                secs,
                blocked,
            } => {
                if self.blobs.is_empty() {
                    return;
                }
                let b = blob % self.blobs.len();
                let bl = &self.blobs[b];
                let va_slot = if right_slot {
                    // Where its logical VA page lives now, if resident.
                    let page = self
                        .va_id
                        .iter()
                        .find(|(_, &v)| v == bl.vid)
                        .map_or(bl.va_page, |(&p, _)| p);
                    slot(page, bl.slot)
                } else {
                    slot(self.va(va), s)
                };
                let linaddr = if right_addr {
                    bl.linaddr
                } else {
                    addr.resolve()
                };
                let secs = match secs_mode {
                    0..=4 => {
                        if bl.page_type.is_child() {
                            bl.enclave
                                .and_then(|i| self.enclaves[i].secs_page)
                                .or(Some(EpcPageId(secs % (PAGES + 4))))
                        } else {
                            None
                        }
                    }
                    5 | 6 => Some(self.secs(secs)),
                    _ => None,
                };
                let dest = if dest % 2 == 0 {
                    self.free_page().unwrap_or(EpcPageId(0))
                } else {
                    EpcPageId((dest / 2) % (PAGES + 4))
                };
                let _ = self.load(b, dest, linaddr, secs, va_slot, blocked);
            }
            Op::Evict { pick } => self.evict(pick),
            Op::EvictSecs { pick } => {
                let evictable: Vec<EpcPageId> = self
                    .enclaves
                    .iter()
                    .filter_map(|e| e.secs_page)
                    .filter(|&s| self.m.enclave_info(s).is_some_and(|i| i.children == 0))
                    .collect();
                if evictable.is_empty() {
                    return;
                }
                let secs = evictable[pick % evictable.len()];
                if let Some(va) = self.free_slot() {
                    self.ewb(secs, va).expect("EWB of a SECS without children");
                }
            }
            Op::Reload { pick, blocked } => self.reload(pick, blocked),
            Op::Enter { lp, tcs, addr } => {
                let tcs = if tcs % 8 == 0 {
                    addr.resolve()
                } else {
                    self.tcs_pool[usize::from(tcs) % self.tcs_pool.len()]
                };
                if self.lps[lp].lp.eenter(tcs, self.pt.clone()).is_ok() {
                    self.flush(lp);
                }
            }
            Op::Exit { lp } => match self.lps[lp].lp.eexit() {
                Ok(()) | Err(LpError::Interrupted) => self.flush(lp),
                Err(_) => {}
            },
            Op::Resume { lp } => {
                if self.lps[lp].lp.eresume().is_ok() {
                    self.flush(lp);
                }
            }
            Op::Access {
                lp,
                addr,
                write,
                value,
            } => self.access(lp, addr.resolve(), write, value),
            Op::Ipi { secs } => {
                let _ = self.m.ipi_enclave(self.secs(secs));
            }
            Op::Map {
                addr,
                page,
                writable,
                unmap,
            } => {
                let addr = addr.resolve();
                if Self::protected_addr(addr) {
                } else if unmap {
                    self.pt.unmap(addr);
                } else {
                    self.map(addr, EpcPageId(page % (PAGES + 4)), writable);
                }
            }
            Op::Sgx2(ref op) => self.step_sgx2(op),
        }
    }

    /// The OS's eviction sequence on a resident enclave page: EBLOCK,
    /// ETRACK (after an IPI if a cycle is still open), IPI, EWB. It must
    /// succeed.
    fn evict(&mut self, pick: usize) {
        let candidates: Vec<(EpcPageId, EpcmEntry)> = self
            .valid_pages()
            .into_iter()
            .filter(|(p, e)| e.secinfo.page_type.is_child() && !Self::protected(*p))
            .collect();
        if candidates.is_empty() {
            return;
        }
        let (page, e) = candidates[pick % candidates.len()];
        let secs = e.secs.unwrap();
        let Some(va) = self.free_slot() else { return };
        self.check();
        let done = self.m.eblock(page).expect("EBLOCK of a valid enclave page");
        assert!(done.warning.is_none() || done.warning == Some(SgxWarning::BlkState));
        if self.m.etrack(secs) == Err(LeafError::Sgx(SgxError::PrevTrkIncmpl)) {
            self.m.ipi_enclave(secs);
            self.m.etrack(secs).expect("ETRACK after the IPI");
        }
        self.m.ipi_enclave(secs);
        self.check();
        self.ewb(page, va)
            .expect("EWB after EBLOCK, ETRACK and IPI");
    }

    /// Reloads a live blob with the right operands into a free page; must
    /// succeed.
    fn reload(&mut self, pick: usize, blocked: bool) {
        let live: Vec<(usize, VaSlot)> = self
            .slot_owner
            .iter()
            .filter_map(|(&(vid, s), &b)| {
                let (&va, _) = self.va_id.iter().find(|(_, &v)| v == vid)?;
                let blob = &self.blobs[b];
                let ok = match blob.page_type {
                    PageType::Secs | PageType::Va => true,
                    _ => self.enclaves[blob.enclave?].secs_page.is_some(),
                };
                ok.then_some((b, slot(va, s)))
            })
            .collect();
        if live.is_empty() {
            return;
        }
        let (b, va) = live[pick % live.len()];
        let Some(dest) = self.free_page() else { return };
        let blob = &self.blobs[b];
        let secs = if blob.page_type.is_child() {
            self.enclaves[blob.enclave.unwrap()].secs_page
        } else {
            None
        };
        let linaddr = blob.linaddr;
        self.load(b, dest, linaddr, secs, va, blocked)
            .expect("reload of a live blob");
    }
}

fn run(ops: &[Op]) -> Harness {
    let mut h = Harness::new();
    for (i, op) in ops.iter().enumerate() {
        h.step(op);
        if let Err(e) = h.m.validate() {
            panic!("after step {i} ({op:?}): {e}");
        }
    }
    // Leave every LP; the machine must still be valid.
    for slot in &mut h.lps {
        let _ = slot.lp.eexit();
    }
    h.lps.clear();
    h.m.validate().unwrap();
    h
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        max_shrink_iters: 2000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_leaf_sequences_keep_the_machine_valid(ops in prop::collection::vec(op(), 1..200)) {
        run(&ops);
    }
}

/// The generator is not vacuous: over a fixed set of random sequences every
/// leaf succeeds and fails, blobs are reloaded and read back, stale blobs
/// are refused, and LPs take AEXs.
#[test]
fn random_sequences_exercise_every_outcome() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let strategy = prop::collection::vec(op(), 100..200);
    const EVENTS: [Event; 24] = [
        Event::Eaug,
        Event::Emodpr,
        Event::Emodt,
        Event::EremoveTrim,
        Event::Eaccept,
        Event::Eacceptcopy,
        Event::Emodpe,
        Event::Ecreate,
        Event::Eadd,
        Event::Einit,
        Event::Eremove,
        Event::Epa,
        Event::Eblock,
        Event::Etrack,
        Event::Ewb,
        Event::Eldu,
        Event::Eldb,
        Event::Eenter,
        Event::Eexit,
        Event::Eresume,
        Event::Aex,
        Event::Ipi,
        Event::PageFault,
        Event::FailedLeaf,
    ];
    let mut totals = [0u64; EVENTS.len()];
    let (mut verified, mut stale_refused) = (0, 0);
    for _ in 0..24 {
        let ops = strategy.new_tree(&mut runner).unwrap().current();
        let h = run(&ops);
        let snap = h.m.ledger().snapshot();
        for (t, e) in totals.iter_mut().zip(EVENTS) {
            *t += snap.count(e);
        }
        verified += h.verified;
        stale_refused += h.stale_refused;
    }
    for (t, e) in totals.iter().zip(EVENTS) {
        assert!(*t > 0, "{e:?} never happened: {totals:?}");
    }
    assert!(
        verified >= 50,
        "only {verified} ELDU'd pages were read back"
    );
    assert!(
        stale_refused >= 20,
        "only {stale_refused} stale blobs were refused"
    );
}
