//! The OS side of SGX2 (EDMM): EAUG, EMODPR, EMODT, EREMOVE of trimmed
//! pages, and EWB/ELDU of pages in the SGX2 states. Each leaf's success
//! path, then each fault, SGX error code (no state change) in the SDM's
//! order (`sgx-paging-model.md` §1.7, §6 rule 13; the SDM pages cited in
//! `src/encls/edmm.rs`).

mod common;

use common::*;
use epc_hw::*;
use std::sync::Arc;

const PAGES: u32 = 64;
/// Free pages for EAUG.
const AUG: EpcPageId = EpcPageId(40);
const AUG2: EpcPageId = EpcPageId(41);
const VA: EpcPageId = EpcPageId(50);
const NON_EPC: EpcPageId = EpcPageId(PAGES);

/// A machine with an initialized enclave of `n` REG pages and a VA page.
fn setup(n: u32) -> (Arc<Machine>, TestEnclave) {
    let m = machine(PAGES);
    let e = TestEnclave::build(&m, 0, BASE, n);
    m.epa(VA).expect("EPA");
    (m, e)
}

fn children(m: &Machine, secs: EpcPageId) -> u32 {
    m.enclave_info(secs).expect("resident SECS").children
}

fn entry(m: &Machine, p: EpcPageId) -> EpcmEntry {
    m.epcm(p).expect("EPC page")
}

/// The SECINFO an enclave gives EACCEPT for a page added by EAUG.
fn pending_rw() -> SecInfo {
    SecInfo::eaug()
}

// ---------------------------------------------------------------- codes

#[test]
fn sgx2_error_codes_match_the_reference() {
    assert_eq!(SgxError::PageAttributesMismatch.code(), 19);
    assert_eq!(SgxError::PageNotModifiable.code(), 20);
}

// ---------------------------------------------------------------- EAUG

#[test]
fn eaug_adds_a_zeroed_pending_rw_reg_page_inside_elrange() {
    let (m, e) = setup(1);
    let addr = e.addr(5);
    let before = children(&m, e.secs);
    m.eaug(AUG2, e.secs, addr).unwrap();
    let en = entry(&m, AUG2);
    assert!(en.valid && !en.blocked);
    assert_eq!(en.secinfo, pending_rw());
    assert_eq!(
        (en.secs, en.linaddr, en.modify_epoch),
        (Some(e.secs), addr, None)
    );
    assert_eq!(children(&m, e.secs), before + 1);
    assert_eq!(m.ledger().count(Event::Eaug), 1);
    m.validate().unwrap();
    // Accepted, it reads as zeros.
    e.pt.map(addr, AUG2, true);
    let mut lp = e.enter();
    lp.eaccept(addr, pending_rw()).unwrap();
    assert_eq!(lp.read_u64(addr.add(8)).unwrap(), 0);
    lp.eexit().unwrap();
    m.validate().unwrap();
}

#[test]
fn eaug_zeroes_a_page_that_held_enclave_data() {
    let (m, e) = setup(0);
    let addr = e.addr(7);
    m.eaug(AUG, e.secs, addr).unwrap();
    e.pt.map(addr, AUG, true);
    let mut lp = e.enter();
    lp.eaccept(addr, pending_rw()).unwrap();
    lp.write_page(addr, &pattern(9)).unwrap();
    lp.eexit().unwrap();
    m.emodt(AUG, PageType::Trim).unwrap();
    m.etrack(e.secs).unwrap();
    lp.eenter(e.tcs, e.pt.clone()).unwrap();
    lp.eaccept(addr, SecInfo::emodt(PageType::Trim)).unwrap();
    m.eremove(AUG).unwrap();
    m.eaug(AUG, e.secs, addr).unwrap();
    lp.eaccept(addr, pending_rw()).unwrap();
    let mut out = [0u8; 4096];
    lp.read_page(addr, &mut out).unwrap();
    assert!(out.iter().all(|&b| b == 0));
    lp.eexit().unwrap();
    m.validate().unwrap();
}

