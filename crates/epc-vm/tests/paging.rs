//! A guest's enclaves page against their own small vEPC (the guest's
//! ksgxd evicts) while host enclaves oversubscribe the host EPC: host
//! reclaim never touches a vEPC page, and every page reads back right.

mod common;

use common::*;
use epc_hw::EpcPageId;
use epc_vm::Vm;
use std::thread;

#[test]
fn guest_pages_in_its_vepc_while_the_host_is_oversubscribed() {
    const HOST_EPC: u32 = 192;
    const VEPC: u32 = 48;
    let host = host(HOST_EPC, false);
    let vm = Vm::start(&host, vm_config("vm0", VEPC, false)).unwrap();
    // 2.5 x the vEPC in the guest; the host enclaves and the vEPC together
    // are twice the host EPC.
    let guest = build_on(&vm.platform(), &vm.manager(), 7, 120, 1).unwrap();
    let hosts: Vec<_> = (0..2).map(|t| build_host(&host, t + 1, 150, 1)).collect();
    // The guest filled its vEPC: every vEPC page is backed now.
    assert_eq!(vm.host_pages(), VEPC as usize);
    let before = ept(&vm);
    assert!(before.iter().all(Option::is_some));

    let mut workers = Vec::new();
    for (t, e) in hosts.iter().enumerate() {
        let e = e.clone();
        workers.push(thread::spawn(move || churn(&e, t as u64 + 1, 150, 1500)));
    }
    let g = guest.clone();
    workers.push(thread::spawn(move || churn(&g, 7, 120, 1500)));
    for w in workers {
        assert_eq!(w.join().unwrap().unwrap(), 0, "every page reads back right");
    }
    // Stop both ksgxds (each lets its batch in flight finish) so that the
    // counters and residency read below are final: a batch that had done
    // its EWBs but not yet counted them made the host's `evicted` lag the
    // enclaves' EWBs under load. Frees keep working after shutdown.
    host.manager().shutdown();
    vm.manager().shutdown();

    // The guest paged against its own EPC, its ksgxd among the reclaimers.
    let gc = vm.manager().counters();
    assert!(gc.evicted > 0 && guest.counters().eldu > 0, "{gc:?}");
    assert!(gc.ksgxd_wakeups > 0, "the guest's ksgxd ran: {gc:?}");
    // The host paged too, and every page it evicted was a host enclave's:
    // the host manager's evictions are exactly the host enclaves' EWBs of
    // listed pages (a vEPC page has no owner and is on no list).
    let hc = host.manager().counters();
    assert!(hc.evicted > 0, "{hc:?}");
    let host_ewb: u64 = hosts
        .iter()
        .map(|e| e.counters().ewb - e.counters().secs_evictions)
        .sum();
    assert_eq!(hc.evicted, host_ewb, "host reclaim evicted only host pages");
    // The vEPC's host pages stayed held, the same ones, and valid: each
    // page the guest has resident is valid at its host page, at its
    // address, in the guest enclave.
    assert_eq!(ept(&vm), before, "no vEPC page was taken back");
    assert_eq!(vm.host_pages(), VEPC as usize);
    assert_eq!(vm.peak_host_pages(), VEPC as usize);
    let secs_host = vm.host_page(guest.secs_page().unwrap()).unwrap();
    for (addr, gp) in guest.resident_pages() {
        let hp = vm.host_page(gp).expect("backed");
        let e = host.machine().epcm(hp).unwrap();
        assert!(e.valid, "{addr} at host page {hp:?}");
        assert_eq!(e.linaddr, addr);
        assert_eq!(e.secs, Some(secs_host));
    }
    assert!(vm.failed().is_none());
    assert_eq!(host.counters().sigbus, 0);
    assert!(vm.host_page(EpcPageId(VEPC)).is_none());

    drop(guest);
    drop(hosts);
    let free0 = host.manager().free_pages();
    let r = vm.stop();
    assert_eq!(r.removed, VEPC as usize, "{r:?}");
    assert_eq!(host.manager().free_pages(), free0 + VEPC as usize);
    assert_eq!(host.manager().free_pages(), HOST_EPC as usize);
    host.manager().validate().unwrap();
}
