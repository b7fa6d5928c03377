//! The free pages: one FIFO list per NUMA node, each under its own lock,
//! with counts that can be read without a lock.
//!
//! Like Linux (`sgx_numa_node.free_page_list`), allocation pops the head and
//! free pushes the tail. Allocation starts at the caller's node and then
//! tries the others in node order, each once, so it always terminates (the
//! 2024 "deadlock in SGX NUMA node search" fix).
//!
//! The per-node free count and allocation count are written only under the
//! node lock, so they are updated with a plain store of the new value (no
//! read-modify-write on the fast path) and read lock-free by anyone.
//!
//! Pages never handed out are not listed one by one: each node keeps them
//! as ranges of page ids ("fresh" pages) that allocation takes from, in
//! page order, before any freed page. That is exactly the order of a list
//! filled with every page at start (a freed page is pushed behind all of
//! them), without its 4 bytes per page and its fill loop: creating a
//! manager for a 128 GiB EPC costs no per-page memory here (issue 13, §5).
//!
//! Each node also keeps, under the same lock (Linux's `node->lock` guards
//! `sgx_poison_page_list` too), the pages a memory failure named and its
//! poison list: poisoned pages that were freed, never handed out again. A
//! poisoned page comes to the poison list either at once (it was free) or
//! when its owner frees it (`give` routes it there). See `poison.rs`.

use crate::charge::MAX_GROUPS;
use crate::page::{PageState, PageStates};
use crate::sync::{AtomicU32, AtomicU64, AtomicUsize, Mutex, MutexGuard, Ordering};
use epc_hw::{EpcLayout, EpcPageId, NodeId};
use std::collections::VecDeque;

/// One node's free list, padded so that two nodes' hot locks do not share
/// a cache line.
#[derive(Debug)]
#[repr(align(128))]
struct NodeFree {
    node: NodeId,
    pages: Mutex<NodeLists>,
    nr_free: AtomicUsize,
    allocations: AtomicU64,
    /// Pages named by a memory failure (held by owners or retired).
    nr_poisoned: AtomicUsize,
    /// Pages on the poison list.
    nr_retired: AtomicUsize,
    /// Each group's reserve on this node: pages charged to the group (and
    /// its ancestors) that no page of it uses (see `reserve.rs`). Written
    /// only under the node lock, with a plain load and store; read by
    /// anyone.
    reserve: Box<[AtomicU32]>,
    size: usize,
}

/// A node's lists, under its lock.
#[derive(Debug, Default)]
pub(crate) struct NodeLists {
    /// The head of the free list: pages never handed out, as ranges
    /// `[start, end)` of page ids in page order.
    fresh: VecDeque<(u32, u32)>,
    /// Pages in `fresh`.
    fresh_len: usize,
    /// The rest of the free list, the pages freed since: allocation pops
    /// the head (once `fresh` is empty), free pushes the tail.
    free: VecDeque<EpcPageId>,
    /// Every page of the node a memory failure named (a handful at most).
    pub(crate) poisoned: Vec<EpcPageId>,
    /// The poison list: poisoned pages no one owns; never handed out.
    pub(crate) retired: Vec<EpcPageId>,
}

impl NodeLists {
    /// Whether a memory failure named `page`.
    #[inline]
    pub(crate) fn is_poisoned(&self, page: EpcPageId) -> bool {
        !self.poisoned.is_empty() && self.poisoned.contains(&page)
    }

    /// The free list's length.
    pub(crate) fn len(&self) -> usize {
        self.fresh_len + self.free.len()
    }

