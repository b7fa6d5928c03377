//! The per-node view of the EPC: what Linux shows per NUMA node in sysfs
//! (`/sys/devices/system/node/nodeN/x86/sgx_total_bytes`), plus the counts
//! it does not export and users asked for (free, in use, poisoned).

use crate::counters::Counters;
use crate::manager::EpcManager;
use epc_hw::{NodeId, PAGE_SIZE};

/// One NUMA node's EPC. At quiescence `total_pages = free_pages +
/// in_use_pages + retired_pages`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeCounters {
    /// The node.
    pub node: NodeId,
    /// EPC pages on the node.
    pub total_pages: u64,
    /// The node's EPC in bytes (Linux's `sgx_total_bytes`).
    pub sgx_total_bytes: u64,
    /// Pages on the node's free list.
    pub free_pages: u64,
    /// Pages allocated (poisoned pages their owners still hold included).
    pub in_use_pages: u64,
    /// Pages a memory failure named, held by owners or retired.
    pub poisoned_pages: u64,
    /// Poisoned pages on the node's poison list: never allocated again.
    pub retired_pages: u64,
    /// Allocations the node served.
    pub allocations: u64,
}

impl EpcManager {
    /// Each node's counters, in node order (nodes without EPC are absent,
    /// as they are from Linux's `sgx_numa_mask`).
    pub fn nodes(&self) -> Vec<NodeCounters> {
        self.inner
            .shared
            .free
            .counts()
            .into_iter()
            .map(|c| NodeCounters {
                node: c.node,
                total_pages: c.size as u64,
                sgx_total_bytes: c.size as u64 * PAGE_SIZE,
                free_pages: c.free as u64,
                in_use_pages: c.size.saturating_sub(c.free + c.retired) as u64,
                poisoned_pages: c.poisoned as u64,
                retired_pages: c.retired as u64,
                allocations: c.allocations,
            })
            .collect()
    }
}

impl Counters {
    /// Fills in the per-node view and the poison totals.
    pub(crate) fn with_nodes(mut self, nodes: Vec<NodeCounters>) -> Counters {
        self.poisoned_pages = nodes.iter().map(|n| n.poisoned_pages).sum();
        self.retired_pages = nodes.iter().map(|n| n.retired_pages).sum();
        self.nodes = nodes;
        self
    }
}
