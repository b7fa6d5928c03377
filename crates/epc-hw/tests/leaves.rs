//! Every ENCLS leaf of the model: its success path, and each of its faults
//! (#GP, #PF), SGX error codes (no state change) and warnings (the leaf
//! completed), one test each. Numeric codes are checked against the
//! reference (`sgx-paging-model.md` §1.8); preconditions follow §1.3 and §6.

mod common;

use common::*;
use epc_hw::*;
use std::sync::Arc;

/// EPC size of the tests' machine.
const PAGES: u32 = 32;
/// The first VA page (made by `setup`).
const VA: EpcPageId = EpcPageId(20);
/// A second page for VA use (free after `setup`).
const VA2: EpcPageId = EpcPageId(21);
/// Free pages.
const FREE: EpcPageId = EpcPageId(24);
const FREE2: EpcPageId = EpcPageId(25);
/// Not EPC pages.
const NON_EPC: EpcPageId = EpcPageId(PAGES);
const FAR: EpcPageId = EpcPageId(u32::MAX);

/// A machine with an initialized enclave of `n` REG pages at pages 0.. and
/// an empty VA page at `VA`.
fn setup(n: u32) -> (Arc<Machine>, TestEnclave) {
    let m = machine(PAGES);
    let e = TestEnclave::build(&m, 0, BASE, n);
    m.epa(VA).expect("EPA");
    (m, e)
}

/// Asserts that `f` leaves every observable piece of state as it was, and
/// that the machine is still valid.
fn unchanged<T>(m: &Machine, f: impl FnOnce() -> T) -> T {
    let r = unchanged_held(m, f);
    m.validate().expect("valid after a failing leaf");
    r
}

/// As `unchanged`, without `validate` (which refuses while a test holds a
/// page).
fn unchanged_held<T>(m: &Machine, f: impl FnOnce() -> T) -> T {
    let before = snapshot(m, PAGES);
    let r = f();
    assert_eq!(snapshot(m, PAGES), before, "a failing leaf changed state");
    r
}

fn children(m: &Machine, secs: EpcPageId) -> u32 {
    m.enclave_info(secs).expect("resident SECS").children
}

// ---------------------------------------------------------------- codes

#[test]
fn sgx_error_codes_match_the_reference() {
    assert_eq!(SgxError::PgInvld.code(), 6);
    assert_eq!(SgxError::EpcPageConflict.code(), 7);
    assert_eq!(SgxError::MacCompareFail.code(), 9);
    assert_eq!(SgxError::PageNotBlocked.code(), 10);
    assert_eq!(SgxError::NotTracked.code(), 11);
    assert_eq!(SgxError::ChildPresent.code(), 13);
    assert_eq!(SgxError::EnclaveAct.code(), 14);
    assert_eq!(SgxError::PrevTrkIncmpl.code(), 17);
}

#[test]
fn sgx_warning_codes_match_the_reference() {
    assert_eq!(SgxWarning::BlkState.code(), 3);
    assert_eq!(SgxWarning::NotBlockable.code(), 5);
    assert_eq!(SgxWarning::VaSlotOccupied.code(), 12);
    assert_eq!(SgxWarning::PgIsSecs.code(), 18);
}

// ---------------------------------------------------------------- ECREATE

#[test]
fn ecreate_success_makes_a_valid_secs_with_a_fresh_eid() {
    let m = machine(PAGES);
    let eid = m.ecreate(EpcPageId(0), BASE, SIZE).unwrap();
    let e = m.epcm(EpcPageId(0)).unwrap();
    assert!(e.valid);
    assert_eq!(e.secinfo.page_type, PageType::Secs);
    assert_eq!(e.secinfo.perms, Perms::NONE);
    assert!(!e.blocked);
    assert_eq!(e.secs, None);
    assert_eq!(e.linaddr, LinearAddress(0));
    assert_eq!(
        m.enclave_info(EpcPageId(0)),
        Some(EnclaveInfo {
            eid,
            base: BASE,
            size: SIZE,
            initialized: false,
            children: 0,
            lps_inside: 0,
        })
    );
    let eid2 = m
        .ecreate(EpcPageId(1), LinearAddress(0x8000_0000), 2 * PAGE_SIZE)
        .unwrap();
    assert_ne!(eid, eid2, "EIDs are unique");
    assert_eq!(m.ledger().count(Event::Ecreate), 2);
    m.validate().unwrap();
}

#[test]
fn ecreate_with_a_size_that_is_not_a_power_of_two_of_two_pages_is_gp_invalid_secs() {
    let m = machine(PAGES);
    for size in [0, PAGE_SIZE, 3 * PAGE_SIZE, SIZE + PAGE_SIZE, u64::MAX] {
        let r = unchanged(&m, || m.ecreate(EpcPageId(0), BASE, size));
        assert_eq!(r, Err(gp(GpCause::InvalidSecs)), "size {size:#x}");
    }
    assert_eq!(m.epcm(EpcPageId(0)), Some(EpcmEntry::FREE));
    assert_eq!(m.ledger().count(Event::FailedLeaf), 5);
    assert_eq!(m.ledger().count(Event::Ecreate), 0);
}

#[test]
fn ecreate_with_a_base_not_aligned_to_the_size_is_gp_invalid_secs() {
    let m = machine(PAGES);
    for base in [
        BASE.add(PAGE_SIZE),
        BASE.add(SIZE / 2),
        LinearAddress(0x123),
    ] {
        let r = unchanged(&m, || m.ecreate(EpcPageId(0), base, SIZE));
        assert_eq!(r, Err(gp(GpCause::InvalidSecs)), "base {base}");
    }
    // Natural alignment is enough: base = size works.
    m.ecreate(EpcPageId(0), LinearAddress(SIZE), SIZE).unwrap();
}

#[test]
fn ecreate_on_a_valid_page_is_pf_already_valid() {
    let (m, e) = setup(1);
    for page in [e.secs, e.tcs_page, e.pages[0], VA] {
        let r = unchanged(&m, || m.ecreate(page, LinearAddress(0x8000_0000), SIZE));
        assert_eq!(
            r,
            Err(pf(Operand::Target, PfCause::AlreadyValid)),
            "{page:?}"
        );
    }
}

#[test]
fn ecreate_outside_the_epc_is_pf_not_epc() {
    let m = machine(PAGES);
    for page in [NON_EPC, FAR] {
        let r = unchanged(&m, || m.ecreate(page, BASE, SIZE));
        assert_eq!(r, Err(pf(Operand::Target, PfCause::NotEpc)));
    }
}

// ---------------------------------------------------------------- EADD

#[test]
fn eadd_reg_success_sets_the_epcm_and_copies_the_content() {
    let m = machine(PAGES);
    let e = TestEnclave::build_uninit(&m, 0, BASE, 2);
    let entry = m.epcm(e.pages[1]).unwrap();
    assert_eq!(
        entry,
        EpcmEntry {
            valid: true,
            secinfo: SecInfo::reg(Perms::RW),
            blocked: false,
            secs: Some(e.secs),
            linaddr: e.addr(1),
            block_epoch: 0,
            modify_epoch: None,
        }
    );
    // TCS, SSA and two REG pages.
    assert_eq!(children(&m, e.secs), 4);
    // A read-only page, too.
    let ro = EpcPageId(10);
    let ro_addr = e.addr(8);
    m.eadd(ro, e.secs, ro_addr, SecInfo::reg(Perms::R), &pattern(99))
        .unwrap();
    e.pt.map(ro_addr, ro, true);
    m.einit(e.secs).unwrap();
    assert_eq!(*e.read_page(e.addr(1)).unwrap(), *e.content(1));
    assert_eq!(*e.read_page(ro_addr).unwrap(), *pattern(99));
    // The EPCM denies the write although the PTE allows it.
    let mut lp = e.enter();
    match lp.write_u64(ro_addr, 1) {
        Err(LpError::PageFault(f)) => {
            assert!(f.sgx && f.write);
            assert_eq!(f.epc_page, Some(ro));
        }
        other => panic!("write to an R page: {other:?}"),
    }
    assert_eq!(m.ledger().count(Event::Eadd), 5);
    m.validate().unwrap();
}

