//! The enclave side of SGX2 (EDMM): EACCEPT, EACCEPTCOPY and EMODPE run by a
//! logical processor, the tracking rule of EACCEPT, stale TLB entries after
//! EMODPR/EMODT (`sgx-paging-model.md` §6 rules 2, 3 and 13), and the cause
//! a page fault reports.

mod common;

use common::*;
use epc_hw::*;
use std::sync::Arc;

const PAGES: u32 = 64;
const AUG: EpcPageId = EpcPageId(40);
const AUG2: EpcPageId = EpcPageId(41);

fn setup(n: u32) -> (Arc<Machine>, TestEnclave) {
    let m = machine(PAGES);
    let e = TestEnclave::build(&m, 0, BASE, n);
    (m, e)
}

/// An initialized enclave of `n` REG pages with a second TCS (and its SSA
/// frame) after them; returns the second TCS's address.
fn setup_two_tcs(n: u32) -> (Arc<Machine>, TestEnclave, LinearAddress) {
    let m = machine(PAGES);
    let e = TestEnclave::build_uninit(&m, 0, BASE, n);
    let (tcs, ssa) = (e.addr(n as usize), e.addr(n as usize + 1));
    let (tcs_page, ssa_page) = (EpcPageId(3 + n), EpcPageId(4 + n));
    let content = Tcs {
        ossa: ssa.0 - e.base.0,
        nssa: 1,
        oentry: 0,
    }
    .to_page();
    m.eadd(tcs_page, e.secs, tcs, SecInfo::tcs(), &content)
        .unwrap();
    m.eadd(ssa_page, e.secs, ssa, SecInfo::reg(Perms::RW), &[0; 4096])
        .unwrap();
    e.pt.map(tcs, tcs_page, true);
    e.pt.map(ssa, ssa_page, true);
    m.einit(e.secs).unwrap();
    (m, e, tcs)
}

fn entry(m: &Machine, p: EpcPageId) -> EpcmEntry {
    m.epcm(p).expect("EPC page")
}

/// EAUG of `page` at REG slot `i` of `e`, mapped writable.
fn aug(e: &TestEnclave, page: EpcPageId, i: usize) -> LinearAddress {
    let addr = e.addr(i);
    e.machine.eaug(page, e.secs, addr).expect("EAUG");
    e.pt.map(addr, page, true);
    addr
}

/// Runs `f`, an ENCLU leaf expected to raise an exception, and asserts that
/// no EPCM entry changed (the AEX it takes does change the tracking).
fn epcm_unchanged<T>(m: &Machine, f: impl FnOnce() -> T) -> T {
    let before = snapshot(m, PAGES).0;
    let r = f();
    assert_eq!(
        snapshot(m, PAGES).0,
        before,
        "a faulting leaf changed the EPCM"
    );
    r
}

fn fault_of(r: Result<impl std::fmt::Debug, LpError>) -> PageFaultInfo {
    match r {
        Err(LpError::PageFault(f)) => f,
        other => panic!("expected a page fault, got {other:?}"),
    }
}

// ---------------------------------------------------------------- EACCEPT

#[test]
fn eaccept_of_an_eaug_page_needs_no_tracking_and_makes_it_usable() {
    let (m, e) = setup(0);
    let mut lp = e.enter();
    let addr = aug(&e, AUG, 3);
    let f = fault_of(lp.read_u64(addr));
    assert_eq!((f.cause, f.sgx), (FaultCause::Pending, true));
    lp.eresume().unwrap();
    lp.eaccept(addr, SecInfo::eaug()).unwrap();
    assert!(lp.is_inside());
    lp.write_u64(addr, 42).unwrap();
    assert_eq!(lp.read_u64(addr).unwrap(), 42);
    assert_eq!(entry(&m, AUG).secinfo, SecInfo::reg(Perms::RW));
    assert_eq!(m.ledger().count(Event::Eaccept), 1);
    lp.eexit().unwrap();
    m.validate().unwrap();
}

