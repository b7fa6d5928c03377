//! Access patterns and their per-thread state.

use super::zipf::Zipf;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// Which pages a workload touches, in which order.
#[derive(Clone, Debug, PartialEq)]
pub enum Pattern {
    /// Page after page, wrapping around (thread `t` starts a quarter of the
    /// range further per thread).
    Sequential,
    /// Every page equally likely.
    Uniform,
    /// Zipf's law over the pages: page rank `r` (1-based) has weight
    /// `1 / r^exponent`; page 0 is the most popular.
    Zipf {
        /// The exponent `s` (0 is uniform, about 1 is typical of caches).
        exponent: f64,
    },
    /// A hot set (the first `hot_fraction` of the pages) taking
    /// `hot_probability` of the accesses, the rest spread uniformly over
    /// the cold pages.
    HotCold {
        /// Fraction of the pages that is hot, in `(0, 1)`.
        hot_fraction: f64,
        /// Fraction of the accesses that go to the hot set, in `[0, 1]`.
        hot_probability: f64,
    },
    /// Uniform accesses to a hot set, with a sequential scan of the whole
    /// range mixed in: with `scan_probability` the next access is the next
    /// page of the scan.
    ScanMix {
        /// Fraction of the pages that is hot.
        hot_fraction: f64,
        /// Fraction of the accesses that belong to the scan.
        scan_probability: f64,
    },
    /// Patterns one after another, each for a number of accesses, starting
    /// over after the last.
    Phases(Vec<PhaseSpec>),
    /// A page-reference trace, already mapped to page indices (ids in order
    /// of first appearance, modulo the enclave's pages); thread `t` starts
    /// `t / 4` of the way in, and each thread wraps around at the end.
    Trace(Arc<[u32]>),
    /// An allocator's heap ([`Heap`](super::Heap)): a live set that grows
    /// and shrinks in chunks of `chunk_pages`, pages added by EAUG on first
    /// touch and freed chunks trimmed and removed (SGX2). Its enclave is
    /// dynamic. As a plain pattern it is uniform.
    Heap {
        /// Pages per chunk.
        chunk_pages: u64,
    },
}

/// One phase of [`Pattern::Phases`].
#[derive(Clone, Debug, PartialEq)]
pub struct PhaseSpec {
    /// The pattern of the phase (not itself `Phases`).
    pub pattern: Pattern,
    /// Accesses before the next phase.
    pub accesses: u64,
}

/// A pattern's position.
#[derive(Debug)]
pub(crate) enum State {
    Sequential(u64),
    Uniform,
    Zipf(Arc<Zipf>),
    HotCold {
        hot: u64,
        p: f64,
    },
    ScanMix {
        hot: u64,
        p: f64,
        next: u64,
    },
    Phases {
        states: Vec<(State, u64)>,
        at: usize,
        left: u64,
    },
    Trace {
        ids: Arc<[u32]>,
        at: usize,
    },
}

fn hot_pages(pages: u64, fraction: f64) -> u64 {
    ((pages as f64 * fraction).round() as u64).clamp(1, pages)
}

impl Pattern {
    pub(crate) fn start(&self, pages: u64, thread: u64) -> State {
        match self {
            Pattern::Sequential => State::Sequential((thread * (pages / 4).max(1)) % pages),
            Pattern::Uniform | Pattern::Heap { .. } => State::Uniform,
            Pattern::Zipf { exponent } => State::Zipf(Arc::new(Zipf::new(pages, *exponent))),
            Pattern::HotCold {
                hot_fraction,
                hot_probability,
            } => State::HotCold {
                hot: hot_pages(pages, *hot_fraction),
                p: *hot_probability,
            },
            Pattern::ScanMix {
                hot_fraction,
                scan_probability,
            } => State::ScanMix {
                hot: hot_pages(pages, *hot_fraction),
                p: *scan_probability,
                next: 0,
            },
            Pattern::Phases(phases) => {
                let states: Vec<(State, u64)> = phases
                    .iter()
                    .map(|ph| (ph.pattern.start(pages, thread), ph.accesses.max(1)))
                    .collect();
                let left = states.first().map_or(0, |s| s.1);
                State::Phases {
                    states,
                    at: 0,
                    left,
                }
            }
            Pattern::Trace(ids) => State::Trace {
                ids: ids.clone(),
                at: (thread as usize).wrapping_mul(ids.len() / 4) % ids.len().max(1),
            },
        }
    }
}

impl State {
    pub(crate) fn next_page(&mut self, pages: u64, rng: &mut ChaCha8Rng) -> u64 {
        match self {
            State::Sequential(next) => {
                let p = *next % pages;
                *next = (p + 1) % pages;
                p
            }
            State::Uniform => rng.gen_range(0..pages),
            State::Zipf(z) => z.sample(rng),
            State::HotCold { hot, p } => {
                if *hot >= pages || rng.gen::<f64>() < *p {
                    rng.gen_range(0..*hot)
                } else {
                    rng.gen_range(*hot..pages)
                }
            }
            State::ScanMix { hot, p, next } => {
                if rng.gen::<f64>() < *p {
                    let page = *next % pages;
                    *next = (page + 1) % pages;
                    page
                } else {
                    rng.gen_range(0..*hot)
                }
            }
            State::Phases { states, at, left } => {
                if states.is_empty() {
                    return rng.gen_range(0..pages);
                }
                if *left == 0 {
                    *at = (*at + 1) % states.len();
                    *left = states[*at].1;
                }
                *left -= 1;
                states[*at].0.next_page(pages, rng)
            }
            State::Trace { ids, at } => {
                if ids.is_empty() {
                    return rng.gen_range(0..pages);
                }
                let p = u64::from(ids[*at % ids.len()]) % pages;
                *at = (*at + 1) % ids.len();
                p
            }
        }
    }
}
