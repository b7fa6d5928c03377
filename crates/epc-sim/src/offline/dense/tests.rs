//! Every fast path against the general path it stands for: equal miss
//! counts on the shared traces (several sizes, both drives) and on random
//! ones with small caches, where evictions and ghost hits are frequent.

use super::misses;
use crate::offline::simulate::general_misses;
use crate::offline::{Drive, SimPolicy, Trace};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;

fn fast_policies() -> Vec<SimPolicy> {
    SimPolicy::all()
        .iter()
        .copied()
        .filter(|&p| misses(p, Drive::Textbook, &[0], 1, 1).is_some())
        .collect()
}

fn check(trace: &Trace, caps: &[usize]) {
    for policy in fast_policies() {
        for drive in [Drive::Textbook, Drive::Live] {
            for &cap in caps.iter().filter(|&&c| c > 0) {
                let fast = misses(policy, drive, trace.dense(), trace.distinct(), cap);
                let general = general_misses(trace, cap, policy, drive);
                assert_eq!(
                    fast,
                    Some(general),
                    "{} {policy} {drive:?} cap {cap}",
                    trace.name()
                );
            }
        }
    }
}

#[test]
fn the_fast_paths_are_lru_fifo_clock_clock0_sieve_and_arc() {
    let mut names: Vec<&str> = fast_policies().iter().map(|p| p.name()).collect();
    names.sort_unstable();
    assert_eq!(names, ["arc", "clock", "clock0", "fifo", "lru", "sieve"]);
}

#[test]
fn fast_paths_equal_the_general_path_on_shared_traces() {
    for name in ["cpp", "ps", "zigzag"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../../../shared/traces/{name}.trace.xz"));
        let t = Trace::load(path).unwrap();
        let d = t.distinct();
        check(&t, &[1, d / 20 + 1, d / 10, d / 4, d / 2, d]);
    }
}

#[test]
fn fast_paths_equal_the_general_path_on_random_traces() {
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    for round in 0..12 {
        let pages = rng.gen_range(2..200u64);
        let hot = rng.gen_range(1..=pages);
        let ids: Vec<u64> = (0..3000)
            .map(|_| {
                if rng.gen_bool(0.6) {
                    rng.gen_range(0..hot)
                } else {
                    rng.gen_range(0..pages)
                }
            })
            .collect();
        let t = Trace::from_ids(format!("random{round}"), &ids).unwrap();
        let d = t.distinct();
        check(&t, &[1, 2, 3, d / 3 + 1, d / 2 + 1, d]);
    }
}
