//! Oversubscription integrity: enclaves larger than the EPC keep every word.

mod common;

use common::*;
use epc_hw::{LinearAddress, PAGE_SIZE};
use epc_mm::ReclaimPermit;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn check_all(t: &mut epc_enclave::EnclaveThread, tag: u64, order: &[u64]) {
    let e = t.enclave().clone();
    for &i in order {
        for w in [0u64, 1, 255, 511] {
            let addr = data_addr(&e, i).add(w * 8);
            assert_eq!(
                t.read_u64(addr).unwrap(),
                pattern(tag, i, w),
                "page {i} word {w}"
            );
        }
    }
}

#[test]
fn enclave_twice_the_epc_reads_back_in_several_orders() {
    for deterministic in [true, false] {
        let (machine, mm) = system(256, deterministic);
        // Twice the EPC, built through direct reclaim (and ksgxd).
        let e = build(&machine, &mm, 1, 512, 1);
        let u = e.usage();
        assert!(u.evicted > 200, "{u:?}");
        let mut t = e.thread().unwrap();
        let n = 512u64;
        let forward: Vec<u64> = (0..n).collect();
        let backward: Vec<u64> = (0..n).rev().collect();
        let strided: Vec<u64> = (0..n).map(|i| (i * 97) % n).collect();
        let mut random = forward.clone();
        random.shuffle(&mut ChaCha8Rng::seed_from_u64(3));
        for order in [&forward, &backward, &strided, &random] {
            check_all(&mut t, 1, order);
        }
        // Rewrite every page through whole-page writes, then verify.
        for i in 0..n {
            let mut page = *page_content(2, i);
            page[0] ^= 1;
            t.write_page(data_addr(&e, i), &page).unwrap();
        }
        let mut buf = [0u8; 4096];
        for &i in &random {
            t.read_page(data_addr(&e, i), &mut buf).unwrap();
            let mut want = *page_content(2, i);
            want[0] ^= 1;
            assert!(buf == want, "page {i} after rewrite");
        }
        let c = e.counters();
        assert!(c.faults > 0 && c.eldu > 0 && c.ewb > 0, "{c:?}");
        assert!(c.eldu <= c.ewb, "reloads never exceed evictions: {c:?}");
        drop(t);
        e.destroy();
        assert_eq!(e.usage().backing_bytes, 0);
        drop(e);
        mm.shutdown();
        assert_eq!(
            mm.free_pages(),
            256,
            "every page back (deterministic={deterministic})"
        );
        mm.validate().unwrap();
        machine.validate().unwrap();
    }
}

#[test]
fn evict_regular_pages_then_fault_everything_back() {
    let (machine, mm) = system(128, true);
    let e = build(&machine, &mm, 5, 64, 1);
    let mut t = e.thread().unwrap();
    let mut permit = ReclaimPermit::new();
    let evicted = e.evict_regular_pages(16, &mut permit).unwrap();
    assert_eq!(evicted, 64);
    let u = e.usage();
    assert_eq!(u.resident, 2, "only the pinned TCS and SSA stay: {u:?}");
    assert!(u.secs_resident);
    assert_eq!(u.backing_bytes, 64 * epc_enclave::BACKING_BYTES_PER_PAGE);
    e.reset_counters();
    for i in 0..64 {
        let addr = data_addr(&e, i).add(8);
        assert_eq!(t.read_u64(addr).unwrap(), pattern(5, i, 1));
    }
    let c = e.counters();
    assert_eq!(c.faults, 64);
    assert_eq!(c.eldu, 64);
    assert_eq!(e.backing_bytes(), 0, "backing released on reload");
    let _ = LinearAddress(PAGE_SIZE);
}
