//! Exact LRU on dense ids, as [`Lru`](crate::offline::policies::Lru).

use super::{DenseLists, DensePolicy};

/// One queue, least recently used first.
#[derive(Debug)]
pub(super) struct Lru {
    list: DenseLists,
}

impl Lru {
    pub(super) fn new(distinct: usize) -> Self {
        Lru {
            list: DenseLists::new(1, distinct),
        }
    }
}

impl DensePolicy for Lru {
    #[inline]
    fn hit(&mut self, id: u32) {
        self.list.move_to_back(0, id);
    }

    #[inline]
    fn evict(&mut self) -> u32 {
        self.list.pop_front(0).expect("a full cache has a victim")
    }

    #[inline]
    fn inserted(&mut self, id: u32) {
        self.list.push_back(0, id);
    }
}
