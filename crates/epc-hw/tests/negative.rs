//! The negative cases a faithful model must get right: the nine of the
//! reference's §6.16 (one test each; the ninth is SGX2's), and the paging
//! crypto cases of issue 2, item 6 (reference §1.4 and §6.9): every
//! tampered, misdirected, replayed or foreign blob fails with
//! SGX_MAC_COMPARE_FAIL and changes nothing, and a sealed page does not
//! contain its plaintext.

mod common;

use common::*;
use epc_hw::*;
use std::sync::Arc;

const PAGES: u32 = 32;
const VA: EpcPageId = EpcPageId(20);
const VA2: EpcPageId = EpcPageId(21);
const FREE: EpcPageId = EpcPageId(24);
const FREE2: EpcPageId = EpcPageId(25);

fn setup(n: u32) -> (Arc<Machine>, TestEnclave) {
    let m = machine(PAGES);
    let e = TestEnclave::build(&m, 0, BASE, n);
    m.epa(VA).expect("EPA");
    (m, e)
}

fn no_change<T>(m: &Machine, f: impl FnOnce() -> T) -> T {
    assert_no_change(m, PAGES, f)
}

const MAC_FAIL: LeafError = LeafError::Sgx(SgxError::MacCompareFail);

fn eblock(m: &Machine, page: EpcPageId) {
    assert_eq!(m.eblock(page).expect("EBLOCK").warning, None);
}

fn ewb(m: &Machine, page: EpcPageId, va: VaSlot) -> LeafResult<SealedPage> {
    let mut sealed = SealedPage::new();
    let done = m.ewb(page, va, &mut sealed)?;
    assert_eq!(done.warning, None);
    Ok(sealed)
}

/// Loads `blob` (REG page `i` of `e`) into `dest` with ELDU and checks,
/// through a logical processor, that it holds `expected`.
fn load_and_check(
    e: &TestEnclave,
    dest: EpcPageId,
    blob: &SealedPage,
    va: VaSlot,
    i: usize,
    expected: &[u8; 4096],
) {
    let addr = e.addr(i);
    e.machine
        .eldu(dest, addr, blob, Some(e.secs), va)
        .expect("the genuine blob loads");
    e.pt.map(addr, dest, true);
    assert_eq!(*e.read_page(addr).unwrap(), *expected);
    e.machine.validate().unwrap();
}

// ------------------------------------------------ §6.16, the eight cases

/// §6.16: "EWB without ETRACK while an LP is inside → NOT_TRACKED; after
/// that LP exits → success" (with the ETRACK that §1.5 requires between the
/// EBLOCK and the EWB).
#[test]
fn ewb_while_an_lp_is_inside_is_not_tracked_until_that_lp_exits() {
    let (m, e) = setup(1);
    let page = e.pages[0];
    let addr = e.addr(0);
    let mut lp = e.enter();
    let first = lp.read_u64(addr).unwrap(); // caches the translation
    eblock(&m, page);
    let r = no_change(&m, || ewb(&m, page, slot(VA, 0)));
    assert_eq!(r.unwrap_err(), LeafError::Sgx(SgxError::NotTracked));
    m.etrack(e.secs).unwrap();
    let r = no_change(&m, || ewb(&m, page, slot(VA, 0)));
    assert_eq!(
        r.unwrap_err(),
        LeafError::Sgx(SgxError::NotTracked),
        "the LP inside at ETRACK has not exited"
    );
    // Its cached translation is still live: this is why EWB must wait.
    lp.write_u64(addr, !first).unwrap();
    lp.eexit().unwrap();
    let blob = ewb(&m, page, slot(VA, 0)).unwrap();
    // The write through the stale translation made it into the blob.
    let mut expected = e.content(0);
    expected[..8].copy_from_slice(&(!first).to_le_bytes());
    load_and_check(&e, FREE, &blob, slot(VA, 0), 0, &expected);
}

