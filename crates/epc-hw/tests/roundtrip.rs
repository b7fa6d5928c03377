//! Random page contents survive EWB then ELDU unchanged, over thousands of
//! pages and repeated evictions, as read back through a logical processor.

mod pager;

use epc_hw::*;
use pager::{data_addr, Pager};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random_page(seed: u64) -> Box<[u8; 4096]> {
    let mut p = Box::new([0u8; 4096]);
    ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut p[..]);
    p
}

#[test]
fn contents_survive_repeated_eviction() {
    const DATA_PAGES: u64 = 2048;
    // 300 EPC pages for 2048 data pages: most of the enclave is evicted at
    // any time, and building it already evicts ~1,800 pages.
    let pager = Pager::build(300, 16, DATA_PAGES, 1, random_page);
    let mut expected: Vec<Box<[u8; 4096]>> = (0..DATA_PAGES).map(random_page).collect();
    let mut lp = pager.machine.new_lp().unwrap();
    let tcs = pager.tcs[0];
    pager.run(&mut lp, |lp| lp.eenter(tcs, pager.pt.clone()));

    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut buf = [0u8; 4096];
    for round in 0..6000u64 {
        let i = rng.gen_range(0..DATA_PAGES);
        let addr = data_addr(pager.base, i);
        pager.run(&mut lp, |lp| lp.read_page(addr, &mut buf));
        assert!(
            buf == *expected[i as usize],
            "page {i} corrupt in round {round}"
        );
        if rng.gen_bool(0.5) {
            // Rewrite it, so later reloads must return the new version.
            let new = random_page(DATA_PAGES + round);
            pager.run(&mut lp, |lp| lp.write_page(addr, &new));
            expected[i as usize] = new;
        }
        if round % 64 == 0 {
            // Evict from outside enclave mode too, as ksgxd would.
            pager.run(&mut lp, |lp| lp.eexit());
            pager.evict_batch(32);
            pager.run(&mut lp, |lp| lp.eenter(tcs, pager.pt.clone()));
        }
    }
    // Finally read every page once more.
    for i in 0..DATA_PAGES {
        let addr = data_addr(pager.base, i);
        pager.run(&mut lp, |lp| lp.read_page(addr, &mut buf));
        assert!(buf == *expected[i as usize], "page {i} corrupt at the end");
    }
    pager.run(&mut lp, |lp| lp.eexit());
    let evictions = pager
        .counters
        .evictions
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(evictions > 5000, "only {evictions} evictions");
    assert_eq!(pager.machine.ledger().count(Event::Ewb), evictions);
    pager.machine.validate().unwrap();
}