#[test]
fn eaug_of_an_uninitialized_enclave_is_gp_not_initialized() {
    let m = machine(PAGES);
    let e = TestEnclave::build_uninit(&m, 0, BASE, 0);
    let r = assert_no_change(&m, PAGES, || m.eaug(AUG, e.secs, e.addr(0)));
    assert_eq!(r, Err(gp(GpCause::NotInitialized)));
}

#[test]
fn eaug_outside_elrange_is_gp_outside_elrange() {
    let (m, e) = setup(0);
    let outside = e.base.add(e.size);
    let r = assert_no_change(&m, PAGES, || m.eaug(AUG, e.secs, outside));
    assert_eq!(r, Err(gp(GpCause::OutsideElrange)));
}

#[test]
fn eaug_at_a_misaligned_address_is_gp() {
    let (m, e) = setup(0);
    let r = assert_no_change(&m, PAGES, || m.eaug(AUG, e.secs, e.addr(0).add(8)));
    assert_eq!(r, Err(gp(GpCause::Misaligned)));
}

#[test]
fn eaug_into_a_valid_page_is_pf_already_valid() {
    let (m, e) = setup(1);
    let r = assert_no_change(&m, PAGES, || m.eaug(e.pages[0], e.secs, e.addr(3)));
    assert_eq!(r, Err(pf(Operand::Target, PfCause::AlreadyValid)));
}

#[test]
fn eaug_with_operands_outside_the_epc_is_pf_not_epc() {
    let (m, e) = setup(0);
    let r = assert_no_change(&m, PAGES, || m.eaug(NON_EPC, e.secs, e.addr(0)));
    assert_eq!(r, Err(pf(Operand::Target, PfCause::NotEpc)));
    let r = assert_no_change(&m, PAGES, || m.eaug(AUG, NON_EPC, e.addr(0)));
    assert_eq!(r, Err(pf(Operand::Secs, PfCause::NotEpc)));
}

#[test]
fn eaug_with_a_secs_operand_that_is_not_a_secs_is_pf() {
    let (m, e) = setup(0);
    let r = assert_no_change(&m, PAGES, || m.eaug(AUG, e.tcs_page, e.addr(0)));
    assert_eq!(r, Err(pf(Operand::Secs, PfCause::WrongType)));
    let r = assert_no_change(&m, PAGES, || m.eaug(AUG, AUG2, e.addr(0)));
    assert_eq!(r, Err(pf(Operand::Secs, PfCause::NotValid)));
}

#[test]
fn eaug_on_a_page_in_use_is_gp_conflict() {
    let (m, e) = setup(0);
    let held = m.hold_page_for_test(AUG, false).unwrap();
    let r = m.eaug(AUG, e.secs, e.addr(0));
    assert_eq!(r, Err(gp(GpCause::Conflict(Operand::Target))));
    drop(held);
    let held = m.hold_page_for_test(e.secs, true).unwrap();
    let r = m.eaug(AUG, e.secs, e.addr(0));
    assert_eq!(r, Err(gp(GpCause::Conflict(Operand::Secs))));
    drop(held);
    assert!(!entry(&m, AUG).valid);
    m.validate().unwrap();
}

// ---------------------------------------------------------------- EMODPR

#[test]
fn emodpr_ands_the_permissions_and_sets_pr_with_the_current_epoch() {
    let (m, e) = setup(1);
    m.etrack(e.secs).unwrap();
    m.emodpr(e.pages[0], Perms::R.union(Perms::X)).unwrap();
    let en = entry(&m, e.pages[0]);
    assert_eq!(en.secinfo.perms, Perms::R, "RW & RX");
    assert!(en.secinfo.pr && !en.secinfo.pending && !en.secinfo.modified);
    assert_eq!(en.modify_epoch, Some(1));
    // A mask that restricts nothing still sets PR.
    m.emodpr(e.pages[0], Perms::RWX).unwrap();
    assert_eq!(entry(&m, e.pages[0]).secinfo.perms, Perms::R);
    assert_eq!(m.ledger().count(Event::Emodpr), 2);
    m.validate().unwrap();
}

