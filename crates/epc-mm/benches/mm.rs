//! Criterion benchmarks of the manager:
//!
//! * `alloc_free/1_thread`, `alloc_free/2_threads`: uncontended `alloc`
//!   plus `free` pairs (throughput in pairs);
//! * `groups/root`, `groups/child`, `groups/grandchild`: `alloc` + `free`
//!   charged to the root (no groups: what `alloc` does), and `alloc_in` +
//!   `free` charged to a limited group one and two levels down, in one run
//!   (throughput in pairs);
//! * `pipeline/noop_owners`: one reclaim batch of 16 pages whose owner does
//!   no work, i.e. the pipeline's own overhead (throughput in pages).
//!
//! No randomness is involved; the EPC is large enough that the watermarks
//! are never crossed.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use epc_hw::{EpcPageId, NodeId};
use epc_mm::{
    AllocMode, BlockOutcome, EpcManager, EpcPage, GroupId, GroupLimits, ManagerConfig, OwnerId,
    PageKey, PageOwner, PolicyKind, ReclaimPermit, Tracked, WriteOutcome,
};
use parking_lot::Mutex;
use std::hint::black_box;
use std::sync::{Arc, Barrier, Weak};
use std::time::{Duration, Instant};

fn manager() -> EpcManager {
    EpcManager::new(ManagerConfig::with_pages(4096)).expect("config")
}

fn alloc_free(c: &mut Criterion) {
    let mut g = c.benchmark_group("alloc_free");
    g.throughput(Throughput::Elements(1));
    let mgr = manager();
    g.bench_function("1_thread", |b| {
        b.iter(|| {
            let p = mgr.alloc(NodeId(0), AllocMode::NoReclaim).unwrap();
            mgr.free(black_box(p)).unwrap();
        })
    });
    g.throughput(Throughput::Elements(2));
    let mgr = Arc::new(manager());
    g.bench_function("2_threads", |b| {
        b.iter_custom(|iters| {
            let start = Arc::new(Barrier::new(3));
            let workers: Vec<_> = (0..2)
                .map(|_| {
                    let (mgr, start) = (Arc::clone(&mgr), Arc::clone(&start));
                    std::thread::spawn(move || {
                        start.wait();
                        for _ in 0..iters {
                            let p = mgr.alloc(NodeId(0), AllocMode::NoReclaim).unwrap();
                            mgr.free(black_box(p)).unwrap();
                        }
                    })
                })
                .collect();
            start.wait();
            let t = Instant::now();
            for w in workers {
                w.join().unwrap();
            }
            t.elapsed()
        })
    });
    g.finish();
}

fn groups(c: &mut Criterion) {
    let mut g = c.benchmark_group("groups");
    g.throughput(Throughput::Elements(1));
    let mgr = manager();
    let child = mgr
        .create_group("/a", GroupLimits::max(2048), PolicyKind::default())
        .unwrap();
    let grandchild = mgr
        .create_group("/a/b", GroupLimits::max(1024), PolicyKind::default())
        .unwrap();
    for (name, group) in [
        ("root", GroupId::ROOT),
        ("child", child),
        ("grandchild", grandchild),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let p = mgr
                    .alloc_in(black_box(group), NodeId(0), AllocMode::NoReclaim)
                    .unwrap();
                mgr.free(black_box(p)).unwrap();
            })
        });
    }
    g.finish();
}

/// An owner that does nothing but keep its handles and give them back.
struct NoopOwner {
    pages: Mutex<Vec<Option<EpcPage>>>,
}

impl PageOwner for NoopOwner {
    fn age(&self, _key: PageKey) -> bool {
        false
    }
    fn block(&self, _key: PageKey, _page: EpcPageId) -> BlockOutcome {
        BlockOutcome::Blocked
    }
    fn track(&self) {}
    fn write(&self, key: PageKey, _page: EpcPageId, _tracked: &Tracked) -> WriteOutcome {
        let page = self.pages.lock()[key.addr as usize].take().unwrap();
        WriteOutcome::Written(page)
    }
}

fn pipeline(c: &mut Criterion) {
    const BATCH: usize = 16;
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut cfg = ManagerConfig::with_pages(4096).deterministic();
    cfg.batch = BATCH;
    let mgr = EpcManager::new(cfg).unwrap();
    let owner = Arc::new(NoopOwner {
        pages: Mutex::new((0..BATCH).map(|_| None).collect()),
    });
    let weak: Weak<dyn PageOwner> = Arc::downgrade(&owner) as Weak<dyn PageOwner>;
    // Pages on the list besides the batch, as in a loaded system.
    let background: Vec<EpcPage> = (0..1024)
        .map(|i| {
            let p = mgr.alloc(NodeId(0), AllocMode::NoReclaim).unwrap();
            let key = PageKey::new(OwnerId(2), i);
            mgr.mark_reclaimable(&p, key, weak.clone()).unwrap();
            p
        })
        .collect();
    // Unmark them again so each batch takes exactly the owner's 16 pages
    // from the head, while the key index and slab stay warm.
    for p in &background {
        mgr.unmark_reclaimable(p).unwrap();
    }
    let mut permit = ReclaimPermit::new();
    g.bench_function("noop_owners", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                {
                    let mut pages = owner.pages.lock();
                    for (i, slot) in pages.iter_mut().enumerate() {
                        let p = mgr.alloc(NodeId(0), AllocMode::NoReclaim).unwrap();
                        let key = PageKey::new(OwnerId(1), i as u64);
                        mgr.mark_reclaimable(&p, key, weak.clone()).unwrap();
                        *slot = Some(p);
                    }
                }
                let t = Instant::now();
                let r = mgr.reclaim_batch(&mut permit);
                total += t.elapsed();
                assert_eq!(black_box(r).evicted, BATCH as u64);
            }
            total
        })
    });
    g.finish();
    for p in background {
        mgr.free(p).unwrap();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = alloc_free, groups, pipeline
}
criterion_main!(benches);