    /// The free pages, head first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = EpcPageId> + '_ {
        self.fresh
            .iter()
            .flat_map(|&(a, b)| (a..b).map(EpcPageId))
            .chain(self.free.iter().copied())
    }

    /// Takes the head of the free list.
    #[inline]
    fn pop_front(&mut self) -> Option<EpcPageId> {
        if let Some(r) = self.fresh.front_mut() {
            let p = EpcPageId(r.0);
            r.0 += 1;
            if r.0 == r.1 {
                self.fresh.pop_front();
            }
            self.fresh_len -= 1;
            return Some(p);
        }
        self.free.pop_front()
    }

    /// Takes the tail of the free list.
    fn pop_back(&mut self) -> Option<EpcPageId> {
        if let Some(p) = self.free.pop_back() {
            return Some(p);
        }
        let r = self.fresh.back_mut()?;
        r.1 -= 1;
        let p = EpcPageId(r.1);
        if r.0 == r.1 {
            self.fresh.pop_back();
        }
        self.fresh_len -= 1;
        Some(p)
    }

    /// Takes `page` out of the free list wherever it is; whether it was
    /// there.
    fn remove(&mut self, page: EpcPageId) -> bool {
        if let Some(i) = self.free.iter().position(|&p| p == page) {
            self.free.remove(i);
            return true;
        }
        let Some(i) = self
            .fresh
            .iter()
            .position(|&(a, b)| (a..b).contains(&page.0))
        else {
            return false;
        };
        let (a, b) = self.fresh[i];
        match (page.0 == a, page.0 + 1 == b) {
            (true, true) => {
                self.fresh.remove(i);
            }
            (true, false) => self.fresh[i].0 += 1,
            (false, true) => self.fresh[i].1 -= 1,
            (false, false) => {
                self.fresh[i].1 = page.0;
                self.fresh.insert(i + 1, (page.0 + 1, b));
            }
        }
        self.fresh_len -= 1;
        true
    }
}

/// What [`FreeLists::poison`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Poisoned {
    /// The page was named before.
    Already,
    /// The page was free: it moved to the poison list.
    WasFree,
    /// The page is allocated: it goes to the poison list when freed.
    InUse,
}

/// One node's counts, as the manager reports them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NodeCounts {
    pub(crate) node: NodeId,
    pub(crate) size: usize,
    pub(crate) free: usize,
    pub(crate) poisoned: usize,
    pub(crate) retired: usize,
    pub(crate) allocations: u64,
}

/// The free lists of every node that has EPC, sorted by node id.
#[derive(Debug)]
pub(crate) struct FreeLists {
    nodes: Vec<NodeFree>,
    /// Each section's first page and its node's index into `nodes`, in page
    /// order (a handful: the way from a page to its node without an array
    /// over every page).
    sections: Vec<(u32, u8)>,
    /// Pages in the EPC.
    total: usize,
}

impl FreeLists {
    /// Every page of `layout` free, on its section's node.
    pub(crate) fn new(layout: &EpcLayout) -> Self {
        let mut ids: Vec<NodeId> = layout.sections().iter().map(|s| s.node).collect();
        ids.sort();
        ids.dedup();
        let mut lists: Vec<NodeLists> = ids.iter().map(|_| NodeLists::default()).collect();
        let mut sections = Vec::with_capacity(layout.sections().len());
        for s in layout.sections() {
            let n = ids.binary_search(&s.node).unwrap_or(0);
            sections.push((s.first.0, n as u8));
            if s.pages > 0 {
                lists[n].fresh.push_back((s.first.0, s.first.0 + s.pages));
                lists[n].fresh_len += s.pages as usize;
            }
        }
        let nodes = ids
            .into_iter()
            .zip(lists)
            .map(|(node, lists)| NodeFree {
                node,
                nr_free: AtomicUsize::new(lists.len()),
                size: lists.len(),
                pages: Mutex::new(lists),
                allocations: AtomicU64::new(0),
                nr_poisoned: AtomicUsize::new(0),
                nr_retired: AtomicUsize::new(0),
                reserve: (0..MAX_GROUPS).map(|_| AtomicU32::new(0)).collect(),
            })
            .collect();
        FreeLists {
            nodes,
            sections,
            total: layout.total_pages() as usize,
        }
    }

