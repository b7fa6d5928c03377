//! Machine faults: poisoned pages raise machine checks in the leaves that
//! read them (and change nothing), and a power cycle loses the whole EPC
//! and the paging key.

mod common;

use common::*;
use epc_hw::*;

const BASE: LinearAddress = LinearAddress(0x4000_0000);

fn mc(page: EpcPageId, operand: Operand) -> LeafError {
    LeafError::MachineCheck(MachineCheck { page, operand })
}

#[test]
fn poison_is_a_flag_of_the_frame() {
    let m = machine(16);
    assert!(!m.is_poisoned(EpcPageId(3)));
    assert_eq!(m.poison_page(EpcPageId(3)), Some(false));
    assert_eq!(m.poison_page(EpcPageId(3)), Some(true));
    assert_eq!(m.poison_page(EpcPageId(16)), None, "not an EPC page");
    assert!(m.is_poisoned(EpcPageId(3)));
    assert_eq!(m.poisoned_pages(), vec![EpcPageId(3)]);
    // Poisoning changes no EPCM state.
    assert_eq!(m.epcm(EpcPageId(3)), Some(EpcmEntry::FREE));
    m.validate().unwrap();
}

#[test]
fn ewb_of_a_poisoned_page_is_a_machine_check_and_makes_no_sealed_copy() {
    let m = machine(32);
    let e = TestEnclave::build(&m, 0, BASE, 2);
    let va = EpcPageId(20);
    m.epa(va).unwrap();
    let page = e.pages[0];
    let _ = m.eblock(page).unwrap();
    m.etrack(e.secs).unwrap();
    m.poison_page(page);
    let mut sealed = SealedPage::new();
    let before = sealed.clone();
    let r = assert_no_change(&m, 32, || m.ewb(page, slot(va, 0), &mut sealed));
    assert_eq!(r.unwrap_err(), mc(page, Operand::Target));
    assert!(r.unwrap_err().machine_check().is_some());
    assert_eq!(r.unwrap_err().sgx(), None);
    assert!(sealed == before, "no sealed copy was produced");
    // The VA slot was not written.
    assert!(m.epcm(page).unwrap().valid);
    // EREMOVE still works: the OS can return the page.
    m.eremove(page).unwrap();
    assert!(m.is_poisoned(page), "poison outlives EREMOVE");
    // The other page still pages out and back.
    let (s, addr) = e.evict(e.pages[1], slot(va, 1));
    m.eldu(EpcPageId(21), addr, &s, Some(e.secs), slot(va, 1))
        .unwrap();
    m.validate().unwrap();
}

#[test]
fn a_poisoned_va_page_or_secs_stops_ewb_and_eldu() {
    let m = machine(32);
    let e = TestEnclave::build(&m, 0, BASE, 2);
    let (va, va2) = (EpcPageId(20), EpcPageId(22));
    m.epa(va).unwrap();
    m.epa(va2).unwrap();
    let (sealed, addr) = e.evict(e.pages[0], slot(va, 0));

    // ELDU reads the version from the VA page.
    m.poison_page(va);
    let r = assert_no_change(&m, 32, || {
        m.eldu(EpcPageId(21), addr, &sealed, Some(e.secs), slot(va, 0))
    });
    assert_eq!(r.unwrap_err(), mc(va, Operand::VaSlot));

    // EWB into a slot of a poisoned VA page.
    let page = e.pages[1];
    let _ = m.eblock(page).unwrap();
    m.etrack(e.secs).unwrap();
    let mut out = SealedPage::new();
    let r = assert_no_change(&m, 32, || m.ewb(page, slot(va, 1), &mut out));
    assert_eq!(r.unwrap_err(), mc(va, Operand::VaSlot));

    // With a poisoned SECS, EWB of a child (whose EID it reads) stops.
    m.poison_page(e.secs);
    let r = assert_no_change(&m, 32, || m.ewb(page, slot(va2, 0), &mut out));
    assert_eq!(r.unwrap_err(), mc(e.secs, Operand::Secs));
}

#[test]
fn eldu_into_a_poisoned_frame_loads_and_the_first_read_checks() {
    // The destination is written whole, never read: ELDU succeeds.
    let m = machine(32);
    let e = TestEnclave::build(&m, 0, BASE, 1);
    let va = EpcPageId(20);
    m.epa(va).unwrap();
    let (sealed, addr) = e.evict(e.pages[0], slot(va, 0));
    let dest = EpcPageId(21);
    m.poison_page(dest);
    m.eldu(dest, addr, &sealed, Some(e.secs), slot(va, 0))
        .unwrap();
    assert!(m.epcm(dest).unwrap().valid);
    m.validate().unwrap();
    // The first read of it is the machine check.
    e.pt.map(addr, dest, true);
    assert_eq!(
        e.read_page(addr).unwrap_err(),
        LpError::MachineCheck {
            addr,
            epc_page: dest
        }
    );
}

