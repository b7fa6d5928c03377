//! Access errors are not faults to retry: a fault the EPCM or the page
//! table causes on a resident, mapped page reaches the thread as a typed
//! error after exactly one fault, and is counted.

mod common;

use common::{build, data_addr, system};
use epc_enclave::{Enclave, EnclaveConfig, EnclaveError};
use epc_hw::{LinearAddress, Perms, PAGE_SIZE};
use epc_mm::ReclaimPermit;

#[test]
fn a_write_to_a_read_only_page_ends_in_one_fault_with_the_typed_error() {
    let (machine, mm) = system(64, true);
    let mut permit = ReclaimPermit::new();
    let e = Enclave::create(
        machine.clone(),
        mm.clone(),
        EnclaveConfig::for_pages(4),
        &mut permit,
    )
    .unwrap();
    let ro = e.config().base;
    e.add_page(ro, Perms::R, &[7; 4096], &mut permit).unwrap();
    let tcs = ro.add(PAGE_SIZE);
    e.add_tcs(tcs, tcs.add(PAGE_SIZE), 1, &mut permit).unwrap();
    e.init().unwrap();
    let mut th = e.thread().unwrap();
    assert_eq!(th.read_u64(ro).unwrap(), u64::from_le_bytes([7; 8]));
    let before = th.faults();
    let err = th.write_u64(ro, 1).unwrap_err();
    assert!(
        matches!(err, EnclaveError::AccessViolation { addr, .. } if addr == ro),
        "{err}"
    );
    assert_eq!(th.faults() - before, 1, "exactly one fault");
    assert_eq!(e.counters().access_errors, 1);
    // The thread is still usable, and the page unchanged.
    assert_eq!(th.read_u64(ro).unwrap(), u64::from_le_bytes([7; 8]));
    drop(th);
    e.destroy();
    assert_eq!(mm.free_pages(), 64);
}

#[test]
fn reading_a_tcs_page_as_data_is_an_access_error_not_a_livelock() {
    let (machine, mm) = system(64, true);
    let e = build(&machine, &mm, 1, 5, 2);
    let mut th = e.thread().unwrap();
    th.read_u64(data_addr(&e, 0)).unwrap();
    // The TCS of the second thread: resident and mapped, but the EPCM
    // refuses a data access to a TCS page (SGX bit).
    let other_tcs = data_addr(&e, 5 + 2);
    let before = th.faults();
    let err = th.read_u64(other_tcs).unwrap_err();
    assert!(
        matches!(err, EnclaveError::AccessViolation { addr, .. } if addr == other_tcs),
        "{err}"
    );
    assert_eq!(th.faults() - before, 1);
    assert_eq!(e.counters().access_errors, 1);
    // An address outside every page of a non-dynamic enclave is one too.
    let nowhere = LinearAddress(e.config().base.0 + e.config().size - PAGE_SIZE);
    assert!(matches!(
        th.read_u64(nowhere),
        Err(EnclaveError::AccessViolation { .. })
    ));
    assert_eq!(e.counters().access_errors, 2);
    assert_eq!(
        th.read_u64(data_addr(&e, 1)).unwrap(),
        common::pattern(1, 1, 0)
    );
    drop(th);
    e.destroy();
    machine.validate().unwrap();
    assert_eq!(mm.free_pages(), 64);
}

#[test]
fn a_resident_page_whose_entry_names_another_page_is_remapped_not_retried_forever() {
    let (machine, mm) = system(64, true);
    let e = build(&machine, &mm, 1, 2, 1);
    let a = data_addr(&e, 0);
    {
        let mut th = e.thread().unwrap();
        assert_eq!(th.read_u64(a).unwrap(), common::pattern(1, 0, 0));
    }
    // Point the entry at another page of the enclave that EBLOCK has
    // blocked, as a stale page table would: the walk's fault (BLOCKED) is
    // one the handler retries, so it must mend the entry rather than
    // return with it in place and fault again forever. A new thread
    // starts with an empty TLB, so its access walks the entry.
    let pte = epc_hw::PageTable::translate(&**e.page_table(), a).unwrap();
    let other = epc_hw::PageTable::translate(&**e.page_table(), data_addr(&e, 1))
        .unwrap()
        .page;
    assert!(machine.eblock(other).unwrap().warning.is_none());
    e.page_table().map(a, other, pte.writable);
    let mut th = e.thread().unwrap();
    assert_eq!(th.read_u64(a).unwrap(), common::pattern(1, 0, 0));
    assert_eq!(
        epc_hw::PageTable::translate(&**e.page_table(), a).map(|p| p.page),
        Some(pte.page),
        "the fault handler rewrote the entry"
    );
    drop(th);
    e.destroy();
    machine.validate().unwrap();
    assert_eq!(mm.free_pages(), 64);
}
