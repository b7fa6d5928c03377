//! Miss-ratio curves: several policies × several cache sizes over one
//! trace, run in parallel over the cores, with OPT as the floor.
//!
//! LRU's curve takes one pass whatever the number of sizes
//! ([`LruCurve`], stack distances); every other policy one simulation per
//! size. [`mrc_sampled`] estimates the curves from a SHARDS sample
//! ([`Sampled`]) for traces too large to simulate at every size.

use super::shards::Sampled;
use super::stack::LruCurve;
use super::{simulate, Capacity, SimPolicy, Trace};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Applies `f` to every item on up to `threads` threads (0: one per core),
/// returning the results in the items' order. Work is handed out one item
/// at a time, so long and short jobs balance.
pub fn par_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    }
    .min(items.len())
    .max(1);
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                out.lock().expect("no worker panics holding the lock")[i] = Some(r);
            });
        }
    });
    out.into_inner()
        .expect("workers are done")
        .into_iter()
        .map(|r| r.expect("every item was run"))
        .collect()
}

/// Miss counts of several policies at several sizes over one trace.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct MrcTable {
    /// The trace's name.
    pub trace: String,
    /// References.
    pub refs: u64,
    /// Distinct pages.
    pub distinct: u64,
    /// The sizes as asked.
    pub sizes: Vec<Capacity>,
    /// The sizes in pages.
    pub capacities: Vec<u64>,
    /// The policies (OPT last, added if not asked for).
    pub policies: Vec<SimPolicy>,
    /// `misses[p][s]`: misses of `policies[p]` at `capacities[s]`
    /// (estimates if `sample` is set).
    pub misses: Vec<Vec<u64>>,
    /// Set if the curves are SHARDS estimates from a sample.
    pub sample: Option<SampleInfo>,
}

/// What a sampled table was estimated from.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct SampleInfo {
    /// The effective sampling rate.
    pub rate: f64,
    /// References in the sample.
    pub refs: u64,
    /// Distinct pages in the sample.
    pub distinct: u64,
}

/// The policies of a table: as asked, OPT moved last (added if absent).
fn with_opt(policies: &[SimPolicy]) -> Vec<SimPolicy> {
    let mut out: Vec<SimPolicy> = Vec::new();
    for &p in policies {
        if p != SimPolicy::Opt && !out.contains(&p) {
            out.push(p);
        }
    }
    out.push(SimPolicy::Opt);
    out
}

/// Runs `point(policy, size)` for every pair, and `curve(sizes)` once for
/// LRU, in parallel; `misses[p][s]`.
fn run_jobs(
    policies: &[SimPolicy],
    sizes: usize,
    threads: usize,
    point: impl Fn(SimPolicy, usize) -> u64 + Sync,
    curve: impl Fn() -> Vec<u64> + Sync,
) -> Vec<Vec<u64>> {
    // (policy, Some(size)) for one simulation, (policy, None) for a curve.
    let jobs: Vec<(usize, Option<usize>)> = (0..policies.len())
        .flat_map(|p| {
            let whole = policies[p] == SimPolicy::Lru;
            let one = whole.then_some((p, None));
            let each = (0..sizes)
                .filter(move |_| !whole)
                .map(move |s| (p, Some(s)));
            one.into_iter().chain(each)
        })
        .collect();
    let results = par_map(&jobs, threads, |&(p, s)| match s {
        Some(s) => vec![point(policies[p], s)],
        None => curve(),
    });
    let mut misses = vec![vec![0; sizes]; policies.len()];
    for (&(p, s), m) in jobs.iter().zip(results) {
        match s {
            Some(s) => misses[p][s] = m[0],
            None => misses[p] = m,
        }
    }
    misses
}

