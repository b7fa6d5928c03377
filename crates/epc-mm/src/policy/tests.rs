//! The policies against independent reference models, and the name lookup.

use super::*;
use crate::page::OwnerId;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn k(a: u64) -> PageKey {
    PageKey::new(OwnerId(7), a)
}

/// Textbook CLOCK: a circular buffer of frames with one reference bit each
/// and a hand; on a miss with no free frame, the hand clears set bits until
/// it finds a clear one, evicts it, puts the new page there and advances.
struct ReferenceClock {
    frames: Vec<(u64, bool)>,
    hand: usize,
    capacity: usize,
    bit_on_insert: bool,
}

impl ReferenceClock {
    /// Returns the victim of this access, if any.
    fn access(&mut self, page: u64) -> (bool, Option<u64>) {
        if let Some(f) = self.frames.iter_mut().find(|f| f.0 == page) {
            f.1 = true;
            return (true, None);
        }
        if self.frames.len() < self.capacity {
            self.frames.push((page, self.bit_on_insert));
            return (false, None);
        }
        while self.frames[self.hand].1 {
            self.frames[self.hand].1 = false;
            self.hand = (self.hand + 1) % self.capacity;
        }
        let victim = self.frames[self.hand].0;
        self.frames[self.hand] = (page, self.bit_on_insert);
        self.hand = (self.hand + 1) % self.capacity;
        (false, Some(victim))
    }
}

#[test]
fn second_chance_one_victim_at_a_time_is_textbook_clock() {
    for seed in 0..20u64 {
        for bit_on_insert in [false, true] {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let capacity = rng.gen_range(1..12);
            let universe = capacity as u64 + rng.gen_range(1..12);
            let mut reference = ReferenceClock {
                frames: Vec::new(),
                hand: 0,
                capacity,
                bit_on_insert,
            };
            let mut live = LiveAsOffline::new(SecondChance::new(), bit_on_insert);
            for at in 0..2000u64 {
                // Skewed, so there are both hits and misses.
                let page = if rng.gen_bool(0.6) {
                    rng.gen_range(0..universe.min(4))
                } else {
                    rng.gen_range(0..universe)
                };
                let (hit, victim) = reference.access(page);
                if hit {
                    live.hit(k(page), at);
                    continue;
                }
                let got = if live.len() == capacity {
                    live.evict(at).map(|v| v.addr)
                } else {
                    None
                };
                assert_eq!(got, victim, "seed {seed} access {at}");
                live.inserted(k(page), at);
            }
        }
    }
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