#[test]
fn eaccept_with_attributes_that_differ_is_page_attributes_mismatch_and_stays_inside() {
    let (m, e) = setup(1);
    let mut lp = e.enter();
    let addr = aug(&e, AUG, 3);
    let wrong = [
        SecInfo::emodpr(Perms::RW), // PENDING differs
        SecInfo {
            pending: true,
            ..SecInfo::reg(Perms::R) // W differs
        },
        SecInfo {
            pending: true,
            ..SecInfo::reg(Perms::RWX) // X differs
        },
    ];
    for si in wrong {
        let r = assert_no_change(&m, PAGES, || lp.eaccept(addr, si));
        assert_eq!(r, Err(LpError::Sgx(SgxError::PageAttributesMismatch)));
        assert!(lp.is_inside(), "an SGX error code takes no AEX");
    }
    // A page mapped at another address than its EPCM's.
    e.pt.map(e.addr(9), AUG, true);
    let r = assert_no_change(&m, PAGES, || lp.eaccept(e.addr(9), SecInfo::eaug()));
    assert_eq!(r, Err(LpError::Sgx(SgxError::PageAttributesMismatch)));
    // EMODT'd to TRIM, accepted as TCS.
    m.emodt(e.pages[0], PageType::Trim).unwrap();
    let r = assert_no_change(&m, PAGES, || {
        lp.eaccept(e.addr(0), SecInfo::emodt(PageType::Tcs))
    });
    assert_eq!(r, Err(LpError::Sgx(SgxError::PageAttributesMismatch)));
    lp.eexit().unwrap();
}

#[test]
fn eaccept_with_an_illegal_request_is_gp_and_takes_an_aex() {
    let (m, e) = setup(0);
    let mut lp = e.enter();
    let addr = aug(&e, AUG, 3);
    for si in [
        SecInfo::reg(Perms::RW), // neither PENDING nor PR
        SecInfo {
            modified: true,
            ..SecInfo::eaug()
        },
        SecInfo {
            pending: true,
            ..SecInfo::emodt(PageType::Trim)
        },
        SecInfo::emodt(PageType::Va),
    ] {
        let r = epcm_unchanged(&m, || lp.eaccept(addr, si));
        assert_eq!(r, Err(LpError::GeneralProtection(GpCause::InvalidSecInfo)));
        assert!(lp.is_interrupted());
        lp.eresume().unwrap();
    }
    lp.eexit().unwrap();
}

#[test]
fn eaccept_of_an_address_that_is_misaligned_or_outside_elrange_is_gp() {
    let (m, e) = setup(0);
    let mut lp = e.enter();
    let addr = aug(&e, AUG, 3);
    let r = epcm_unchanged(&m, || lp.eaccept(addr.add(64), SecInfo::eaug()));
    assert_eq!(r, Err(LpError::GeneralProtection(GpCause::Misaligned)));
    lp.eresume().unwrap();
    let r = lp.eaccept(e.base.add(e.size), SecInfo::eaug());
    assert_eq!(r, Err(LpError::GeneralProtection(GpCause::OutsideElrange)));
    lp.eresume().unwrap();
    lp.eexit().unwrap();
    assert_eq!(
        lp.eaccept(addr, SecInfo::eaug()),
        Err(LpError::NotInEnclave)
    );
}

#[test]
fn eaccept_of_an_unmapped_page_faults_not_present_and_succeeds_once_mapped() {
    // The EDMM way: the enclave EACCEPTs an address with no page, the OS
    // EAUGs on the fault, and ERESUME runs the EACCEPT again.
    let (m, e) = setup(0);
    let mut lp = e.enter();
    let addr = e.addr(6);
    let f = fault_of(lp.eaccept(addr, SecInfo::eaug()));
    assert_eq!(
        (f.page, f.cause, f.sgx, f.epc_page),
        (addr, FaultCause::NotPresent, false, None)
    );
    assert!(lp.is_interrupted());
    aug(&e, AUG, 6);
    lp.eresume().unwrap();
    lp.eaccept(addr, SecInfo::eaug()).unwrap();
    lp.eexit().unwrap();
    m.validate().unwrap();
}

#[test]
fn eaccept_of_a_page_the_epcm_refuses_is_pf_with_the_sgx_bit() {
    let (m, e) = setup(1);
    let other = TestEnclave::build(&m, 20, BASE.add(SIZE), 1);
    let mut lp = e.enter();
    // Blocked.
    let addr = aug(&e, AUG, 3);
    assert_eq!(m.eblock(AUG).unwrap().warning, None);
    let f = fault_of(lp.eaccept(addr, SecInfo::eaug()));
    assert_eq!((f.cause, f.sgx), (FaultCause::Blocked, true));
    lp.eresume().unwrap();
    // Another enclave's page mapped here.
    e.pt.map(e.addr(4), other.pages[0], true);
    let f = fault_of(lp.eaccept(e.addr(4), SecInfo::emodpr(Perms::RW)));
    assert_eq!(f.cause, FaultCause::WrongOwner);
    lp.eresume().unwrap();
    // A free page.
    e.pt.map(e.addr(5), AUG2, true);
    let f = fault_of(lp.eaccept(e.addr(5), SecInfo::eaug()));
    assert_eq!(f.cause, FaultCause::EpcmInvalid);
    lp.eresume().unwrap();
    // The SECS.
    e.pt.map(e.addr(6), e.secs, true);
    let f = fault_of(lp.eaccept(e.addr(6), SecInfo::eaug()));
    assert_eq!(f.cause, FaultCause::WrongType);
    lp.eresume().unwrap();
    lp.eexit().unwrap();
    m.validate().unwrap();
}

