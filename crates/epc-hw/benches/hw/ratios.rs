//! Ratios measured in interleaved rounds within one process: each round
//! times the model's operation and its limit back to back, so that load from
//! other processes hits both alike; the median round is printed.

use super::{enclave_with_lp, ewb_eldu, swap_machine, PAGES};
use criterion::black_box;
use epc_hw::{LinearAddress, SealedPage, PAGE_SIZE};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
use std::time::{Duration, Instant};

/// One ring AES-128-GCM seal and open of `buf` in place, nonce `n`: the
/// bare AEAD pair both the criterion bench and the ratio report measure.
pub(super) fn ring_seal_open(key: &LessSafeKey, n: u64, buf: &mut [u8; 4096], aad: [u8; 128]) {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&n.to_le_bytes());
    let tag = key
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), buf)
        .unwrap();
    key.open_in_place_separate_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        tag,
        buf,
        0..,
    )
    .unwrap();
}

fn rounds() -> usize {
    std::env::var("HW_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15)
}

/// The median; sorts `v`, so that `v[0]` is the best round afterwards.
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn time(mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

/// Prints the EWB + ELDU pair against ring's seal + open.
pub(super) fn pair() {
    const N: u32 = 2000;
    let (m, secs, page, base, slot) = swap_machine();
    let mut sealed = SealedPage::new();
    let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &[9; 16]).unwrap());
    let mut buf = [7u8; 4096];
    let aad = [0u8; 128];
    let mut n = 1u64;
    let mut ring_pair = || {
        n += 1;
        ring_seal_open(&key, n, &mut buf, aad);
    };
    let (mut ratio, mut model, mut limit) = (vec![], vec![], vec![]);
    for _ in 0..rounds() {
        let t_model = time(|| {
            for _ in 0..N {
                ewb_eldu(&m, secs, page, base, slot, &mut sealed);
            }
        });
        let t_limit = time(|| {
            for _ in 0..N {
                ring_pair();
            }
        });
        ratio.push(t_model.as_secs_f64() / t_limit.as_secs_f64());
        model.push(t_model.as_secs_f64() * 1e9 / f64::from(N));
        limit.push(t_limit.as_secs_f64() * 1e9 / f64::from(N));
    }
    eprintln!(
        "ratio/ewb_eldu_vs_ring: {:.2} (median of {} rounds, best {:.2}; pair {:.0} ns, ring seal+open {:.0} ns)",
        median(&mut ratio),
        ratio.len(),
        ratio[0],
        median(&mut model),
        median(&mut limit)
    );
}

/// Prints a TLB-hit read against a plain array read.
pub(super) fn access() {
    const N: usize = 4096;
    const REPS: usize = 200;
    let (_m, mut lp, base) = enclave_with_lp();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let words = (PAGES * PAGE_SIZE / 8) as usize;
    let idx: Vec<usize> = (0..N).map(|_| rng.gen_range(0..words)).collect();
    let addrs: Vec<LinearAddress> = idx.iter().map(|&w| base.add(w as u64 * 8)).collect();
    let array: Vec<u64> = (0..words as u64).collect();
    for &a in &addrs {
        lp.read_u64(a).unwrap();
    }
    let (mut ratio, mut read) = (vec![], vec![]);
    for _ in 0..rounds() {
        let t_lp = time(|| {
            for _ in 0..REPS {
                let mut sum = 0u64;
                for &a in black_box(&addrs) {
                    sum = sum.wrapping_add(lp.read_u64(a).unwrap());
                }
                black_box(sum);
            }
        });
        let t_array = time(|| {
            for _ in 0..REPS {
                let mut sum = 0u64;
                for &i in black_box(&idx) {
                    sum = sum.wrapping_add(black_box(&array)[i]);
                }
                black_box(sum);
            }
        });
        ratio.push(t_lp.as_secs_f64() / t_array.as_secs_f64());
        read.push(t_lp.as_secs_f64() * 1e9 / (N * REPS) as f64);
    }
    eprintln!(
        "ratio/tlb_hit_read_vs_array: {:.1} (median of {} rounds, best {:.1}; read_u64 {:.2} ns, best {:.2} ns)",
        median(&mut ratio),
        ratio.len(),
        ratio[0],
        median(&mut read),
        read[0]
    );
}
