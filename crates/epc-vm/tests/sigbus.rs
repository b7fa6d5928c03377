//! An on-demand vEPC the host cannot back: the VM gets SIGBUS and fails
//! cleanly (its guest sees its EPC lost), while host enclaves and another
//! VM go on; a prealloc the host cannot satisfy refuses to start and
//! holds nothing.

mod common;

use common::*;
use epc_enclave::{EnclaveError, KillReason};
use epc_vm::{Vm, VmError};

#[test]
fn on_demand_vepc_without_host_epc_fails_only_that_vm() {
    const HOST_EPC: u32 = 128;
    let host = host(HOST_EPC, false);
    let free0 = host.manager().free_pages();
    // A small VM, preallocated, and a host enclave, both healthy.
    let calm = Vm::start(&host, {
        let mut c = vm_config("calm", 24, false);
        c.prealloc = true;
        c
    })
    .unwrap();
    assert_eq!(calm.host_pages(), 24);
    let calm_guest = build_on(&calm.platform(), &calm.manager(), 3, 40, 1).unwrap();
    let host_enclave = build_host(&host, 1, 40, 1);
    // A VM whose vEPC is larger than the host EPC, on demand: its guest
    // builds an enclave that needs more host pages than the host has.
    let greedy = Vm::start(&host, vm_config("greedy", 256, false)).unwrap();
    let r = build_on(&greedy.platform(), &greedy.manager(), 9, 200, 1);
    let Err(EnclaveError::Killed(KillReason::EpcLost)) = r else {
        panic!("the guest sees its EPC lost: {r:?}");
    };
    let why = greedy.failed().expect("the VM failed");
    assert!(why.contains("SIGBUS") && why.contains("vEPC page"), "{why}");
    // Before giving up, host reclaim (ksgxd, woken by the vEPC's
    // allocations) evicted host enclave pages for it: it got more than
    // was free.
    assert!(host.manager().counters().evicted > 0);
    assert_eq!(host.counters().sigbus, 1);
    assert_eq!(host.counters().vms_failed, 1);
    // It holds its pages until stopped; then every one goes back.
    assert!(greedy.host_pages() > 0);
    let r = greedy.stop();
    assert_eq!(r.zombies, 0, "{r:?}");
    assert_eq!(greedy.host_pages(), 0);

    // Nothing else was disturbed: the host enclave and the other VM's
    // guest read every page back right.
    assert!(calm.failed().is_none());
    assert_eq!(churn(&host_enclave, 1, 40, 400).unwrap(), 0);
    assert_eq!(churn(&calm_guest, 3, 40, 400).unwrap(), 0);
    assert!(host_enclave.killed().is_none() && calm_guest.killed().is_none());

    drop((host_enclave, calm_guest));
    calm.stop();
    assert_eq!(host.manager().free_pages(), free0);
    host.manager().validate().unwrap();
}

#[test]
fn a_prealloc_the_host_cannot_back_holds_nothing() {
    let host = host(64, true);
    let mut c = vm_config("big", 100, true);
    c.prealloc = true;
    match Vm::start(&host, c) {
        Err(VmError::NoMemory {
            vm, wanted, got, ..
        }) => {
            assert_eq!((vm.as_str(), wanted, got), ("big", 100, 64));
        }
        r => panic!("{r:?}"),
    }
    assert_eq!(host.manager().free_pages(), 64);
    host.manager().validate().unwrap();
    // A config error names the field.
    let e = Vm::start(&host, vm_config("tiny", 1, true)).unwrap_err();
    assert!(e.to_string().contains("epc_pages"), "{e}");
}