#[test]
fn eaccept_of_a_page_held_exclusively_is_gp_conflict() {
    let (m, e) = setup(0);
    let mut lp = e.enter();
    let addr = aug(&e, AUG, 3);
    let held = m.hold_page_for_test(AUG, true).unwrap();
    let r = lp.eaccept(addr, SecInfo::eaug());
    assert_eq!(
        r,
        Err(LpError::GeneralProtection(GpCause::Conflict(
            Operand::Target
        )))
    );
    drop(held);
    lp.eresume().unwrap();
    // Beside a shared holder (EBLOCK is one) it runs.
    let held = m.hold_page_for_test(AUG, false).unwrap();
    lp.eaccept(addr, SecInfo::eaug()).unwrap();
    drop(held);
    lp.eexit().unwrap();
}

#[test]
fn eaccept_after_emodpr_is_not_tracked_until_an_etrack_cycle_completes() {
    // §6.16's ninth negative test, with both ways a cycle can fail to
    // complete: no ETRACK at all, and an ETRACK whose LPs have not exited.
    let (m, e) = setup(1);
    let mut lp = e.enter();
    let addr = e.addr(0);
    m.emodpr(e.pages[0], Perms::R).unwrap();
    let si = SecInfo::emodpr(Perms::R);
    let r = assert_no_change(&m, PAGES, || lp.eaccept(addr, si));
    assert_eq!(r, Err(LpError::Sgx(SgxError::NotTracked)));
    assert_eq!(SgxError::NotTracked.code(), 11);
    m.etrack(e.secs).unwrap();
    let r = assert_no_change(&m, PAGES, || lp.eaccept(addr, si));
    assert_eq!(r, Err(LpError::Sgx(SgxError::NotTracked)));
    // An ETRACK done before the EMODPR does not count either.
    assert_eq!(m.ipi_enclave(e.secs), 1);
    assert_eq!(lp.eaccept(addr, si), Err(LpError::Interrupted));
    lp.eresume().unwrap();
    m.emodpr(e.pages[0], Perms::R).unwrap();
    assert_eq!(
        lp.eaccept(addr, si),
        Err(LpError::Sgx(SgxError::NotTracked))
    );
    m.etrack(e.secs).unwrap();
    // Still inside since the ETRACK: not yet.
    assert_eq!(
        lp.eaccept(addr, si),
        Err(LpError::Sgx(SgxError::NotTracked))
    );
    assert_eq!(m.ipi_enclave(e.secs), 1);
    assert_eq!(lp.eaccept(addr, si), Err(LpError::Interrupted));
    lp.eresume().unwrap();
    lp.eaccept(addr, si).unwrap();
    let en = entry(&m, e.pages[0]);
    assert_eq!(
        (en.secinfo, en.modify_epoch),
        (SecInfo::reg(Perms::R), None)
    );
    lp.eexit().unwrap();
    m.validate().unwrap();
}

#[test]
fn eaccept_of_a_new_tcs_checks_it_and_threads_then_enter_through_it() {
    let (m, e) = setup(3);
    let mut lp = e.enter();
    // REG page 0 becomes a TCS whose SSA frame is REG page 1.
    let ssa = e.addr(1).0 - e.base.0;
    let tcs = Tcs {
        ossa: ssa,
        nssa: 1,
        oentry: 0,
    };
    lp.write_page(e.addr(0), &tcs.to_page()).unwrap();
    // REG page 2 becomes a TCS without SSA frames.
    lp.write_page(
        e.addr(2),
        &Tcs {
            ossa: ssa,
            nssa: 0,
            oentry: 0,
        }
        .to_page(),
    )
    .unwrap();
    lp.eexit().unwrap();
    m.emodt(e.pages[0], PageType::Tcs).unwrap();
    m.emodt(e.pages[2], PageType::Tcs).unwrap();
    // Not enterable while MODIFIED.
    let mut lp2 = m.new_lp().unwrap();
    let f = fault_of(lp2.eenter(e.addr(0), e.pt.clone()));
    assert_eq!(f.cause, FaultCause::Modified);
    m.etrack(e.secs).unwrap();
    lp.eenter(e.tcs, e.pt.clone()).unwrap();
    let r = lp.eaccept(e.addr(2), SecInfo::emodt(PageType::Tcs));
    assert_eq!(r, Err(LpError::GeneralProtection(GpCause::InvalidTcs)));
    lp.eresume().unwrap();
    lp.eaccept(e.addr(0), SecInfo::emodt(PageType::Tcs))
        .unwrap();
    lp2.eenter(e.addr(0), e.pt.clone()).unwrap();
    assert_eq!(m.enclave_info(e.secs).unwrap().lps_inside, 2);
    m.validate().unwrap();
    lp2.eexit().unwrap();
    lp.eexit().unwrap();
}

