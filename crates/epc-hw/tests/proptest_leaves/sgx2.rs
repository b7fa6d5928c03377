//! The SGX2 steps of the random leaf sequences: EAUG, EMODPR and EMODT with
//! random operands, EACCEPT, EACCEPTCOPY and EMODPE by the random logical
//! processors, and two flows that must always succeed: growing an enclave
//! (EAUG, then EACCEPT or EACCEPTCOPY by a fresh thread on the checker TCS,
//! sometimes EMODPE, and a read back that must match the model) and trimming a page (EMODT to
//! TRIM, ETRACK, IPI, EACCEPT, then EREMOVE with threads still inside).

use super::*;

/// The SGX2 steps.
#[derive(Clone, Debug)]
pub(crate) enum Sgx2Op {
    Eaug {
        page: u32,
        secs: u32,
        addr: Addr,
    },
    Emodpr {
        page: u32,
        perms: u8,
    },
    Emodt {
        page: u32,
        tcs: bool,
    },
    Eaccept {
        lp: usize,
        addr: Addr,
        kind: u8,
        perms: u8,
        pick: usize,
    },
    Eacceptcopy {
        lp: usize,
        dst: Addr,
        src: Addr,
        perms: u8,
    },
    Emodpe {
        lp: usize,
        addr: Addr,
        perms: u8,
    },
    Grow {
        enclave: usize,
        page: u8,
        copy: bool,
    },
    Trim {
        pick: usize,
    },
}

pub(crate) fn sgx2_op() -> impl Strategy<Value = Sgx2Op> {
    prop_oneof![
        3 => (page_id(), page_id(), addr()).prop_map(|(page, secs, addr)| Sgx2Op::Eaug { page, secs, addr }),
        2 => (page_id(), any::<u8>()).prop_map(|(page, perms)| Sgx2Op::Emodpr { page, perms }),
        2 => (page_id(), any::<bool>()).prop_map(|(page, tcs)| Sgx2Op::Emodt { page, tcs }),
        5 => (0..LPS, addr(), any::<u8>(), any::<u8>(), any::<usize>())
            .prop_map(|(lp, addr, kind, perms, pick)| Sgx2Op::Eaccept { lp, addr, kind, perms, pick }),
        1 => (0..LPS, addr(), addr(), any::<u8>())
            .prop_map(|(lp, dst, src, perms)| Sgx2Op::Eacceptcopy { lp, dst, src, perms }),
        2 => (0..LPS, addr(), any::<u8>()).prop_map(|(lp, addr, perms)| Sgx2Op::Emodpe { lp, addr, perms }),
        2 => (0usize..2, 0u8..26, any::<bool>()).prop_map(|(enclave, page, copy)| Sgx2Op::Grow { enclave, page, copy }),
        2 => any::<usize>().prop_map(|pick| Sgx2Op::Trim { pick }),
    ]
}

/// A page operand: page aligned, unless the address was drawn misaligned.
fn leaf_addr(a: Addr) -> LinearAddress {
    if a.misaligned {
        a.resolve()
    } else {
        a.resolve().page()
    }
}

/// The page `addr` is mapped to, if any.
fn mapped(h: &Harness, addr: LinearAddress) -> Option<EpcPageId> {
    h.pt.get(addr).map(|p| p.page)
}

