//! The manager at EPC sizes from 16 MiB to 128 GiB (issue 13, §5): for each
//! size, the manager's creation time and the resident memory it adds, the
//! cost of an `alloc` + `free` pair per page, and the reclaim pipeline's
//! cost per page (no-op owners, as `mm`'s `pipeline/noop_owners`).
//!
//! Run with `cargo bench -p epc-mm --bench scale`. `SCALE_SIZES` picks the
//! sizes in MiB (default `16,1024,16384,131072`), `SCALE_PAIRS` the
//! `alloc` + `free` pairs per measurement (default 2,000,000) and
//! `SCALE_ROUNDS` the measurements per size, of which the best is printed
//! (default 5: the machine is shared, and a preempted round only ever looks
//! slower).
//!
//! First, the manager's resident memory per page in use: `SCALE_IN_USE`
//! pages (default 262,144) allocated in a 128 GiB EPC, then put on the
//! reclaimable list (the list's per-page slots and key index, and the
//! policy's own state), each step's growth divided by the pages: for the
//! policy `SCALE_POLICY` names, or, by default, for every built-in policy,
//! each in a child process of its own (so that no policy's growth hides in
//! the heap another one freed). `SCALE_MEMORY_ONLY=1` stops after that.
//!
//! `mark + unmark` is the owners' side of the list: with 1,024 pages of one
//! owner on the list, one page at a time is taken off and put back (under
//! the same key), per pair.
//!
//! The `alloc` + `free` loop holds a window of 64 pages and frees the
//! oldest as it allocates, so the free list's FIFO order walks the whole
//! EPC over a run: at 128 GiB every allocation meets a page the loop has
//! not touched before, which is the access pattern a large EPC gives.

use epc_hw::{EpcPageId, NodeId};
use epc_mm::{
    AllocMode, BlockOutcome, EpcManager, EpcPage, ManagerConfig, OwnerId, PageKey, PageOwner,
    PolicyKind, ReclaimPermit, Tracked, WriteOutcome,
};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::hint::black_box;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Nanoseconds per `alloc` + `free` pair, over `pairs` pairs with a window
/// of 64 pages in use.
fn alloc_free(mgr: &EpcManager, pairs: u64) -> f64 {
    let mut window: VecDeque<EpcPage> = VecDeque::with_capacity(65);
    for _ in 0..64 {
        window.push_back(
            mgr.alloc(NodeId(0), AllocMode::NoReclaim)
                .expect("free page"),
        );
    }
    let start = Instant::now();
    for _ in 0..pairs {
        let p = mgr
            .alloc(NodeId(0), AllocMode::NoReclaim)
            .expect("free page");
        window.push_back(black_box(p));
        let old = window.pop_front().expect("window");
        mgr.free(old).expect("owned");
    }
    let took = start.elapsed();
    for p in window {
        mgr.free(p).expect("owned");
    }
    took.as_nanos() as f64 / pairs as f64
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
        let page = self.pages.lock()[key.addr as usize]
            .take()
            .expect("a page the owner holds");
        WriteOutcome::Written(page)
    }
}

const BATCH: usize = 16;

/// Nanoseconds of the reclaim pipeline per page: `batches` batches of
/// [`BATCH`] pages of a no-op owner (the batch's allocation and marking
/// not timed).
fn pipeline(mgr: &EpcManager, batches: u64) -> f64 {
    let owner = Arc::new(NoopOwner {
        pages: Mutex::new((0..BATCH).map(|_| None).collect()),
    });
    let weak: Weak<dyn PageOwner> = Arc::downgrade(&owner) as Weak<dyn PageOwner>;
    let mut permit = ReclaimPermit::new();
    let mut total = Duration::ZERO;
    for _ in 0..batches {
        {
            let mut pages = owner.pages.lock();
            for (i, slot) in pages.iter_mut().enumerate() {
                let p = mgr
                    .alloc(NodeId(0), AllocMode::NoReclaim)
                    .expect("free page");
                mgr.mark_reclaimable(&p, PageKey::new(OwnerId(1), i as u64), weak.clone())
                    .expect("owned");
                *slot = Some(p);
            }
        }
        let t = Instant::now();
        let r = mgr.reclaim_batch(&mut permit);
        total += t.elapsed();
        assert_eq!(black_box(r).evicted, BATCH as u64);
    }
    total.as_nanos() as f64 / (batches * BATCH as u64) as f64
}

/// Nanoseconds per `unmark_reclaimable` + `mark_reclaimable` pair, with
/// 1,024 pages of one owner on the list, over `pairs` pairs.
fn mark_unmark(mgr: &EpcManager, pairs: u64) -> f64 {
    const ON_LIST: usize = 1024;
    let owner = Arc::new(NoopOwner {
        pages: Mutex::new(Vec::new()),
    });
    let weak: Weak<dyn PageOwner> = Arc::downgrade(&owner) as Weak<dyn PageOwner>;
    let key = |i: usize| PageKey::new(OwnerId(3), i as u64);
    let pages: Vec<EpcPage> = (0..ON_LIST)
        .map(|i| {
            let p = mgr
                .alloc(NodeId(0), AllocMode::NoReclaim)
                .expect("free page");
            mgr.mark_reclaimable(&p, key(i), weak.clone())
                .expect("owned");
            p
        })
        .collect();
    let start = Instant::now();
    for n in 0..pairs as usize {
        let i = n % ON_LIST;
        let p = &pages[black_box(i)];
        mgr.unmark_reclaimable(p).expect("owned");
        mgr.mark_reclaimable(p, key(i), weak.clone())
            .expect("owned");
    }
    let took = start.elapsed();
    for p in pages {
        mgr.unmark_reclaimable(&p).expect("owned");
        mgr.free(p).expect("owned");
    }
    took.as_nanos() as f64 / pairs as f64
}