#[test]
fn eadd_tcs_success_makes_an_enterable_tcs() {
    let m = machine(PAGES);
    let e = TestEnclave::build(&m, 0, BASE, 0);
    let entry = m.epcm(e.tcs_page).unwrap();
    assert_eq!(entry.secinfo, SecInfo::tcs());
    assert_eq!(entry.linaddr, e.tcs);
    assert_eq!(entry.secs, Some(e.secs));
    let mut lp = e.enter();
    assert_eq!(m.enclave_info(e.secs).unwrap().lps_inside, 1);
    m.validate().unwrap();
    lp.eexit().unwrap();
}

#[test]
fn eadd_outside_the_epc_is_pf_not_epc_on_that_operand() {
    let m = machine(PAGES);
    let e = TestEnclave::build_uninit(&m, 0, BASE, 0);
    let reg = SecInfo::reg(Perms::RW);
    let r = unchanged(&m, || m.eadd(NON_EPC, e.secs, e.addr(0), reg, &pattern(1)));
    assert_eq!(r, Err(pf(Operand::Target, PfCause::NotEpc)));
    let r = unchanged(&m, || m.eadd(FREE, FAR, e.addr(0), reg, &pattern(1)));
    assert_eq!(r, Err(pf(Operand::Secs, PfCause::NotEpc)));
}

#[test]
fn eadd_at_a_misaligned_address_is_gp() {
    let m = machine(PAGES);
    let e = TestEnclave::build_uninit(&m, 0, BASE, 0);
    let r = unchanged(&m, || {
        m.eadd(
            FREE,
            e.secs,
            e.addr(0).add(8),
            SecInfo::reg(Perms::RW),
            &pattern(1),
        )
    });
    assert_eq!(r, Err(gp(GpCause::Misaligned)));
}

#[test]
fn eadd_into_the_secs_page_itself_is_gp_same_page() {
    let m = machine(PAGES);
    let e = TestEnclave::build_uninit(&m, 0, BASE, 0);
    let r = unchanged(&m, || {
        m.eadd(
            e.secs,
            e.secs,
            e.addr(0),
            SecInfo::reg(Perms::RW),
            &pattern(1),
        )
    });
    assert_eq!(r, Err(gp(GpCause::SamePage)));
}

#[test]
fn eadd_of_a_type_other_than_reg_or_tcs_is_gp_invalid_secinfo() {
    let m = machine(PAGES);
    let e = TestEnclave::build_uninit(&m, 0, BASE, 0);
    for page_type in [PageType::Va, PageType::Secs, PageType::Trim] {
        let si = SecInfo {
            page_type,
            ..SecInfo::default()
        };
        let r = unchanged(&m, || m.eadd(FREE, e.secs, e.addr(0), si, &pattern(1)));
        assert_eq!(r, Err(gp(GpCause::InvalidSecInfo)), "{page_type:?}");
    }
}

#[test]
fn eadd_with_sgx2_state_bits_is_gp_invalid_secinfo() {
    let m = machine(PAGES);
    let e = TestEnclave::build_uninit(&m, 0, BASE, 0);
    let base = SecInfo::reg(Perms::RW);
    for si in [
        SecInfo {
            pending: true,
            ..base
        },
        SecInfo {
            modified: true,
            ..base
        },
        SecInfo { pr: true, ..base },
    ] {
        let r = unchanged(&m, || m.eadd(FREE, e.secs, e.addr(0), si, &pattern(1)));
        assert_eq!(r, Err(gp(GpCause::InvalidSecInfo)), "{si:?}");
    }
}

#[test]
fn eadd_of_a_tcs_with_permissions_is_gp_invalid_secinfo() {
    let m = machine(PAGES);
    let e = TestEnclave::build_uninit(&m, 0, BASE, 0);
    let content = Tcs {
        ossa: PAGE_SIZE,
        nssa: 1,
        oentry: 0,
    }
    .to_page();
    for perms in [Perms::R, Perms::RW, Perms::RWX, Perms::X] {
        let si = SecInfo {
            perms,
            ..SecInfo::tcs()
        };
        let r = unchanged(&m, || m.eadd(FREE, e.secs, e.addr(0), si, &content));
        assert_eq!(r, Err(gp(GpCause::InvalidSecInfo)), "{perms:?}");
    }
    // The same content without permissions is a fine TCS.
    m.eadd(FREE, e.secs, e.addr(0), SecInfo::tcs(), &content)
        .unwrap();
}

#[test]
fn eadd_into_a_valid_page_is_pf_already_valid() {
    let m = machine(PAGES);
    let e = TestEnclave::build_uninit(&m, 0, BASE, 1);
    m.epa(VA).unwrap();
    for page in [e.pages[0], e.tcs_page, VA] {
        let r = unchanged(&m, || {
            m.eadd(
                page,
                e.secs,
                e.addr(5),
                SecInfo::reg(Perms::RW),
                &pattern(1),
            )
        });
        assert_eq!(
            r,
            Err(pf(Operand::Target, PfCause::AlreadyValid)),
            "{page:?}"
        );
    }
}

#[test]
fn eadd_with_a_free_secs_operand_is_pf_not_valid() {
    let m = machine(PAGES);
    let r = unchanged(&m, || {
        m.eadd(FREE, FREE2, BASE, SecInfo::reg(Perms::RW), &pattern(1))
    });
    assert_eq!(r, Err(pf(Operand::Secs, PfCause::NotValid)));
}

#[test]
fn eadd_with_a_secs_operand_of_the_wrong_type_is_pf_wrong_type() {
    let m = machine(PAGES);
    let e = TestEnclave::build_uninit(&m, 0, BASE, 1);
    m.epa(VA).unwrap();
    for not_secs in [VA, e.pages[0], e.tcs_page] {
        let r = unchanged(&m, || {
            m.eadd(
                FREE,
                not_secs,
                e.addr(5),
                SecInfo::reg(Perms::RW),
                &pattern(1),
            )
        });
        assert_eq!(
            r,
            Err(pf(Operand::Secs, PfCause::WrongType)),
            "{not_secs:?}"
        );
    }
}

#[test]
fn eadd_after_einit_is_gp_already_initialized() {
    let m = machine(PAGES);
    let e = TestEnclave::build(&m, 0, BASE, 1);
    let r = unchanged(&m, || {
        m.eadd(
            FREE,
            e.secs,
            e.addr(5),
            SecInfo::reg(Perms::RW),
            &pattern(1),
        )
    });
    assert_eq!(r, Err(gp(GpCause::AlreadyInitialized)));
}

#[test]
fn eadd_outside_elrange_is_gp_outside_elrange() {
    let m = machine(PAGES);
    let e = TestEnclave::build_uninit(&m, 0, BASE, 0);
    for addr in [
        LinearAddress(BASE.0 - PAGE_SIZE),
        BASE.add(SIZE),
        BASE.add(2 * SIZE),
        LinearAddress(0),
    ] {
        let r = unchanged(&m, || {
            m.eadd(FREE, e.secs, addr, SecInfo::reg(Perms::RW), &pattern(1))
        });
        assert_eq!(r, Err(gp(GpCause::OutsideElrange)), "{addr}");
    }
    // The last page of ELRANGE is inside.
    m.eadd(
        FREE,
        e.secs,
        BASE.add(SIZE - PAGE_SIZE),
        SecInfo::reg(Perms::RW),
        &pattern(1),
    )
    .unwrap();
}

