//! Faster curves: LRU's one-pass curve (stack distances) equals per-size LRU
//! simulation exactly on the shared small traces, `mrc` uses it, and SHARDS
//! sampling is exact at rate 1 and close at lower rates.

use epc_mm::PolicyKind;
use epc_sim::offline::{
    mrc, mrc_sampled, simulate, Capacity, LruCurve, SampleRate, Sampled, SimPolicy, Trace,
};
use std::path::{Path, PathBuf};

fn shared(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../../shared/traces/{name}.trace.xz"))
}

/// Sizes 1..=24, then about 24 more up to past the distinct pages.
fn sizes(distinct: usize) -> Vec<usize> {
    let mut out: Vec<usize> = (1..=24).collect();
    let step = (distinct / 24).max(1);
    out.extend((25..=distinct + step).step_by(step));
    out
}

#[test]
fn one_pass_lru_curve_equals_per_size_simulation() {
    for name in ["cs", "cpp", "gli", "ps", "backf", "multi1"] {
        let trace = Trace::load(shared(name)).unwrap();
        let curve = LruCurve::of(&trace);
        assert_eq!(curve.refs(), trace.len() as u64);
        for c in sizes(trace.distinct()) {
            let sim = simulate(&trace, Capacity::Pages(c), SimPolicy::Lru).misses;
            assert_eq!(curve.misses(c), sim, "{name} at {c} pages");
        }
        // Past the footprint only cold misses remain.
        assert_eq!(curve.misses(trace.distinct()), trace.distinct() as u64);
    }
}

#[test]
fn mrc_takes_lru_from_the_curve() {
    let trace = Trace::load(shared("cpp")).unwrap();
    let sizes: Vec<Capacity> = ["1%", "5%", "10%", "40%", "100%"]
        .iter()
        .map(|s| Capacity::parse(s).unwrap())
        .collect();
    let t = mrc(
        &trace,
        &[SimPolicy::Lru, SimPolicy::Live(PolicyKind::Fifo)],
        &sizes,
        2,
    );
    assert_eq!(
        t.policies,
        [
            SimPolicy::Lru,
            SimPolicy::Live(PolicyKind::Fifo),
            SimPolicy::Opt
        ]
    );
    assert!(t.sample.is_none());
    for (s, &c) in sizes.iter().enumerate() {
        for (p, &policy) in t.policies.iter().enumerate() {
            assert_eq!(
                t.misses[p][s],
                simulate(&trace, c, policy).misses,
                "{policy:?} {c}"
            );
        }
    }
}

fn sampled(name: &str, rate: f64) -> Sampled {
    let pages = epc_sim::trace::TraceReader::open(shared(name)).unwrap();
    Sampled::from_pages(name, pages, SampleRate::new(rate).unwrap()).unwrap()
}

#[test]
fn shards_at_rate_one_is_the_exact_table() {
    let trace = Trace::load(shared("cs")).unwrap();
    let sizes: Vec<Capacity> = ["2%", "10%", "40%", "300"]
        .iter()
        .map(|s| Capacity::parse(s).unwrap())
        .collect();
    let policies = [SimPolicy::Lru, SimPolicy::CLOCK, SimPolicy::Arc];
    let exact = mrc(&trace, &policies, &sizes, 2);
    let est = mrc_sampled(&sampled("cs", 1.0), &policies, &sizes, 2);
    assert_eq!(est.misses, exact.misses);
    assert_eq!(est.capacities, exact.capacities);
    assert_eq!(est.sample.unwrap().rate, 1.0);
}

#[test]
fn shards_lru_estimate_is_close_on_a_larger_trace() {
    // 2_pools: 100 000 references over 9939 pages; a 10 % sample holds
    // about 1000 pages. The hash is fixed, so the figure is too.
    let trace = Trace::load(shared("2_pools")).unwrap();
    let exact = LruCurve::of(&trace);
    let s = sampled("2_pools", 0.1);
    assert!(s.sample().len() < trace.len() / 5);
    let pages: Vec<usize> = (1..=20).map(|i| trace.distinct() * i / 20).collect();
    let est = s.lru_misses(&pages);
    let refs = trace.len() as f64;
    let mae = pages
        .iter()
        .zip(&est)
        .map(|(&c, &m)| (m as f64 - exact.misses(c) as f64).abs() / refs)
        .sum::<f64>()
        / pages.len() as f64;
    assert!(mae < 0.02, "mean absolute error {mae}");
}
