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

use crate::page::{PageState, PageStates};
use crate::sync::{AtomicU64, AtomicUsize, Mutex, MutexGuard, Ordering};
use epc_hw::{EpcLayout, EpcPageId, NodeId};
use std::collections::VecDeque;

/// One node's free list, padded so that two nodes' hot locks do not share
/// a cache line.
#[derive(Debug)]
#[repr(align(128))]
struct NodeFree {
    node: NodeId,
    pages: Mutex<VecDeque<EpcPageId>>,
    nr_free: AtomicUsize,
    allocations: AtomicU64,
    size: usize,
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
                pages: Mutex::new(pages),
                allocations: AtomicU64::new(0),
            })
            .collect();
        FreeLists { nodes, page_node }
    }

    /// Takes a free page, from `preferred` first (or the next node with EPC
    /// if it has none), then each other node once.
    #[inline]
    pub(crate) fn take(&self, preferred: NodeId, states: &PageStates) -> Option<EpcPageId> {
        let n = self.nodes.len();
        let start = if n == 1 {
            0
        } else {
            self.nodes
                .iter()
                .position(|f| f.node >= preferred)
                .unwrap_or(0)
        };
        for i in 0..n {
            let f = &self.nodes[(start + i) % n];
            // Skip an empty node without taking its lock.
            if f.nr_free.load(Ordering::Relaxed) == 0 {
                continue;
            }
            let mut pages = f.pages.lock();
            if let Some(p) = pages.pop_front() {
                states.set(p, PageState::InUse);
                f.nr_free.store(pages.len(), Ordering::Relaxed);
                f.allocations
                    .store(f.allocations.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                return Some(p);
            }
        }
        None
    }

    /// Puts `page` on the tail of its node's list. The caller owns the page
    /// (it held the handle) and has dropped every owner reference to it.
    #[inline]
    pub(crate) fn give(&self, page: EpcPageId, states: &PageStates) {
        let f = &self.nodes[usize::from(self.page_node[page.index()])];
        let mut pages = f.pages.lock();
        pages.push_back(page);
        states.set(page, PageState::Free);
        f.nr_free.store(pages.len(), Ordering::Relaxed);
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

    /// Locks every node's list, in node order (the lock order among
    /// nodes), with each node's id and published count.
    pub(crate) fn lock_all(&self) -> Vec<(NodeId, MutexGuard<'_, VecDeque<EpcPageId>>, usize)> {
        self.nodes
            .iter()
            .map(|f| (f.node, f.pages.lock(), f.nr_free.load(Ordering::Relaxed)))
            .collect()
    }

    /// The node-list index of `page` (for validation).
    pub(crate) fn node_of(&self, page: EpcPageId) -> NodeId {
        self.nodes[usize::from(self.page_node[page.index()])].node
    }
}