// ---------------------------------------------------------------- TLB

#[test]
fn stale_translations_keep_their_rights_after_emodpr_until_the_lp_exits() {
    let (m, e, tcs2) = setup_two_tcs(1);
    let addr = e.addr(0);
    let mut a = e.enter();
    a.write_u64(addr, 1).unwrap(); // cached writable
    m.emodpr(e.pages[0], Perms::R).unwrap();
    // A's TLB still grants W.
    a.write_u64(addr, 2).unwrap();
    // A fresh LP walks and the EPCM refuses the write.
    let mut b = m.new_lp().unwrap();
    b.eenter(tcs2, e.pt.clone()).unwrap();
    let f = fault_of(b.write_u64(addr, 3));
    assert_eq!(
        (f.cause, f.sgx, f.write),
        (FaultCause::Permission, true, true)
    );
    assert!(!f.cause.is_retryable());
    b.eresume().unwrap();
    assert_eq!(b.read_u64(addr).unwrap(), 2);
    b.eexit().unwrap();
    // After A leaves and comes back, its write faults too.
    a.eexit().unwrap();
    a.eenter(e.tcs, e.pt.clone()).unwrap();
    assert_eq!(fault_of(a.write_u64(addr, 4)).cause, FaultCause::Permission);
    m.validate().unwrap();
}

#[test]
fn stale_translations_survive_emodt_but_a_miss_faults_modified() {
    let (m, e) = setup(1);
    let addr = e.addr(0);
    let mut a = e.enter();
    assert_eq!(a.read_u64(addr).unwrap(), a.read_u64(addr).unwrap());
    m.emodt(e.pages[0], PageType::Trim).unwrap();
    a.write_u64(addr, 7).unwrap();
    a.eexit().unwrap();
    a.eenter(e.tcs, e.pt.clone()).unwrap();
    let f = fault_of(a.read_u64(addr));
    assert_eq!((f.cause, f.sgx), (FaultCause::Modified, true));
    m.validate().unwrap();
}

// ---------------------------------------------------------------- EACCEPTCOPY

#[test]
fn eacceptcopy_fills_a_pending_page_from_another_and_sets_its_permissions() {
    let (m, e) = setup(1);
    let mut lp = e.enter();
    lp.write_page(e.addr(0), &pattern(5)).unwrap();
    let dst = aug(&e, AUG, 4);
    lp.eacceptcopy(dst, e.addr(0), SecInfo::reg(Perms::R))
        .unwrap();
    let en = entry(&m, AUG);
    assert_eq!(en.secinfo, SecInfo::reg(Perms::R));
    let mut out = [0u8; 4096];
    lp.read_page(dst, &mut out).unwrap();
    assert_eq!(&out, &*pattern(5));
    assert_eq!(fault_of(lp.write_u64(dst, 0)).cause, FaultCause::Permission);
    lp.eresume().unwrap();
    assert_eq!(m.ledger().count(Event::Eacceptcopy), 1);
    lp.eexit().unwrap();
    m.validate().unwrap();
}

#[test]
fn eacceptcopy_into_a_page_that_is_not_pending_is_page_attributes_mismatch() {
    let (m, e) = setup(2);
    let mut lp = e.enter();
    let r = assert_no_change(&m, PAGES, || {
        lp.eacceptcopy(e.addr(1), e.addr(0), SecInfo::reg(Perms::R))
    });
    assert_eq!(r, Err(LpError::Sgx(SgxError::PageAttributesMismatch)));
    assert!(lp.is_inside());
    lp.eexit().unwrap();
}