#[test]
fn eadd_of_a_tcs_with_invalid_content_is_gp_invalid_tcs() {
    let m = machine(PAGES);
    let e = TestEnclave::build_uninit(&m, 0, BASE, 0);
    let tcs = |ossa: u64, nssa: u32| Tcs {
        ossa,
        nssa,
        oentry: 0,
    };
    let mut cases: Vec<(&str, Box<[u8; 4096]>)> = vec![
        ("no SSA frame", tcs(PAGE_SIZE, 0).to_page()),
        ("misaligned OSSA", tcs(PAGE_SIZE + 8, 1).to_page()),
        ("frames past ELRANGE", tcs(SIZE - PAGE_SIZE, 2).to_page()),
        ("OSSA past ELRANGE", tcs(SIZE, 1).to_page()),
        ("OSSA overflow", tcs(!(PAGE_SIZE - 1), 2).to_page()),
    ];
    let mut busy = tcs(PAGE_SIZE, 1).to_page();
    busy[0] = 1;
    cases.push(("busy", busy));
    let mut cssa = tcs(PAGE_SIZE, 2).to_page();
    cssa[24] = 1;
    cases.push(("CSSA not 0", cssa));
    for (what, content) in &cases {
        let r = unchanged(&m, || {
            m.eadd(
                FREE,
                e.secs,
                e.tcs.add(PAGE_SIZE * 4),
                SecInfo::tcs(),
                content,
            )
        });
        assert_eq!(r, Err(gp(GpCause::InvalidTcs)), "{what}");
    }
    // The last frame may end exactly at the end of ELRANGE.
    m.eadd(
        FREE,
        e.secs,
        e.tcs.add(PAGE_SIZE * 4),
        SecInfo::tcs(),
        &tcs(SIZE - 2 * PAGE_SIZE, 2).to_page(),
    )
    .unwrap();
}

// ---------------------------------------------------------------- EINIT

#[test]
fn einit_success_marks_the_enclave_initialized_and_allows_eenter() {
    let m = machine(PAGES);
    let e = TestEnclave::build_uninit(&m, 0, BASE, 1);
    let mut lp = m.new_lp().unwrap();
    assert_eq!(
        lp.eenter(e.tcs, e.pt.clone()),
        Err(LpError::GeneralProtection(GpCause::NotInitialized))
    );
    assert!(!m.enclave_info(e.secs).unwrap().initialized);
    m.einit(e.secs).unwrap();
    assert!(m.enclave_info(e.secs).unwrap().initialized);
    lp.eenter(e.tcs, e.pt.clone()).unwrap();
    let mut buf = [0u8; 4096];
    lp.read_page(e.addr(0), &mut buf).unwrap();
    assert_eq!(buf, *e.content(0));
    lp.eexit().unwrap();
    assert_eq!(m.ledger().count(Event::Einit), 1);
}

#[test]
fn einit_twice_is_gp_already_initialized() {
    let (m, e) = setup(0);
    let r = unchanged(&m, || m.einit(e.secs));
    assert_eq!(r, Err(gp(GpCause::AlreadyInitialized)));
}

#[test]
fn einit_of_a_page_that_is_not_a_secs_is_pf() {
    let (m, e) = setup(1);
    for (page, cause) in [
        (e.pages[0], PfCause::WrongType),
        (VA, PfCause::WrongType),
        (FREE, PfCause::NotValid),
        (NON_EPC, PfCause::NotEpc),
    ] {
        let r = unchanged(&m, || m.einit(page));
        assert_eq!(r, Err(pf(Operand::Secs, cause)), "{page:?}");
    }
}

// ---------------------------------------------------------------- EPA

#[test]
fn epa_success_makes_an_empty_va_page_without_owner() {
    let (m, e) = setup(2);
    let entry = m.epcm(VA).unwrap();
    assert!(entry.valid);
    assert_eq!(entry.secinfo.page_type, PageType::Va);
    assert_eq!(entry.secinfo.perms, Perms::NONE);
    assert_eq!(entry.secs, None);
    assert_eq!(entry.linaddr, LinearAddress(0));
    assert!(!entry.blocked);
    // Every slot is empty: EWB into the first and the last raises no warning.
    let (_, addr) = e.evict(e.pages[0], slot(VA, 0));
    assert_eq!(addr, e.addr(0));
    let (_, addr) = e.evict(e.pages[1], slot(VA, 511));
    assert_eq!(addr, e.addr(1));
    m.validate().unwrap();
}

#[test]
fn epa_zeroes_a_page_that_held_enclave_data() {
    let (m, e) = setup(4);
    // Page 3 held REG content with no zero word; once removed and made a VA
    // page, all its slots are empty (`evict` asserts that EWB warns nothing).
    let va = e.pages[3];
    m.eremove(va).unwrap();
    m.epa(va).unwrap();
    let mut blobs = Vec::new();
    for (i, s) in [0u16, 255, 511].into_iter().enumerate() {
        blobs.push((e.evict(e.pages[i], slot(va, s)), s));
    }
    for (i, ((blob, addr), s)) in blobs.iter().enumerate() {
        let dest = EpcPageId(FREE.0 + i as u32);
        m.eldu(dest, *addr, blob, Some(e.secs), slot(va, *s))
            .unwrap();
    }
    m.validate().unwrap();
}

#[test]
fn epa_on_a_valid_page_is_pf_already_valid_and_keeps_its_versions() {
    let (m, e) = setup(2);
    let (sealed, addr) = e.evict(e.pages[0], slot(VA, 3));
    for page in [VA, e.pages[1], e.secs, e.tcs_page] {
        let r = unchanged(&m, || m.epa(page));
        assert_eq!(
            r,
            Err(pf(Operand::Target, PfCause::AlreadyValid)),
            "{page:?}"
        );
    }
    // The VA page was not zeroed: the version is still there.
    m.eldu(FREE, addr, &sealed, Some(e.secs), slot(VA, 3))
        .unwrap();
}

#[test]
fn epa_outside_the_epc_is_pf_not_epc() {
    let m = machine(PAGES);
    for page in [NON_EPC, FAR] {
        let r = unchanged(&m, || m.epa(page));
        assert_eq!(r, Err(pf(Operand::Target, PfCause::NotEpc)));
    }
}

// ---------------------------------------------------------------- EREMOVE

#[test]
fn eremove_of_a_free_page_succeeds() {
    let (m, e) = setup(1);
    m.eremove(FREE).unwrap();
    assert_eq!(m.epcm(FREE), Some(EpcmEntry::FREE));
    m.eremove(e.pages[0]).unwrap();
    m.eremove(e.pages[0]).unwrap();
    assert_eq!(m.epcm(e.pages[0]), Some(EpcmEntry::FREE));
    m.validate().unwrap();
}

#[test]
fn eremove_of_a_reg_page_frees_it_when_no_lp_is_inside() {
    let (m, e) = setup(2);
    let before = children(&m, e.secs);
    m.eremove(e.pages[1]).unwrap();
    assert_eq!(m.epcm(e.pages[1]), Some(EpcmEntry::FREE));
    assert_eq!(children(&m, e.secs), before - 1);
    // The page can be reused at once.
    m.epa(e.pages[1]).unwrap();
    m.validate().unwrap();
}

#[test]
fn eremove_of_a_va_page_succeeds_and_loses_its_versions() {
    let (m, e) = setup(1);
    let (sealed, addr) = e.evict(e.pages[0], slot(VA, 0));
    m.eremove(VA).unwrap();
    assert_eq!(m.epcm(VA), Some(EpcmEntry::FREE));
    m.epa(VA).unwrap();
    let r = unchanged(&m, || {
        m.eldu(FREE, addr, &sealed, Some(e.secs), slot(VA, 0))
    });
    assert_eq!(r, Err(sgx(SgxError::MacCompareFail)));
}

#[test]
fn eremove_of_a_secs_with_children_is_child_present_then_succeeds_without() {
    let (m, e) = setup(2);
    let r = unchanged(&m, || m.eremove(e.secs));
    assert_eq!(r, Err(sgx(SgxError::ChildPresent)));
    assert_eq!(r.unwrap_err().sgx().unwrap().code(), 13);
    for page in [e.tcs_page, e.ssa_page, e.pages[0]] {
        m.eremove(page).unwrap();
        assert_eq!(
            m.eremove(e.secs),
            Err(sgx(SgxError::ChildPresent)),
            "still one child"
        );
    }
    m.eremove(e.pages[1]).unwrap();
    m.eremove(e.secs).unwrap();
    assert_eq!(m.epcm(e.secs), Some(EpcmEntry::FREE));
    assert_eq!(m.enclave_info(e.secs), None);
    m.validate().unwrap();
}