/// Resident bytes per page that `in_use` allocations, and then marking
/// them reclaimable, add to a fresh 128 GiB manager.
fn per_page_memory(in_use: u32, policy: PolicyKind) -> Option<(f64, f64)> {
    let mut cfg = ManagerConfig::with_pages(1 << 25);
    cfg.policy = policy;
    let mgr = EpcManager::new(cfg).ok()?;
    let owner = Arc::new(NoopOwner {
        pages: Mutex::new(Vec::new()),
    });
    let weak: Weak<dyn PageOwner> = Arc::downgrade(&owner) as Weak<dyn PageOwner>;
    let mut pages = Vec::with_capacity(in_use as usize);
    let before = rss_kib()?;
    for _ in 0..in_use {
        pages.push(mgr.alloc(NodeId(0), AllocMode::NoReclaim).ok()?);
    }
    // The handles themselves (4 bytes each, written into the vector as it
    // fills) are the caller's, not the manager's: subtracted below.
    let allocated = rss_kib()?;
    for (i, p) in pages.iter().enumerate() {
        mgr.mark_reclaimable(p, PageKey::new(OwnerId(1), i as u64), weak.clone())
            .ok()?;
    }
    let marked = rss_kib()?;
    let per = |kib: u64| kib as f64 * 1024.0 / f64::from(in_use);
    let handle = std::mem::size_of::<EpcPage>() as f64;
    let r = (per(allocated - before) - handle, per(marked - allocated));
    for p in &pages {
        mgr.unmark_reclaimable(p).ok()?;
    }
    for p in pages {
        mgr.free(p).ok()?;
    }
    Some(r)
}

fn main() {
    // `cargo bench` passes `--bench`; this harness takes no arguments.
    let sizes: Vec<u64> = std::env::var("SCALE_SIZES")
        .unwrap_or_else(|_| "16,1024,16384,131072".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let pairs: u64 = env_or("SCALE_PAIRS", 2_000_000);
    let rounds: u32 = env_or("SCALE_ROUNDS", 5).max(1);
    // First, while the heap holds no freed memory that would hide growth.
    let in_use: u32 = env_or("SCALE_IN_USE", 262_144);
    match std::env::var("SCALE_POLICY") {
        Ok(name) => {
            let policy = PolicyKind::from_name(&name).expect("SCALE_POLICY: a policy name");
            if let Some((alloc, marked)) = per_page_memory(in_use, policy) {
                println!(
                    "manager memory per page in use ({in_use} pages of a 128 GiB EPC): \
                     {alloc:.1} bytes allocated, {marked:.1} more on the reclaimable list \
                     ({policy} policy)"
                );
            }
        }
        Err(_) => {
            let exe = std::env::current_exe().expect("the bench's own path");
            for kind in PolicyKind::ALL {
                let out = std::process::Command::new(&exe)
                    .env("SCALE_POLICY", kind.name())
                    .env("SCALE_MEMORY_ONLY", "1")
                    .output()
                    .expect("run the bench for one policy");
                print!("{}", String::from_utf8_lossy(&out.stdout));
            }
        }
    }
    if std::env::var("SCALE_MEMORY_ONLY").is_ok_and(|v| v == "1") {
        return;
    }
    println!(
        "| EPC | pages | creation | resident at creation | alloc + free | reclaim pipeline \
         | mark + unmark |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for mib in sizes {
        let pages = (mib * 256) as u32;
        let before = rss_kib();
        let start = Instant::now();
        let mut cfg = ManagerConfig::with_pages(pages).deterministic();
        cfg.batch = BATCH;
        let mgr = EpcManager::new(cfg).expect("config");
        let created = start.elapsed();
        let grew = match (before, rss_kib()) {
            (Some(b), Some(a)) => format!("{} KiB", a.saturating_sub(b)),
            _ => "n/a".into(),
        };
        let mut best_pair = f64::INFINITY;
        let mut best_pipe = f64::INFINITY;
        let mut best_mark = f64::INFINITY;
        for _ in 0..rounds {
            best_pair = best_pair.min(alloc_free(&mgr, pairs));
            best_pipe = best_pipe.min(pipeline(&mgr, pairs / 64));
            best_mark = best_mark.min(mark_unmark(&mgr, pairs / 4));
        }
        println!(
            "| {mib} MiB | {pages} | {:.2} ms | {grew} | {best_pair:.1} ns | {best_pipe:.1} ns \
             | {best_mark:.1} ns |",
            created.as_secs_f64() * 1e3
        );
        drop(mgr);
    }
}