/// §6.16: "EBLOCK after ETRACK → a new ETRACK is needed". A completed
/// tracking cycle that began before the EBLOCK does not cover the page: an
/// LP that entered after that ETRACK may hold a translation to it.
#[test]
fn eblock_after_etrack_needs_a_new_etrack() {
    let (m, e) = setup(1);
    let page = e.pages[0];
    let mut lp = e.enter();
    m.etrack(e.secs).unwrap();
    lp.eexit().unwrap(); // the cycle is complete
    lp.eenter(e.tcs, e.pt.clone()).unwrap();
    lp.read_u64(e.addr(0)).unwrap(); // caches a translation
    eblock(&m, page);
    let r = no_change(&m, || ewb(&m, page, slot(VA, 0)));
    assert_eq!(r.unwrap_err(), LeafError::Sgx(SgxError::NotTracked));
    lp.eexit().unwrap();
    // Even with nobody inside, the only completed cycle predates the EBLOCK.
    let r = no_change(&m, || ewb(&m, page, slot(VA, 0)));
    assert_eq!(r.unwrap_err(), LeafError::Sgx(SgxError::NotTracked));
    m.etrack(e.secs).unwrap();
    let blob = ewb(&m, page, slot(VA, 0)).unwrap();
    load_and_check(&e, FREE, &blob, slot(VA, 0), 0, &e.content(0));
}

/// §6.16: "replay of an old {ciphertext, PCMD} after reload → MAC fail".
#[test]
fn replay_of_an_old_blob_after_reload_is_mac_fail() {
    let (m, e) = setup(1);
    let addr = e.addr(0);
    let (old, _) = e.evict(e.pages[0], slot(VA, 0));
    m.eldu(FREE, addr, &old, Some(e.secs), slot(VA, 0)).unwrap();
    e.pt.map(addr, FREE, true);
    // Replayed at once: the slot was cleared by the load.
    let r = no_change(&m, || m.eldu(FREE2, addr, &old, Some(e.secs), slot(VA, 0)));
    assert_eq!(r, Err(MAC_FAIL));
    // Change the page and evict it again through the same slot.
    let mut lp = e.enter();
    lp.write_u64(addr, 0x1234_5678).unwrap();
    lp.eexit().unwrap();
    let (new, _) = e.evict(FREE, slot(VA, 0));
    for (dest, kind) in [(FREE, "ELDU"), (FREE2, "ELDB")] {
        let r = no_change(&m, || {
            if kind == "ELDU" {
                m.eldu(dest, addr, &old, Some(e.secs), slot(VA, 0))
            } else {
                m.eldb(dest, addr, &old, Some(e.secs), slot(VA, 0))
            }
        });
        assert_eq!(r, Err(MAC_FAIL), "{kind} of the old blob");
    }
    let mut expected = e.content(0);
    expected[..8].copy_from_slice(&0x1234_5678u64.to_le_bytes());
    load_and_check(&e, FREE2, &new, slot(VA, 0), 0, &expected);
}

/// §6.16: "ELDU with a wrong LINADDR ... → MAC fail".
#[test]
fn eldu_with_a_wrong_linaddr_is_mac_fail() {
    let (m, e) = setup(2);
    let (blob, addr) = e.evict(e.pages[0], slot(VA, 0));
    assert_eq!(addr, e.addr(0));
    for wrong in [
        e.addr(1),
        e.addr(2),
        addr.add(PAGE_SIZE * 16),
        BASE,
        LinearAddress(addr.0 ^ (1 << 40)),
        LinearAddress(0),
    ] {
        let r = no_change(&m, || m.eldu(FREE, wrong, &blob, Some(e.secs), slot(VA, 0)));
        assert_eq!(r, Err(MAC_FAIL), "at {wrong}");
    }
    load_and_check(&e, FREE, &blob, slot(VA, 0), 0, &e.content(0));
}

/// §6.16: "ELDU with ... a wrong SECS → MAC fail": another enclave's SECS,
/// even one with the same ELRANGE, so that only the EID differs.
#[test]
fn eldu_with_the_secs_of_another_enclave_is_mac_fail() {
    let m = machine(PAGES);
    let a = TestEnclave::build(&m, 0, BASE, 1);
    let b = TestEnclave::build(&m, 8, BASE, 1);
    m.epa(VA).unwrap();
    assert_ne!(a.eid, b.eid);
    let (blob, addr) = a.evict(a.pages[0], slot(VA, 0));
    let r = no_change(&m, || m.eldu(FREE, addr, &blob, Some(b.secs), slot(VA, 0)));
    assert_eq!(r, Err(MAC_FAIL));
    // Rewriting PCMD.ENCLAVEID to the other enclave does not help.
    let mut forged = blob.clone();
    forged.pcmd.enclave_id = b.eid;
    let r = no_change(&m, || {
        m.eldu(FREE, addr, &forged, Some(b.secs), slot(VA, 0))
    });
    assert_eq!(r, Err(MAC_FAIL));
    load_and_check(&a, FREE, &blob, slot(VA, 0), 0, &a.content(0));
}