#[test]
fn eremove_of_an_enclave_page_while_an_lp_is_inside_is_enclave_act() {
    let (m, e) = setup(1);
    let mut lp = e.enter();
    for page in [e.pages[0], e.tcs_page, e.ssa_page] {
        let r = unchanged(&m, || m.eremove(page));
        assert_eq!(r, Err(sgx(SgxError::EnclaveAct)), "{page:?}");
        assert_eq!(r.unwrap_err().sgx().unwrap().code(), 14);
    }
    // VA pages and free pages are not enclave pages.
    m.eremove(FREE).unwrap();
    lp.eexit().unwrap();
    m.eremove(e.pages[0]).unwrap();
    m.validate().unwrap();
}

#[test]
fn eremove_is_not_refused_because_of_an_lp_in_another_enclave() {
    let m = machine(PAGES);
    let a = TestEnclave::build(&m, 0, BASE, 1);
    let b = TestEnclave::build(&m, 8, LinearAddress(0x8000_0000), 1);
    let mut lp = b.enter();
    m.eremove(a.pages[0]).unwrap();
    assert_eq!(m.eremove(b.pages[0]), Err(sgx(SgxError::EnclaveAct)));
    lp.eexit().unwrap();
    m.validate().unwrap();
}

#[test]
fn eremove_outside_the_epc_is_pf_not_epc() {
    let m = machine(PAGES);
    let r = unchanged(&m, || m.eremove(NON_EPC));
    assert_eq!(r, Err(pf(Operand::Target, PfCause::NotEpc)));
}

#[test]
fn eremove_of_a_page_held_by_another_leaf_is_gp_conflict() {
    let (m, e) = setup(1);
    let hold = m.hold_page_for_test(e.pages[0], false).unwrap();
    let r = unchanged_held(&m, || m.eremove(e.pages[0]));
    assert_eq!(r, Err(gp(GpCause::Conflict(Operand::Target))));
    drop(hold);
    m.eremove(e.pages[0]).unwrap();
}

// ---------------------------------------------------------------- EBLOCK

#[test]
fn eblock_success_stops_new_translations_but_not_cached_ones() {
    let (m, e) = setup(2);
    let mut lp = e.enter();
    let a0 = e.addr(0);
    let a1 = e.addr(1);
    let w = lp.read_u64(a0).unwrap();
    assert!(e.pt.accessed(a0), "the walk sets the accessed bit");
    assert!(!e.pt.accessed(a1));

    let done = m.eblock(e.pages[0]).unwrap();
    assert_eq!(done.warning, None);
    let done = m.eblock(e.pages[1]).unwrap();
    assert_eq!(done.warning, None);
    assert!(m.epcm(e.pages[0]).unwrap().blocked);
    assert!(m.epcm(e.pages[1]).unwrap().blocked);
    m.validate().unwrap();

    // A TLB hit still works after EBLOCK (reads and writes).
    assert_eq!(lp.read_u64(a0).unwrap(), w);
    lp.write_u64(a0, 0xabcd).unwrap();
    // A miss to a blocked page faults with the SGX bit, and exits the LP.
    match lp.read_u64(a1.add(16)) {
        Err(LpError::PageFault(f)) => {
            assert_eq!(
                f,
                PageFaultInfo {
                    page: a1,
                    write: false,
                    sgx: true,
                    cause: FaultCause::Blocked,
                    epc_page: Some(e.pages[1]),
                }
            );
        }
        other => panic!("access to a blocked page: {other:?}"),
    }
    assert!(lp.is_interrupted());
    assert_eq!(m.enclave_info(e.secs).unwrap().lps_inside, 0);
    // After the AEX the TLB is flushed: page 0 faults too.
    lp.eresume().unwrap();
    assert!(matches!(lp.read_u64(a0), Err(LpError::PageFault(f)) if f.sgx));
    m.validate().unwrap();
}

#[test]
fn eblock_of_a_free_page_is_pg_invld() {
    let (m, _e) = setup(0);
    let r = unchanged(&m, || m.eblock(FREE));
    assert_eq!(r, Err(sgx(SgxError::PgInvld)));
    assert_eq!(r.unwrap_err().sgx().unwrap().code(), 6);
}

#[test]
fn eblock_of_a_secs_warns_pg_is_secs_and_changes_nothing() {
    let (m, e) = setup(0);
    let done = unchanged(&m, || m.eblock(e.secs)).unwrap();
    assert_eq!(done.warning, Some(SgxWarning::PgIsSecs));
    assert_eq!(done.warning.unwrap().code(), 18);
    assert!(!m.epcm(e.secs).unwrap().blocked);
}

#[test]
fn eblock_of_a_va_page_warns_notblockable_and_changes_nothing() {
    let (m, _e) = setup(0);
    let done = unchanged(&m, || m.eblock(VA)).unwrap();
    assert_eq!(done.warning, Some(SgxWarning::NotBlockable));
    assert_eq!(done.warning.unwrap().code(), 5);
    assert!(!m.epcm(VA).unwrap().blocked);
}

#[test]
fn eblock_of_a_blocked_page_warns_blkstate_and_keeps_its_block_epoch() {
    let (m, e) = setup(1);
    assert_eq!(m.eblock(e.pages[0]).unwrap().warning, None);
    let blocked = m.epcm(e.pages[0]).unwrap();
    m.etrack(e.secs).unwrap();
    // The page stays blocked in the epoch of the first EBLOCK, so the
    // completed ETRACK still covers it.
    let done = unchanged(&m, || m.eblock(e.pages[0])).unwrap();
    assert_eq!(done.warning, Some(SgxWarning::BlkState));
    assert_eq!(done.warning.unwrap().code(), 3);
    assert_eq!(m.epcm(e.pages[0]), Some(blocked));
    let mut sealed = SealedPage::new();
    assert_eq!(
        m.ewb(e.pages[0], slot(VA, 0), &mut sealed).unwrap().warning,
        None
    );
}

#[test]
fn eblock_of_a_page_held_exclusively_is_epc_page_conflict() {
    let (m, e) = setup(1);
    let hold = m.hold_page_for_test(e.pages[0], true).unwrap();
    let r = unchanged_held(&m, || m.eblock(e.pages[0]));
    assert_eq!(r, Err(sgx(SgxError::EpcPageConflict)));
    assert_eq!(r.unwrap_err().sgx().unwrap().code(), 7);
    drop(hold);
    // EBLOCK takes the page shared: a shared holder does not conflict.
    let hold = m.hold_page_for_test(e.pages[0], false).unwrap();
    assert_eq!(m.eblock(e.pages[0]).unwrap().warning, None);
    drop(hold);
    assert!(m.epcm(e.pages[0]).unwrap().blocked);
    m.validate().unwrap();
}

#[test]
fn eblock_outside_the_epc_is_pf_not_epc() {
    let m = machine(PAGES);
    let r = unchanged(&m, || m.eblock(NON_EPC));
    assert_eq!(r, Err(pf(Operand::Target, PfCause::NotEpc)));
}

#[test]
fn eblock_of_a_tcs_stops_eenter_on_it() {
    let (m, e) = setup(0);
    assert_eq!(m.eblock(e.tcs_page).unwrap().warning, None);
    let mut lp = m.new_lp().unwrap();
    assert_eq!(
        lp.eenter(e.tcs, e.pt.clone()),
        Err(LpError::PageFault(PageFaultInfo {
            page: e.tcs,
            write: false,
            sgx: true,
            cause: FaultCause::Blocked,
            epc_page: Some(e.tcs_page),
        }))
    );
    assert!(!lp.is_inside() && !lp.is_interrupted());
    m.validate().unwrap();
}

