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
