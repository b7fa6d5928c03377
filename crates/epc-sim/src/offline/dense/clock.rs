//! FIFO and CLOCK (second chance) on dense ids: one ring of resident ids.
//!
//! epc-mm's `Fifo` and `SecondChance` keep a `KeyList` because the manager
//! removes pages from the middle (frees, teardown); the simulator never
//! does, so a ring buffer holds the same order.

use super::DensePolicy;
use std::collections::VecDeque;

/// First in, first out.
#[derive(Debug)]
pub(super) struct Fifo {
    ring: VecDeque<u32>,
}

impl Fifo {
    pub(super) fn new(cap: usize) -> Self {
        Fifo {
            ring: VecDeque::with_capacity(cap),
        }
    }
}

impl DensePolicy for Fifo {
    #[inline]
    fn hit(&mut self, _id: u32) {}

    #[inline]
    fn evict(&mut self) -> u32 {
        self.ring.pop_front().expect("a full cache has a victim")
    }

    #[inline]
    fn inserted(&mut self, id: u32) {
        self.ring.push_back(id);
    }
}

/// CLOCK as epc-mm's `SecondChance` run by `LiveAsOffline`: the oldest
/// page with its accessed bit set has it cleared and goes to the back; the
/// first with it clear is the victim. A new page's bit is `young`.
#[derive(Debug)]
pub(super) struct Clock {
    ring: VecDeque<u32>,
    accessed: Vec<bool>,
    young: bool,
}

impl Clock {
    pub(super) fn new(young: bool, distinct: usize, cap: usize) -> Self {
        Clock {
            ring: VecDeque::with_capacity(cap),
            accessed: vec![false; distinct],
            young,
        }
    }
}

impl DensePolicy for Clock {
    #[inline]
    fn hit(&mut self, id: u32) {
        self.accessed[id as usize] = true;
    }

    #[inline]
    fn evict(&mut self) -> u32 {
        // One turn clears every bit, so this ends within len + 1 tests.
        loop {
            let id = self.ring.pop_front().expect("a full cache has a victim");
            let bit = &mut self.accessed[id as usize];
            if *bit {
                *bit = false;
                self.ring.push_back(id);
            } else {
                return id;
            }
        }
    }

    #[inline]
    fn inserted(&mut self, id: u32) {
        self.accessed[id as usize] = self.young;
        self.ring.push_back(id);
    }
}