/// Runs every policy at every size over `trace`, in parallel (`threads` 0:
/// one per core). OPT is always included, as the floor. LRU's curve is
/// computed in one pass ([`LruCurve`]), exactly.
pub fn mrc(trace: &Trace, policies: &[SimPolicy], sizes: &[Capacity], threads: usize) -> MrcTable {
    let policies = with_opt(policies);
    let capacities: Vec<usize> = sizes.iter().map(|c| c.pages(trace.distinct())).collect();
    let misses = run_jobs(
        &policies,
        sizes.len(),
        threads,
        |p, s| simulate(trace, Capacity::Pages(capacities[s]), p).misses,
        || {
            let curve = LruCurve::of(trace);
            capacities.iter().map(|&c| curve.misses(c)).collect()
        },
    );
    MrcTable {
        trace: trace.name().to_owned(),
        refs: trace.len() as u64,
        distinct: trace.distinct() as u64,
        capacities: capacities.iter().map(|&c| c as u64).collect(),
        sizes: sizes.to_vec(),
        policies,
        misses,
        sample: None,
    }
}

/// [`mrc`] estimated from a SHARDS sample: LRU from scaled stack distances,
/// the others by simulating the sample at the scaled size (see
/// [`Sampled`]). `distinct` is the estimate, and percent sizes are of it.
pub fn mrc_sampled(
    sampled: &Sampled,
    policies: &[SimPolicy],
    sizes: &[Capacity],
    threads: usize,
) -> MrcTable {
    let policies = with_opt(policies);
    let capacities: Vec<usize> = sizes.iter().map(|&c| sampled.pages(c)).collect();
    let misses = run_jobs(
        &policies,
        sizes.len(),
        threads,
        |p, s| sampled.misses(p, capacities[s]),
        || sampled.lru_misses(&capacities),
    );
    MrcTable {
        trace: sampled.sample().name().to_owned(),
        refs: sampled.refs(),
        distinct: sampled.distinct_estimate() as u64,
        capacities: capacities.iter().map(|&c| c as u64).collect(),
        sizes: sizes.to_vec(),
        policies,
        misses,
        sample: Some(SampleInfo {
            rate: sampled.rate(),
            refs: sampled.sample().len() as u64,
            distinct: sampled.sample().distinct() as u64,
        }),
    }
}

impl MrcTable {
    /// Miss ratio of policy `p` at size `s`.
    pub fn ratio(&self, p: usize, s: usize) -> f64 {
        self.misses[p][s] as f64 / self.refs as f64
    }

    /// A fixed-width text table of miss ratios: one row per size, one
    /// column per policy.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        match &self.sample {
            None => {
                let _ = writeln!(
                    out,
                    "{}: {} refs, {} distinct pages (miss ratio)",
                    self.trace, self.refs, self.distinct
                );
            }
            Some(s) => {
                let _ = writeln!(
                    out,
                    "{}: {} refs, ~{} distinct pages (miss ratio, SHARDS estimate from a \
                     {:.4} sample: {} refs, {} pages)",
                    self.trace, self.refs, self.distinct, s.rate, s.refs, s.distinct
                );
            }
        }
        let _ = write!(out, "{:>8} {:>8}", "size", "pages");
        for p in &self.policies {
            let _ = write!(out, " {:>8}", p.name());
        }
        out.push('\n');
        for s in 0..self.sizes.len() {
            let _ = write!(
                out,
                "{:>8} {:>8}",
                self.sizes[s].to_string(),
                self.capacities[s]
            );
            for p in 0..self.policies.len() {
                let _ = write!(out, " {:>8.4}", self.ratio(p, s));
            }
            out.push('\n');
        }
        out
    }

    /// CSV: `trace,size,capacity,policy,misses,miss_ratio`, one line per
    /// run, with a header.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("trace,size,capacity,policy,misses,miss_ratio\n");
        for (p, policy) in self.policies.iter().enumerate() {
            for s in 0..self.sizes.len() {
                let _ = writeln!(
                    out,
                    "{},{},{},{},{},{:.6}",
                    self.trace,
                    self.sizes[s],
                    self.capacities[s],
                    policy.name(),
                    self.misses[p][s],
                    self.ratio(p, s)
                );
            }
        }
        out
    }
}