#[test]
fn eacceptcopy_faults_on_a_pending_source_an_illegal_secinfo_and_a_read_only_mapping() {
    let (m, e) = setup(0);
    let mut lp = e.enter();
    let dst = aug(&e, AUG, 3);
    let src = aug(&e, AUG2, 4);
    let f = fault_of(lp.eacceptcopy(dst, src, SecInfo::reg(Perms::R)));
    assert_eq!((f.page, f.cause), (src, FaultCause::Pending));
    lp.eresume().unwrap();
    lp.eaccept(src, SecInfo::eaug()).unwrap();
    let r = lp.eacceptcopy(dst, src, SecInfo::emodt(PageType::Tcs));
    assert_eq!(r, Err(LpError::GeneralProtection(GpCause::InvalidSecInfo)));
    lp.eresume().unwrap();
    let r = lp.eacceptcopy(dst, src, SecInfo::reg(Perms::W));
    assert_eq!(r, Err(LpError::GeneralProtection(GpCause::InvalidSecInfo)));
    lp.eresume().unwrap();
    e.pt.map(dst, AUG, false);
    let f = fault_of(lp.eacceptcopy(dst, src, SecInfo::reg(Perms::R)));
    assert_eq!(
        (f.page, f.cause, f.sgx),
        (dst, FaultCause::PteReadOnly, false)
    );
    lp.eresume().unwrap();
    assert!(entry(&m, AUG).secinfo.pending);
    lp.eexit().unwrap();
    m.validate().unwrap();
}

// ---------------------------------------------------------------- EMODPE

#[test]
fn emodpe_extends_permissions_without_tracking() {
    let (m, e) = setup(1);
    m.emodpr(e.pages[0], Perms::R).unwrap();
    m.etrack(e.secs).unwrap();
    let mut lp = e.enter();
    lp.eaccept(e.addr(0), SecInfo::emodpr(Perms::R)).unwrap();
    assert_eq!(
        fault_of(lp.write_u64(e.addr(0), 1)).cause,
        FaultCause::Permission
    );
    lp.eresume().unwrap();
    lp.emodpe(e.addr(0), Perms::W.union(Perms::X)).unwrap();
    assert_eq!(entry(&m, e.pages[0]).secinfo.perms, Perms::RWX);
    lp.write_u64(e.addr(0), 1).unwrap();
    assert_eq!(m.ledger().count(Event::Emodpe), 1);
    lp.eexit().unwrap();
    m.validate().unwrap();
}

#[test]
fn emodpe_faults_on_a_pending_or_non_reg_page_and_refuses_w_without_r() {
    let (m, e) = setup(1);
    let mut lp = e.enter();
    let addr = aug(&e, AUG, 3);
    let f = fault_of(lp.emodpe(addr, Perms::X));
    assert_eq!((f.cause, f.sgx), (FaultCause::Pending, true));
    lp.eresume().unwrap();
    let f = fault_of(lp.emodpe(e.tcs, Perms::R));
    assert_eq!(f.cause, FaultCause::WrongType);
    lp.eresume().unwrap();
    lp.eexit().unwrap();
    m.emodpr(e.pages[0], Perms::NONE).unwrap();
    m.etrack(e.secs).unwrap();
    lp.eenter(e.tcs, e.pt.clone()).unwrap();
    lp.eaccept(e.addr(0), SecInfo::emodpr(Perms::NONE)).unwrap();
    let r = lp.emodpe(e.addr(0), Perms::W);
    assert_eq!(r, Err(LpError::GeneralProtection(GpCause::InvalidSecInfo)));
    lp.eresume().unwrap();
    lp.emodpe(e.addr(0), Perms::RW).unwrap();
    lp.eexit().unwrap();
    m.validate().unwrap();
}

// ---------------------------------------------------------------- causes

#[test]
fn fault_causes_tell_faults_to_retry_from_access_errors() {
    let (m, e) = setup(2);
    let mut lp = e.enter();
    e.pt.unmap(e.addr(0));
    let f = fault_of(lp.read_u64(e.addr(0)));
    assert_eq!((f.cause, f.sgx), (FaultCause::NotPresent, false));
    assert!(f.cause.is_retryable());
    lp.eresume().unwrap();
    e.pt.map(e.addr(1), e.pages[1], false);
    let f = fault_of(lp.write_u64(e.addr(1), 0));
    assert_eq!((f.cause, f.sgx), (FaultCause::PteReadOnly, false));
    lp.eresume().unwrap();
    e.pt.map(e.addr(0), e.tcs_page, true);
    let f = fault_of(lp.read_u64(e.addr(0)));
    assert_eq!((f.cause, f.sgx), (FaultCause::WrongType, true));
    assert!(!f.cause.is_retryable());
    lp.eresume().unwrap();
    lp.eexit().unwrap();
    m.validate().unwrap();
}
