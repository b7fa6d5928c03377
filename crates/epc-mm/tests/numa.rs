//! NUMA: allocation takes the caller's node first, then the other nodes in
//! a fixed order from there (each once, so it ends even when the caller's
//! node has no EPC: the 2024 node-search deadlock), and the per-node
//! counters add up.

use epc_hw::{EpcPageId, NodeId, SectionConfig, PAGE_SIZE};
use epc_mm::{AllocMode, EpcManager, EpcPage, ManagerConfig};

/// Three nodes with EPC (0, 2, 5) of 4, 3 and 2 pages; node 2's pages
/// come in two sections.
fn three_nodes() -> EpcManager {
    let s = |pages, node| SectionConfig {
        pages,
        node: NodeId(node),
    };
    let cfg = ManagerConfig::new(vec![s(4, 0), s(2, 2), s(2, 5), s(1, 2)]).deterministic();
    EpcManager::new(cfg).unwrap()
}

fn node_of(mgr: &EpcManager, p: EpcPageId) -> NodeId {
    mgr.layout()
        .sections()
        .iter()
        .find(|s| s.page_ids().any(|q| q == p))
        .map(|s| s.node)
        .unwrap()
}

fn adds_up(mgr: &EpcManager) {
    mgr.validate().unwrap();
    let nodes = mgr.nodes();
    let mut total = 0;
    let mut free = 0;
    for n in &nodes {
        assert_eq!(
            n.total_pages,
            n.free_pages + n.in_use_pages + n.retired_pages,
            "{n:?}"
        );
        assert_eq!(n.sgx_total_bytes, n.total_pages * PAGE_SIZE);
        total += n.total_pages;
        free += n.free_pages;
    }
    let c = mgr.counters();
    assert_eq!(c.nodes, nodes, "the counters carry the per-node view");
    assert_eq!(
        c.poisoned_pages,
        nodes.iter().map(|n| n.poisoned_pages).sum::<u64>()
    );
    assert_eq!(
        c.retired_pages,
        nodes.iter().map(|n| n.retired_pages).sum::<u64>()
    );
    assert_eq!(total, c.total_pages);
    assert_eq!(free, c.free_pages);
    assert_eq!(
        nodes.iter().map(|n| n.allocations).sum::<u64>(),
        c.allocations
    );
}

#[test]
fn allocation_order_from_each_starting_node() {
    // From each node, the order in which nodes are used until all is gone.
    for (start, expected) in [
        (0, [0, 2, 5]),
        (2, [2, 5, 0]),
        (5, [5, 0, 2]),
        // Nodes without EPC start at the next node that has some.
        (1, [2, 5, 0]),
        (3, [5, 0, 2]),
        (9, [0, 2, 5]),
    ] {
        let mgr = three_nodes();
        let mut used: Vec<NodeId> = Vec::new();
        let mut pages: Vec<EpcPage> = Vec::new();
        while let Ok(p) = mgr.alloc(NodeId(start), AllocMode::NoReclaim) {
            let n = node_of(&mgr, p.id());
            if used.last() != Some(&n) {
                assert!(!used.contains(&n), "node {n:?} used twice from {start}");
                used.push(n);
            }
            pages.push(p);
        }
        assert_eq!(pages.len(), 9);
        assert_eq!(used, expected.map(NodeId).to_vec(), "from node {start}");
        adds_up(&mgr);
        for p in pages {
            mgr.free(p).unwrap();
        }
        adds_up(&mgr);
    }
}

#[test]
fn spill_over_and_return_to_the_local_node() {
    let mgr = three_nodes();
    // Fill node 2 (3 pages) from node 2: all local.
    let local: Vec<EpcPage> = (0..3)
        .map(|_| mgr.alloc(NodeId(2), AllocMode::NoReclaim).unwrap())
        .collect();
    assert!(local.iter().all(|p| node_of(&mgr, p.id()) == NodeId(2)));
    let n2 = mgr.nodes()[1];
    assert_eq!((n2.node, n2.free_pages, n2.in_use_pages), (NodeId(2), 0, 3));
    // The next spills to node 5, the next node in order.
    let spill = mgr.alloc(NodeId(2), AllocMode::NoReclaim).unwrap();
    assert_eq!(node_of(&mgr, spill.id()), NodeId(5));
    adds_up(&mgr);
    // A page freed on node 2 is taken locally again.
    let mut local = local;
    let back = local.pop().unwrap();
    let back_id = back.id();
    mgr.free(back).unwrap();
    let again = mgr.alloc(NodeId(2), AllocMode::NoReclaim).unwrap();
    assert_eq!(again.id(), back_id);
    adds_up(&mgr);
    let per: Vec<(NodeId, u64, u64)> = mgr
        .nodes()
        .iter()
        .map(|n| (n.node, n.in_use_pages, n.allocations))
        .collect();
    assert_eq!(
        per,
        vec![(NodeId(0), 0, 0), (NodeId(2), 3, 4), (NodeId(5), 1, 1)]
    );
    for p in local.into_iter().chain([spill, again]) {
        mgr.free(p).unwrap();
    }
    adds_up(&mgr);
}

#[test]
fn poison_is_counted_on_its_node() {
    let mgr = three_nodes();
    // Page 5 is node 2's second page, page 6 node 5's first.
    mgr.memory_failure(EpcPageId(5)).unwrap();
    mgr.memory_failure(EpcPageId(6)).unwrap();
    let per: Vec<(NodeId, u64, u64)> = mgr
        .nodes()
        .iter()
        .map(|n| (n.node, n.poisoned_pages, n.retired_pages))
        .collect();
    assert_eq!(
        per,
        vec![(NodeId(0), 0, 0), (NodeId(2), 1, 1), (NodeId(5), 1, 1)]
    );
    adds_up(&mgr);
    // Node 2 has two good pages left, then node 5 one.
    let a: Vec<EpcPage> = (0..3)
        .map(|_| mgr.alloc(NodeId(2), AllocMode::NoReclaim).unwrap())
        .collect();
    let nodes: Vec<NodeId> = a.iter().map(|p| node_of(&mgr, p.id())).collect();
    assert_eq!(nodes, vec![NodeId(2), NodeId(2), NodeId(5)]);
    adds_up(&mgr);
    for p in a {
        mgr.free(p).unwrap();
    }
}