#[test]
fn emodpr_of_a_pending_or_modified_page_is_sgx_page_not_modifiable() {
    let (m, e) = setup(1);
    m.eaug(AUG, e.secs, e.addr(4)).unwrap();
    let r = assert_no_change(&m, PAGES, || m.emodpr(AUG, Perms::R));
    assert_eq!(r, Err(sgx(SgxError::PageNotModifiable)));
    assert_eq!(r.unwrap_err().sgx().unwrap().code(), 20);
    m.emodt(e.pages[0], PageType::Trim).unwrap();
    let r = assert_no_change(&m, PAGES, || m.emodpr(e.pages[0], Perms::R));
    assert_eq!(r, Err(sgx(SgxError::PageNotModifiable)));
}

#[test]
fn emodpr_of_a_page_that_is_not_reg_is_pf_wrong_type() {
    let (m, e) = setup(0);
    let r = assert_no_change(&m, PAGES, || m.emodpr(e.tcs_page, Perms::R));
    assert_eq!(r, Err(pf(Operand::Target, PfCause::WrongType)));
    let r = assert_no_change(&m, PAGES, || m.emodpr(VA, Perms::R));
    assert_eq!(r, Err(pf(Operand::Target, PfCause::WrongType)));
}

#[test]
fn emodpr_of_an_accepted_trim_page_is_pf_which_proves_the_accept() {
    // Linux's SGX_IOC_ENCLAVE_REMOVE_PAGES probes with EMODPR: only a #PF
    // shows the enclave has accepted the trim (linux-sgx-epc.md §1.11).
    let (m, e) = setup(1);
    m.emodt(e.pages[0], PageType::Trim).unwrap();
    assert_eq!(
        m.emodpr(e.pages[0], Perms::RWX),
        Err(sgx(SgxError::PageNotModifiable))
    );
    m.etrack(e.secs).unwrap();
    let mut lp = e.enter();
    lp.eaccept(e.addr(0), SecInfo::emodt(PageType::Trim))
        .unwrap();
    lp.eexit().unwrap();
    assert_eq!(
        m.emodpr(e.pages[0], Perms::RWX),
        Err(pf(Operand::Target, PfCause::WrongType))
    );
}

#[test]
fn emodpr_of_a_free_or_non_epc_page_is_pf() {
    let (m, _e) = setup(0);
    let r = assert_no_change(&m, PAGES, || m.emodpr(AUG, Perms::R));
    assert_eq!(r, Err(pf(Operand::Target, PfCause::NotValid)));
    let r = assert_no_change(&m, PAGES, || m.emodpr(NON_EPC, Perms::R));
    assert_eq!(r, Err(pf(Operand::Target, PfCause::NotEpc)));
}

#[test]
fn emodpr_with_write_but_not_read_is_gp_invalid_secinfo() {
    let (m, e) = setup(1);
    let r = assert_no_change(&m, PAGES, || m.emodpr(e.pages[0], Perms::W));
    assert_eq!(r, Err(gp(GpCause::InvalidSecInfo)));
}

#[test]
fn emodpr_and_emodt_of_a_page_in_use_are_sgx_epc_page_conflict() {
    let (m, e) = setup(1);
    let held = m.hold_page_for_test(e.pages[0], false).unwrap();
    assert_eq!(
        m.emodpr(e.pages[0], Perms::R),
        Err(sgx(SgxError::EpcPageConflict))
    );
    assert_eq!(
        m.emodt(e.pages[0], PageType::Trim),
        Err(sgx(SgxError::EpcPageConflict))
    );
    drop(held);
    assert_eq!(entry(&m, e.pages[0]).secinfo, SecInfo::reg(Perms::RW));
    m.validate().unwrap();
}

#[test]
fn emodpr_and_emodt_of_an_uninitialized_enclave_are_gp_not_initialized() {
    let m = machine(PAGES);
    let e = TestEnclave::build_uninit(&m, 0, BASE, 1);
    let r = assert_no_change(&m, PAGES, || m.emodpr(e.pages[0], Perms::R));
    assert_eq!(r, Err(gp(GpCause::NotInitialized)));
    let r = assert_no_change(&m, PAGES, || m.emodt(e.pages[0], PageType::Trim));
    assert_eq!(r, Err(gp(GpCause::NotInitialized)));
}

