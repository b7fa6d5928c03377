//! Concurrency of the model: logical processors reading and writing while
//! another thread evicts and reloads the same pages; IPIs that never wait on
//! an idle or blocked LP; conflicts between leaves on one page.

mod pager;

use epc_hw::*;
use pager::{data_addr, Pager};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::Duration;

const THREADS: u64 = 3;
const DATA_PAGES: u64 = 64;

/// Word `t` of page `i` belongs to thread `t`: page index, thread and a
/// counter, so a read can tell another page's data or a stale version.
fn word(i: u64, t: u64, counter: u64) -> u64 {
    (i << 40) | (t << 32) | counter
}

fn initial(i: u64) -> Box<[u8; 4096]> {
    let mut p = Box::new([0u8; 4096]);
    for t in 0..THREADS {
        let w = word(i, t, 0).to_le_bytes();
        p[(t * 8) as usize..(t * 8 + 8) as usize].copy_from_slice(&w);
    }
    p
}

#[test]
fn accesses_stay_coherent_while_another_thread_evicts() {
    // 40 EPC pages: SECS, VA, 6 TCS/SSA and 32 of the 64 data pages.
    let pager = Arc::new(Pager::build(40, 8, DATA_PAGES, THREADS, initial));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(THREADS as usize + 1));

    let evictor = {
        let (pager, stop, start) = (pager.clone(), stop.clone(), start.clone());
        thread::spawn(move || {
            start.wait();
            let mut batches = 0u64;
            while !stop.load(Ordering::Relaxed) {
                pager.evict_batch(4);
                batches += 1;
                thread::yield_now();
            }
            batches
        })
    };

    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (pager, start) = (pager.clone(), start.clone());
            thread::spawn(move || {
                let mut lp = pager.machine.new_lp().unwrap();
                let tcs = pager.tcs[t as usize];
                let mut counters = vec![0u64; DATA_PAGES as usize];
                let mut rng = ChaCha8Rng::seed_from_u64(t);
                start.wait();
                pager.run(&mut lp, |lp| lp.eenter(tcs, pager.pt.clone()));
                for _ in 0..20_000 {
                    let i = rng.gen_range(0..DATA_PAGES);
                    let own = data_addr(pager.base, i).add(t * 8);
                    if rng.gen_bool(0.5) {
                        let v = pager.run(&mut lp, |lp| lp.read_u64(own));
                        assert_eq!(v, word(i, t, counters[i as usize]), "stale or foreign data");
                    } else {
                        counters[i as usize] += 1;
                        let v = word(i, t, counters[i as usize]);
                        pager.run(&mut lp, |lp| lp.write_u64(own, v));
                    }
                    // Another thread's word of the same page: its page and
                    // owner bits must match whatever its counter is.
                    let other = (t + 1) % THREADS;
                    let addr = data_addr(pager.base, i).add(other * 8);
                    let v = pager.run(&mut lp, |lp| lp.read_u64(addr));
                    assert_eq!(v >> 32, (i << 8) | other, "word of another page");
                }
                pager.run(&mut lp, |lp| lp.eexit());
                (counters, lp.stats())
            })
        })
        .collect();

    let results: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    stop.store(true, Ordering::Relaxed);
    let batches = evictor.join().unwrap();

    // Every thread's final counters are what the pages hold.
    let mut lp = pager.machine.new_lp().unwrap();
    pager.run(&mut lp, |lp| lp.eenter(pager.tcs[0], pager.pt.clone()));
    for (t, (counters, _)) in results.iter().enumerate() {
        for i in 0..DATA_PAGES {
            let addr = data_addr(pager.base, i).add(t as u64 * 8);
            let v = pager.run(&mut lp, |lp| lp.read_u64(addr));
            assert_eq!(v, word(i, t as u64, counters[i as usize]));
        }
    }
    pager.run(&mut lp, |lp| lp.eexit());
    drop(lp);
    pager.machine.validate().unwrap();

    let c = &pager.counters;
    eprintln!("{c:?} ledger {:?}", pager.machine.ledger().snapshot());
    assert!(batches > 0);
    assert!(c.evictions.load(Ordering::Relaxed) > 100, "{c:?}");
    assert!(c.reloads.load(Ordering::Relaxed) > 100, "{c:?}");
    let ledger = pager.machine.ledger();
    assert!(ledger.count(Event::Aex) > 0);
    assert!(ledger.count(Event::PageFault) > 0);
}

