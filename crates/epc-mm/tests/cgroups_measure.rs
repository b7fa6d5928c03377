//! Measurements behind the groups design choices (run with
//! `cargo test -p epc-mm --release --test cgroups_measure -- --ignored --nocapture`):
//!
//! * global fairness: round robin against proportional-to-usage, by the
//!   faults a mixed load takes under global pressure;
//! * isolation: a group's fault count alone, and beside a noisy neighbour
//!   that thrashes its own limited group.
//!
//! Deterministic managers and a seeded random stream: the figures are
//! reproducible exactly.

mod common;

use common::MockOwner;
use epc_mm::{
    AllocMode, EpcManager, GlobalFairness, GroupId, GroupLimits, ManagerConfig, PolicyKind,
    ReclaimPermit,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// A tenant: an owner in a group, touching pages of its working set.
struct Tenant {
    owner: Arc<MockOwner>,
    group: GroupId,
    faults: u64,
}

impl Tenant {
    fn access(&mut self, addr: u64, permit: &mut ReclaimPermit) {
        if self.owner.pages.lock().contains_key(&addr) {
            self.owner.touch(addr);
            return;
        }
        self.faults += 1;
        self.owner
            .add_in(self.group, addr, AllocMode::Reclaim(permit))
            .expect("a reclaiming allocation succeeds");
    }
}

fn manager(pages: u32, fairness: GlobalFairness) -> Arc<EpcManager> {
    let mut cfg = ManagerConfig::with_pages(pages).deterministic();
    cfg.fairness = fairness;
    Arc::new(EpcManager::new(cfg).unwrap())
}

fn tenant(mgr: &Arc<EpcManager>, id: u64, path: &str, limits: GroupLimits) -> Tenant {
    let group = mgr.create_group(path, limits, PolicyKind::Tide).unwrap();
    Tenant {
        owner: MockOwner::new(mgr, id),
        group,
        faults: 0,
    }
}

/// Three tenants under global pressure on a 512-page EPC: a scanner
/// (cycles over 600 pages), a hot set (80% of accesses to 64 pages, the
/// rest over 256), and a uniform random one over 300 pages.
/// With `fairness` `None`, all three share the root's one list (the
/// manager without groups).
fn mixed_load(fairness: Option<GlobalFairness>) -> [u64; 3] {
    let mgr = manager(512, fairness.unwrap_or_default());
    let mut t = ["/scan", "/hot", "/uniform"].map(|path| match fairness {
        Some(_) => tenant(&mgr, path.len() as u64, path, GroupLimits::UNLIMITED),
        None => Tenant {
            owner: MockOwner::new(&mgr, path.len() as u64),
            group: GroupId::ROOT,
            faults: 0,
        },
    });
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut permit = ReclaimPermit::new();
    for step in 0..60_000u64 {
        t[0].access(0x1000 * (step % 600), &mut permit);
        let hot = if rng.gen_ratio(4, 5) {
            rng.gen_range(0..64)
        } else {
            rng.gen_range(64..256)
        };
        t[1].access(0x1000 * hot, &mut permit);
        t[2].access(0x1000 * rng.gen_range(0..300), &mut permit);
    }
    mgr.validate().unwrap();
    [t[0].faults, t[1].faults, t[2].faults]
}

#[test]
#[ignore]
fn global_fairness_round_robin_against_proportional() {
    for fairness in [
        None,
        Some(GlobalFairness::RoundRobin),
        Some(GlobalFairness::Proportional),
    ] {
        let f = mixed_load(fairness);
        println!(
            "{}: faults scan {} hot {} uniform {} total {}",
            fairness.map_or("one list, no groups".to_owned(), |f| format!("{f:?}")),
            f[0],
            f[1],
            f[2],
            f.iter().sum::<u64>()
        );
    }
}

/// A tenant with a 200-page working set (hot 80/20 over it) in a group with
/// `low` = `low`, alone or beside a neighbour thrashing its own group
/// limited to 128 pages with a 1000-page scan; EPC 320 pages, so the two
/// together are under global pressure too.
fn protected_faults(noisy: bool, low: usize) -> u64 {
    let mgr = manager(320, GlobalFairness::default());
    let mut quiet = tenant(&mgr, 1, "/quiet", GroupLimits { max: None, low });
    let mut noise = tenant(&mgr, 2, "/noisy", GroupLimits::max(128));
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut permit = ReclaimPermit::new();
    for step in 0..40_000u64 {
        let addr = if rng.gen_ratio(4, 5) {
            rng.gen_range(0..40)
        } else {
            rng.gen_range(40..200)
        };
        quiet.access(0x1000 * addr, &mut permit);
        if noisy {
            for k in 0..4 {
                noise.access(0x1000 * ((4 * step + k) % 1000), &mut permit);
            }
        }
    }
    mgr.validate().unwrap();
    quiet.faults
}

#[test]
#[ignore]
fn isolation_of_a_protected_group_beside_a_noisy_neighbour() {
    for low in [200, 0] {
        let alone = protected_faults(false, low);
        let beside = protected_faults(true, low);
        println!(
            "group with low {low}: faults alone {alone}, beside a noisy neighbour {beside} \
             ({:+.1} %)",
            100.0 * (beside as f64 - alone as f64) / alone as f64
        );
    }
}