// ---------------------------------------------------------------- EMODT

#[test]
fn emodt_sets_the_type_and_modified_and_clears_the_permissions() {
    let (m, e) = setup(2);
    m.emodpr(e.pages[1], Perms::R).unwrap();
    m.etrack(e.secs).unwrap();
    m.emodt(e.pages[0], PageType::Tcs).unwrap();
    // EMODT of a page with PR set clears PR.
    m.emodt(e.pages[1], PageType::Trim).unwrap();
    m.emodt(e.tcs_page, PageType::Trim).unwrap();
    for (p, t) in [
        (e.pages[0], PageType::Tcs),
        (e.pages[1], PageType::Trim),
        (e.tcs_page, PageType::Trim),
    ] {
        let en = entry(&m, p);
        assert_eq!(
            en.secinfo,
            SecInfo {
                page_type: t,
                perms: Perms::NONE,
                pending: false,
                modified: true,
                pr: false,
            }
        );
        assert_eq!(en.modify_epoch, Some(1));
    }
    assert_eq!(m.ledger().count(Event::Emodt), 3);
    m.validate().unwrap();
}

#[test]
fn emodt_to_a_type_other_than_tcs_or_trim_is_gp_invalid_secinfo() {
    let (m, e) = setup(1);
    for t in [PageType::Reg, PageType::Secs, PageType::Va] {
        let r = assert_no_change(&m, PAGES, || m.emodt(e.pages[0], t));
        assert_eq!(r, Err(gp(GpCause::InvalidSecInfo)));
    }
}

#[test]
fn emodt_from_a_type_that_cannot_change_is_pf_wrong_type() {
    let (m, e) = setup(1);
    // TCS to TCS, SECS and VA to anything, and TRIM back to TCS.
    for (p, t) in [
        (e.tcs_page, PageType::Tcs),
        (e.secs, PageType::Trim),
        (VA, PageType::Trim),
    ] {
        let r = assert_no_change(&m, PAGES, || m.emodt(p, t));
        assert_eq!(r, Err(pf(Operand::Target, PfCause::WrongType)));
    }
    m.emodt(e.pages[0], PageType::Trim).unwrap();
    let r = assert_no_change(&m, PAGES, || m.emodt(e.pages[0], PageType::Tcs));
    assert_eq!(r, Err(pf(Operand::Target, PfCause::WrongType)));
    let r = assert_no_change(&m, PAGES, || m.emodt(AUG, PageType::Trim));
    assert_eq!(r, Err(pf(Operand::Target, PfCause::NotValid)));
}

#[test]
fn emodt_of_a_pending_or_modified_page_is_sgx_page_not_modifiable() {
    let (m, e) = setup(1);
    m.eaug(AUG, e.secs, e.addr(4)).unwrap();
    let r = assert_no_change(&m, PAGES, || m.emodt(AUG, PageType::Trim));
    assert_eq!(r, Err(sgx(SgxError::PageNotModifiable)));
    m.emodt(e.pages[0], PageType::Tcs).unwrap();
    let r = assert_no_change(&m, PAGES, || m.emodt(e.pages[0], PageType::Trim));
    assert_eq!(r, Err(sgx(SgxError::PageNotModifiable)));
}

// ---------------------------------------------------------------- EREMOVE

