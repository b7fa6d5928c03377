//! The live second chance, driven offline one victim at a time, against
//! an independent textbook CLOCK.

use super::{LiveAsOffline, OfflinePolicy};
use epc_mm::{OwnerId, PageKey, SecondChance};
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
