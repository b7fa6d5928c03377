//! A Zipf sampler over a finite set of pages, by inverse transform on the
//! cumulative distribution (exact for any exponent, `O(log n)` a sample;
//! the table costs 8 bytes a page, built once per thread).

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Zipf's distribution over `0..n`: `P(k) ∝ 1 / (k + 1)^s`.
#[derive(Debug)]
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// The distribution over `n` ranks (at least one) with exponent `s`.
    pub fn new(n: u64, s: f64) -> Zipf {
        let n = n.max(1);
        let mut cdf = Vec::with_capacity(n as usize);
        let mut sum = 0.0;
        for k in 1..=n {
            sum += (k as f64).powf(-s);
            cdf.push(sum);
        }
        for c in &mut cdf {
            *c /= sum;
        }
        Zipf { cdf }
    }

    /// A rank, `0..n`.
    pub fn sample(&self, rng: &mut ChaCha8Rng) -> u64 {
        let u: f64 = rng.gen();
        let i = self.cdf.partition_point(|&c| c < u);
        i.min(self.cdf.len() - 1) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn rank_one_is_most_frequent_and_frequencies_follow_the_law() {
        let z = Zipf::new(100, 1.0);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut hits = [0u64; 100];
        for _ in 0..200_000 {
            hits[z.sample(&mut rng) as usize] += 1;
        }
        // P(0)/P(1) = 2 for s = 1.
        let ratio = hits[0] as f64 / hits[1] as f64;
        assert!((1.8..2.2).contains(&ratio), "{ratio}");
        assert!(hits[0] > hits[50] * 20);
    }
}
