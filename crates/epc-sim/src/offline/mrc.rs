//! Miss-ratio curves: several policies × several cache sizes over one
//! trace, run in parallel over the cores, with OPT as the floor.

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
    /// `misses[p][s]`: misses of `policies[p]` at `capacities[s]`.
    pub misses: Vec<Vec<u64>>,
}

/// Runs every policy at every size over `trace`, in parallel (`threads` 0:
/// one per core). OPT is always included, as the floor.
pub fn mrc(trace: &Trace, policies: &[SimPolicy], sizes: &[Capacity], threads: usize) -> MrcTable {
    let mut policies: Vec<SimPolicy> = policies
        .iter()
        .copied()
        .filter(|&p| p != SimPolicy::Opt)
        .collect();
    policies.dedup();
    policies.push(SimPolicy::Opt);
    let jobs: Vec<(usize, usize)> = (0..policies.len())
        .flat_map(|p| (0..sizes.len()).map(move |s| (p, s)))
        .collect();
    let results = par_map(&jobs, threads, |&(p, s)| {
        simulate(trace, sizes[s], policies[p]).misses
    });
    let mut misses = vec![vec![0; sizes.len()]; policies.len()];
    for (&(p, s), m) in jobs.iter().zip(results) {
        misses[p][s] = m;
    }
    MrcTable {
        trace: trace.name().to_owned(),
        refs: trace.len() as u64,
        distinct: trace.distinct() as u64,
        capacities: sizes
            .iter()
            .map(|c| c.pages(trace.distinct()) as u64)
            .collect(),
        sizes: sizes.to_vec(),
        policies,
        misses,
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
        let _ = writeln!(
            out,
            "{}: {} refs, {} distinct pages (miss ratio)",
            self.trace, self.refs, self.distinct
        );
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
