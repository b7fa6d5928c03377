//! The `heap` workload: a live set that grows and shrinks in chunks, the
//! way an allocator inside an SGX2 enclave takes memory from the OS and
//! gives it back.
//!
//! Each thread manages its own slice of the enclave's pages, cut into
//! chunks of `chunk_pages`. It alternates between growing (allocating a
//! free chunk now and then, until every chunk is live) and shrinking
//! (freeing a live chunk now and then, down to a quarter of them), and
//! between these operations it reads and writes pages of live chunks,
//! uniformly. A new chunk is touched page by page (EAUG on fault, EACCEPT);
//! a freed one is trimmed and removed (EMODT to TRIM, EACCEPT, EREMOVE).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Accesses between two allocator operations.
const ACCESSES_PER_OP: u32 = 24;

/// What the heap does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeapOp {
    /// Allocate the chunk starting at this page (touch each of its pages).
    Alloc {
        /// First page of the chunk.
        first: u64,
        /// Pages in it.
        pages: u64,
    },
    /// Free the chunk starting at this page (trim and remove it).
    Free {
        /// First page of the chunk.
        first: u64,
        /// Pages in it.
        pages: u64,
    },
    /// Access a page of a live chunk.
    Access {
        /// The page.
        page: u64,
        /// A write (else a read).
        write: bool,
    },
}

/// One thread's heap: its slice of pages and which chunks are live.
#[derive(Debug)]
pub struct Heap {
    first: u64,
    chunk: u64,
    live: Vec<bool>,
    live_list: Vec<usize>,
    growing: bool,
    until_op: u32,
    write_ratio: f64,
    rng: ChaCha8Rng,
}

impl Heap {
    /// The heap of thread `thread` of `threads` over `pages` pages, in
    /// chunks of `chunk_pages` (at least one chunk per thread).
    pub fn new(
        pages: u64,
        threads: u64,
        thread: u64,
        chunk_pages: u64,
        write_ratio: f64,
        seed: u64,
    ) -> Heap {
        let threads = threads.max(1);
        let slice = pages / threads;
        let chunk = chunk_pages.clamp(1, slice.max(1));
        let chunks = (slice / chunk).max(1) as usize;
        Heap {
            first: thread * slice,
            chunk,
            live: vec![false; chunks],
            live_list: Vec::with_capacity(chunks),
            growing: true,
            until_op: 0,
            write_ratio,
            rng: ChaCha8Rng::seed_from_u64(
                seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ thread.wrapping_mul(0xbf58_476d),
            ),
        }
    }

    /// Whether page `page` is in a live chunk of this heap.
    pub fn is_live(&self, page: u64) -> bool {
        let Some(rel) = page.checked_sub(self.first) else {
            return false;
        };
        self.live
            .get((rel / self.chunk) as usize)
            .copied()
            .unwrap_or(false)
    }

    /// The next operation.
    pub fn next_op(&mut self) -> HeapOp {
        if self.until_op == 0 || self.live_list.is_empty() {
            self.until_op = ACCESSES_PER_OP;
            let n = self.live.len();
            if self.live_list.len() == n {
                self.growing = false;
            } else if self.live_list.len() <= n / 4 {
                self.growing = true;
            }
            if self.growing || self.live_list.is_empty() {
                let free: Vec<usize> = (0..n).filter(|&c| !self.live[c]).collect();
                let c = free[self.rng.gen_range(0..free.len())];
                self.live[c] = true;
                self.live_list.push(c);
                return HeapOp::Alloc {
                    first: self.first + c as u64 * self.chunk,
                    pages: self.chunk,
                };
            }
            let i = self.rng.gen_range(0..self.live_list.len());
            let c = self.live_list.swap_remove(i);
            self.live[c] = false;
            return HeapOp::Free {
                first: self.first + c as u64 * self.chunk,
                pages: self.chunk,
            };
        }
        self.until_op -= 1;
        let c = self.live_list[self.rng.gen_range(0..self.live_list.len())];
        let page = self.first + c as u64 * self.chunk + self.rng.gen_range(0..self.chunk);
        let write = self.write_ratio > 0.0 && self.rng.gen::<f64>() < self.write_ratio;
        HeapOp::Access { page, write }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_every_chunk_and_shrinks_back() {
        let mut h = Heap::new(64, 2, 1, 4, 0.5, 3);
        let (mut allocs, mut frees, mut max_live, mut min_after_max) = (0, 0, 0, usize::MAX);
        for _ in 0..10_000 {
            match h.next_op() {
                HeapOp::Alloc { first, pages } => {
                    assert!((32..64).contains(&first) && pages == 4);
                    allocs += 1;
                }
                HeapOp::Free { first, .. } => {
                    assert!(!h.is_live(first));
                    frees += 1;
                }
                HeapOp::Access { page, .. } => assert!(h.is_live(page)),
            }
            max_live = max_live.max(h.live_list.len());
            if max_live == 8 {
                min_after_max = min_after_max.min(h.live_list.len());
            }
        }
        assert!(allocs > 8 && frees > 8, "{allocs} {frees}");
        assert_eq!(max_live, 8);
        assert_eq!(min_after_max, 2);
    }
}
