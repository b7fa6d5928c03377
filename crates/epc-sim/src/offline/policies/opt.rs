//! Belady's OPT (MIN), offline only: evicts the resident page whose next use
//! is farthest in the future (or never comes). Its miss count is the floor
//! every other policy is measured against.
//!
//! Reference: L. A. Belady, "A study of replacement algorithms for a
//! virtual-storage computer", IBM Systems Journal 5(2), 1966.
//!
//! Pages are indexed by small dense ids, so everything is a vector, no map
//! on the hot path. The simulator hands over its own dense ids
//! ([`prepare_dense`](OfflinePolicy::prepare_dense)); a trace of keys of one
//! owner with addresses below a bound uses the addresses as ids; any other
//! trace is renumbered once in [`prepare`](OfflinePolicy::prepare), in key
//! order (so ties break exactly as by key).
//!
//! Preparation computes, for every position, the position of the next
//! reference to the same page (one backward pass with a vector of last
//! positions). Resident pages sit in an indexed max-heap keyed by
//! (next use, id), each page's slot known: a hit raises the page's key in
//! place (a sift-up), so there are no stale entries. Each access costs
//! O(log n) and the whole run O(n log n).

use super::OfflinePolicy;
use epc_mm::{OwnerId, PageKey};
use rustc_hash::FxHashMap;

/// "Never used again": farther than any position.
const NEVER: u64 = u64::MAX;

/// Not in the heap.
const ABSENT: u32 = u32::MAX;

/// How keys map to ids.
#[derive(Debug)]
enum Ids {
    /// Id = address; every key has this owner.
    Dense(OwnerId),
    /// Sorted distinct keys (id = rank) and the reverse map.
    Mapped(Vec<PageKey>, FxHashMap<PageKey, u32>),
}

impl Default for Ids {
    fn default() -> Self {
        Ids::Dense(OwnerId(0))
    }
}

/// Belady's OPT.
#[derive(Debug, Default)]
pub struct Opt {
    /// `next[i]`: position of the next reference to `trace[i]`'s page.
    next: Vec<u64>,
    ids: Ids,
    /// Max-heap of resident pages by (next use, id).
    heap: Vec<(u64, u32)>,
    /// `slot[id]`: the page's index in `heap`, or [`ABSENT`].
    slot: Vec<u32>,
}

impl Opt {
    /// An empty cache; [`prepare`](OfflinePolicy::prepare) (or
    /// [`prepare_dense`](OfflinePolicy::prepare_dense)) must be called with
    /// the trace before the run.
    pub fn new() -> Self {
        Opt::default()
    }

    /// Fills `next` and sizes `slot` from a trace of ids below `distinct`.
    fn prepare_ids<I>(&mut self, ids: I, distinct: usize)
    where
        I: DoubleEndedIterator<Item = usize> + ExactSizeIterator,
    {
        let mut last = vec![NEVER; distinct];
        self.next = vec![NEVER; ids.len()];
        for (i, id) in ids.enumerate().rev() {
            self.next[i] = std::mem::replace(&mut last[id], i as u64);
        }
        self.slot = vec![ABSENT; distinct];
        self.heap.clear();
    }

    fn id(&self, key: PageKey) -> usize {
        match &self.ids {
            Ids::Dense(_) => key.addr as usize,
            Ids::Mapped(_, map) => map.get(&key).map_or(usize::MAX, |&i| i as usize),
        }
    }

    fn key(&self, id: u32) -> PageKey {
        match &self.ids {
            Ids::Dense(owner) => PageKey::new(*owner, u64::from(id)),
            Ids::Mapped(keys, _) => keys[id as usize],
        }
    }

    fn touch(&mut self, key: PageKey, at: u64) {
        let id = self.id(key);
        assert!(
            id < self.slot.len(),
            "OPT: {key:?} is not in the prepared trace"
        );
        let n = self.next.get(at as usize).copied().unwrap_or(NEVER);
        let s = self.slot[id];
        if s == ABSENT {
            self.heap.push((n, id as u32));
            let i = self.heap.len() - 1;
            self.slot[id] = i as u32;
            self.sift_up(i);
        } else {
            // A page's next use only moves forward.
            self.heap[s as usize].0 = n;
            self.sift_up(s as usize);
        }
    }

    fn place(&mut self, i: usize, e: (u64, u32)) {
        self.heap[i] = e;
        self.slot[e.1 as usize] = i as u32;
    }

    fn sift_up(&mut self, mut i: usize) {
        let e = self.heap[i];
        while i > 0 {
            let p = (i - 1) / 2;
            if self.heap[p] >= e {
                break;
            }
            let pe = self.heap[p];
            self.place(i, pe);
            i = p;
        }
        self.place(i, e);
    }

    fn sift_down(&mut self, mut i: usize) {
        let e = self.heap[i];
        let len = self.heap.len();
        loop {
            let l = 2 * i + 1;
            if l >= len {
                break;
            }
            let c = if l + 1 < len && self.heap[l + 1] > self.heap[l] {
                l + 1
            } else {
                l
            };
            if self.heap[c] <= e {
                break;
            }
            let ce = self.heap[c];
            self.place(i, ce);
            i = c;
        }
        self.place(i, e);
    }

    /// Takes the entry at heap index `i` out.
    fn take(&mut self, i: usize) -> u32 {
        let id = self.heap[i].1;
        self.slot[id as usize] = ABSENT;
        let last = self.heap.pop().expect("index in the heap");
        if i < self.heap.len() {
            self.place(i, last);
            self.sift_down(i);
            self.sift_up(i);
        }
        id
    }
}