// ---------------------------------------------------------------- ETRACK

#[test]
fn etrack_with_no_lp_inside_completes_at_once() {
    let (m, e) = setup(1);
    assert_eq!(m.eblock(e.pages[0]).unwrap().warning, None);
    m.etrack(e.secs).unwrap();
    // The cycle is complete: another ETRACK is accepted, and EWB succeeds.
    m.etrack(e.secs).unwrap();
    let mut sealed = SealedPage::new();
    assert_eq!(
        m.ewb(e.pages[0], slot(VA, 0), &mut sealed).unwrap().warning,
        None
    );
    assert_eq!(m.ledger().count(Event::Etrack), 2);
}

#[test]
fn etrack_while_an_lp_of_the_previous_cycle_has_not_exited_is_prev_trk_incmpl() {
    let (m, e) = setup(1);
    let mut lp = e.enter();
    m.etrack(e.secs).unwrap();
    let r = unchanged(&m, || m.etrack(e.secs));
    assert_eq!(r, Err(sgx(SgxError::PrevTrkIncmpl)));
    assert_eq!(r.unwrap_err().sgx().unwrap().code(), 17);
    // Re-entering does not count: the LP must exit.
    lp.read_u64(e.addr(0)).unwrap();
    assert_eq!(m.etrack(e.secs), Err(sgx(SgxError::PrevTrkIncmpl)));
    lp.eexit().unwrap();
    m.etrack(e.secs).unwrap();
    // An LP that entered after that cycle opened is in the next one.
    lp.eenter(e.tcs, e.pt.clone()).unwrap();
    m.etrack(e.secs).unwrap();
    assert_eq!(m.etrack(e.secs), Err(sgx(SgxError::PrevTrkIncmpl)));
    // An AEX (here forced by an IPI) is an exit too.
    assert_eq!(m.ipi_enclave(e.secs), 1);
    m.etrack(e.secs).unwrap();
    assert_eq!(lp.read_u64(e.addr(0)), Err(LpError::Interrupted));
    lp.eresume().unwrap();
    lp.eexit().unwrap();
    m.validate().unwrap();
}

#[test]
fn etrack_of_a_page_that_is_not_a_secs_is_pf() {
    let (m, e) = setup(1);
    for (page, cause) in [
        (e.pages[0], PfCause::WrongType),
        (e.tcs_page, PfCause::WrongType),
        (VA, PfCause::WrongType),
        (FREE, PfCause::NotValid),
        (NON_EPC, PfCause::NotEpc),
    ] {
        let r = unchanged(&m, || m.etrack(page));
        assert_eq!(r, Err(pf(Operand::Secs, cause)), "{page:?}");
    }
}

// ---------------------------------------------------------------- EWB

#[test]
fn ewb_of_a_blocked_tracked_reg_page_seals_it_and_frees_the_page() {
    let (m, e) = setup(2);
    let before = children(&m, e.secs);
    assert_eq!(m.eblock(e.pages[1]).unwrap().warning, None);
    m.etrack(e.secs).unwrap();
    let mut sealed = SealedPage::new();
    let done = m.ewb(e.pages[1], slot(VA, 9), &mut sealed).unwrap();
    assert_eq!(done.warning, None);
    assert_eq!(done.value, e.addr(1), "PAGEINFO.LINADDR");
    assert_eq!(sealed.pcmd.secinfo, SecInfo::reg(Perms::RW));
    assert_eq!(sealed.pcmd.enclave_id, e.eid);
    assert_eq!(sealed.pcmd.reserved, [0u8; 40]);
    assert_ne!(sealed.pcmd.mac, [0u8; 16]);
    assert_ne!(*sealed.ciphertext, *e.content(1));
    assert_eq!(m.epcm(e.pages[1]), Some(EpcmEntry::FREE));
    assert_eq!(children(&m, e.secs), before - 1);
    assert_eq!(m.ledger().count(Event::Ewb), 1);
    m.validate().unwrap();
    // An access now faults (not an SGX fault: the EPCM entry is free).
    let mut lp = e.enter();
    assert!(matches!(
        lp.read_u64(e.addr(1)),
        Err(LpError::PageFault(f)) if f.sgx && f.epc_page == Some(e.pages[1])
    ));
}

#[test]
fn ewb_of_a_page_that_is_not_blocked_is_page_not_blocked() {
    let (m, e) = setup(1);
    m.etrack(e.secs).unwrap();
    let mut sealed = SealedPage::new();
    let r = unchanged(&m, || m.ewb(e.pages[0], slot(VA, 0), &mut sealed));
    assert_eq!(r, Err(sgx(SgxError::PageNotBlocked)));
    assert_eq!(r.unwrap_err().sgx().unwrap().code(), 10);
    assert_eq!(sealed, SealedPage::new(), "no output on failure");
    // The slot was not written: a later EWB into it gives no warning.
    let (_, addr) = e.evict(e.pages[0], slot(VA, 0));
    assert_eq!(addr, e.addr(0));
}

#[test]
fn ewb_of_a_blocked_page_without_etrack_is_not_tracked() {
    let (m, e) = setup(1);
    assert_eq!(m.eblock(e.pages[0]).unwrap().warning, None);
    let mut sealed = SealedPage::new();
    let r = unchanged(&m, || m.ewb(e.pages[0], slot(VA, 0), &mut sealed));
    assert_eq!(r, Err(sgx(SgxError::NotTracked)));
    assert_eq!(r.unwrap_err().sgx().unwrap().code(), 11);
    m.etrack(e.secs).unwrap();
    assert_eq!(
        m.ewb(e.pages[0], slot(VA, 0), &mut sealed).unwrap().warning,
        None
    );
}

#[test]
fn ewb_of_a_secs_with_resident_children_is_child_present() {
    let (m, e) = setup(1);
    let mut sealed = SealedPage::new();
    let r = unchanged(&m, || m.ewb(e.secs, slot(VA, 0), &mut sealed));
    assert_eq!(r, Err(sgx(SgxError::ChildPresent)));
    assert_eq!(r.unwrap_err().sgx().unwrap().code(), 13);
}

#[test]
fn ewb_of_a_secs_after_its_children_are_evicted_then_reload_secs_then_children() {
    let (m, e) = setup(2);
    let kids = [e.tcs_page, e.ssa_page, e.pages[0], e.pages[1]];
    let mut blobs = Vec::new();
    for (i, &page) in kids.iter().enumerate() {
        let (sealed, addr) = e.evict(page, slot(VA, i as u16));
        blobs.push((sealed, addr));
    }
    assert_eq!(children(&m, e.secs), 0);

    // The SECS needs neither EBLOCK nor ETRACK.
    let mut secs_blob = SealedPage::new();
    let done = m.ewb(e.secs, slot(VA, 100), &mut secs_blob).unwrap();
    assert_eq!(done.warning, None);
    assert_eq!(done.value, LinearAddress(0));
    assert_eq!(secs_blob.pcmd.secinfo.page_type, PageType::Secs);
    assert_eq!(secs_blob.pcmd.enclave_id, e.eid, "PCMD.ENCLAVEID of a SECS");
    assert_eq!(m.epcm(e.secs), Some(EpcmEntry::FREE));
    assert_eq!(m.enclave_info(e.secs), None);
    m.validate().unwrap();

    // A child cannot come back while its SECS is out.
    let (b, addr) = &blobs[2];
    let r = unchanged(&m, || m.eldu(FREE, *addr, b, Some(e.secs), slot(VA, 2)));
    assert_eq!(r, Err(pf(Operand::Secs, PfCause::NotValid)));

    // The SECS comes back into another page, with its EID and state.
    let new_secs = EpcPageId(26);
    m.eldu(new_secs, LinearAddress(0), &secs_blob, None, slot(VA, 100))
        .unwrap();
    let info = m.enclave_info(new_secs).unwrap();
    assert_eq!(info.eid, e.eid);
    assert_eq!((info.base, info.size), (BASE, SIZE));
    assert!(info.initialized);
    assert_eq!(info.children, 0);
    m.validate().unwrap();

    // Then the children, naming the new SECS page.
    for (i, (b, addr)) in blobs.iter().enumerate() {
        let dest = EpcPageId(kids[i].0 + 10);
        m.eldu(dest, *addr, b, Some(new_secs), slot(VA, i as u16))
            .unwrap();
        assert_eq!(m.epcm(dest).unwrap().secs, Some(new_secs));
        e.pt.map(*addr, dest, true);
    }
    assert_eq!(children(&m, new_secs), 4);
    m.validate().unwrap();
    for i in 0..2 {
        assert_eq!(*e.read_page(e.addr(i)).unwrap(), *e.content(i));
    }
}