    /// Takes a free page, from `preferred` first (or the next node with EPC
    /// if it has none), then each other node once.
    #[inline]
    pub(crate) fn take(&self, preferred: NodeId, states: &PageStates) -> Option<EpcPageId> {
        let n = self.nodes.len();
        let start = self.start(preferred);
        for i in 0..n {
            let f = &self.nodes[(start + i) % n];
            // Skip an empty node without taking its lock.
            if f.nr_free.load(Ordering::Relaxed) == 0 {
                continue;
            }
            let mut lists = f.pages.lock();
            if let Some(p) = lists.pop_front() {
                states.set(p, PageState::InUse);
                f.nr_free.store(lists.len(), Ordering::Relaxed);
                f.allocations
                    .store(f.allocations.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                return Some(p);
            }
        }
        None
    }

    /// The index of the node an allocation preferring `preferred` tries
    /// first: that node, or the next one with EPC.
    #[inline]
    fn start(&self, preferred: NodeId) -> usize {
        if self.nodes.len() == 1 {
            0
        } else {
            self.nodes
                .iter()
                .position(|f| f.node >= preferred)
                .unwrap_or(0)
        }
    }

    /// Takes a free page for group `g` out of its reserve on the node an
    /// allocation preferring `preferred` tries first: the page comes
    /// already charged. `None` (without the lock if the published counts
    /// say so) when that node has no reserve for `g` or no free page; the
    /// caller then charges and [`take`](Self::take)s.
    #[inline]
    pub(crate) fn take_reserved(
        &self,
        preferred: NodeId,
        g: usize,
        states: &PageStates,
    ) -> Option<EpcPageId> {
        let f = &self.nodes[self.start(preferred)];
        let r = &f.reserve[g];
        if r.load(Ordering::Relaxed) == 0 || f.nr_free.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let mut lists = f.pages.lock();
        let left = r.load(Ordering::Relaxed);
        if left == 0 {
            return None;
        }
        let p = lists.pop_front()?;
        r.store(left - 1, Ordering::Relaxed);
        states.set(p, PageState::InUse);
        f.nr_free.store(lists.len(), Ordering::Relaxed);
        f.allocations
            .store(f.allocations.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        Some(p)
    }

    /// As [`give`](Self::give) for a page charged to group `g` (not the
    /// root): the charge moves into `g`'s reserve on the page's node if
    /// that holds fewer than `keep` pages, and `true` says so; otherwise
    /// (or if the page is poisoned and retired) `false`, and the caller
    /// uncharges it.
    #[inline]
    pub(crate) fn give_reserving(
        &self,
        page: EpcPageId,
        g: usize,
        keep: u32,
        states: &PageStates,
    ) -> bool {
        let f = self.home(page);
        let mut lists = f.pages.lock();
        let kept = if lists.is_poisoned(page) {
            lists.retired.push(page);
            f.nr_retired.store(lists.retired.len(), Ordering::Relaxed);
            false
        } else {
            lists.free.push_back(page);
            f.nr_free.store(lists.len(), Ordering::Relaxed);
            let r = &f.reserve[g];
            let held = r.load(Ordering::Relaxed);
            if held < keep {
                r.store(held + 1, Ordering::Relaxed);
                true
            } else {
                false
            }
        };
        states.set(page, PageState::Free);
        kept
    }

    /// Empties group `g`'s reserve on every node; returns the pages it
    /// held, which the caller uncharges.
    pub(crate) fn drain_reserve(&self, g: usize) -> usize {
        let mut drained = 0;
        for f in &self.nodes {
            let r = &f.reserve[g];
            if r.load(Ordering::Relaxed) == 0 {
                continue;
            }
            let _lists = f.pages.lock();
            drained += r.load(Ordering::Relaxed) as usize;
            r.store(0, Ordering::Relaxed);
        }
        drained
    }

    /// Group `g`'s reserve over every node, as published (exact while the
    /// node locks are held, as `validate` holds them).
    #[inline]
    pub(crate) fn reserved(&self, g: usize) -> usize {
        self.nodes
            .iter()
            .map(|f| f.reserve[g].load(Ordering::Relaxed) as usize)
            .sum()
    }

    /// Puts `page` on the tail of its node's list, or on its poison list if
    /// a memory failure named it. The caller owns the page (it held the
    /// handle) and has dropped every owner reference to it.
    #[inline]
    pub(crate) fn give(&self, page: EpcPageId, states: &PageStates) {
        let f = self.home(page);
        let mut lists = f.pages.lock();
        if lists.is_poisoned(page) {
            lists.retired.push(page);
            f.nr_retired.store(lists.retired.len(), Ordering::Relaxed);
        } else {
            lists.free.push_back(page);
            f.nr_free.store(lists.len(), Ordering::Relaxed);
        }
        states.set(page, PageState::Free);
    }

    /// A memory failure names `page`: from now on it is never handed out.
    /// A free page leaves the free list for the poison list at once; an
    /// allocated one is only recorded, and `give` retires it when freed.
    /// The caller passes the page's state read under the node lock.
    pub(crate) fn poison(&self, page: EpcPageId, state: impl FnOnce() -> PageState) -> Poisoned {
        let f = self.home(page);
        let mut lists = f.pages.lock();
        if lists.is_poisoned(page) {
            return Poisoned::Already;
        }
        lists.poisoned.push(page);
        f.nr_poisoned.store(lists.poisoned.len(), Ordering::Relaxed);
        if state() != PageState::Free {
            return Poisoned::InUse;
        }
        if lists.remove(page) {
            f.nr_free.store(lists.len(), Ordering::Relaxed);
        }
        lists.retired.push(page);
        f.nr_retired.store(lists.retired.len(), Ordering::Relaxed);
        Poisoned::WasFree
    }

    /// A memory failure in a free page chosen here: the tail of the first
    /// node from `preferred` on (in `take`'s order) that has a free page
    /// (the page allocation would hand out last) moves to the poison list
    /// under that node's lock, so no allocation can take it in between.
    /// `None` if no page is free.
    pub(crate) fn poison_a_free_page(&self, preferred: NodeId) -> Option<EpcPageId> {
        let n = self.nodes.len();
        let start = self
            .nodes
            .iter()
            .position(|f| f.node >= preferred)
            .unwrap_or(0);
        for i in 0..n {
            let f = &self.nodes[(start + i) % n];
            let mut lists = f.pages.lock();
            let Some(page) = lists.pop_back() else {
                continue;
            };
            f.nr_free.store(lists.len(), Ordering::Relaxed);
            lists.poisoned.push(page);
            f.nr_poisoned.store(lists.poisoned.len(), Ordering::Relaxed);
            lists.retired.push(page);
            f.nr_retired.store(lists.retired.len(), Ordering::Relaxed);
            return Some(page);
        }
        None
    }

    /// The node list that `page` belongs to.
    #[inline]
    fn home(&self, page: EpcPageId) -> &NodeFree {
        &self.nodes[self.node_index(page)]
    }

    /// The index into `nodes` of `page`'s node.
    #[inline]
    fn node_index(&self, page: EpcPageId) -> usize {
        if self.nodes.len() == 1 {
            return 0;
        }
        let s = self.sections.partition_point(|&(first, _)| first <= page.0);
        usize::from(self.sections[s.saturating_sub(1)].1)
    }

    /// Whether a memory failure named `page`: a lock-free answer while its
    /// node has no poisoned page, the node lock otherwise.
    #[inline]
    pub(crate) fn is_poisoned(&self, page: EpcPageId) -> bool {
        let f = self.home(page);
        f.nr_poisoned.load(Ordering::Relaxed) != 0 && f.pages.lock().is_poisoned(page)
    }

    /// Whether `page` lies in the EPC these lists cover.
    pub(crate) fn covers(&self, page: EpcPageId) -> bool {
        page.index() < self.total
    }

    /// Each node's counts, in node order.
    pub(crate) fn counts(&self) -> Vec<NodeCounts> {
        self.nodes
            .iter()
            .map(|f| NodeCounts {
                node: f.node,
                size: f.size,
                free: f.nr_free.load(Ordering::Relaxed),
                poisoned: f.nr_poisoned.load(Ordering::Relaxed),
                retired: f.nr_retired.load(Ordering::Relaxed),
                allocations: f.allocations.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// Free pages over all nodes (exact at quiescence).
    #[inline]
    pub(crate) fn nr_free(&self) -> usize {
        self.nodes
            .iter()
            .map(|f| f.nr_free.load(Ordering::Relaxed))
            .sum()
    }

    /// Allocations served over all nodes.
    pub(crate) fn allocations(&self) -> u64 {
        self.nodes
            .iter()
            .map(|f| f.allocations.load(Ordering::Relaxed))
            .sum()
    }

    /// Free pages of each node, in node order.
    pub(crate) fn per_node(&self) -> Vec<(NodeId, usize, usize)> {
        self.nodes
            .iter()
            .map(|f| (f.node, f.nr_free.load(Ordering::Relaxed), f.size))
            .collect()
    }

    /// Locks every node's lists, in node order (the lock order among
    /// nodes), with each node's id and published free count.
    pub(crate) fn lock_all(&self) -> Vec<(NodeId, MutexGuard<'_, NodeLists>, usize)> {
        self.nodes
            .iter()
            .map(|f| (f.node, f.pages.lock(), f.nr_free.load(Ordering::Relaxed)))
            .collect()
    }

    /// The published poisoned and retired counts of each node, in node
    /// order (for validation, read while the node locks are held).
    pub(crate) fn published_poison(&self) -> Vec<(usize, usize)> {
        self.nodes
            .iter()
            .map(|f| {
                (
                    f.nr_poisoned.load(Ordering::Relaxed),
                    f.nr_retired.load(Ordering::Relaxed),
                )
            })
            .collect()
    }

    /// The node-list index of `page` (for validation).
    pub(crate) fn node_of(&self, page: EpcPageId) -> NodeId {
        self.nodes[self.node_index(page)].node
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use epc_hw::SectionConfig;

    fn lists() -> (FreeLists, PageStates) {
        // Node 1's section between two of node 0's.
        let layout = EpcLayout::new(&[
            SectionConfig {
                pages: 4,
                node: NodeId(0),
            },
            SectionConfig {
                pages: 3,
                node: NodeId(1),
            },
            SectionConfig {
                pages: 2,
                node: NodeId(0),
            },
        ]);
        let states = PageStates::new(layout.total_pages() as usize);
        (FreeLists::new(&layout), states)
    }

    fn ids(v: &[u32]) -> Vec<EpcPageId> {
        v.iter().map(|&i| EpcPageId(i)).collect()
    }

    #[test]
    fn fresh_pages_come_first_in_page_order_then_freed_ones_fifo() {
        let (f, st) = lists();
        assert_eq!(f.node_of(EpcPageId(5)), NodeId(1));
        assert_eq!(f.node_of(EpcPageId(8)), NodeId(0));
        let a: Vec<_> = (0..3).map(|_| f.take(NodeId(0), &st).unwrap()).collect();
        assert_eq!(a, ids(&[0, 1, 2]));
        f.give(EpcPageId(1), &st);
        f.give(EpcPageId(0), &st);
        let order: Vec<_> = f.lock_all()[0].1.iter().collect();
        assert_eq!(order, ids(&[3, 7, 8, 1, 0]));
        let b: Vec<_> = (0..5).map(|_| f.take(NodeId(0), &st).unwrap()).collect();
        assert_eq!(b, ids(&[3, 7, 8, 1, 0]));
        // Node 0 is empty: the next allocation falls back to node 1.
        assert_eq!(f.take(NodeId(0), &st), Some(EpcPageId(4)));
        assert_eq!(f.nr_free(), 2);
    }

    #[test]
    fn poison_takes_a_fresh_page_out_of_the_middle_of_its_range() {
        let (f, st) = lists();
        assert_eq!(
            f.poison(EpcPageId(2), || PageState::Free),
            Poisoned::WasFree
        );
        assert_eq!(f.poison_a_free_page(NodeId(0)), Some(EpcPageId(8)));
        let order: Vec<_> = f.lock_all()[0].1.iter().collect();
        assert_eq!(order, ids(&[0, 1, 3, 7]));
        assert_eq!(f.counts()[0].free, 4);
        let taken: Vec<_> = (0..4).map(|_| f.take(NodeId(0), &st).unwrap()).collect();
        assert_eq!(taken, ids(&[0, 1, 3, 7]));
    }
}
