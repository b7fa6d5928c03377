//! Destroy and reboot with guest enclaves still present: two EREMOVE
//! passes, the zombie list, and every host page free at the end.

mod common;

use common::*;
use epc_enclave::KillReason;
use epc_vm::Vm;
use std::sync::Arc;

#[test]
fn stop_removes_every_page_in_two_passes() {
    let host = host(256, false);
    let free0 = host.manager().free_pages();
    let vm = Vm::start(&host, vm_config("vm0", 64, false)).unwrap();
    // Guest enclaves that paged (so SECS and children are spread over the
    // vEPC), their threads stopped, the enclaves still there.
    let guests: Vec<_> = (0..3)
        .map(|t| build_on(&vm.platform(), &vm.manager(), t, 40, 1).unwrap())
        .collect();
    for (t, g) in guests.iter().enumerate() {
        assert_eq!(churn(g, t as u64, 40, 200).unwrap(), 0);
    }
    let held = vm.host_pages();
    assert_eq!(held, 64);
    let r = vm.stop();
    assert_eq!(r.removed, held, "{r:?}");
    assert!(
        r.child_present > 0,
        "a SECS went before its children: {r:?}"
    );
    assert_eq!(r.second_pass, r.child_present, "{r:?}");
    assert_eq!((r.enclave_act, r.zombies), (0, 0), "{r:?}");
    assert_eq!(host.manager().free_pages(), free0);
    host.manager().validate().unwrap();
    // The guest enclaves find their EPC lost and tear down cleanly.
    for g in &guests {
        assert!(g.epc_lost());
        assert!(g.notice_epc_loss());
        assert_eq!(g.killed(), Some(KillReason::EpcLost));
    }
    drop(guests);
    // Idempotent.
    assert_eq!(vm.stop().removed, 0);
    let c = host.counters();
    assert_eq!(c.eremove_second_pass as usize, r.second_pass);
    assert_eq!(c.child_present as usize, r.child_present);
}

#[test]
fn reboot_gives_everything_back_and_starts_a_fresh_guest() {
    let host = host(256, false);
    let free0 = host.manager().free_pages();
    let vm = Vm::start(&host, vm_config("vm0", 48, false)).unwrap();
    let old_mm = vm.manager();
    let g = build_on(&vm.platform(), &old_mm, 1, 60, 1).unwrap();
    assert_eq!(churn(&g, 1, 60, 300).unwrap(), 0);
    let held = vm.host_pages();
    let r = vm.reboot();
    assert_eq!(r.removed, held, "{r:?}");
    assert_eq!(r.second_pass, r.child_present);
    assert_eq!(vm.host_pages(), 0);
    assert_eq!(host.manager().free_pages(), free0);
    // The old guest's enclave lost its EPC: its next use says so.
    assert!(g.epc_lost());
    assert!(matches!(
        g.thread().and_then(|mut t| t.read_u64(data_addr(&g, 0))),
        Err(epc_enclave::EnclaveError::Killed(KillReason::EpcLost))
    ));
    drop(g);
    // A fresh manager; the new boot works over the same vEPC.
    assert!(!Arc::ptr_eq(&old_mm, &vm.manager()));
    assert_eq!(vm.manager().counters().evicted, 0);
    let g2 = build_on(&vm.platform(), &vm.manager(), 2, 60, 1).unwrap();
    assert_eq!(churn(&g2, 2, 60, 300).unwrap(), 0);
    assert!(vm.host_pages() > 0 && vm.failed().is_none());
    drop(g2);
    vm.stop();
    assert_eq!(host.manager().free_pages(), free0);
    host.manager().validate().unwrap();
}

