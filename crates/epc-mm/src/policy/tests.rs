//! The policies' scans and bookkeeping, and the name lookup. (Second
//! chance against a textbook CLOCK is in `epc_sim::offline`, which has the
//! offline driver.)

use super::*;
use crate::page::OwnerId;

fn k(a: u64) -> PageKey {
    PageKey::new(OwnerId(7), a)
}

#[test]
fn second_chance_batch_scan_and_put_back() {
    let mut p = SecondChance::new();
    for a in 1..=5 {
        p.inserted(k(a));
    }
    let young = [1u64, 3];
    let mut victims = Vec::with_capacity(2);
    let r = p.select_victims(2, &mut |key| young.contains(&key.addr), &mut victims);
    assert_eq!(victims, vec![k(2), k(4)]);
    assert_eq!(
        r,
        ScanReport {
            scanned: 4,
            second_chances: 2
        }
    );
    assert_eq!(p.order(), vec![k(5), k(1), k(3)]);
    p.put_back(k(2));
    p.evicted(k(4));
    p.removed(k(1));
    assert_eq!(p.order(), vec![k(5), k(3), k(2)]);
    assert_eq!(p.len(), 3);
    // Every page young forever: the scan is bounded and takes nothing.
    let mut v = Vec::new();
    let r = p.select_victims(1, &mut |_| true, &mut v);
    assert!(v.is_empty());
    assert_eq!(r.scanned, 4, "len + max");
}

#[test]
fn fifo_takes_the_head_and_never_tests_bits() {
    let mut p = Fifo::new();
    for a in 1..=4 {
        p.inserted(k(a));
    }
    let mut v = Vec::new();
    let r = p.select_victims(3, &mut |_| panic!("FIFO tested a bit"), &mut v);
    assert_eq!(v, vec![k(1), k(2), k(3)]);
    assert_eq!(
        r,
        ScanReport {
            scanned: 3,
            second_chances: 0
        }
    );
    p.put_back(k(2));
    assert_eq!(p.order(), vec![k(4), k(2)]);
}

#[test]
fn policy_names() {
    for name in PolicyKind::NAMES {
        let kind: PolicyKind = name.parse().unwrap();
        assert_eq!(kind.build().name(), kind.name());
    }
    assert_eq!(PolicyKind::from_name("CLOCK"), Ok(PolicyKind::SecondChance));
    assert_eq!(PolicyKind::from_name("default"), Ok(PolicyKind::default()));
    assert_eq!(PolicyKind::from_name("fifo"), Ok(PolicyKind::Fifo));
    let e = PolicyKind::from_name("lru").unwrap_err();
    assert!(e.to_string().starts_with("policy:"), "{e}");
}

/// Demand paging as the manager does it with one victim per fault: a hit
/// sets the page's accessed bit, a fault evicts one page when full and
/// inserts with the bit set. Returns the misses of each pass of `len`.
fn replay(p: &mut dyn ReclaimPolicy, refs: &[u64], cap: usize, len: usize) -> Vec<u64> {
    use std::collections::HashMap;
    let mut bit: HashMap<u64, bool> = HashMap::new();
    let mut misses = vec![0; refs.len().div_ceil(len)];
    for (i, &a) in refs.iter().enumerate() {
        if let Some(b) = bit.get_mut(&a) {
            *b = true;
            continue;
        }
        misses[i / len] += 1;
        if bit.len() == cap {
            let mut v = Vec::new();
            p.select_victims(
                1,
                &mut |key| bit.insert(key.addr, false).unwrap_or(false),
                &mut v,
            );
            assert_eq!(v.len(), 1);
            p.evicted(v[0]);
            bit.remove(&v[0].addr);
        }
        p.inserted(k(a));
        bit.insert(a, true);
    }
    misses
}

#[test]
fn tide_walking_back_a_scan_keeps_the_first_fill() {
    // backf in miniature: 250 pages forward, backward, forward, ... with
    // room for 100. The first fill (pages 0..100) is protected in M; the
    // walk back must not push it out before it is reached.
    let n = 250u64;
    let refs: Vec<u64> = (0..12)
        .flat_map(|pass| {
            let fwd = pass % 2 == 0;
            (0..n).map(move |i| if fwd { i } else { n - 1 - i })
        })
        .collect();
    let tide = replay(&mut Tide::new(), &refs, 100, n as usize);
    let clock = replay(&mut SecondChance::new(), &refs, 100, n as usize);
    // CLOCK is LRU here, and LRU optimal: 150 misses a pass after the first.
    assert_eq!(clock[1..], [150; 11]);
    // Tide's first walk back hits its 10 probation pages and the 90 first
    // pages it protected: a loss of a few, where it used to lose most of
    // them.
    assert!(tide[1] <= 165, "{tide:?}");
    let (t, c): (u64, u64) = (tide.iter().sum(), clock.iter().sum());
    assert!(t * 100 <= c * 103, "tide {t} against clock {c}: {tide:?}");
}