/// §6.16: "ELDU into a valid page → #PF".
#[test]
fn eldu_into_a_valid_page_is_pf() {
    let (m, e) = setup(2);
    let (blob, _) = e.evict(e.pages[0], slot(VA, 0));
    let r = no_change(&m, || {
        m.eldu(e.pages[1], e.addr(0), &blob, Some(e.secs), slot(VA, 0))
    });
    assert_eq!(
        r,
        Err(pf(Operand::Target, PfCause::AlreadyValid)),
        "loading over a live page"
    );
    // The page it would have overwritten is intact, and the blob still loads.
    assert_eq!(*e.read_page(e.addr(1)).unwrap(), *e.content(1));
    load_and_check(&e, FREE, &blob, slot(VA, 0), 0, &e.content(0));
}

/// §6.16: "EWB into an occupied slot → CF warning, and the older blob
/// becomes unloadable".
#[test]
fn ewb_into_an_occupied_slot_warns_and_the_older_blob_becomes_unloadable() {
    let (m, e) = setup(2);
    let (older, older_addr) = e.evict(e.pages[0], slot(VA, 7));
    eblock(&m, e.pages[1]);
    m.etrack(e.secs).unwrap();
    let mut newer = SealedPage::new();
    let done = m.ewb(e.pages[1], slot(VA, 7), &mut newer).unwrap();
    assert_eq!(done.warning, Some(SgxWarning::VaSlotOccupied));
    assert_eq!(m.epcm(e.pages[1]), Some(EpcmEntry::FREE));
    for dest in [FREE, FREE2] {
        let r = no_change(&m, || {
            m.eldu(dest, older_addr, &older, Some(e.secs), slot(VA, 7))
        });
        assert_eq!(r, Err(MAC_FAIL));
    }
    load_and_check(&e, FREE, &newer, slot(VA, 7), 1, &e.content(1));
    // And now the slot is empty: the older blob has no version anywhere.
    let r = no_change(&m, || {
        m.eldu(FREE2, older_addr, &older, Some(e.secs), slot(VA, 7))
    });
    assert_eq!(r, Err(MAC_FAIL));
}

/// §6.16: "EWB of a SECS with resident children → CHILD_PRESENT".
#[test]
fn ewb_of_a_secs_with_resident_children_is_child_present() {
    let (m, e) = setup(1);
    let mut sealed = SealedPage::new();
    let r = no_change(&m, || m.ewb(e.secs, slot(VA, 0), &mut sealed));
    assert_eq!(r, Err(LeafError::Sgx(SgxError::ChildPresent)));
    // One child left is enough to refuse.
    let _ = e.evict(e.tcs_page, slot(VA, 1));
    let _ = e.evict(e.ssa_page, slot(VA, 2));
    let r = no_change(&m, || m.ewb(e.secs, slot(VA, 0), &mut sealed));
    assert_eq!(r, Err(LeafError::Sgx(SgxError::ChildPresent)));
    let _ = e.evict(e.pages[0], slot(VA, 3));
    assert_eq!(
        m.ewb(e.secs, slot(VA, 0), &mut sealed).unwrap().warning,
        None
    );
    m.validate().unwrap();
}

/// §6.16: "EREMOVE of a REG page while an LP is inside → ENCLAVE_ACT".
#[test]
fn eremove_of_a_reg_page_while_an_lp_is_inside_is_enclave_act() {
    let (m, e) = setup(1);
    let mut lp = e.enter();
    let r = no_change(&m, || m.eremove(e.pages[0]));
    assert_eq!(r, Err(LeafError::Sgx(SgxError::EnclaveAct)));
    // The page is still usable by the LP inside.
    let mut buf = [0u8; 4096];
    lp.read_page(e.addr(0), &mut buf).unwrap();
    assert_eq!(buf, *e.content(0));
    // An LP that took an AEX is no longer inside.
    assert_eq!(m.ipi_enclave(e.secs), 1);
    m.eremove(e.pages[0]).unwrap();
    assert_eq!(m.epcm(e.pages[0]), Some(EpcmEntry::FREE));
    // The LP learns of its AEX at its next access.
    assert_eq!(lp.read_u64(e.addr(0)), Err(LpError::Interrupted));
    lp.eresume().unwrap();
    assert!(matches!(lp.read_u64(e.addr(0)), Err(LpError::PageFault(_))));
    m.validate().unwrap();
}

