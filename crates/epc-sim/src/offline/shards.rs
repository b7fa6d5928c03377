//! SHARDS-style spatial sampling (Waldspurger, Park, Garthwaite and Ahmad,
//! "Efficient MRC Construction with SHARDS", FAST 2015), fixed rate: a
//! page is in the sample if a hash of its id, taken modulo `P = 2^24`, is
//! below `T = round(R·P)`; the effective rate is `R = T/P`. Every reference
//! to a sampled page is kept and every other dropped, so the sample is a
//! trace of about `R` of the pages with their whole reference strings, read
//! in one streaming pass (the full trace is never held).
//!
//! * **LRU**: reuse distances over the sample, scaled by `1/R`, estimate the
//!   full trace's (a sampled reuse at distance `d` hits a cache of `c`
//!   pages if `d < c·R`). The misses are the sample's misses divided by
//!   `R`, that is, normalised by the *expected* sample size `N·R` rather
//!   than the one drawn: exactly SHARDS_adj's correction (adding the
//!   difference between expected and actual sample counts to the first
//!   histogram bucket).
//! * **Other policies** (OPT included): the sample is simulated with a
//!   cache of `max(1, round(c·R))` pages (a "miniature simulation",
//!   Waldspurger et al., USENIX ATC 2017), misses divided by `R` again.
//!
//! Percent sizes are taken of the estimated distinct pages (sampled
//! distinct ÷ `R`). The hash is SplitMix64's finaliser (a bijection with
//! full avalanche), fixed, so a rate gives the same sample on every run.
//! The error against the exact curves on the shared traces is in
//! `docs/POLICIES.md` (`cargo run --release -p epc-sim --example
//! shards_error`).

use super::stack::LruCurve;
use super::{simulate, Capacity, SimError, SimPolicy, Trace};

/// The modulus of the sampling hash.
const MODULUS: u64 = 1 << 24;

/// SplitMix64's finaliser.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A sampling rate: which pages are in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampleRate {
    threshold: u64,
}

impl SampleRate {
    /// The rate nearest `r` (in (0, 1]) that the hash can express.
    pub fn new(r: f64) -> Result<SampleRate, String> {
        if !(r > 0.0 && r <= 1.0) {
            return Err(format!("sample rate {r} is not in (0, 1]"));
        }
        let threshold = ((r * MODULUS as f64).round() as u64).clamp(1, MODULUS);
        Ok(SampleRate { threshold })
    }

    /// Parses `0.01` or `1%`.
    pub fn parse(s: &str) -> Result<SampleRate, String> {
        let t = s.trim();
        let v = match t.strip_suffix('%') {
            Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
            None => t.parse::<f64>(),
        }
        .map_err(|_| format!("{s:?} is not a rate such as 0.01 or 1%"))?;
        SampleRate::new(v)
    }

    /// The effective rate `T/P`.
    pub fn rate(self) -> f64 {
        self.threshold as f64 / MODULUS as f64
    }

    /// Whether `page` is in the sample.
    pub fn keeps(self, page: u64) -> bool {
        mix(page) % MODULUS < self.threshold
    }
}

/// A spatially sampled trace and what is known of the whole.
#[derive(Clone, Debug)]
pub struct Sampled {
    sample: Trace,
    rate: SampleRate,
    refs: u64,
}

impl Sampled {
    /// Samples a stream of page ids at `rate`, holding only the sample.
    /// A sample with no reference is [`SimError::EmptyTrace`].
    pub fn from_pages<E>(
        name: impl Into<String>,
        pages: impl IntoIterator<Item = Result<u64, E>>,
        rate: SampleRate,
    ) -> Result<Sampled, SimError>
    where
        SimError: From<E>,
    {
        let mut refs = 0u64;
        let kept = pages.into_iter().filter(|p| {
            refs += 1;
            p.as_ref().map_or(true, |&p| rate.keeps(p))
        });
        let sample = Trace::from_pages(name, kept)?;
        Ok(Sampled { sample, rate, refs })
    }

    /// The sample, as a trace of its own.
    pub fn sample(&self) -> &Trace {
        &self.sample
    }

    /// The effective rate.
    pub fn rate(&self) -> f64 {
        self.rate.rate()
    }

    /// References in the whole trace.
    pub fn refs(&self) -> u64 {
        self.refs
    }

    /// Estimated distinct pages of the whole trace.
    pub fn distinct_estimate(&self) -> usize {
        (self.sample.distinct() as f64 / self.rate()).round() as usize
    }

    /// The size in pages of `capacity` for the whole trace.
    pub fn pages(&self, capacity: Capacity) -> usize {
        capacity.pages(self.distinct_estimate())
    }

    /// Scales the sample's misses to the whole trace.
    fn scale(&self, misses: u64) -> u64 {
        ((misses as f64 / self.rate()).round() as u64).min(self.refs)
    }

    /// Estimated LRU misses at every size in `pages` (scaled distances).
    pub fn lru_misses(&self, pages: &[usize]) -> Vec<u64> {
        let curve = LruCurve::of(&self.sample);
        let r = self.rate();
        pages
            .iter()
            .map(|&c| {
                // d < c·R for integer d: d < ceil(c·R).
                let below = (c as f64 * r).ceil() as usize;
                self.scale(curve.misses(below))
            })
            .collect()
    }

    /// Estimated misses of `policy` with a cache of `pages` pages (for LRU
    /// prefer [`lru_misses`](Self::lru_misses)).
    pub fn misses(&self, policy: SimPolicy, pages: usize) -> u64 {
        if policy == SimPolicy::Lru {
            return self.lru_misses(&[pages])[0];
        }
        let mini = ((pages as f64 * self.rate()).round() as usize).max(1);
        self.scale(simulate(&self.sample, Capacity::Pages(mini), policy).misses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_round_to_the_hash() {
        assert_eq!(
            SampleRate::parse("1%").unwrap(),
            SampleRate::new(0.01).unwrap()
        );
        assert_eq!(SampleRate::parse("1").unwrap().rate(), 1.0);
        assert!((SampleRate::parse("0.1").unwrap().rate() - 0.1).abs() < 1e-6);
        for bad in ["0", "-0.1", "1.5", "abc", "200%"] {
            assert!(SampleRate::parse(bad).is_err(), "{bad}");
        }
        let r = SampleRate::new(0.1).unwrap();
        let kept = (0..100_000u64).filter(|&p| r.keeps(p)).count();
        assert!((9_000..11_000).contains(&kept), "{kept}");
    }

    #[test]
    fn rate_one_is_exact() {
        let ids: Vec<u64> = (0..5000u64).map(|i| (i * 7919) % 331).collect();
        let s = Sampled::from_pages(
            "t",
            ids.iter().map(|&p| Ok::<_, SimError>(p)),
            SampleRate::new(1.0).unwrap(),
        )
        .unwrap();
        let t = Trace::from_ids("t", &ids).unwrap();
        let exact = LruCurve::of(&t);
        let sizes: Vec<usize> = (1..=331).collect();
        let est = s.lru_misses(&sizes);
        for (&c, &m) in sizes.iter().zip(&est) {
            assert_eq!(m, exact.misses(c), "size {c}");
        }
        assert_eq!(s.distinct_estimate(), 331);
    }
}
