//! Groups: the tree and its API, charging and uncharging, limits and the
//! reclaim they cause (only from the limited subtree, fairly between
//! siblings), `low` protection, limits written at run time, and global
//! reclaim over every group's list; `validate()` after every step
//! recounts each group's usage from page ownership.

mod common;

use common::MockOwner;
use epc_hw::NodeId;
use epc_mm::{
    AllocError, AllocMode, EpcManager, GlobalFairness, GroupError, GroupId, GroupLimits,
    ManagerConfig, PolicyKind, ReclaimPermit,
};
use std::sync::Arc;

fn ok(mgr: &EpcManager) {
    mgr.validate().expect("validate");
}

fn det(pages: u32) -> Arc<EpcManager> {
    let mut cfg = ManagerConfig::with_pages(pages).deterministic();
    cfg.policy = PolicyKind::Fifo;
    Arc::new(EpcManager::new(cfg).expect("config"))
}

fn group(mgr: &EpcManager, path: &str, max: Option<usize>) -> GroupId {
    let limits = GroupLimits { max, low: 0 };
    mgr.create_group(path, limits, PolicyKind::Fifo)
        .expect(path)
}

fn current(mgr: &EpcManager, g: GroupId) -> usize {
    mgr.group_stats(g).unwrap().current
}

#[test]
fn tree_paths_and_errors() {
    let mgr = det(16);
    assert_eq!(mgr.group("/"), Some(GroupId::ROOT));
    let a = group(&mgr, "/a", Some(8));
    let ab = group(&mgr, "/a/b", Some(4));
    let abc = group(&mgr, "/a/b/c", None);
    assert_eq!(mgr.group("/a/b"), Some(ab));
    let no = |p: &str| mgr.create_group(p, GroupLimits::UNLIMITED, PolicyKind::Fifo);
    assert_eq!(no("/a"), Err(GroupError::Exists("/a".into())));
    assert_eq!(no("/x/y"), Err(GroupError::NoParent("/x/y".into())));
    for bad in ["", "a", "/", "/a/", "//a", "/a b", "/.."] {
        assert_eq!(no(bad), Err(GroupError::BadPath(bad.into())), "{bad:?}");
    }
    assert_eq!(
        mgr.set_max(GroupId::ROOT, Some(1)),
        Err(GroupError::RootLimits)
    );
    let stats = mgr.groups();
    let paths: Vec<_> = stats.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, ["/", "/a", "/a/b", "/a/b/c"]);
    let c = mgr.group_stats(abc).unwrap();
    assert_eq!(
        (c.max, c.effective_max, c.parent),
        (None, Some(4), Some(ab))
    );
    assert_eq!(mgr.group_stats(a).unwrap().effective_max, Some(8));
    assert_eq!(c.policy, "fifo");
    // A group id of another, larger manager.
    let other = det(16);
    for p in ["/a", "/b", "/c", "/d", "/e"] {
        group(&other, p, None);
    }
    let foreign = other.group("/e").unwrap();
    assert_eq!(
        mgr.alloc_in(foreign, NodeId(0), AllocMode::NoReclaim),
        Err(AllocError::UnknownGroup(foreign))
    );
    ok(&mgr);
}

#[test]
fn charges_count_against_the_group_and_every_ancestor() {
    let mgr = det(32);
    let a = group(&mgr, "/a", None);
    let ab = group(&mgr, "/a/b", None);
    let o = MockOwner::new(&mgr, 1);
    for i in 0..3 {
        o.add_in(ab, 0x1000 * (i + 1), AllocMode::NoReclaim)
            .unwrap();
    }
    for i in 3..5 {
        o.add_in(a, 0x1000 * (i + 1), AllocMode::NoReclaim).unwrap();
    }
    let root_page = mgr.alloc(NodeId(0), AllocMode::NoReclaim).unwrap();
    assert_eq!(mgr.group_of(&root_page), GroupId::ROOT);
    ok(&mgr);
    assert_eq!((current(&mgr, ab), current(&mgr, a)), (3, 5));
    assert_eq!(current(&mgr, GroupId::ROOT), 6);
    assert!(o.remove(0x1000));
    mgr.free(root_page).unwrap();
    ok(&mgr);
    let s = mgr.group_stats(ab).unwrap();
    assert_eq!((s.current, s.peak, s.reclaimable), (2, 3, 2));
    assert_eq!(current(&mgr, a), 4);
    o.teardown();
    ok(&mgr);
    assert!(
        mgr.groups().iter().all(|g| g.current == 0),
        "{:?}",
        mgr.groups()
    );
}

