//! Isolation: an EPT entry (or a guest page table entry) pointing at a
//! host enclave's page or another guest's faults, because the model's EPCM
//! checks refuse it; and a guest cannot name a page outside its vEPC.

mod common;

use common::*;
use epc_enclave::EnclaveError;
use epc_hw::{EpcPageId, Fault, LeafError, Operand, PfCause};
use epc_vm::Vm;

#[test]
fn ept_entries_pointing_at_foreign_pages_fault() {
    let host = host(256, true);
    let vm1 = Vm::start(&host, vm_config("vm1", 32, true)).unwrap();
    let vm2 = Vm::start(&host, vm_config("vm2", 32, true)).unwrap();
    // Three enclaves of the same shape (same linear range).
    let h = build_host(&host, 1, 8, 1);
    let g1 = build_on(&vm1.platform(), &vm1.manager(), 2, 8, 1).unwrap();
    let g2 = build_on(&vm2.platform(), &vm2.manager(), 3, 8, 1).unwrap();
    let a0 = data_addr(&g1, 0);
    let host_page_of = |e: &epc_enclave::Enclave| {
        e.resident_pages()
            .into_iter()
            .find(|(a, _)| *a == a0)
            .unwrap()
            .1
    };
    let h0 = host_page_of(&h); // a machine page
    let g1_0 = host_page_of(&g1); // a guest page of vm1
    let g2_0 = vm2.host_page(host_page_of(&g2)).unwrap();
    let mine = vm1.host_page(g1_0).unwrap();

    for (foreign, whose) in [(h0, "a host enclave's"), (g2_0, "another guest's")] {
        let old = vm1.set_ept_for_test(g1_0, Some(foreign));
        assert_eq!(old, Some(mine));
        // A fresh thread (an empty TLB) walks guest page table then EPT.
        let mut t = g1.thread().unwrap();
        for write in [false, true] {
            let r = if write {
                t.write_u64(a0, 0xbad).map(|()| 0)
            } else {
                t.read_u64(a0)
            };
            match r {
                Err(EnclaveError::AccessViolation { why, .. }) => {
                    assert!(why.contains("another enclave"), "{whose}: {why}")
                }
                r => panic!("{whose} page reached through EPT: {r:?}"),
            }
        }
        drop(t);
        vm1.set_ept_for_test(g1_0, old);
        let mut t = g1.thread().unwrap();
        assert_eq!(t.read_u64(a0).unwrap(), pattern(2, 0, 0));
    }
    // The foreign pages were never written.
    assert_eq!(h.thread().unwrap().read_u64(a0).unwrap(), pattern(1, 0, 0));
    assert_eq!(g2.thread().unwrap().read_u64(a0).unwrap(), pattern(3, 0, 0));
    assert_eq!(g1.counters().access_errors, 4);
    for e in [&h, &g1, &g2] {
        assert!(e.killed().is_none());
    }
}

#[test]
fn a_guest_cannot_name_a_page_outside_its_vepc() {
    let host = host(128, true);
    let vm = Vm::start(&host, vm_config("vm", 16, true)).unwrap();
    let h = build_host(&host, 1, 8, 1);
    let g = build_on(&vm.platform(), &vm.manager(), 2, 8, 1).unwrap();
    let p = vm.platform();
    // Every page id at or above the vEPC's size has no machine page, even
    // where a host page of that number holds a host enclave's data.
    for id in [16, 17, 100, 127, 128, u32::MAX - 1] {
        let page = EpcPageId(id);
        assert_eq!(p.walk(page), None);
        assert_eq!(p.epcm(page), None);
        assert_eq!(
            p.eremove(page),
            Err(LeafError::Fault(Fault::PageFault {
                operand: Operand::Target,
                cause: PfCause::NotEpc
            }))
        );
    }
    // A guest page table entry naming a page outside the vEPC finds no
    // EPT entry: the 2-D walk gives no machine page (not present).
    let a0 = data_addr(&g, 0);
    let mine = g
        .resident_pages()
        .into_iter()
        .find(|(a, _)| *a == a0)
        .unwrap()
        .1;
    let walk = p.page_table(g.page_table());
    assert_eq!(
        walk.translate(a0).unwrap().page,
        vm.host_page(mine).unwrap()
    );
    g.page_table().map(a0, EpcPageId(100), true);
    assert_eq!(walk.translate(a0), None);
    // One naming another page of its own vEPC reaches that page, which the
    // EPCM refuses at this address.
    let other = g.resident_pages()[1].1;
    g.page_table().map(a0, other, true);
    let mut t = g.thread().unwrap();
    assert!(matches!(
        t.read_u64(a0),
        Err(EnclaveError::AccessViolation { .. })
    ));
    drop(t);
    g.page_table().map(a0, mine, true);
    assert_eq!(g.thread().unwrap().read_u64(a0).unwrap(), pattern(2, 0, 0));
    // The host enclave is untouched.
    assert_eq!(h.thread().unwrap().read_u64(a0).unwrap(), pattern(1, 0, 0));
    assert_eq!(host.counters().sigbus, 0);
}
