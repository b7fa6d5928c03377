//! One run: a trace through one policy at one cache size.

use super::ids::DenseIds;
use super::{Capacity, SimError, SimPolicy};
use crate::trace::TraceReader;
use epc_mm::{OwnerId, PageKey};
use std::path::Path;

/// A trace held for simulation: page ids mapped densely, in order of first
/// appearance, to `0..distinct` (4 bytes per reference).
#[derive(Clone, Debug)]
pub struct Trace {
    name: String,
    pages: Vec<u32>,
    distinct: usize,
}

impl Trace {
    /// Reads the trace at `path` (any format [`TraceReader`] knows).
    pub fn load(path: impl AsRef<Path>) -> Result<Trace, SimError> {
        let path = path.as_ref();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = name
            .split('.')
            .next()
            .filter(|s| !s.is_empty())
            .unwrap_or(&name)
            .to_owned();
        Trace::from_reader(name, TraceReader::open(path)?)
    }

    /// A trace from page ids.
    pub fn from_pages<E>(
        name: impl Into<String>,
        pages: impl IntoIterator<Item = Result<u64, E>>,
    ) -> Result<Trace, SimError>
    where
        SimError: From<E>,
    {
        let mut ids = DenseIds::new();
        let mut dense = Vec::new();
        for p in pages {
            dense.push(ids.id(p?));
        }
        Trace::new(name.into(), dense, ids.distinct())
    }

    /// A trace read to its end from `reader`, a block of references at a
    /// time ([`TraceReader::next_batch`]; what [`load`](Self::load) does).
    pub fn from_reader(
        name: impl Into<String>,
        mut reader: TraceReader,
    ) -> Result<Trace, SimError> {
        let mut ids = DenseIds::new();
        let mut dense = Vec::new();
        loop {
            let batch = reader.next_batch()?;
            if batch.is_empty() {
                break;
            }
            dense.extend(batch.iter().map(|&p| ids.id(p)));
        }
        Trace::new(name.into(), dense, ids.distinct())
    }

    fn new(name: String, pages: Vec<u32>, distinct: usize) -> Result<Trace, SimError> {
        if pages.is_empty() {
            return Err(SimError::EmptyTrace);
        }
        Ok(Trace {
            name,
            distinct,
            pages,
        })
    }

    /// A trace from page ids in memory (tests, synthetic workloads).
    pub fn from_ids(name: impl Into<String>, ids: &[u64]) -> Result<Trace, SimError> {
        Trace::from_pages(name, ids.iter().map(|&p| Ok::<u64, SimError>(p)))
    }

    /// The name (the file name up to its first dot, for loaded traces).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of references.
    pub fn len(&self) -> usize {
        self.pages.len()
    }

    /// Never true: an empty trace is refused.
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// Number of distinct pages.
    pub fn distinct(&self) -> usize {
        self.distinct
    }

    /// The dense page ids.
    pub fn dense(&self) -> &[u32] {
        &self.pages
    }
}

/// How live-capable policies are driven.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Drive {
    /// The policy's published definition (the default): the bit of a new
    /// page is set for `clock` (as in Linux), clear for `clock0` and
    /// `sieve` (as in their papers and libCacheSim).
    #[default]
    Textbook,
    /// Exactly what the live manager gives: the faulting access sets the
    /// new page's accessed bit (deterministic replay with no TLB matches
    /// this for every live-capable policy).
    Live,
}

/// The outcome of one run (the fields of `epc sim --json`).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SimResult {
    /// References replayed.
    pub refs: u64,
    /// Distinct pages in the trace.
    pub distinct: u64,
    /// Cache size in pages.
    pub capacity: u64,
    /// References that brought a page in (cold misses included).
    pub misses: u64,
    /// `misses / refs`.
    pub miss_ratio: f64,
    /// The policy's canonical name.
    pub policy: String,
}

fn key(id: u32) -> PageKey {
    PageKey::new(OwnerId(0), u64::from(id))
}

/// Replays `trace` through `policy` with a cache of `capacity`, the policy
/// driven as its textbook definition says ([`Drive::Textbook`]).
pub fn simulate(trace: &Trace, capacity: Capacity, policy: SimPolicy) -> SimResult {
    simulate_with(trace, capacity, policy, Drive::Textbook)
}

/// [`simulate`] with an explicit [`Drive`].
///
/// Demand paging: every miss brings the page in; when the cache is full the
/// policy first evicts exactly one page. Cold misses count.
pub fn simulate_with(
    trace: &Trace,
    capacity: Capacity,
    policy: SimPolicy,
    drive: Drive,
) -> SimResult {
    let cap = capacity.pages(trace.distinct);
    let misses = match super::dense::misses(policy, drive, &trace.pages, trace.distinct, cap) {
        Some(m) => m,
        None => general_misses(trace, cap, policy, drive),
    };
    let refs = trace.pages.len() as u64;
    SimResult {
        refs,
        distinct: trace.distinct as u64,
        capacity: cap as u64,
        misses,
        miss_ratio: misses as f64 / refs as f64,
        policy: policy.name().to_owned(),
    }
}

/// The general path: `policy` built as an [`OfflinePolicy`] (live ones
/// through [`LiveAsOffline`]) and driven with page keys. The dense fast
/// path ([`super::dense`]) gives the same counts for the policies it has.
///
/// [`OfflinePolicy`]: super::OfflinePolicy
/// [`LiveAsOffline`]: super::LiveAsOffline
pub(crate) fn general_misses(trace: &Trace, cap: usize, policy: SimPolicy, drive: Drive) -> u64 {
    let mut p = policy.build(cap, drive);
    if policy.needs_future() {
        p.prepare_dense(&trace.pages, trace.distinct);
    }
    let mut resident = vec![false; trace.distinct];
    let mut len = 0usize;
    let mut misses = 0u64;
    for (at, &id) in trace.pages.iter().enumerate() {
        let at = at as u64;
        let k = key(id);
        if resident[id as usize] {
            p.hit(k, at);
            continue;
        }
        misses += 1;
        p.missed(k, at);
        if len == cap {
            let victim = p.evict(at).expect("a full cache always has a victim");
            debug_assert!(resident[victim.addr as usize], "{victim:?} not resident");
            resident[victim.addr as usize] = false;
            len -= 1;
        }
        p.inserted(k, at);
        resident[id as usize] = true;
        len += 1;
    }
    misses
}