#[test]
fn a_limit_with_nothing_reclaimable_is_no_memory_and_counted() {
    let mgr = det(32);
    let a = group(&mgr, "/a", Some(4));
    let ab = group(&mgr, "/a/b", None);
    // Unmarked pages (as SECS and VA pages are) fill the parent's limit.
    let pages: Vec<_> = (0..4)
        .map(|_| mgr.alloc_in(ab, NodeId(0), AllocMode::NoReclaim).unwrap())
        .collect();
    let mut permit = ReclaimPermit::new();
    let r = mgr.alloc_in(ab, NodeId(0), AllocMode::Reclaim(&mut permit));
    assert_eq!(r, Err(AllocError::NoMemory));
    assert_eq!(mgr.group_stats(a).unwrap().events_max, 1);
    assert_eq!(mgr.group_stats(ab).unwrap().events_max, 0);
    assert_eq!(mgr.free_pages(), 28, "global memory was free all along");
    ok(&mgr);
    for p in pages {
        mgr.free(p).unwrap();
    }
    assert_eq!(current(&mgr, a), 0);
    ok(&mgr);
}

#[test]
fn a_limit_reclaims_only_from_its_subtree_while_global_memory_is_free() {
    let mgr = det(64);
    let a = group(&mgr, "/a", Some(8));
    let b = group(&mgr, "/b", None);
    let (oa, ob) = (MockOwner::new(&mgr, 1), MockOwner::new(&mgr, 2));
    for i in 0..10 {
        ob.add_in(b, 0x1000 * (i + 1), AllocMode::NoReclaim)
            .unwrap();
    }
    let mut permit = ReclaimPermit::new();
    for i in 0..20 {
        oa.add_in(a, 0x1000 * (i + 1), AllocMode::Reclaim(&mut permit))
            .unwrap();
        ok(&mgr);
        assert!(current(&mgr, a) <= 8);
    }
    assert_eq!(ob.resident(), 10, "the other group lost nothing");
    assert!(ob.evicted.lock().is_empty());
    assert_eq!(oa.evicted.lock().len(), 12);
    assert_eq!(oa.resident(), 8);
    let s = mgr.group_stats(a).unwrap();
    assert_eq!((s.current, s.peak, s.evicted), (8, 8, 12));
    assert_eq!(s.events_max, 12);
    assert!(mgr.free_pages() >= 64 - 18);
    // Without the right to reclaim, the charge is refused as busy.
    assert_eq!(
        mgr.alloc_in(a, NodeId(0), AllocMode::NoReclaim),
        Err(AllocError::Busy)
    );
    ok(&mgr);
}

#[test]
fn siblings_under_equal_pressure_are_reclaimed_fairly() {
    let mgr = det(256);
    let p = group(&mgr, "/p", Some(40));
    let x = group(&mgr, "/p/x", None);
    let y = group(&mgr, "/p/y", None);
    let (ox, oy) = (MockOwner::new(&mgr, 1), MockOwner::new(&mgr, 2));
    let mut permit = ReclaimPermit::new();
    for i in 0..200u64 {
        let (o, g) = if i % 2 == 0 { (&ox, x) } else { (&oy, y) };
        o.add_in(g, 0x1000 * (i + 1), AllocMode::Reclaim(&mut permit))
            .unwrap();
    }
    ok(&mgr);
    assert_eq!(current(&mgr, p), 40);
    let (ex, ey) = (ox.evicted.lock().len(), oy.evicted.lock().len());
    assert_eq!(ex + ey, 160);
    let diff = ex.abs_diff(ey) as f64;
    assert!(diff <= 0.1 * ex.max(ey) as f64, "x {ex}, y {ey}");
}