#[test]
fn ipi_does_not_wait_for_an_idle_lp_and_completes_tracking() {
    let pager = Arc::new(Pager::build(16, 8, 4, 1, initial));
    let (entered_tx, entered_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let lp_thread = {
        let pager = pager.clone();
        thread::spawn(move || {
            let mut lp = pager.machine.new_lp().unwrap();
            pager.run(&mut lp, |lp| lp.eenter(pager.tcs[0], pager.pt.clone()));
            pager.run(&mut lp, |lp| lp.read_u64(data_addr(pager.base, 0)));
            entered_tx.send(()).unwrap();
            // Inside the enclave, idle, blocked on something else entirely.
            go_rx.recv().unwrap();
            let r = lp.read_u64(data_addr(pager.base, 0));
            assert_eq!(r, Err(LpError::Interrupted), "the IPI exited this LP");
            pager.resume(&mut lp);
            pager.run(&mut lp, |lp| lp.eexit());
        })
    };
    entered_rx.recv().unwrap();

    // Block page 0 and track: the cycle waits for the idle LP.
    let epc = pager.pt.translate(data_addr(pager.base, 0)).unwrap().page;
    pager.pt.unmap(data_addr(pager.base, 0));
    let _ = pager.machine.eblock(epc).unwrap();
    pager.machine.etrack(pager.secs).unwrap();
    let slot = VaSlot {
        page: EpcPageId(1),
        slot: 0,
    };
    let mut sealed = SealedPage::new();
    assert_eq!(
        pager.machine.ewb(epc, slot, &mut sealed).unwrap_err(),
        LeafError::Sgx(SgxError::NotTracked)
    );

    // The IPI returns although the LP's thread is blocked on a channel.
    let (done_tx, done_rx) = mpsc::channel();
    let m = pager.machine.clone();
    let secs = pager.secs;
    thread::spawn(move || done_tx.send(m.ipi_enclave(secs)).unwrap());
    let sent = done_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the IPI waited on a blocked LP");
    assert_eq!(sent, 1);
    let _ = pager.machine.ewb(epc, slot, &mut sealed).unwrap();

    go_tx.send(()).unwrap();
    lp_thread.join().unwrap();
    assert_eq!(pager.machine.ledger().count(Event::Ipi), 1);
}

#[test]
fn ipi_skips_an_lp_handling_a_fault_outside_enclave_mode() {
    let pager = Arc::new(Pager::build(16, 8, 4, 1, initial));
    let mut lp = pager.machine.new_lp().unwrap();
    pager.run(&mut lp, |lp| lp.eenter(pager.tcs[0], pager.pt.clone()));
    pager.pt.unmap(data_addr(pager.base, 1));
    let err = lp.read_u64(data_addr(pager.base, 1)).unwrap_err();
    assert!(matches!(err, LpError::PageFault(pf) if !pf.sgx));
    // The LP is outside (AEX taken): nothing to interrupt, no wait.
    assert_eq!(pager.machine.ipi_enclave(pager.secs), 0);
    assert!(lp.is_interrupted());
    let epc = pager.machine.enclave_info(pager.secs).unwrap();
    assert_eq!(epc.lps_inside, 0);
}

#[test]
fn concurrent_leaves_on_one_page_conflict() {
    let m = Machine::new(MachineConfig::with_pages(8)).unwrap();
    let secs = EpcPageId(0);
    m.ecreate(secs, LinearAddress(0x10000), 0x10000).unwrap();
    let page = EpcPageId(2);
    m.eadd(
        page,
        secs,
        LinearAddress(0x10000),
        SecInfo::reg(Perms::RW),
        &[1; 4096],
    )
    .unwrap();
    m.epa(EpcPageId(1)).unwrap();

    // Deterministically: a leaf holding the page exclusively.
    {
        let _held = m.hold_page_for_test(page, true).unwrap();
        assert_eq!(
            m.eblock(page).unwrap_err(),
            SgxError::EpcPageConflict.into()
        );
        assert_eq!(
            m.eremove(page).unwrap_err(),
            LeafError::Fault(Fault::GeneralProtection(GpCause::Conflict(Operand::Target)))
        );
    }
    // A shared hold (another EBLOCK) does not conflict with EBLOCK...
    {
        let _held = m.hold_page_for_test(page, false).unwrap();
        let _ = m.eblock(page).unwrap();
        // ...but does with EWB, which needs the page exclusively.
        m.etrack(secs).unwrap();
        let mut s = SealedPage::new();
        let slot = VaSlot {
            page: EpcPageId(1),
            slot: 0,
        };
        assert_eq!(
            m.ewb(page, slot, &mut s).unwrap_err(),
            LeafError::Fault(Fault::GeneralProtection(GpCause::Conflict(Operand::Target)))
        );
    }
    m.validate().unwrap();
}

#[test]
fn racing_threads_provoke_real_conflicts() {
    // EBLOCK in a loop on one thread; EWB and ELDU of the same page in a
    // loop on another. The leaves overlap and the model must notice.
    let m = Machine::new(MachineConfig::with_pages(8)).unwrap();
    let secs = EpcPageId(0);
    let base = LinearAddress(0x10000);
    m.ecreate(secs, base, 0x10000).unwrap();
    m.epa(EpcPageId(1)).unwrap();
    let page = EpcPageId(2);
    m.eadd(page, secs, base, SecInfo::reg(Perms::RW), &[3; 4096])
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let blocker = {
        let (m, stop) = (m.clone(), stop.clone());
        thread::spawn(move || {
            let mut conflicts = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if m.eblock(page) == Err(SgxError::EpcPageConflict.into()) {
                    conflicts += 1;
                }
            }
            conflicts
        })
    };
    let slot = VaSlot {
        page: EpcPageId(1),
        slot: 0,
    };
    let mut sealed = SealedPage::new();
    let mut gp_conflicts = 0u64;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut rounds = 0u64;
    while rounds < 2000 || (gp_conflicts == 0 && std::time::Instant::now() < deadline) {
        rounds += 1;
        let _ = m.eblock(page);
        let _ = m.etrack(secs);
        loop {
            match m.ewb(page, slot, &mut sealed) {
                Ok(_) => break,
                Err(LeafError::Fault(Fault::GeneralProtection(GpCause::Conflict(_)))) => {
                    gp_conflicts += 1
                }
                Err(LeafError::Sgx(SgxError::NotTracked)) => {
                    let _ = m.etrack(secs);
                }
                Err(e) => panic!("EWB: {e}"),
            }
        }
        loop {
            match m.eldu(page, base, &sealed, Some(secs), slot) {
                Ok(()) => break,
                Err(LeafError::Fault(Fault::GeneralProtection(GpCause::Conflict(_)))) => {
                    gp_conflicts += 1
                }
                Err(e) => panic!("ELDU: {e}"),
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let eblock_conflicts = blocker.join().unwrap();
    assert!(
        gp_conflicts + eblock_conflicts > 0,
        "no conflict detected in {rounds} rounds"
    );
    m.validate().unwrap();
}