#[test]
fn ewb_of_a_va_page_stores_its_version_in_another_va_page_and_it_reloads() {
    let (m, e) = setup(1);
    m.epa(VA2).unwrap();
    let (blob, addr) = e.evict(e.pages[0], slot(VA, 3));

    // A VA page needs no EBLOCK or ETRACK.
    let mut va_blob = SealedPage::new();
    let done = m.ewb(VA, slot(VA2, 7), &mut va_blob).unwrap();
    assert_eq!(
        done,
        Done {
            value: LinearAddress(0),
            warning: None
        }
    );
    assert_eq!(va_blob.pcmd.secinfo.page_type, PageType::Va);
    assert_eq!(va_blob.pcmd.enclave_id, EnclaveId(0));
    assert_eq!(m.epcm(VA), Some(EpcmEntry::FREE));
    m.validate().unwrap();

    // Its slots cannot be used while it is out.
    let r = unchanged(&m, || m.eldu(FREE, addr, &blob, Some(e.secs), slot(VA, 3)));
    assert_eq!(r, Err(pf(Operand::VaSlot, PfCause::NotValid)));

    // Reload the VA page elsewhere, then the page whose version it holds.
    let new_va = EpcPageId(27);
    m.eldu(new_va, LinearAddress(0), &va_blob, None, slot(VA2, 7))
        .unwrap();
    let entry = m.epcm(new_va).unwrap();
    assert!(entry.valid && !entry.blocked);
    assert_eq!(entry.secinfo.page_type, PageType::Va);
    m.eldu(FREE, addr, &blob, Some(e.secs), slot(new_va, 3))
        .unwrap();
    e.pt.map(addr, FREE, true);
    assert_eq!(*e.read_page(addr).unwrap(), *e.content(0));
    m.validate().unwrap();
}

#[test]
fn ewb_into_an_occupied_slot_warns_va_slot_occupied_and_still_evicts() {
    let (m, e) = setup(2);
    let (old, old_addr) = e.evict(e.pages[0], slot(VA, 5));
    assert_eq!(m.eblock(e.pages[1]).unwrap().warning, None);
    m.etrack(e.secs).unwrap();
    let mut new = SealedPage::new();
    let done = m.ewb(e.pages[1], slot(VA, 5), &mut new).unwrap();
    assert_eq!(done.warning, Some(SgxWarning::VaSlotOccupied));
    assert_eq!(done.warning.unwrap().code(), 12);
    assert_eq!(done.value, e.addr(1));
    assert_eq!(
        m.epcm(e.pages[1]),
        Some(EpcmEntry::FREE),
        "eviction completed"
    );
    m.validate().unwrap();
    // The old version is lost; the new blob loads.
    let r = unchanged(&m, || {
        m.eldu(FREE, old_addr, &old, Some(e.secs), slot(VA, 5))
    });
    assert_eq!(r, Err(sgx(SgxError::MacCompareFail)));
    m.eldu(FREE, e.addr(1), &new, Some(e.secs), slot(VA, 5))
        .unwrap();
}

#[test]
fn ewb_with_a_slot_index_of_512_or_more_is_gp() {
    let (m, e) = setup(1);
    assert_eq!(m.eblock(e.pages[0]).unwrap().warning, None);
    m.etrack(e.secs).unwrap();
    let mut sealed = SealedPage::new();
    for s in [512u16, 513, 4096, u16::MAX] {
        let r = unchanged(&m, || m.ewb(e.pages[0], slot(VA, s), &mut sealed));
        assert_eq!(r, Err(gp(GpCause::Misaligned)), "slot {s}");
    }
    assert_eq!(
        m.ewb(e.pages[0], slot(VA, 511), &mut sealed)
            .unwrap()
            .warning,
        None
    );
}

#[test]
fn ewb_with_the_slot_in_the_page_itself_is_gp_same_page() {
    let (m, _e) = setup(0);
    let mut sealed = SealedPage::new();
    let r = unchanged(&m, || m.ewb(VA, slot(VA, 0), &mut sealed));
    assert_eq!(r, Err(gp(GpCause::SamePage)));
}

#[test]
fn ewb_of_an_invalid_page_is_pf_not_valid() {
    let (m, _e) = setup(0);
    let mut sealed = SealedPage::new();
    let r = unchanged(&m, || m.ewb(FREE, slot(VA, 0), &mut sealed));
    assert_eq!(r, Err(pf(Operand::Target, PfCause::NotValid)));
    let r = unchanged(&m, || m.ewb(NON_EPC, slot(VA, 0), &mut sealed));
    assert_eq!(r, Err(pf(Operand::Target, PfCause::NotEpc)));
}

#[test]
fn ewb_with_a_slot_page_that_is_not_a_valid_va_page_is_pf() {
    let (m, e) = setup(2);
    assert_eq!(m.eblock(e.pages[0]).unwrap().warning, None);
    m.etrack(e.secs).unwrap();
    let mut sealed = SealedPage::new();
    for (va, cause) in [
        (e.pages[1], PfCause::WrongType),
        (e.secs, PfCause::WrongType),
        (e.tcs_page, PfCause::WrongType),
        (FREE, PfCause::NotValid),
        (NON_EPC, PfCause::NotEpc),
        (FAR, PfCause::NotEpc),
    ] {
        let r = unchanged(&m, || m.ewb(e.pages[0], slot(va, 0), &mut sealed));
        assert_eq!(r, Err(pf(Operand::VaSlot, cause)), "{va:?}");
    }
}

#[test]
fn ewb_of_a_page_held_by_another_leaf_is_gp_conflict() {
    let (m, e) = setup(1);
    assert_eq!(m.eblock(e.pages[0]).unwrap().warning, None);
    m.etrack(e.secs).unwrap();
    let mut sealed = SealedPage::new();
    let hold = m.hold_page_for_test(e.pages[0], false).unwrap();
    let r = unchanged_held(&m, || m.ewb(e.pages[0], slot(VA, 0), &mut sealed));
    assert_eq!(r, Err(gp(GpCause::Conflict(Operand::Target))));
    drop(hold);
    // The VA page is taken shared: a shared holder does not conflict, an
    // exclusive one does.
    let hold = m.hold_page_for_test(VA, true).unwrap();
    let r = unchanged_held(&m, || m.ewb(e.pages[0], slot(VA, 0), &mut sealed));
    assert_eq!(r, Err(gp(GpCause::Conflict(Operand::VaSlot))));
    drop(hold);
    let hold = m.hold_page_for_test(VA, false).unwrap();
    assert_eq!(
        m.ewb(e.pages[0], slot(VA, 0), &mut sealed).unwrap().warning,
        None
    );
    drop(hold);
}