#[test]
fn a_poisoned_host_page_fails_only_the_vm_holding_it() {
    let host = host(128, true);
    let free0 = host.manager().free_pages();
    let mut c = vm_config("vm", 16, true);
    c.prealloc = true;
    let vm = Vm::start(&host, c).unwrap();
    let other = Vm::start(&host, vm_config("other", 16, true)).unwrap();
    let g = build_on(&vm.platform(), &vm.manager(), 1, 8, 1).unwrap();
    let g2 = build_on(&other.platform(), &other.manager(), 2, 8, 1).unwrap();
    let held: Vec<_> = common::ept(&vm)
        .into_iter()
        .chain(common::ept(&other))
        .flatten()
        .collect();
    let free_page = (0..128)
        .map(epc_hw::EpcPageId)
        .find(|p| !held.contains(p))
        .unwrap();
    let (_, gp) = g.resident_pages()[2];
    let hp = vm.host_page(gp).unwrap();
    assert_eq!(host.memory_failure_vm(hp).as_deref(), Some("vm"));
    let why = vm.failed().unwrap();
    assert!(
        why.contains("memory failure") && why.contains(&hp.0.to_string()),
        "{why}"
    );
    // Its guest sees its EPC lost; the other VM goes on.
    assert!(g.epc_lost());
    let r = g.thread().and_then(|mut t| t.read_u64(data_addr(&g, 0)));
    assert!(
        matches!(r, Err(EnclaveError::Killed(KillReason::EpcLost))),
        "{r:?}"
    );
    assert!(other.failed().is_none());
    assert_eq!(churn(&g2, 2, 8, 100).unwrap(), 0);
    assert_eq!(
        host.memory_failure_vm(free_page),
        None,
        "a page no VM holds is left to the caller"
    );
    drop((g, g2));
    vm.stop();
    other.stop();
    // The poisoned page is retired, every other page is free.
    assert_eq!(host.manager().free_pages(), free0 - 1);
    assert_eq!(host.manager().poisoned_pages(), vec![hp]);
    host.manager().validate().unwrap();
}

#[test]
fn vepc_pages_are_charged_to_the_vms_group_and_its_limit_is_sigbus() {
    use epc_mm::{GroupLimits, PolicyKind};
    let host = host(128, true);
    let mm = host.manager();
    let group = mm
        .create_group("/vms", GroupLimits::max(24), PolicyKind::default())
        .unwrap();
    let mut c = vm_config("capped", 32, true);
    c.group = group;
    let vm = Vm::start(&host, c).unwrap();
    let g = build_on(&vm.platform(), &vm.manager(), 1, 8, 1).unwrap();
    assert_eq!(mm.group_stats(group).unwrap().current, vm.host_pages());
    // Past the group's limit, with nothing of the group reclaimable (a
    // vEPC page never is): SIGBUS, though the host has free pages.
    let r = build_on(&vm.platform(), &vm.manager(), 2, 20, 1);
    assert!(
        matches!(r, Err(EnclaveError::Killed(KillReason::EpcLost))),
        "{r:?}"
    );
    assert!(vm.failed().unwrap().contains("SIGBUS"));
    assert_eq!(vm.host_pages(), 24);
    assert_eq!(mm.group_stats(group).unwrap().current, 24);
    assert!(mm.free_pages() > 64);
    drop(g);
    vm.stop();
    assert_eq!(mm.group_stats(group).unwrap().current, 0);
    assert_eq!(mm.free_pages(), 128);
    mm.validate().unwrap();
}

#[test]
fn a_guest_memory_failure_retires_the_host_page_at_release() {
    let host = host(64, true);
    let vm = Vm::start(&host, vm_config("vm", 16, true)).unwrap();
    let g = build_on(&vm.platform(), &vm.manager(), 1, 6, 1).unwrap();
    // The guest's own memory failure: its guest page, the host page behind.
    let (_, gp, _) = g.poison_resident_page(1).unwrap();
    let hp = vm.host_page(gp).unwrap();
    assert!(host.machine().is_poisoned(hp));
    assert!(vm.failed().is_none(), "the guest handles its own");
    drop(g);
    vm.stop();
    // Retired on the host, never handed out again.
    assert_eq!(host.manager().poisoned_pages(), vec![hp]);
    assert_eq!(host.manager().free_pages(), 63);
    host.manager().validate().unwrap();
}