impl OfflinePolicy for Opt {
    fn name(&self) -> &'static str {
        "opt"
    }

    fn prepare(&mut self, trace: &[PageKey]) {
        let owner = trace.first().map_or(OwnerId(0), |k| k.owner);
        let bound = 2 * trace.len() as u64 + 1024;
        if trace.iter().all(|k| k.owner == owner && k.addr < bound) {
            let distinct = trace.iter().map(|k| k.addr as usize + 1).max().unwrap_or(0);
            self.ids = Ids::Dense(owner);
            self.prepare_ids(trace.iter().map(|k| k.addr as usize), distinct);
        } else {
            let mut keys = trace.to_vec();
            keys.sort_unstable();
            keys.dedup();
            let map: FxHashMap<PageKey, u32> = keys
                .iter()
                .enumerate()
                .map(|(i, &k)| (k, i as u32))
                .collect();
            let ids: Vec<usize> = trace.iter().map(|k| map[k] as usize).collect();
            let distinct = keys.len();
            self.ids = Ids::Mapped(keys, map);
            self.prepare_ids(ids.into_iter(), distinct);
        }
    }

    fn prepare_dense(&mut self, ids: &[u32], distinct: usize) {
        self.ids = Ids::Dense(OwnerId(0));
        self.prepare_ids(ids.iter().map(|&i| i as usize), distinct);
    }

    fn hit(&mut self, key: PageKey, at: u64) {
        self.touch(key, at);
    }

    fn inserted(&mut self, key: PageKey, at: u64) {
        self.touch(key, at);
    }

    fn evict(&mut self, _at: u64) -> Option<PageKey> {
        if self.heap.is_empty() {
            return None;
        }
        let id = self.take(0);
        Some(self.key(id))
    }

    fn removed(&mut self, key: PageKey) {
        let id = self.id(key);
        if let Some(&s) = self.slot.get(id) {
            if s != ABSENT {
                self.take(s as usize);
            }
        }
    }

    fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small pseudo-random page-number trace with reuse and a scan.
    fn trace(len: usize) -> Vec<u64> {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        (0..len)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                match x % 4 {
                    0 | 1 => x % 30,
                    2 => 50 + (i as u64 % 70),
                    _ => 1000 + i as u64,
                }
            })
            .collect()
    }

    /// Textbook Belady by linear scans: the victim is the resident key
    /// whose next use is farthest (never = farthest), ties to the largest
    /// key. Returns the evictions.
    fn naive(keys: &[PageKey], cap: usize) -> Vec<PageKey> {
        let mut resident: Vec<PageKey> = Vec::new();
        let mut out = Vec::new();
        for (at, &k) in keys.iter().enumerate() {
            if resident.contains(&k) {
                continue;
            }
            if resident.len() == cap {
                let next = |r: &PageKey| {
                    keys[at + 1..]
                        .iter()
                        .position(|x| x == r)
                        .map_or(NEVER, |p| (at + 1 + p) as u64)
                };
                let (i, _) = resident
                    .iter()
                    .enumerate()
                    .max_by_key(|(_, r)| (next(r), **r))
                    .expect("full");
                out.push(resident.swap_remove(i));
            }
            resident.push(k);
        }
        out
    }

    fn run(p: &mut Opt, keys: &[PageKey], cap: usize) -> Vec<PageKey> {
        let mut resident = std::collections::HashSet::new();
        let mut out = Vec::new();
        for (at, &k) in keys.iter().enumerate() {
            let at = at as u64;
            if resident.contains(&k) {
                p.hit(k, at);
                continue;
            }
            if resident.len() == cap {
                let v = p.evict(at).expect("a victim");
                assert!(resident.remove(&v));
                out.push(v);
            }
            p.inserted(k, at);
            resident.insert(k);
            assert_eq!(p.len(), resident.len());
        }
        out
    }

    #[test]
    fn every_key_layout_evicts_as_textbook_belady() {
        let pages = trace(3000);
        let layouts: [fn(u64) -> PageKey; 3] = [
            |a| PageKey::new(OwnerId(3), a),         // addresses as ids
            |a| PageKey::new(OwnerId(0), a << 40),   // sparse: renumbered
            |a| PageKey::new(OwnerId(a % 3), a / 3), // several owners
        ];
        for cap in [1, 7, 40] {
            for make in layouts {
                let keys: Vec<PageKey> = pages.iter().map(|&a| make(a)).collect();
                let mut p = Opt::new();
                p.prepare(&keys);
                assert_eq!(run(&mut p, &keys, cap), naive(&keys, cap), "cap {cap}");
            }
        }
    }

    #[test]
    fn dense_ids_match_keys_and_removal_forgets() {
        let pages = trace(2000);
        let mut seen = FxHashMap::default();
        let ids: Vec<u32> = pages
            .iter()
            .map(|p| {
                let n = seen.len() as u32;
                *seen.entry(*p).or_insert(n)
            })
            .collect();
        let keys: Vec<PageKey> = ids
            .iter()
            .map(|&i| PageKey::new(OwnerId(0), u64::from(i)))
            .collect();
        let (mut a, mut b) = (Opt::new(), Opt::new());
        a.prepare(&keys);
        b.prepare_dense(&ids, seen.len());
        assert_eq!(run(&mut a, &keys, 25), run(&mut b, &keys, 25));

        // Ids 0, 1, 2: the first three distinct pages.
        let first: Vec<PageKey> = (0..3).map(|i| PageKey::new(OwnerId(0), i)).collect();
        let mut p = Opt::new();
        p.prepare(&keys);
        for (at, &k) in first.iter().enumerate() {
            p.inserted(k, at as u64);
        }
        p.removed(first[0]);
        p.removed(first[0]);
        assert_eq!(p.len(), 2);
        let mut evicted = Vec::new();
        while let Some(v) = p.evict(3) {
            evicted.push(v);
        }
        evicted.sort();
        assert_eq!(evicted, first[1..]);
    }
}