#[test]
fn ewb_of_a_tcs_makes_eenter_fault_until_it_is_reloaded() {
    let (m, e) = setup(1);
    let (blob, addr) = e.evict(e.tcs_page, slot(VA, 0));
    assert_eq!(addr, e.tcs);
    assert_eq!(blob.pcmd.secinfo, SecInfo::tcs());
    let mut lp = m.new_lp().unwrap();
    assert!(matches!(
        lp.eenter(e.tcs, e.pt.clone()),
        Err(LpError::PageFault(f)) if f.page == e.tcs && f.sgx
    ));
    m.eldu(FREE, addr, &blob, Some(e.secs), slot(VA, 0))
        .unwrap();
    e.pt.map(e.tcs, FREE, true);
    lp.eenter(e.tcs, e.pt.clone()).unwrap();
    assert_eq!(
        lp.read_page(e.addr(0), &mut [0u8; 4096]),
        Ok(()),
        "runs on the reloaded TCS"
    );
    lp.eexit().unwrap();
    m.validate().unwrap();
}

// ---------------------------------------------------------------- ELDU/ELDB

#[test]
fn eldu_success_restores_the_page_and_clears_the_slot() {
    let (m, e) = setup(2);
    let before = children(&m, e.secs);
    let (blob, addr) = e.evict(e.pages[0], slot(VA, 1));
    m.eldu(FREE, addr, &blob, Some(e.secs), slot(VA, 1))
        .unwrap();
    assert_eq!(
        m.epcm(FREE),
        Some(EpcmEntry {
            valid: true,
            secinfo: SecInfo::reg(Perms::RW),
            blocked: false,
            secs: Some(e.secs),
            linaddr: addr,
            block_epoch: 0,
            modify_epoch: None,
        })
    );
    assert_eq!(children(&m, e.secs), before);
    assert_eq!(m.ledger().count(Event::Eldu), 1);
    e.pt.map(addr, FREE, true);
    assert_eq!(*e.read_page(addr).unwrap(), *e.content(0));
    m.validate().unwrap();
    // The slot is empty now: the blob cannot load again, and an EWB into
    // the slot gives no warning.
    let r = unchanged(&m, || m.eldu(FREE2, addr, &blob, Some(e.secs), slot(VA, 1)));
    assert_eq!(r, Err(sgx(SgxError::MacCompareFail)));
    let (_, a1) = e.evict(e.pages[1], slot(VA, 1));
    assert_eq!(a1, e.addr(1));
}

#[test]
fn eldu_into_a_valid_page_is_pf_already_valid_and_keeps_the_slot() {
    let (m, e) = setup(2);
    m.epa(VA2).unwrap();
    let (blob, addr) = e.evict(e.pages[0], slot(VA, 0));
    for dest in [e.pages[1], e.tcs_page, e.ssa_page, VA2] {
        let r = unchanged(&m, || m.eldu(dest, addr, &blob, Some(e.secs), slot(VA, 0)));
        assert_eq!(
            r,
            Err(pf(Operand::Target, PfCause::AlreadyValid)),
            "{dest:?}"
        );
    }
    let r = unchanged(&m, || {
        m.eldb(e.pages[1], addr, &blob, Some(e.secs), slot(VA, 0))
    });
    assert_eq!(r, Err(pf(Operand::Target, PfCause::AlreadyValid)));
    m.eldu(FREE, addr, &blob, Some(e.secs), slot(VA, 0))
        .unwrap();
}

#[test]
fn eldu_of_an_enclave_page_without_a_secs_operand_is_gp() {
    let (m, e) = setup(1);
    let (blob, addr) = e.evict(e.pages[0], slot(VA, 0));
    let r = unchanged(&m, || m.eldu(FREE, addr, &blob, None, slot(VA, 0)));
    assert_eq!(r, Err(gp(GpCause::InvalidSecsOperand)));
    let r = unchanged(&m, || m.eldb(FREE, addr, &blob, None, slot(VA, 0)));
    assert_eq!(r, Err(gp(GpCause::InvalidSecsOperand)));
    m.eldu(FREE, addr, &blob, Some(e.secs), slot(VA, 0))
        .unwrap();
}

#[test]
fn eldu_of_a_va_or_secs_page_with_a_secs_operand_is_gp() {
    let (m, e) = setup(0);
    m.epa(VA2).unwrap();
    // A VA page.
    let mut va_blob = SealedPage::new();
    assert_eq!(m.ewb(VA2, slot(VA, 0), &mut va_blob).unwrap().warning, None);
    let r = unchanged(&m, || {
        m.eldu(FREE, LinearAddress(0), &va_blob, Some(e.secs), slot(VA, 0))
    });
    assert_eq!(r, Err(gp(GpCause::InvalidSecsOperand)));
    // A SECS (all children removed first).
    for p in [e.tcs_page, e.ssa_page] {
        m.eremove(p).unwrap();
    }
    let other = TestEnclave::build(&m, 8, LinearAddress(0x8000_0000), 0);
    let mut secs_blob = SealedPage::new();
    assert_eq!(
        m.ewb(e.secs, slot(VA, 1), &mut secs_blob).unwrap().warning,
        None
    );
    let r = unchanged(&m, || {
        m.eldu(
            FREE2,
            LinearAddress(0),
            &secs_blob,
            Some(other.secs),
            slot(VA, 1),
        )
    });
    assert_eq!(r, Err(gp(GpCause::InvalidSecsOperand)));
    // Without it both load.
    m.eldu(FREE, LinearAddress(0), &va_blob, None, slot(VA, 0))
        .unwrap();
    m.eldu(FREE2, LinearAddress(0), &secs_blob, None, slot(VA, 1))
        .unwrap();
    assert_eq!(m.enclave_info(FREE2).unwrap().eid, e.eid);
    m.validate().unwrap();
}

#[test]
fn eldu_with_a_secs_operand_that_is_not_a_secs_is_pf() {
    let (m, e) = setup(2);
    let (blob, addr) = e.evict(e.pages[0], slot(VA, 0));
    for (secs, cause) in [
        (e.pages[1], PfCause::WrongType),
        (e.tcs_page, PfCause::WrongType),
        (FREE2, PfCause::NotValid),
        (NON_EPC, PfCause::NotEpc),
    ] {
        let r = unchanged(&m, || m.eldu(FREE, addr, &blob, Some(secs), slot(VA, 0)));
        assert_eq!(r, Err(pf(Operand::Secs, cause)), "{secs:?}");
    }
}

#[test]
fn eldu_with_a_slot_page_that_is_not_a_valid_va_page_is_pf() {
    let (m, e) = setup(2);
    let (blob, addr) = e.evict(e.pages[0], slot(VA, 0));
    for (va, cause) in [
        (e.pages[1], PfCause::WrongType),
        (e.secs, PfCause::WrongType),
        (FREE2, PfCause::NotValid),
        (NON_EPC, PfCause::NotEpc),
    ] {
        let r = unchanged(&m, || m.eldu(FREE, addr, &blob, Some(e.secs), slot(va, 0)));
        assert_eq!(r, Err(pf(Operand::VaSlot, cause)), "{va:?}");
    }
    let r = unchanged(&m, || {
        m.eldu(NON_EPC, addr, &blob, Some(e.secs), slot(VA, 0))
    });
    assert_eq!(r, Err(pf(Operand::Target, PfCause::NotEpc)));
}

#[test]
fn eldu_with_a_slot_index_of_512_or_a_misaligned_address_is_gp() {
    let (m, e) = setup(1);
    let (blob, addr) = e.evict(e.pages[0], slot(VA, 0));
    let r = unchanged(&m, || {
        m.eldu(FREE, addr, &blob, Some(e.secs), slot(VA, 512))
    });
    assert_eq!(r, Err(gp(GpCause::Misaligned)));
    let r = unchanged(&m, || {
        m.eldu(FREE, addr.add(0x10), &blob, Some(e.secs), slot(VA, 0))
    });
    assert_eq!(r, Err(gp(GpCause::Misaligned)));
    let r = unchanged(&m, || m.eldu(VA, addr, &blob, Some(e.secs), slot(VA, 0)));
    assert_eq!(r, Err(gp(GpCause::SamePage)));
    let r = unchanged(&m, || {
        m.eldu(e.secs, addr, &blob, Some(e.secs), slot(VA, 0))
    });
    assert_eq!(r, Err(gp(GpCause::SamePage)));
    m.eldu(FREE, addr, &blob, Some(e.secs), slot(VA, 0))
        .unwrap();
}

