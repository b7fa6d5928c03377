//! One conformance suite that every policy passes, offline and live:
//! the cache never holds more than its capacity, a hit never evicts, an
//! eviction names a resident page other than the one coming in, the policy's
//! own count agrees with the simulator's, and two runs are identical.
//! Live policies also keep the manager's contract for batches, put-back and
//! removal.

use epc_mm::{OwnerId, PageKey, PolicyKind};
use epc_sim::offline::{simulate_with, Capacity, Drive, OfflinePolicy, SimPolicy, Trace};
use std::collections::HashSet;

fn k(a: u64) -> PageKey {
    PageKey::new(OwnerId(3), a)
}

/// A deterministic mix of hot pages, a loop and a scan.
fn workload(seed: u64, len: usize) -> Vec<u64> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut scan = 1000;
    (0..len)
        .map(|i| match next() % 10 {
            0..=5 => next() % 40,
            6 | 7 => 100 + (i as u64 % 150),
            _ => {
                scan += 1;
                scan
            }
        })
        .collect()
}

/// Runs `policy` over `trace` with every check; returns the evictions.
fn checked_run(policy: SimPolicy, drive: Drive, trace: &[u64], cap: usize) -> Vec<PageKey> {
    let mut p: Box<dyn OfflinePolicy + Send> = policy.build(cap, drive);
    let keys: Vec<PageKey> = trace.iter().map(|&a| k(a)).collect();
    p.prepare(&keys);
    let mut resident: HashSet<PageKey> = HashSet::new();
    let mut evictions = Vec::new();
    for (at, &key) in keys.iter().enumerate() {
        let at = at as u64;
        if resident.contains(&key) {
            let before = p.len();
            p.hit(key, at);
            assert_eq!(p.len(), before, "{policy}: a hit changed the size");
            continue;
        }
        p.missed(key, at);
        if resident.len() == cap {
            let v = p.evict(at).unwrap_or_else(|| panic!("{policy}: no victim"));
            assert!(resident.remove(&v), "{policy}: evicted {v:?}, not resident");
            assert_ne!(v, key, "{policy}: evicted the incoming page");
            evictions.push(v);
        }
        p.inserted(key, at);
        resident.insert(key);
        assert!(resident.len() <= cap, "{policy}: over capacity");
        assert_eq!(p.len(), resident.len(), "{policy}: size disagrees at {at}");
    }
    evictions
}

#[test]
fn every_policy_conforms_and_is_deterministic() {
    for seed in 1..=3 {
        let trace = workload(seed, 4000);
        for cap in [1, 2, 7, 64, 300] {
            for &policy in SimPolicy::all() {
                for drive in [Drive::Textbook, Drive::Live] {
                    let a = checked_run(policy, drive, &trace, cap);
                    let b = checked_run(policy, drive, &trace, cap);
                    assert_eq!(a, b, "{policy} is not deterministic");
                }
            }
        }
    }
}

#[test]
fn simulator_agrees_with_the_checked_run_and_opt_is_the_floor() {
    let ids = workload(9, 5000);
    let trace = Trace::from_ids("mix", &ids).unwrap();
    for cap in [5, 50, 200] {
        let opt = simulate_with(
            &trace,
            Capacity::Pages(cap),
            SimPolicy::Opt,
            Drive::Textbook,
        );
        for &policy in SimPolicy::all() {
            let r = simulate_with(&trace, Capacity::Pages(cap), policy, Drive::Textbook);
            let evictions = checked_run(policy, Drive::Textbook, &ids, cap).len() as u64;
            let cold_fill = (r.distinct as usize).min(cap) as u64;
            assert_eq!(r.misses, evictions + cold_fill, "{policy}@{cap}");
            assert!(r.misses >= opt.misses, "{policy}@{cap} beats OPT");
            assert!(r.misses >= r.distinct, "cold misses count");
        }
    }
}

/// The live contract the manager relies on, for every live policy: victims
/// are distinct resident keys and leave the resident set; a put-back page
/// is resident again; removal forgets a page wherever it is; accessed bits
/// are tested only for resident keys.
#[test]
fn live_policies_keep_the_manager_contract() {
    for &kind in PolicyKind::ALL {
        let name = kind.name();
        let mut p = kind.build();
        let mut young: HashSet<PageKey> = HashSet::new();
        for a in 0..100 {
            p.inserted(k(a));
            young.insert(k(a));
        }
        assert_eq!(p.len(), 100);
        let mut round = 0u64;
        for step in 0..40u64 {
            // Touch some pages, then take a batch.
            for a in (0..100).filter(|a| (a + step) % 3 == 0) {
                if p.contains(k(a)) {
                    young.insert(k(a));
                }
            }
            let mut victims = Vec::with_capacity(16);
            let before = p.len();
            let report = {
                let young = &mut young;
                let resident: Vec<bool> = (0..200).map(|a| p.contains(k(a))).collect();
                p.select_victims(
                    16,
                    &mut |key| {
                        assert!(
                            resident[key.addr as usize],
                            "{name}: tested a non-resident key"
                        );
                        young.remove(&key)
                    },
                    &mut victims,
                )
            };
            assert!(report.scanned >= victims.len() as u64);
            assert!(!victims.is_empty() && victims.len() <= 16, "{name}");
            let set: HashSet<_> = victims.iter().collect();
            assert_eq!(set.len(), victims.len(), "{name}: duplicate victims");
            assert_eq!(p.len(), before - victims.len(), "{name}");
            for v in &victims {
                assert!(!p.contains(*v), "{name}: a victim is still resident");
            }
            // One declined, one removed while isolated, the rest evicted;
            // then new pages come in.
            let mut it = victims.into_iter();
            if let Some(v) = it.next() {
                p.put_back(v);
                assert!(p.contains(v), "{name}: put back but not resident");
            }
            if let Some(v) = it.next() {
                p.removed(v);
            }
            for v in it {
                p.evicted(v);
                young.remove(&v);
            }
            while p.len() < 100 {
                round += 1;
                let a = 100 + (round % 100);
                if !p.contains(k(a)) {
                    p.inserted(k(a));
                    young.insert(k(a));
                } else {
                    let b = round % 100;
                    if !p.contains(k(b)) {
                        p.inserted(k(b));
                        young.insert(k(b));
                    }
                }
            }
            // Removing a resident page.
            let r = (0..200).map(k).find(|&key| p.contains(key)).unwrap();
            p.removed(r);
            assert!(!p.contains(r));
            assert_eq!(p.len(), 99, "{name}");
            p.inserted(r);
        }
    }
}