/// §6.16: "EACCEPT after EMODPR without tracking → NOT_TRACKED": it
/// succeeds only after an ETRACK and the exit of every LP it snapshotted,
/// the accepting thread included.
#[test]
fn eaccept_after_emodpr_without_tracking_is_not_tracked() {
    let (m, e) = setup(1);
    let mut lp = e.enter();
    // A translation cached with W before the restriction.
    lp.write_u64(e.addr(0), 1).unwrap();
    m.emodpr(e.pages[0], Perms::R).unwrap();
    let accept = SecInfo::emodpr(Perms::R);
    let r = no_change(&m, || lp.eaccept(e.addr(0), accept));
    assert_eq!(r, Err(LpError::Sgx(SgxError::NotTracked)));
    // Which is right: the stale translation still writes.
    lp.write_u64(e.addr(0), 2).unwrap();
    m.etrack(e.secs).unwrap();
    let r = no_change(&m, || lp.eaccept(e.addr(0), accept));
    assert_eq!(r, Err(LpError::Sgx(SgxError::NotTracked)));
    assert_eq!(m.ipi_enclave(e.secs), 1);
    assert_eq!(lp.eaccept(e.addr(0), accept), Err(LpError::Interrupted));
    lp.eresume().unwrap();
    lp.eaccept(e.addr(0), accept).unwrap();
    assert!(matches!(
        lp.write_u64(e.addr(0), 3),
        Err(LpError::PageFault(f)) if f.sgx && f.cause == FaultCause::Permission
    ));
    lp.eresume().unwrap();
    assert_eq!(lp.read_u64(e.addr(0)).unwrap(), 2);
    lp.eexit().unwrap();
    m.validate().unwrap();
}

// ------------------------------------------------ paging crypto (issue 2, item 6)

#[test]
fn modified_ciphertext_is_mac_fail_and_changes_nothing() {
    let (m, e) = setup(2);
    let (blob, addr) = e.evict(e.pages[0], slot(VA, 0));
    let (other, _) = e.evict(e.pages[1], slot(VA, 1));
    for (i, bit) in [(0usize, 0u8), (1, 7), (2047, 3), (4095, 7)] {
        let mut bad = blob.clone();
        bad.ciphertext[i] ^= 1 << bit;
        let r = no_change(&m, || m.eldu(FREE, addr, &bad, Some(e.secs), slot(VA, 0)));
        assert_eq!(r, Err(MAC_FAIL), "byte {i} bit {bit}");
    }
    // Another page's ciphertext under this page's PCMD.
    let mut swapped = blob.clone();
    swapped.ciphertext = other.ciphertext.clone();
    let r = no_change(&m, || {
        m.eldu(FREE, addr, &swapped, Some(e.secs), slot(VA, 0))
    });
    assert_eq!(r, Err(MAC_FAIL));
    load_and_check(&e, FREE, &blob, slot(VA, 0), 0, &e.content(0));
}

#[test]
fn modified_pcmd_secinfo_is_mac_fail() {
    let (m, e) = setup(1);
    let (blob, addr) = e.evict(e.pages[0], slot(VA, 0));
    let reg = SecInfo::reg(Perms::RW);
    for secinfo in [
        SecInfo::reg(Perms::R),
        SecInfo::reg(Perms::RWX),
        SecInfo::reg(Perms::NONE),
        SecInfo::tcs(),
        SecInfo {
            page_type: PageType::Tcs,
            ..reg
        },
        SecInfo {
            page_type: PageType::Trim,
            ..reg
        },
        SecInfo {
            pending: true,
            ..reg
        },
        SecInfo {
            modified: true,
            ..reg
        },
        SecInfo { pr: true, ..reg },
    ] {
        let mut bad = blob.clone();
        bad.pcmd.secinfo = secinfo;
        let r = no_change(&m, || m.eldu(FREE, addr, &bad, Some(e.secs), slot(VA, 0)));
        assert_eq!(r, Err(MAC_FAIL), "{secinfo:?}");
    }
    load_and_check(&e, FREE, &blob, slot(VA, 0), 0, &e.content(0));
}