#[test]
fn a_thread_left_inside_makes_zombies_freed_at_a_later_release() {
    let host = host(256, true);
    let free0 = host.manager().free_pages();
    let vm = Vm::start(&host, vm_config("vm0", 32, true)).unwrap();
    let g = build_on(&vm.platform(), &vm.manager(), 5, 10, 1).unwrap();
    // A thread that stays inside the enclave (its LP never exits).
    let mut inside = g.thread().unwrap();
    assert_eq!(inside.read_u64(data_addr(&g, 3)).unwrap(), pattern(5, 3, 0));
    let held = vm.host_pages();
    let r = vm.stop();
    // Every child refuses (SGX_ENCLAVE_ACT), the SECS keeps its children
    // through both passes; they all go on the zombie list.
    assert_eq!(r.enclave_act, 12, "10 data pages, a TCS, an SSA: {r:?}");
    assert!(r.child_present >= 1);
    assert_eq!(r.zombies, 13, "and the SECS: {r:?}");
    assert_eq!(r.removed + r.zombies, held);
    assert_eq!(host.zombie_secs(), 13);
    assert_eq!(host.manager().free_pages(), free0 - 13);
    host.manager().validate().unwrap();
    // The thread leaves; a later release (another VM's) retries the
    // zombies: children first, then the SECS.
    drop(inside);
    drop(g);
    let other = Vm::start(&host, vm_config("vm1", 16, true)).unwrap();
    let r2 = other.stop();
    assert_eq!(r2.zombies_freed, 13, "{r2:?}");
    assert_eq!(host.zombie_secs(), 0);
    assert_eq!(host.manager().free_pages(), free0);
    host.manager().validate().unwrap();
    let c = host.counters();
    assert_eq!((c.zombies_added, c.zombies_freed), (13, 13));
}

#[test]
fn stop_while_guest_threads_run_never_reaches_a_reused_page() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let host = host(192, false);
    let free0 = host.manager().free_pages();
    let vm = Vm::start(&host, vm_config("vm0", 48, false)).unwrap();
    let guests: Vec<_> = (0..2)
        .map(|t| build_on(&vm.platform(), &vm.manager(), 10 + t, 40, 1).unwrap())
        .collect();
    let progress = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = guests
        .iter()
        .enumerate()
        .map(|(t, g)| {
            let (g, progress) = (g.clone(), progress.clone());
            std::thread::spawn(move || {
                let mut th = g.thread()?;
                for n in 0..20_000u64 {
                    let i = n * 7 % 40;
                    let got = th.read_u64(data_addr(&g, i))?;
                    assert_eq!(got, pattern(10 + t as u64, i, 0), "a guest read");
                    progress.fetch_add(1, Ordering::Relaxed);
                }
                Ok::<(), epc_enclave::EnclaveError>(())
            })
        })
        .collect();
    while progress.load(Ordering::Relaxed) < 300 {
        std::thread::yield_now();
    }
    // Released under the running guests; the host reuses the pages at once.
    let r = vm.stop();
    assert!(r.second_pass <= r.child_present, "{r:?}");
    let h = build_host(&host, 1, 100, 1);
    assert_eq!(churn(&h, 1, 100, 500).unwrap(), 0, "host pages intact");
    for w in workers {
        // Either the guest thread found its EPC lost, or it stayed inside
        // on its own (zombie) pages to the end, reading them right.
        match w.join().unwrap() {
            Ok(()) | Err(epc_enclave::EnclaveError::Killed(KillReason::EpcLost)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    drop(guests);
    drop(h);
    host.retry_zombies();
    assert_eq!(host.zombie_secs(), 0);
    assert_eq!(host.manager().free_pages(), free0);
    host.manager().validate().unwrap();
    host.machine().validate().unwrap();
}

#[test]
fn a_host_power_cycle_loses_the_guests_epc_and_stop_gives_everything_back() {
    let host = host(128, true);
    let vm = Vm::start(&host, vm_config("vm", 32, true)).unwrap();
    let g = build_on(&vm.platform(), &vm.manager(), 1, 10, 1).unwrap();
    assert_eq!(churn(&g, 1, 10, 50).unwrap(), 0);
    host.machine().power_cycle().unwrap();
    assert!(vm.failed().unwrap().contains("power cycle"));
    assert!(g.epc_lost());
    let r = g.thread().and_then(|mut t| t.read_u64(data_addr(&g, 0)));
    assert!(
        matches!(
            r,
            Err(epc_enclave::EnclaveError::Killed(KillReason::EpcLost))
        ),
        "{r:?}"
    );
    drop(g);
    let r = vm.stop();
    assert_eq!((r.zombies, vm.host_pages()), (0, 0), "{r:?}");
    assert_eq!(host.manager().free_pages(), 128);
    host.manager().validate().unwrap();
}
