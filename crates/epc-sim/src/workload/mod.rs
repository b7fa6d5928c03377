//! Workloads: generators of page accesses for one enclave thread.
//!
//! A [`WorkloadSpec`] says what to generate (a pattern, a read/write ratio,
//! a length and a seed); [`WorkloadSpec::generator`] makes the
//! [`Generator`] a thread pulls accesses from. Generators are pure functions
//! of their seed: the same seed gives the same accesses, so a run can be
//! repeated (the interleaving of threads, and so the paging, still varies).

mod heap;
mod pattern;
mod zipf;

pub use heap::{Heap, HeapOp};
pub use pattern::{Pattern, PhaseSpec};
pub use zipf::Zipf;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How long a workload runs, per thread.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Length {
    /// This many accesses.
    Accesses(u64),
    /// This many seconds of wall time.
    Seconds(f64),
}

/// One access: a page index inside the enclave's data pages, and whether
/// it writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// Page index, `0..pages`.
    pub page: u64,
    /// A write (else a read).
    pub write: bool,
}

/// What one thread runs.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadSpec {
    /// The access pattern.
    pub pattern: Pattern,
    /// Fraction of accesses that write, in `[0, 1]`.
    pub write_ratio: f64,
    /// How long.
    pub length: Length,
    /// Seed of the generator.
    pub seed: u64,
}

impl WorkloadSpec {
    /// The generator of thread `thread` over `pages` pages: the seed is
    /// mixed with the thread index so threads do not run in lockstep.
    pub fn generator(&self, pages: u64, thread: u64) -> Generator {
        let seed = self
            .seed
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .wrapping_add(thread.wrapping_mul(0xbf58_476d_1ce4_e5b9));
        Generator {
            pages: pages.max(1),
            write_ratio: self.write_ratio,
            rng: ChaCha8Rng::seed_from_u64(seed),
            state: self.pattern.start(pages.max(1), thread),
        }
    }
}

/// A stream of accesses (endless: the caller applies the length).
#[derive(Debug)]
pub struct Generator {
    pages: u64,
    write_ratio: f64,
    rng: ChaCha8Rng,
    state: pattern::State,
}

impl Generator {
    /// The next access.
    pub fn next_access(&mut self) -> Access {
        let page = self.state.next_page(self.pages, &mut self.rng);
        let write = self.write_ratio > 0.0 && self.rng.gen::<f64>() < self.write_ratio;
        Access { page, write }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(pattern: Pattern) -> WorkloadSpec {
        WorkloadSpec {
            pattern,
            write_ratio: 0.25,
            length: Length::Accesses(1000),
            seed: 7,
        }
    }

    #[test]
    fn same_seed_same_accesses() {
        for p in [
            Pattern::Sequential,
            Pattern::Uniform,
            Pattern::Zipf { exponent: 0.9 },
            Pattern::HotCold {
                hot_fraction: 0.1,
                hot_probability: 0.9,
            },
            Pattern::ScanMix {
                hot_fraction: 0.1,
                scan_probability: 0.2,
            },
        ] {
            let s = spec(p);
            let a: Vec<_> = (0..500)
                .scan(s.generator(100, 1), |g, _| Some(g.next_access()))
                .collect();
            let b: Vec<_> = (0..500)
                .scan(s.generator(100, 1), |g, _| Some(g.next_access()))
                .collect();
            assert_eq!(a, b);
            assert!(a.iter().all(|x| x.page < 100));
            assert!(a.iter().any(|x| x.write) && a.iter().any(|x| !x.write));
        }
    }

    #[test]
    fn phases_change_the_pattern() {
        let s = spec(Pattern::Phases(vec![
            PhaseSpec {
                pattern: Pattern::Sequential,
                accesses: 10,
            },
            PhaseSpec {
                pattern: Pattern::HotCold {
                    hot_fraction: 0.01,
                    hot_probability: 1.0,
                },
                accesses: 10,
            },
        ]));
        let mut g = s.generator(1000, 0);
        let first: Vec<u64> = (0..10).map(|_| g.next_access().page).collect();
        assert_eq!(first, (0..10).collect::<Vec<_>>());
        let second: Vec<u64> = (0..10).map(|_| g.next_access().page).collect();
        assert!(second.iter().all(|&p| p < 10), "{second:?}");
        let third: Vec<u64> = (0..10).map(|_| g.next_access().page).collect();
        assert_eq!(third, (10..20).collect::<Vec<_>>());
    }
}
