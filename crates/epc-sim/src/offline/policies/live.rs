//! The offline-policy trait, and the adapter that runs a live policy
//! offline with simulated accessed bits.

use epc_mm::PageKey;
use epc_mm::ReclaimPolicy;
use rustc_hash::FxHashSet;
use std::fmt;

/// A policy that needs information no kernel has: every access (exact LRU,
/// LFU, ARC on hits) or the future (OPT). It can only run in the offline
/// simulator, which calls it for every access of a trace, in order; the
/// manager cannot hold one, which is the point of it being a separate trait.
pub trait OfflinePolicy: fmt::Debug {
    /// A short name.
    fn name(&self) -> &'static str;

    /// Called once, before the run, with the whole trace (OPT looks ahead
    /// in it). Policies that do not need the future ignore it.
    fn prepare(&mut self, trace: &[PageKey]) {
        let _ = trace;
    }

    /// [`prepare`](Self::prepare) for a trace of dense ids below
    /// `distinct`, each id `i` standing for the key of owner 0 and address
    /// `i` (the simulator's own numbering). The default builds those keys
    /// and calls `prepare`; OPT takes the ids as they are.
    fn prepare_dense(&mut self, ids: &[u32], distinct: usize) {
        let _ = distinct;
        let keys: Vec<PageKey> = ids
            .iter()
            .map(|&i| PageKey::new(epc_mm::OwnerId(0), u64::from(i)))
            .collect();
        self.prepare(&keys);
    }

    /// The access at trace position `at` hit the resident page `key`.
    fn hit(&mut self, key: PageKey, at: u64);

    /// The access at position `at` to `key` missed. Called first on every
    /// miss, before the [`evict`](Self::evict) it may cause and before
    /// [`inserted`](Self::inserted): policies with ghost history (ARC)
    /// adapt here and then let the incoming key steer the eviction.
    fn missed(&mut self, key: PageKey, at: u64) {
        let _ = (key, at);
    }

    /// The access at position `at` missed; `key` is now resident.
    fn inserted(&mut self, key: PageKey, at: u64);

    /// Chooses one resident page to evict at position `at`, and forgets it
    /// as resident. `None` when nothing is resident.
    fn evict(&mut self, at: u64) -> Option<PageKey>;

    /// The page left without being evicted (its owner freed it).
    fn removed(&mut self, key: PageKey);

    /// Number of resident pages.
    fn len(&self) -> usize;

    /// Whether no page is resident.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Runs a live [`ReclaimPolicy`] in the offline simulator: hits set a
/// simulated accessed bit, and the policy tests and clears those bits during
/// its scans exactly as the manager's owners would. Evictions are one
/// victim at a time, as in the manager's deterministic mode.
#[derive(Debug)]
pub struct LiveAsOffline<P> {
    policy: P,
    accessed: FxHashSet<PageKey>,
    accessed_on_insert: bool,
    victims: Vec<PageKey>,
}

impl<P: ReclaimPolicy> LiveAsOffline<P> {
    /// Wraps `policy`. With `accessed_on_insert`, a page brought in by a miss
    /// starts with its accessed bit set, as on hardware where the retried
    /// access walks the page table and sets it.
    pub fn new(policy: P, accessed_on_insert: bool) -> Self {
        LiveAsOffline {
            policy,
            accessed: FxHashSet::default(),
            accessed_on_insert,
            victims: Vec::with_capacity(1),
        }
    }

    /// The wrapped policy.
    pub fn policy(&self) -> &P {
        &self.policy
    }
}

impl<P: ReclaimPolicy> OfflinePolicy for LiveAsOffline<P> {
    fn name(&self) -> &'static str {
        self.policy.name()
    }

    fn hit(&mut self, key: PageKey, _at: u64) {
        self.accessed.insert(key);
    }

    fn inserted(&mut self, key: PageKey, _at: u64) {
        if self.accessed_on_insert {
            self.accessed.insert(key);
        } else {
            self.accessed.remove(&key);
        }
        self.policy.inserted(key);
    }

    fn evict(&mut self, _at: u64) -> Option<PageKey> {
        self.victims.clear();
        let accessed = &mut self.accessed;
        self.policy
            .select_victims(1, &mut |k| accessed.remove(&k), &mut self.victims);
        let victim = self.victims.pop()?;
        self.accessed.remove(&victim);
        self.policy.evicted(victim);
        Some(victim)
    }

    fn removed(&mut self, key: PageKey) {
        self.accessed.remove(&key);
        self.policy.removed(key);
    }

    fn len(&self) -> usize {
        self.policy.len()
    }
}