#[test]
fn modified_pcmd_enclave_id_is_mac_fail() {
    let (m, e) = setup(1);
    let (blob, addr) = e.evict(e.pages[0], slot(VA, 0));
    for eid in [0, e.eid.0 + 1, e.eid.0.wrapping_sub(1), u64::MAX] {
        let mut bad = blob.clone();
        bad.pcmd.enclave_id = EnclaveId(eid);
        let r = no_change(&m, || m.eldu(FREE, addr, &bad, Some(e.secs), slot(VA, 0)));
        assert_eq!(r, Err(MAC_FAIL), "eid {eid}");
    }
    load_and_check(&e, FREE, &blob, slot(VA, 0), 0, &e.content(0));
}

#[test]
fn modified_pcmd_reserved_bytes_are_mac_fail() {
    let (m, e) = setup(1);
    let (blob, addr) = e.evict(e.pages[0], slot(VA, 0));
    for i in 0..40 {
        let mut bad = blob.clone();
        bad.pcmd.reserved[i] = 0x80;
        let r = no_change(&m, || m.eldu(FREE, addr, &bad, Some(e.secs), slot(VA, 0)));
        assert_eq!(r, Err(MAC_FAIL), "reserved byte {i}");
    }
    load_and_check(&e, FREE, &blob, slot(VA, 0), 0, &e.content(0));
}

#[test]
fn modified_pcmd_mac_is_mac_fail() {
    let (m, e) = setup(1);
    let (blob, addr) = e.evict(e.pages[0], slot(VA, 0));
    for i in 0..16 {
        let mut bad = blob.clone();
        bad.pcmd.mac[i] ^= 0x01;
        let r = no_change(&m, || m.eldu(FREE, addr, &bad, Some(e.secs), slot(VA, 0)));
        assert_eq!(r, Err(MAC_FAIL), "MAC byte {i}");
    }
    let mut zero = blob.clone();
    zero.pcmd.mac = [0; 16];
    let r = no_change(&m, || m.eldu(FREE, addr, &zero, Some(e.secs), slot(VA, 0)));
    assert_eq!(r, Err(MAC_FAIL));
    load_and_check(&e, FREE, &blob, slot(VA, 0), 0, &e.content(0));
}

#[test]
fn a_blob_loaded_into_a_different_enclave_is_mac_fail() {
    // Two enclaves with the same ELRANGE: the address is valid for both and
    // only the EID binds the page to its enclave. Also a SECS blob and a VA
    // blob cannot be passed off as each other.
    let m = machine(PAGES);
    let a = TestEnclave::build(&m, 0, BASE, 1);
    let b = TestEnclave::build(&m, 8, BASE, 1);
    m.epa(VA).unwrap();
    let (blob, addr) = a.evict(a.pages[0], slot(VA, 0));
    assert_eq!(addr, b.addr(0));
    for kind in ["ELDU", "ELDB"] {
        let r = no_change(&m, || {
            if kind == "ELDU" {
                m.eldu(FREE, addr, &blob, Some(b.secs), slot(VA, 0))
            } else {
                m.eldb(FREE, addr, &blob, Some(b.secs), slot(VA, 0))
            }
        });
        assert_eq!(r, Err(MAC_FAIL), "{kind}");
    }
    assert_eq!(m.enclave_info(b.secs).unwrap().children, 3);
    load_and_check(&a, FREE, &blob, slot(VA, 0), 0, &a.content(0));

    // A VA page sealed, then presented as a SECS (same EID 0 in the header).
    m.epa(VA2).unwrap();
    let va_blob = ewb(&m, VA2, slot(VA, 1)).unwrap();
    let mut as_secs = va_blob.clone();
    as_secs.pcmd.secinfo.page_type = PageType::Secs;
    let r = no_change(&m, || {
        m.eldu(FREE2, LinearAddress(0), &as_secs, None, slot(VA, 1))
    });
    assert_eq!(r, Err(MAC_FAIL));
    m.eldu(FREE2, LinearAddress(0), &va_blob, None, slot(VA, 1))
        .unwrap();
}