impl Harness {
    pub(crate) fn step_sgx2(&mut self, op: &Sgx2Op) {
        match *op {
            Sgx2Op::Eaug { page, secs, addr } => {
                let page = if page % 2 == 0 {
                    self.free_page().unwrap_or(EpcPageId(0))
                } else {
                    EpcPageId((page / 2) % (PAGES + 4))
                };
                self.eaug(page, self.secs(secs), leaf_addr(addr));
            }
            Sgx2Op::Emodpr { page, perms } => {
                let page = self.page(page);
                if Self::protected(page) {
                    return;
                }
                let before = self.m.epcm(page);
                let mask = Perms::from_bits(perms);
                if self.m.emodpr(page, mask).is_ok() {
                    let (b, a) = (before.unwrap(), self.m.epcm(page).unwrap());
                    assert_eq!(a.secinfo.perms, b.secinfo.perms.intersection(mask));
                    assert!(a.secinfo.pr && b.secinfo.page_type == PageType::Reg);
                    assert!(!b.secinfo.pending && !b.secinfo.modified);
                }
            }
            Sgx2Op::Emodt { page, tcs } => {
                let page = self.page(page);
                if Self::protected(page) {
                    return;
                }
                let to = if tcs { PageType::Tcs } else { PageType::Trim };
                if self.m.emodt(page, to).is_ok() {
                    let a = self.m.epcm(page).unwrap();
                    assert_eq!(a.secinfo, SecInfo::emodt(to));
                }
            }
            Sgx2Op::Eaccept {
                lp,
                addr,
                kind,
                perms,
                pick,
            } => {
                // Half the time, a page with a change to accept.
                let changed: Vec<LinearAddress> = self
                    .valid_pages()
                    .iter()
                    .filter(|(_, e)| e.secinfo.pending || e.secinfo.pr || e.secinfo.modified)
                    .map(|(_, e)| e.linaddr)
                    .collect();
                let addr = if pick % 2 == 0 && !changed.is_empty() {
                    changed[(pick / 2) % changed.len()]
                } else {
                    leaf_addr(addr)
                };
                self.eaccept(lp, addr, kind, perms)
            }
            Sgx2Op::Eacceptcopy {
                lp,
                dst,
                src,
                perms,
            } => {
                let (dst, src) = (leaf_addr(dst), leaf_addr(src));
                let si = SecInfo::reg(Perms::from_bits(perms));
                let r = self.enclu(lp, perms, dst, |l| l.eacceptcopy(dst, src, si));
                if r.is_ok() {
                    let (d, s) = (mapped(self, dst).unwrap(), mapped(self, src).unwrap());
                    let content = self.content.get(&s).expect("a REG source").clone();
                    self.content.insert(d, content);
                    assert_eq!(self.m.epcm(d).unwrap().secinfo, si);
                }
            }
            Sgx2Op::Emodpe { lp, addr, perms } => {
                let addr = leaf_addr(addr);
                let before = mapped(self, addr).and_then(|p| self.m.epcm(p));
                let r = self.enclu(lp, perms, addr, |l| l.emodpe(addr, Perms::from_bits(perms)));
                if r.is_ok() {
                    let (b, a) = (before.unwrap(), self.m.epcm(mapped(self, addr).unwrap()));
                    let want = b.secinfo.perms.union(Perms::from_bits(perms));
                    assert_eq!(a.unwrap().secinfo.perms, want);
                }
            }
            Sgx2Op::Grow {
                enclave,
                page,
                copy,
            } => self.grow(enclave, page, copy),
            Sgx2Op::Trim { pick } => self.trim(pick),
        }
    }

    /// Runs an ENCLU leaf. One time in eight, on LP `lp` as it is (inside
    /// or not); otherwise on `lp` brought into enclave mode first (ERESUME,
    /// or EENTER through a TCS of the pool, and ERESUME again if an IPI
    /// exited it), or, when the pool's TCSs are all unusable (blocked,
    /// evicted, busy), on a fresh thread on the checker TCS of the enclave
    /// `near` lies in, which leaves again at once.
    fn enclu(
        &mut self,
        lp: usize,
        sel: u8,
        near: LinearAddress,
        f: impl Fn(&mut LogicalProcessor) -> Result<(), LpError>,
    ) -> Result<(), LpError> {
        if sel & 0xE0 == 0xE0 {
            let r = f(&mut self.lps[lp].lp);
            self.after_enclu(lp, &r);
            return r;
        }
        if self.lps[lp].lp.is_interrupted() {
            if self.lps[lp].lp.eresume().is_ok() {
                self.flush(lp);
            }
        } else if !self.lps[lp].lp.is_inside() {
            for k in 0..self.tcs_pool.len() {
                let tcs = self.tcs_pool[(usize::from(sel) + k) % self.tcs_pool.len()];
                if self.lps[lp].lp.eenter(tcs, self.pt.clone()).is_ok() {
                    self.flush(lp);
                    break;
                }
            }
        }
        if self.lps[lp].lp.is_inside() {
            let mut r = f(&mut self.lps[lp].lp);
            self.after_enclu(lp, &r);
            if r == Err(LpError::Interrupted) && self.lps[lp].lp.eresume().is_ok() {
                self.flush(lp);
                r = f(&mut self.lps[lp].lp);
                self.after_enclu(lp, &r);
            }
            if r != Err(LpError::Interrupted) {
                return r;
            }
        }
        let i = usize::from(near.0 >= BASE_B.0);
        let mut c = self.checker(i);
        let r = f(&mut c);
        if c.is_interrupted() {
            c.eresume().expect("ERESUME on the checker TCS");
        }
        c.eexit().unwrap();
        r
    }

    /// The model's side of an ENCLU leaf's outcome: an exception or an
    /// interruption flushed the LP's TLB.
    fn after_enclu(&mut self, lp: usize, r: &Result<(), LpError>) {
        if matches!(
            r,
            Err(LpError::PageFault(_) | LpError::GeneralProtection(_) | LpError::Interrupted)
        ) {
            self.flush(lp);
        }
    }

    fn eaug(&mut self, page: EpcPageId, secs: EpcPageId, addr: LinearAddress) {
        if self.m.eaug(page, secs, addr).is_ok() {
            let e = self.m.epcm(page).unwrap();
            assert_eq!((e.secinfo, e.linaddr), (SecInfo::eaug(), addr));
            self.content.insert(page, Box::new([0; 4096]));
            self.map(addr, page, true);
        }
    }