#[test]
fn eldb_loads_the_page_blocked_so_an_access_faults() {
    let (m, e) = setup(1);
    let (blob, addr) = e.evict(e.pages[0], slot(VA, 0));
    m.eldb(FREE, addr, &blob, Some(e.secs), slot(VA, 0))
        .unwrap();
    let entry = m.epcm(FREE).unwrap();
    assert!(entry.valid && entry.blocked);
    assert_eq!(entry.linaddr, addr);
    assert_eq!(m.ledger().count(Event::Eldb), 1);
    m.validate().unwrap();
    e.pt.map(addr, FREE, true);
    let mut lp = e.enter();
    assert_eq!(
        lp.read_u64(addr),
        Err(LpError::PageFault(PageFaultInfo {
            page: addr,
            write: false,
            sgx: true,
            cause: FaultCause::Blocked,
            epc_page: Some(FREE),
        }))
    );
    lp.eresume().unwrap();
    lp.eexit().unwrap();
    // It is already blocked; EWB still wants a tracking cycle after the load.
    assert_eq!(m.eblock(FREE).unwrap().warning, Some(SgxWarning::BlkState));
    let mut sealed = SealedPage::new();
    assert_eq!(
        m.ewb(FREE, slot(VA, 0), &mut sealed),
        Err(sgx(SgxError::NotTracked))
    );
    m.etrack(e.secs).unwrap();
    assert_eq!(m.ewb(FREE, slot(VA, 0), &mut sealed).unwrap().warning, None);
    // Reloaded by ELDU it is accessible again.
    m.eldu(FREE2, addr, &sealed, Some(e.secs), slot(VA, 0))
        .unwrap();
    e.pt.map(addr, FREE2, true);
    assert_eq!(*e.read_page(addr).unwrap(), *e.content(0));
}

#[test]
fn eldu_mac_failure_leaves_the_page_free_and_the_slot_intact() {
    let (m, e) = setup(1);
    let (blob, addr) = e.evict(e.pages[0], slot(VA, 0));
    let mut bad = blob.clone();
    bad.ciphertext[100] ^= 1;
    let failed = m.ledger().count(Event::FailedLeaf);
    for _ in 0..3 {
        let r = unchanged(&m, || m.eldu(FREE, addr, &bad, Some(e.secs), slot(VA, 0)));
        assert_eq!(r, Err(sgx(SgxError::MacCompareFail)));
        assert_eq!(r.unwrap_err().sgx().unwrap().code(), 9);
        let r = unchanged(&m, || m.eldb(FREE, addr, &bad, Some(e.secs), slot(VA, 0)));
        assert_eq!(r, Err(sgx(SgxError::MacCompareFail)));
    }
    assert_eq!(m.epcm(FREE), Some(EpcmEntry::FREE));
    assert_eq!(m.ledger().count(Event::FailedLeaf), failed + 6);
    assert_eq!(m.ledger().count(Event::Eldu), 0);
    // The version is still in the slot: the genuine blob loads.
    m.eldu(FREE, addr, &blob, Some(e.secs), slot(VA, 0))
        .unwrap();
    e.pt.map(addr, FREE, true);
    assert_eq!(*e.read_page(addr).unwrap(), *e.content(0));
}

#[test]
fn eldu_of_a_page_held_by_another_leaf_is_gp_conflict() {
    let (m, e) = setup(1);
    let (blob, addr) = e.evict(e.pages[0], slot(VA, 0));
    let hold = m.hold_page_for_test(FREE, false).unwrap();
    let r = unchanged_held(&m, || m.eldu(FREE, addr, &blob, Some(e.secs), slot(VA, 0)));
    assert_eq!(r, Err(gp(GpCause::Conflict(Operand::Target))));
    drop(hold);
    let hold = m.hold_page_for_test(e.secs, true).unwrap();
    let r = unchanged_held(&m, || m.eldu(FREE, addr, &blob, Some(e.secs), slot(VA, 0)));
    assert_eq!(r, Err(gp(GpCause::Conflict(Operand::Secs))));
    drop(hold);
    m.eldu(FREE, addr, &blob, Some(e.secs), slot(VA, 0))
        .unwrap();
}

#[test]
fn eldb_of_a_va_or_secs_page_loads_it_unblocked() {
    let (m, e) = setup(0);
    m.epa(VA2).unwrap();
    let mut va_blob = SealedPage::new();
    assert_eq!(m.ewb(VA2, slot(VA, 0), &mut va_blob).unwrap().warning, None);
    m.eldb(FREE, LinearAddress(0), &va_blob, None, slot(VA, 0))
        .unwrap();
    let entry = m.epcm(FREE).unwrap();
    assert_eq!(entry.secinfo.page_type, PageType::Va);
    assert!(!entry.blocked, "ELDB blocks only enclave pages");
    for p in [e.tcs_page, e.ssa_page] {
        m.eremove(p).unwrap();
    }
    let mut secs_blob = SealedPage::new();
    assert_eq!(
        m.ewb(e.secs, slot(VA, 1), &mut secs_blob).unwrap().warning,
        None
    );
    m.eldb(FREE2, LinearAddress(0), &secs_blob, None, slot(VA, 1))
        .unwrap();
    assert!(!m.epcm(FREE2).unwrap().blocked);
    assert_eq!(m.enclave_info(FREE2).unwrap().eid, e.eid);
    m.validate().unwrap();
}

/// The SDM's concurrency tables (reference §1.9): a leaf that finds its
/// page in use by another leaf raises #GP, except EBLOCK, which returns
/// SGX_EPC_PAGE_CONFLICT (tested above); leaves that only read an operand
/// take it shared and do not conflict with another shared holder.
#[test]
fn leaves_on_a_page_held_by_another_leaf_raise_gp_conflict() {
    let (m, e) = setup(1);
    let (blob, addr) = e.evict(e.pages[0], slot(VA, 0));
    let reg = SecInfo::reg(Perms::RW);
    let target = gp(GpCause::Conflict(Operand::Target));
    let secs_op = gp(GpCause::Conflict(Operand::Secs));
    {
        let _hold = m.hold_page_for_test(FREE, false).unwrap();
        assert_eq!(
            m.ecreate(FREE, LinearAddress(0x8000_0000), SIZE),
            Err(target)
        );
        assert_eq!(m.epa(FREE), Err(target));
        assert_eq!(m.eremove(FREE), Err(target));
        assert_eq!(
            m.eldb(FREE, addr, &blob, Some(e.secs), slot(VA, 0)),
            Err(target)
        );
        assert_eq!(snapshot(&m, PAGES).0[FREE.index()], Some(EpcmEntry::FREE));
    }
    {
        // ETRACK and EINIT on a SECS held exclusively (say by an EWB of it).
        let _hold = m.hold_page_for_test(e.secs, true).unwrap();
        assert_eq!(m.etrack(e.secs), Err(secs_op));
        assert_eq!(m.einit(e.secs), Err(secs_op));
    }
    {
        // ETRACK takes its SECS shared: another shared holder is fine.
        let _hold = m.hold_page_for_test(e.secs, false).unwrap();
        m.etrack(e.secs).unwrap();
        assert_eq!(m.einit(e.secs), Err(secs_op), "EINIT takes it exclusively");
    }
    let m2 = machine(PAGES);
    let e2 = TestEnclave::build_uninit(&m2, 0, BASE, 0);
    {
        let _hold = m2.hold_page_for_test(e2.secs, true).unwrap();
        assert_eq!(
            m2.eadd(FREE, e2.secs, e2.addr(0), reg, &pattern(1)),
            Err(secs_op)
        );
    }
    // Once released, everything goes through.
    m.eldu(FREE, addr, &blob, Some(e.secs), slot(VA, 0))
        .unwrap();
    m2.eadd(FREE, e2.secs, e2.addr(0), reg, &pattern(1))
        .unwrap();
    m.validate().unwrap();
    m2.validate().unwrap();
}