#[test]
fn a_blob_checked_against_a_reused_slot_is_mac_fail() {
    let (m, e) = setup(2);
    // Page 0 is evicted and reloaded; its blob's version leaves the slot.
    let (blob0, addr0) = e.evict(e.pages[0], slot(VA, 4));
    m.eldu(FREE, addr0, &blob0, Some(e.secs), slot(VA, 4))
        .unwrap();
    e.pt.map(addr0, FREE, true);
    // The freed slot is reused for page 1.
    let (blob1, _) = e.evict(e.pages[1], slot(VA, 4));
    let r = no_change(&m, || {
        m.eldu(FREE2, addr0, &blob0, Some(e.secs), slot(VA, 4))
    });
    assert_eq!(r, Err(MAC_FAIL), "old blob against the reused slot");
    // Nor does a blob load through any other slot, empty or occupied.
    let (blob_free, _) = e.evict(FREE, slot(VA, 5));
    for s in [0u16, 5, 6, 511] {
        let r = no_change(&m, || {
            m.eldu(FREE2, e.addr(1), &blob1, Some(e.secs), slot(VA, s))
        });
        assert_eq!(r, Err(MAC_FAIL), "slot {s}");
    }
    load_and_check(&e, FREE2, &blob1, slot(VA, 4), 1, &e.content(1));
    load_and_check(&e, EpcPageId(26), &blob_free, slot(VA, 5), 0, &e.content(0));
}

#[test]
fn a_blob_from_another_machine_instance_is_mac_fail() {
    // Two machines driven through the same sequence: same EIDs, same
    // versions, same addresses; only the paging key differs.
    let (m1, e1) = setup(1);
    let (m2, e2) = setup(1);
    assert_eq!(e1.eid, e2.eid);
    let (blob1, addr) = e1.evict(e1.pages[0], slot(VA, 0));
    let (blob2, _) = e2.evict(e2.pages[0], slot(VA, 0));
    assert_eq!(blob1.pcmd.secinfo, blob2.pcmd.secinfo);
    assert_eq!(blob1.pcmd.enclave_id, blob2.pcmd.enclave_id);
    assert_ne!(blob1.pcmd.mac, blob2.pcmd.mac, "different keys");
    assert_ne!(*blob1.ciphertext, *blob2.ciphertext);
    let r = no_change(&m2, || {
        m2.eldu(FREE, addr, &blob1, Some(e2.secs), slot(VA, 0))
    });
    assert_eq!(r, Err(MAC_FAIL));
    let r = no_change(&m1, || {
        m1.eldu(FREE, addr, &blob2, Some(e1.secs), slot(VA, 0))
    });
    assert_eq!(r, Err(MAC_FAIL));
    load_and_check(&e1, FREE, &blob1, slot(VA, 0), 0, &e1.content(0));
    load_and_check(&e2, FREE, &blob2, slot(VA, 0), 0, &e2.content(0));
}

#[test]
fn a_sealed_page_does_not_contain_its_plaintext() {
    // A distinctive 64-byte pattern, repeated over the whole page.
    let mut pat = [0u8; 64];
    for (i, b) in pat.iter_mut().enumerate() {
        *b = b"SGX-EPC-PLAINTEXT-MARKER"[i % 24] ^ (i as u8);
    }
    let mut content = Box::new([0u8; 4096]);
    for c in content.chunks_exact_mut(64) {
        c.copy_from_slice(&pat);
    }
    let m = machine(PAGES);
    let e = TestEnclave::build_uninit(&m, 0, BASE, 0);
    for (i, page) in [EpcPageId(3), EpcPageId(4)].into_iter().enumerate() {
        m.eadd(page, e.secs, e.addr(i), SecInfo::reg(Perms::RW), &content)
            .unwrap();
        e.pt.map(e.addr(i), page, true);
    }
    m.einit(e.secs).unwrap();
    m.epa(VA).unwrap();
    let (b0, _) = e.evict(EpcPageId(3), slot(VA, 0));
    let (b1, _) = e.evict(EpcPageId(4), slot(VA, 1));
    for blob in [&b0, &b1] {
        let ct = &blob.ciphertext[..];
        assert!(
            !ct.windows(64).any(|w| w == pat),
            "the 64-byte pattern appears in the ciphertext"
        );
        // Not even a 16-byte piece of it, at any alignment.
        for piece in pat.chunks_exact(16) {
            assert!(!ct.windows(16).any(|w| w == piece));
        }
        assert!(!blob
            .pcmd
            .mac
            .windows(16)
            .any(|w| pat.windows(16).any(|p| p == w)));
    }
    // Same content, different versions: different ciphertexts.
    assert_ne!(*b0.ciphertext, *b1.ciphertext);
    // And the content really is in there.
    load_and_check(&e, FREE, &b0, slot(VA, 0), 0, &content);
    load_and_check(&e, FREE2, &b1, slot(VA, 1), 1, &content);
}