#[test]
fn an_access_to_a_poisoned_page_is_a_machine_check_even_on_a_tlb_hit() {
    let m = machine(32);
    let e = TestEnclave::build(&m, 0, BASE, 2);
    let mut lp = e.enter();
    let (a0, a1) = (e.addr(0), e.addr(1));
    let w0 = lp.read_u64(a0).unwrap(); // now in the TLB
    m.poison_page(e.pages[0]);
    let r = lp.read_u64(a0.add(8));
    assert_eq!(
        r.unwrap_err(),
        LpError::MachineCheck {
            addr: a0,
            epc_page: e.pages[0]
        }
    );
    // The LP took an AEX, as for a fault; writes check too.
    assert!(lp.is_interrupted());
    lp.eresume().unwrap();
    assert!(matches!(
        lp.write_u64(a0, 1),
        Err(LpError::MachineCheck { .. })
    ));
    lp.eresume().unwrap();
    // The other page is fine.
    lp.read_u64(a1).unwrap();
    lp.eexit().unwrap();
    assert_ne!(w0, 0);
    m.validate().unwrap();
}

#[test]
fn eenter_on_a_poisoned_tcs_and_eresume_on_a_poisoned_ssa_are_machine_checks() {
    let m = machine(32);
    let e = TestEnclave::build(&m, 0, BASE, 1);
    // ERESUME reads the SSA frame.
    let mut lp = e.enter();
    m.ipi_enclave(e.secs);
    assert_eq!(lp.read_u64(e.addr(0)), Err(LpError::Interrupted));
    m.poison_page(e.ssa_page);
    assert_eq!(
        lp.eresume(),
        Err(LpError::MachineCheck {
            addr: e.ssa,
            epc_page: e.ssa_page
        })
    );
    drop(lp);
    // EENTER reads the TCS.
    m.poison_page(e.tcs_page);
    let mut lp = m.new_lp().unwrap();
    assert_eq!(
        lp.eenter(e.tcs, e.pt.clone()),
        Err(LpError::MachineCheck {
            addr: e.tcs,
            epc_page: e.tcs_page
        })
    );
    assert!(!lp.is_inside());
    m.validate().unwrap();
}

#[test]
fn eadd_and_einit_read_the_secs() {
    let m = machine(32);
    let secs = EpcPageId(0);
    m.ecreate(secs, BASE, SIZE).unwrap();
    m.poison_page(secs);
    let r = assert_no_change(&m, 32, || {
        m.eadd(
            EpcPageId(1),
            secs,
            BASE,
            SecInfo::reg(Perms::RW),
            &[0; 4096],
        )
    });
    assert_eq!(r.unwrap_err(), mc(secs, Operand::Secs));
    let r = assert_no_change(&m, 32, || m.einit(secs));
    assert_eq!(r.unwrap_err(), mc(secs, Operand::Secs));
    // EBLOCK, ETRACK and EREMOVE read no contents.
    m.etrack(secs).unwrap();
    m.eremove(secs).unwrap();
}

#[test]
fn power_cycle_loses_everything_and_old_blobs_never_load() {
    let m = machine(64);
    let e = TestEnclave::build(&m, 0, BASE, 4);
    let va = EpcPageId(40);
    m.epa(va).unwrap();
    let (sealed, addr) = e.evict(e.pages[0], slot(va, 0));
    // A thread inside when the power goes.
    let mut lp = e.enter();
    let v = lp.read_u64(e.addr(1)).unwrap();
    assert_ne!(v, 0);
    m.poison_page(EpcPageId(50));
    assert_eq!(m.power_cycles(), 0);

    m.power_cycle().unwrap();
    assert_eq!(m.power_cycles(), 1);

    // Every EPCM entry invalid, no enclave known, the LP thrown out.
    for p in 0..64 {
        assert_eq!(m.epcm(EpcPageId(p)), Some(EpcmEntry::FREE), "page {p}");
        assert_eq!(m.enclave_info(EpcPageId(p)), None);
    }
    assert!(!lp.is_inside() || lp.read_u64(e.addr(1)).is_err());
    assert!(matches!(lp.eresume(), Err(LpError::PageFault(_))));
    drop(lp);
    m.validate().unwrap();
    assert!(
        m.is_poisoned(EpcPageId(50)),
        "poison survives a power cycle"
    );

    // The VA page is gone; even a new VA page with the old version in the
    // same slot (impossible to arrange for real, as the OS never saw the
    // version) could not help: the key changed. Rebuild the enclave as it
    // was and try the old blob with its old address.
    let e2 = TestEnclave::build(&m, 0, BASE, 4);
    assert_ne!(e2.eid, e.eid);
    m.epa(va).unwrap();
    let r = m.eldu(EpcPageId(41), addr, &sealed, Some(e2.secs), slot(va, 0));
    assert_eq!(r.unwrap_err(), sgx(SgxError::MacCompareFail));

    // The new world pages normally.
    let (s, a) = e2.evict(e2.pages[2], slot(va, 1));
    m.eldu(EpcPageId(42), a, &s, Some(e2.secs), slot(va, 1))
        .unwrap();
    e2.pt.map(a, EpcPageId(42), true);
    assert!(e2.read_page(a).unwrap() == e2.content(2));
    m.validate().unwrap();
}
