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
    /// Free pages: allocation pops the head, free pushes the tail.
    pub(crate) free: VecDeque<EpcPageId>,
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
        self.free.len()
    }

    /// The free pages.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &EpcPageId> {
        self.free.iter()
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
    /// Index into `nodes` of each page's node.
    page_node: Box<[u8]>,
}

impl FreeLists {
    /// Every page of `layout` free, on its section's node.
    pub(crate) fn new(layout: &EpcLayout) -> Self {
        let mut ids: Vec<NodeId> = layout.sections().iter().map(|s| s.node).collect();
        ids.sort();
        ids.dedup();
        let mut lists: Vec<VecDeque<EpcPageId>> = ids.iter().map(|_| VecDeque::new()).collect();
        let mut page_node = vec![0u8; layout.total_pages() as usize].into_boxed_slice();
        for s in layout.sections() {
            let n = ids.binary_search(&s.node).unwrap_or(0);
            for p in s.page_ids() {
                page_node[p.index()] = n as u8;
                lists[n].push_back(p);
            }
        }
        let nodes = ids
            .into_iter()
            .zip(lists)
            .map(|(node, pages)| NodeFree {
                node,
                nr_free: AtomicUsize::new(pages.len()),
                size: pages.len(),
                pages: Mutex::new(NodeLists {
                    free: pages,
                    ..NodeLists::default()
                }),
                allocations: AtomicU64::new(0),
                nr_poisoned: AtomicUsize::new(0),
                nr_retired: AtomicUsize::new(0),
                reserve: (0..MAX_GROUPS).map(|_| AtomicU32::new(0)).collect(),
            })
            .collect();
        FreeLists { nodes, page_node }
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
            if let Some(p) = lists.free.pop_front() {
                states.set(p, PageState::InUse);
                f.nr_free.store(lists.free.len(), Ordering::Relaxed);
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
        let p = lists.free.pop_front()?;
        r.store(left - 1, Ordering::Relaxed);
        states.set(p, PageState::InUse);
        f.nr_free.store(lists.free.len(), Ordering::Relaxed);
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
            f.nr_free.store(lists.free.len(), Ordering::Relaxed);
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
            f.nr_free.store(lists.free.len(), Ordering::Relaxed);
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
        if let Some(i) = lists.free.iter().position(|&p| p == page) {
            lists.free.remove(i);
            f.nr_free.store(lists.free.len(), Ordering::Relaxed);
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
            let Some(page) = lists.free.pop_back() else {
                continue;
            };
            f.nr_free.store(lists.free.len(), Ordering::Relaxed);
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
        &self.nodes[usize::from(self.page_node[page.index()])]
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
        page.index() < self.page_node.len()
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
        self.nodes[usize::from(self.page_node[page.index()])].node
    }
}
