//! SIEVE on dense ids, as epc-mm's `Sieve` run by `LiveAsOffline`.
//!
//! One queue, oldest first; the hand walks from the oldest towards the
//! newest, clearing set bits and leaving those pages in place, and evicts
//! the first page with a clear bit, stopping at its newer neighbour; past
//! the newest it wraps to the oldest. The hand's step is an array access
//! here (in `KeyList`, a hash lookup).

use super::{DenseLists, DensePolicy};

#[derive(Debug)]
pub(super) struct Sieve {
    list: DenseLists,
    /// The next page to test; `None`: the oldest.
    hand: Option<u32>,
    accessed: Vec<bool>,
    young: bool,
}

impl Sieve {
    pub(super) fn new(young: bool, distinct: usize) -> Self {
        Sieve {
            list: DenseLists::new(1, distinct),
            hand: None,
            accessed: vec![false; distinct],
            young,
        }
    }
}

impl DensePolicy for Sieve {
    #[inline]
    fn hit(&mut self, id: u32) {
        self.accessed[id as usize] = true;
    }

    #[inline]
    fn evict(&mut self) -> u32 {
        loop {
            let id = self
                .hand
                .or_else(|| self.list.front(0))
                .expect("a full cache has a victim");
            let next = self.list.next_of(id);
            let bit = &mut self.accessed[id as usize];
            if *bit {
                *bit = false;
                self.hand = next;
            } else {
                if self.hand == Some(id) {
                    self.hand = next;
                }
                self.list.remove(id);
                return id;
            }
        }
    }

    #[inline]
    fn inserted(&mut self, id: u32) {
        self.accessed[id as usize] = self.young;
        self.list.push_back(0, id);
    }
}