#[test]
fn low_protects_a_group_while_others_have_pages() {
    let mgr = det(40);
    let a = mgr
        .create_group("/a", GroupLimits { max: None, low: 10 }, PolicyKind::Fifo)
        .unwrap();
    let b = group(&mgr, "/b", None);
    let (oa, ob) = (MockOwner::new(&mgr, 1), MockOwner::new(&mgr, 2));
    for i in 0..10 {
        oa.add_in(a, 0x1000 * (i + 1), AllocMode::NoReclaim)
            .unwrap();
        ob.add_in(b, 0x1000 * (i + 1), AllocMode::NoReclaim)
            .unwrap();
    }
    // Global pressure: 30 more root pages in a 40-page EPC.
    let root = MockOwner::new(&mgr, 3);
    let mut permit = ReclaimPermit::new();
    for i in 0..20 {
        root.add(0x1000 * (i + 1), AllocMode::Reclaim(&mut permit))
            .unwrap();
    }
    ok(&mgr);
    assert_eq!(oa.resident(), 10, "a is protected");
    // Keep pressing: b and the root give, a does not.
    for i in 20..40 {
        root.add(0x1000 * (i + 1), AllocMode::Reclaim(&mut permit))
            .unwrap();
    }
    ok(&mgr);
    assert!(ob.resident() < 10, "b gave");
    assert_eq!(oa.resident(), 10, "a is protected while others have pages");
    mgr.set_low(a, 0).unwrap();
    for i in 40..80 {
        root.add(0x1000 * (i + 1), AllocMode::Reclaim(&mut permit))
            .unwrap();
    }
    assert!(oa.resident() < 10, "a unprotected gives its share");
    ok(&mgr);
    // Protected again, but the only pages left on any list: they give.
    mgr.set_low(a, 10).unwrap();
    root.teardown();
    ob.teardown();
    let c = MockOwner::new(&mgr, 4);
    let before = oa.resident();
    for i in 0..40u64 {
        // Pages taken off the list at once (as VA pages never go on it).
        let addr = 0x1000 * (i + 1);
        c.add(addr, AllocMode::Reclaim(&mut permit)).unwrap();
        assert!(c.unmark(addr));
    }
    assert!(
        oa.resident() < before,
        "protected pages give when nothing else can"
    );
    ok(&mgr);
}

#[test]
fn a_limit_lowered_at_run_time_is_reclaimed_down_to() {
    let mgr = det(300);
    let a = group(&mgr, "/a", None);
    let o = MockOwner::new(&mgr, 1);
    for i in 0..200 {
        o.add_in(a, 0x1000 * (i + 1), AllocMode::NoReclaim).unwrap();
    }
    // Below current: validate accepts it (the write put the group there).
    mgr.set_max(a, Some(150)).unwrap();
    ok(&mgr);
    let freed = mgr.reclaim_group(a, &mut ReclaimPermit::new()).unwrap();
    // Above 128 pages the reclaim keeps 32 pages of headroom.
    assert_eq!(freed, 200 - (150 - 32) + 1);
    assert_eq!(current(&mgr, a), 150 - 32 - 1);
    ok(&mgr);
    // At or below 128 no headroom: reclaim stops just below the limit.
    mgr.set_max(a, Some(50)).unwrap();
    let mut permit = ReclaimPermit::new();
    // In deterministic mode the next reclaiming allocation does it.
    o.add_in(a, 0x1000 * 1000, AllocMode::Reclaim(&mut permit))
        .unwrap();
    assert_eq!(current(&mgr, a), 50);
    ok(&mgr);
    // Raised: no reclaim.
    mgr.set_max(a, None).unwrap();
    o.add_in(a, 0x1000 * 1001, AllocMode::NoReclaim).unwrap();
    assert_eq!(current(&mgr, a), 51);
    ok(&mgr);
}

#[test]
fn global_reclaim_takes_from_every_group_round_robin() {
    for fairness in [GlobalFairness::RoundRobin, GlobalFairness::Proportional] {
        let mut cfg = ManagerConfig::with_pages(64).deterministic();
        cfg.fairness = fairness;
        let mgr = Arc::new(EpcManager::new(cfg).unwrap());
        let a = group(&mgr, "/a", None);
        let b = group(&mgr, "/b", None);
        let (oa, ob) = (MockOwner::new(&mgr, 1), MockOwner::new(&mgr, 2));
        let mut permit = ReclaimPermit::new();
        for i in 0..200u64 {
            let (o, g) = if i % 2 == 0 { (&oa, a) } else { (&ob, b) };
            o.add_in(g, 0x1000 * (i + 1), AllocMode::Reclaim(&mut permit))
                .unwrap();
        }
        ok(&mgr);
        let (ea, eb) = (oa.evicted.lock().len(), ob.evicted.lock().len());
        assert_eq!(ea + eb, 200 - 64);
        assert!(ea.abs_diff(eb) <= 2, "{fairness:?}: a {ea}, b {eb}");
    }
}