#[test]
fn eremove_of_an_accepted_trim_page_succeeds_with_a_thread_inside() {
    let (m, e) = setup(2);
    m.emodt(e.pages[0], PageType::Trim).unwrap();
    m.etrack(e.secs).unwrap();
    let mut lp = e.enter();
    let trim = SecInfo::emodt(PageType::Trim);
    lp.eaccept(e.addr(0), trim).unwrap();
    assert!(lp.is_inside());
    let before = children(&m, e.secs);
    m.eremove(e.pages[0]).unwrap();
    assert!(!entry(&m, e.pages[0]).valid);
    assert_eq!(children(&m, e.secs), before - 1);
    assert_eq!(m.ledger().count(Event::EremoveTrim), 1);
    assert_eq!(m.ledger().count(Event::Eremove), 0);
    m.validate().unwrap();
    // Any other enclave page still needs the enclave empty.
    let r = assert_no_change(&m, PAGES, || m.eremove(e.pages[1]));
    assert_eq!(r, Err(sgx(SgxError::EnclaveAct)));
    lp.eexit().unwrap();
}

#[test]
fn eremove_of_an_unaccepted_trim_page_is_enclave_act_while_a_thread_is_inside() {
    // SDM EREMOVE: a TRIM page with MODIFIED set is not "already unused";
    // it falls through to the SGX_ENCLAVE_ACT check like a REG page.
    let (m, e) = setup(1);
    m.emodt(e.pages[0], PageType::Trim).unwrap();
    let mut lp = e.enter();
    let r = assert_no_change(&m, PAGES, || m.eremove(e.pages[0]));
    assert_eq!(r, Err(sgx(SgxError::EnclaveAct)));
    lp.eexit().unwrap();
    m.eremove(e.pages[0]).unwrap();
    assert_eq!(m.ledger().count(Event::Eremove), 1);
    assert_eq!(m.ledger().count(Event::EremoveTrim), 0);
    m.validate().unwrap();
}

// ---------------------------------------------------------------- EWB/ELDU

#[test]
fn ewb_and_eldu_carry_pending_pr_and_modified_states_and_need_no_new_tracking() {
    // SDM EWB seals PT, RWX, PENDING, MODIFIED and PR into the MAC header
    // and PCMD without checking them; ELDU restores them from PCMD. The
    // reloaded page was free, so its EACCEPT needs no further ETRACK.
    let (m, e) = setup(2);
    m.eaug(AUG, e.secs, e.addr(4)).unwrap();
    m.emodpr(e.pages[0], Perms::R).unwrap();
    m.emodt(e.pages[1], PageType::Trim).unwrap();
    let cases = [
        (AUG, e.addr(4), pending_rw()),
        (e.pages[0], e.addr(0), SecInfo::emodpr(Perms::R)),
        (e.pages[1], e.addr(1), SecInfo::emodt(PageType::Trim)),
    ];
    let mut lp = m.new_lp().unwrap();
    for (i, &(page, addr, secinfo)) in cases.iter().enumerate() {
        let va = slot(VA, i as u16);
        let (blob, linaddr) = e.evict(page, va);
        assert_eq!(linaddr, addr);
        assert_eq!(blob.pcmd.secinfo, secinfo);
        let dst = EpcPageId(44 + i as u32);
        m.eldu(dst, addr, &blob, Some(e.secs), va).unwrap();
        let en = entry(&m, dst);
        assert_eq!((en.secinfo, en.modify_epoch), (secinfo, None));
        e.pt.map(addr, dst, true);
        m.validate().unwrap();
        // No ETRACK since the EMODPR/EMODT, yet EACCEPT is tracked.
        lp.eenter(e.tcs, e.pt.clone()).unwrap();
        lp.eaccept(addr, secinfo).unwrap();
        lp.eexit().unwrap();
        let en = entry(&m, dst);
        assert!(!en.secinfo.pending && !en.secinfo.pr && !en.secinfo.modified);
    }
    m.validate().unwrap();
}

#[test]
fn a_changed_sgx2_flag_in_pcmd_fails_the_mac() {
    let (m, e) = setup(0);
    m.eaug(AUG, e.secs, e.addr(4)).unwrap();
    let (mut blob, addr) = e.evict(AUG, slot(VA, 0));
    // Claim the page was accepted already.
    blob.pcmd.secinfo.pending = false;
    let r = assert_no_change(&m, PAGES, || {
        m.eldu(AUG2, addr, &blob, Some(e.secs), slot(VA, 0))
    });
    assert_eq!(r, Err(sgx(SgxError::MacCompareFail)));
}
