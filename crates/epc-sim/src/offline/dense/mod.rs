//! The simulator's fast paths: policies run on the trace's dense page ids
//! (`0..distinct`, [`Trace::dense`]) with static dispatch, their per-page
//! state in arrays indexed by id.
//!
//! The general path drives a boxed [`OfflinePolicy`] with [`PageKey`]s, and
//! live policies through [`LiveAsOffline`], whose simulated accessed bits
//! and the policies' own [`epc_mm::KeyList`]s are hash maps: on w106 a
//! SIEVE run spent about a fifth of its time in the hand's hash lookups.
//! Here the same algorithms find a page by indexing an array. Each one
//! makes exactly the decisions of the policy it stands for (the tests run
//! both on the shared traces and on random ones and compare every miss
//! count), so the fast path changes speed only:
//!
//! * `lru`: [`Lru`](super::policies::Lru);
//! * `fifo`, `clock` and `clock0`: epc-mm's `Fifo` and `SecondChance`
//!   through `LiveAsOffline` (with the new page's bit as the drive says);
//! * `sieve`: epc-mm's `Sieve` through `LiveAsOffline`;
//! * `arc`: [`ArcCache`](super::policies::ArcCache) itself, over
//!   [`DenseLists`] instead of `KeyLists`.
//!
//! Other policies take the general path.
//!
//! [`Trace::dense`]: super::Trace::dense
//! [`OfflinePolicy`]: super::OfflinePolicy
//! [`LiveAsOffline`]: super::LiveAsOffline
//! [`PageKey`]: epc_mm::PageKey

mod clock;
mod lists;
mod lru;
mod sieve;

#[cfg(test)]
mod tests;

pub(crate) use lists::DenseLists;

use super::policies::ArcCache;
use super::{Drive, SimPolicy};
use clock::{Clock, Fifo};
use epc_mm::PolicyKind;
use lru::Lru;
use sieve::Sieve;

/// A policy over dense ids, driven as [`OfflinePolicy`](super::OfflinePolicy)
/// is (`missed`, then `evict` if the cache is full, then `inserted`).
pub(crate) trait DensePolicy {
    /// The resident page `id` was accessed.
    fn hit(&mut self, id: u32);
    /// The access to `id` missed (before any eviction).
    fn missed(&mut self, id: u32) {
        let _ = id;
    }
    /// Chooses and forgets one resident page (the cache is full).
    fn evict(&mut self) -> u32;
    /// `id` is now resident.
    fn inserted(&mut self, id: u32);
}

/// The misses of `ids` (dense, below `distinct`) through `policy` with a
/// cache of `cap` pages, or `None` if the policy has no fast path.
pub(crate) fn misses(
    policy: SimPolicy,
    drive: Drive,
    ids: &[u32],
    distinct: usize,
    cap: usize,
) -> Option<u64> {
    let young = match drive {
        Drive::Textbook => policy.textbook_young_on_insert(),
        Drive::Live => true,
    };
    Some(match policy {
        SimPolicy::Lru => run(Lru::new(distinct), ids, distinct, cap),
        // `clock0` is bit-clear whatever the drive (as in `SimPolicy::build`).
        SimPolicy::Clock0 => run(Clock::new(false, distinct, cap), ids, distinct, cap),
        SimPolicy::Live(PolicyKind::SecondChance) => {
            run(Clock::new(young, distinct, cap), ids, distinct, cap)
        }
        SimPolicy::Live(PolicyKind::Fifo) => run(Fifo::new(cap), ids, distinct, cap),
        SimPolicy::Live(PolicyKind::Sieve) => run(Sieve::new(young, distinct), ids, distinct, cap),
        SimPolicy::Arc => run(ArcCache::dense(cap, distinct), ids, distinct, cap),
        _ => return None,
    })
}

/// The simulator's loop, monomorphised for one policy.
fn run<P: DensePolicy>(mut p: P, ids: &[u32], distinct: usize, cap: usize) -> u64 {
    let mut resident = vec![false; distinct];
    let mut len = 0usize;
    let mut misses = 0u64;
    for &id in ids {
        if resident[id as usize] {
            p.hit(id);
            continue;
        }
        misses += 1;
        p.missed(id);
        if len == cap {
            let victim = p.evict();
            debug_assert!(resident[victim as usize], "{victim} not resident");
            resident[victim as usize] = false;
            len -= 1;
        }
        p.inserted(id);
        resident[id as usize] = true;
        len += 1;
    }
    misses
}