/// Waits (yielding) until `cond` holds; fails after 20 s, a guard against
/// a hang, not a timing assertion.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "never: {what}"
        );
        std::thread::yield_now();
    }
}

#[test]
fn ksgxd_reclaims_groups_at_their_limit_headroom_and_lowered_limit() {
    let mut cfg = ManagerConfig::with_pages(1024);
    cfg.policy = PolicyKind::Fifo;
    let mgr = Arc::new(EpcManager::new(cfg).unwrap());
    let small = group(&mgr, "/small", Some(16));
    let big = group(&mgr, "/big", Some(200));
    let (os, ob) = (MockOwner::new(&mgr, 1), MockOwner::new(&mgr, 2));
    // At or below 128 pages, no headroom: a fault-context charge at the
    // limit is "busy" and queues the group; ksgxd takes it below the limit.
    for i in 0..16 {
        os.add_in(small, 0x1000 * (i + 1), AllocMode::NoReclaim)
            .unwrap();
    }
    eventually("small reclaimed below its limit", || {
        current(&mgr, small) < 16
    });
    // Above 128 pages, 32 pages of headroom: filling up to the target
    // queues the group, and ksgxd brings it below max - 32.
    for i in 0..168 {
        match ob.add_in(big, 0x1000 * (i + 1), AllocMode::NoReclaim) {
            Ok(_) | Err(AllocError::Busy) => {}
            Err(e) => panic!("{e}"),
        }
    }
    eventually("big reclaimed below its target", || {
        current(&mgr, big) < 200 - 32
    });
    // A lower limit written at run time is reclaimed down to.
    mgr.set_max(big, Some(100)).unwrap();
    eventually("big reclaimed below its lowered limit", || {
        current(&mgr, big) < 100
    });
    assert!(mgr.group_stats(big).unwrap().evicted > 0);
    // Global memory was never short.
    assert!(mgr.free_pages() > 1024 - 16 - 200);
    mgr.shutdown();
    ok(&mgr);
    os.teardown();
    ob.teardown();
    ok(&mgr);
    assert!(mgr.groups().iter().all(|g| g.current == 0));
}

/// A free keeps its page's charge in the group's reserve (no counter
/// update); the next allocation in the group takes it back. Reserves never
/// show in `current` or `peak`, and a charge that meets a limit takes the
/// reserves of the limited subtree back before it counts an `events.max`.
#[test]
fn reserves_of_freed_charges_are_invisible_and_give_way_at_a_limit() {
    let mgr = det(32);
    let p = group(&mgr, "/p", Some(4));
    let x = group(&mgr, "/p/x", None);
    let y = group(&mgr, "/p/y", None);
    let alloc = |g| mgr.alloc_in(g, NodeId(0), AllocMode::NoReclaim);
    // x cycles through its reserve: usage stays exact throughout.
    for _ in 0..3 {
        let pages: Vec<_> = (0..4).map(|_| alloc(x).unwrap()).collect();
        assert_eq!((current(&mgr, x), current(&mgr, p)), (4, 4));
        ok(&mgr);
        for page in pages {
            mgr.free(page).unwrap();
        }
        assert_eq!((current(&mgr, x), current(&mgr, p)), (0, 0));
        ok(&mgr);
    }
    // x's reserve holds p's whole limit; y still gets all of it.
    let pages: Vec<_> = (0..4).map(|_| alloc(y).unwrap()).collect();
    assert_eq!((current(&mgr, x), current(&mgr, y)), (0, 4));
    ok(&mgr);
    // Now the limit is real: refused, counted once, on p.
    assert_eq!(alloc(x), Err(AllocError::NoMemory));
    let s = mgr.group_stats(p).unwrap();
    assert_eq!((s.current, s.peak, s.events_max), (4, 4, 1));
    assert_eq!(mgr.group_stats(x).unwrap().peak, 4);
    assert_eq!(mgr.group_stats(y).unwrap().peak, 4);
    for page in pages {
        mgr.free(page).unwrap();
    }
    // Lowering the limit below the reserves takes them back.
    mgr.set_max(p, Some(0)).unwrap();
    assert_eq!(alloc(y), Err(AllocError::NoMemory));
    assert_eq!(current(&mgr, p), 0);
    ok(&mgr);
}