    fn eaccept(&mut self, lp: usize, addr: LinearAddress, kind: u8, perms: u8) {
        let current = mapped(self, addr).and_then(|p| self.m.epcm(p));
        let si = match (kind % 6, current) {
            (0..=2, Some(e)) if e.secinfo.pending => SecInfo::eaug(),
            (0..=2, Some(e)) if e.secinfo.modified => SecInfo::emodt(e.secinfo.page_type),
            (0..=2, Some(e)) => SecInfo::emodpr(e.secinfo.perms),
            (3, _) => SecInfo::eaug(),
            (4, _) => SecInfo::emodpr(Perms::from_bits(perms)),
            _ => SecInfo::emodt(if perms % 2 == 0 {
                PageType::Trim
            } else {
                PageType::Tcs
            }),
        };
        let r = self.enclu(lp, kind, addr, |l| l.eaccept(addr, si));
        if r.is_ok() {
            let e = self.m.epcm(mapped(self, addr).unwrap()).unwrap();
            assert!(!e.secinfo.pending && !e.secinfo.modified && !e.secinfo.pr);
            assert_eq!(e.modify_epoch, None);
        }
    }

    /// A fresh LP on enclave `i`'s checker TCS.
    fn checker(&self, i: usize) -> LogicalProcessor {
        let mut lp = self.m.new_lp().unwrap();
        let tcs = self.enclaves[i].checker.expect("a checker TCS");
        lp.eenter(tcs, self.pt.clone())
            .expect("the checker TCS is always usable");
        lp
    }

    /// EAUG of a free page at page `index` of enclave `i`, accepted by a
    /// fresh thread (EACCEPT, or EACCEPTCOPY from the checker's SSA frame);
    /// the page then reads back as the model says.
    fn grow(&mut self, i: usize, index: u8, copy: bool) {
        let Some(secs) = self.enclaves[i].secs_page else {
            return;
        };
        let base = [BASE_A, BASE_B][i];
        let addr = base.add(u64::from(index) * PAGE_SIZE);
        if Self::protected_addr(addr) {
            return;
        }
        let Some(page) = self.free_page() else { return };
        self.m.eaug(page, secs, addr).expect("EAUG of a free page");
        self.content.insert(page, Box::new([0; 4096]));
        self.map(addr, page, true);
        let mut lp = self.checker(i);
        if copy {
            let ssa = base.add(23 * PAGE_SIZE);
            lp.eacceptcopy(addr, ssa, SecInfo::reg(Perms::RW))
                .expect("EACCEPTCOPY of a page just added");
            let from = self.content[&mapped(self, ssa).unwrap()].clone();
            self.content.insert(page, from);
        } else {
            lp.eaccept(addr, SecInfo::eaug())
                .expect("EACCEPT of a page just added");
        }
        if index % 2 == 1 {
            lp.emodpe(addr, Perms::X)
                .expect("EMODPE of an accepted page");
            assert_eq!(self.m.epcm(page).unwrap().secinfo.perms, Perms::RWX);
        }
        let mut buf = Box::new([0u8; 4096]);
        lp.read_page(addr, &mut buf).expect("reading a grown page");
        assert!(buf == self.content[&page], "grown page {addr} reads wrong");
        lp.eexit().unwrap();
    }

    /// The trim flow on a page of an enclave with a checker; every step
    /// must succeed, the EREMOVE even with threads inside.
    fn trim(&mut self, pick: usize) {
        let busy_tcs: Vec<LinearAddress> = self.tcs_pool.clone();
        let candidates: Vec<(EpcPageId, EpcmEntry)> = self
            .valid_pages()
            .into_iter()
            .filter(|(p, e)| {
                matches!(e.secinfo.page_type, PageType::Reg | PageType::Tcs)
                    && !e.secinfo.pending
                    && !e.secinfo.modified
                    && !e.blocked
                    && !Self::protected(*p)
                    && !Self::protected_addr(e.linaddr)
                    && !busy_tcs.contains(&e.linaddr)
                    && e.secs
                        .and_then(|s| self.enclave_of(s))
                        .is_some_and(|i| i < 2)
            })
            .collect();
        if candidates.is_empty() {
            return;
        }
        let (page, e) = candidates[pick % candidates.len()];
        let secs = e.secs.unwrap();
        let i = self.enclave_of(secs).unwrap();
        self.map(e.linaddr, page, true);
        self.m
            .emodt(page, PageType::Trim)
            .expect("EMODT of an accepted REG or TCS page");
        if self.m.etrack(secs) == Err(LeafError::Sgx(SgxError::PrevTrkIncmpl)) {
            self.m.ipi_enclave(secs);
            self.m.etrack(secs).expect("ETRACK after the IPI");
        }
        self.m.ipi_enclave(secs);
        let mut lp = self.checker(i);
        lp.eaccept(e.linaddr, SecInfo::emodt(PageType::Trim))
            .expect("EACCEPT of a trim after ETRACK and IPI");
        self.check();
        self.m
            .eremove(page)
            .expect("EREMOVE of an accepted TRIM page, with a thread inside");
        self.content.remove(&page);
        lp.eexit().unwrap();
    }
}
