//! Criterion benchmarks of the hardware model, each next to the limit it is
//! measured against in the same run:
//!
//! * `access`: a TLB-hit 8-byte read and write through a logical processor,
//!   next to random 8-byte reads of a plain array over the same index
//!   sequence;
//! * `swap`: one EWB plus one ELDU of a 4 KiB page, next to one AES-128-GCM
//!   seal plus open of 4 KiB with ring and with aes-gcm;
//! * `machine`: creating a machine with a 4 GiB EPC; its resident memory is
//!   printed before the benchmarks run.
//!
//! Before criterion runs, the bench prints ratios measured by interleaved
//! rounds in this process (the medians of `HW_ROUNDS` rounds, 15 by
//! default), which a loaded machine disturbs much less than absolute times:
//!
//! * `ratio/ewb_eldu_vs_ring`: one EBLOCK + ETRACK + EWB + ELDU against one
//!   ring seal + open of 4 KiB (issue 13's goal: at most 1.3);
//! * `ratio/tlb_hit_read_vs_array`: a TLB-hit `read_u64` against a plain
//!   array read, with the read's time in ns;
//! * `scale`: a 128 GiB EPC (33.5 M pages): creation time, resident memory
//!   before use, and resident memory per page in use beside its 4 KiB, for
//!   pages used densely (from the start of the EPC) and sparsely (one page
//!   in each chunk of page slots).
//!
//! Run: `cargo bench -p epc-hw --bench hw`; `HW_REPORT_ONLY=1` prints the
//! report and skips criterion (for a quick run or for callgrind), and
//! `HW_REPORT_ONLY=pair` (or `access`, `scale`) prints that part alone.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, BatchSize, Criterion, Throughput};
use epc_hw::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::sync::Arc;

#[path = "hw/ratios.rs"]
mod ratios;
#[path = "hw/scale.rs"]
mod scale;

pub(crate) const PAGES: u64 = 32;

struct MapTable(HashMap<u64, Pte>);

impl PageTable for MapTable {
    fn translate(&self, page: LinearAddress) -> Option<Pte> {
        self.0.get(&page.0).copied()
    }
    fn mark_accessed(&self, _page: LinearAddress) {}
}

/// An initialized enclave of `PAGES` data pages, all mapped, and an LP
/// inside it.
fn enclave_with_lp() -> (Arc<Machine>, LogicalProcessor, LinearAddress) {
    let mut cfg = MachineConfig::with_pages(64);
    cfg.tlb_entries = 64;
    let m = Machine::new(cfg).unwrap();
    let base = LinearAddress(0x100000);
    let secs = EpcPageId(0);
    m.ecreate(secs, base, 0x100000).unwrap();
    let mut table = HashMap::new();
    for i in 0..PAGES + 2 {
        let epc = EpcPageId(1 + i as u32);
        let addr = base.add(i * PAGE_SIZE);
        let secinfo = if i == PAGES {
            SecInfo::tcs()
        } else {
            SecInfo::reg(Perms::RW)
        };
        let content = if i == PAGES {
            Tcs {
                ossa: (PAGES + 1) * PAGE_SIZE,
                nssa: 1,
                oentry: 0,
            }
            .to_page()
        } else {
            Box::new([i as u8; 4096])
        };
        m.eadd(epc, secs, addr, secinfo, &content).unwrap();
        table.insert(
            addr.0,
            Pte {
                page: epc,
                writable: true,
            },
        );
    }
    m.einit(secs).unwrap();
    let mut lp = m.new_lp().unwrap();
    lp.eenter(base.add(PAGES * PAGE_SIZE), Arc::new(MapTable(table)))
        .unwrap();
    (m, lp, base)
}

fn access(c: &mut Criterion) {
    let (_m, mut lp, base) = enclave_with_lp();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    const N: usize = 4096;
    let words = (PAGES * PAGE_SIZE / 8) as usize;
    let idx: Vec<usize> = (0..N).map(|_| rng.gen_range(0..words)).collect();
    let addrs: Vec<LinearAddress> = idx.iter().map(|&w| base.add(w as u64 * 8)).collect();
    let array: Vec<u64> = (0..words as u64).collect();
    // Warm the TLB: every page is cached from here on.
    for &a in &addrs {
        lp.read_u64(a).unwrap();
    }

    let mut g = c.benchmark_group("access");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("plain_array_read", |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for &i in black_box(&idx) {
                sum = sum.wrapping_add(black_box(&array)[i]);
            }
            sum
        })
    });
    g.bench_function("tlb_hit_read_u64", |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for &a in black_box(&addrs) {
                sum = sum.wrapping_add(lp.read_u64(a).unwrap());
            }
            sum
        })
    });
    g.bench_function("tlb_hit_write_u64", |b| {
        b.iter(|| {
            for (k, &a) in black_box(&addrs).iter().enumerate() {
                lp.write_u64(a, k as u64).unwrap();
            }
        })
    });
    g.finish();
    let s = lp.stats();
    eprintln!(
        "access: {} accesses, {} TLB hits, {} walks",
        s.accesses, s.tlb_hits, s.walks
    );
}

/// A machine with a SECS, a VA page and one regular page, for the swap
/// pair.
fn swap_machine() -> (Arc<Machine>, EpcPageId, EpcPageId, LinearAddress, VaSlot) {
    let m = Machine::new(MachineConfig::with_pages(8)).unwrap();
    let secs = EpcPageId(0);
    let base = LinearAddress(0x10000);
    m.ecreate(secs, base, 0x10000).unwrap();
    m.epa(EpcPageId(1)).unwrap();
    let slot = VaSlot {
        page: EpcPageId(1),
        slot: 0,
    };
    let page = EpcPageId(2);
    m.eadd(page, secs, base, SecInfo::reg(Perms::RW), &[5; 4096])
        .unwrap();
    (m, secs, page, base, slot)
}

/// One EBLOCK, ETRACK, EWB and ELDU of `page`.
fn ewb_eldu(
    m: &Machine,
    secs: EpcPageId,
    page: EpcPageId,
    base: LinearAddress,
    slot: VaSlot,
    sealed: &mut SealedPage,
) {
    let _ = m.eblock(page).unwrap();
    m.etrack(secs).unwrap();
    let _ = m.ewb(page, slot, sealed).unwrap();
    m.eldu(page, base, sealed, Some(secs), slot).unwrap();
}

fn swap(c: &mut Criterion) {
    let (m, secs, page, base, slot) = swap_machine();
    let mut sealed = SealedPage::new();

    let mut g = c.benchmark_group("swap");
    g.throughput(Throughput::Bytes(4096));
    g.bench_function("ewb_eldu", |b| {
        b.iter(|| ewb_eldu(&m, secs, page, base, slot, &mut sealed))
    });

    let mut buf = [7u8; 4096];
    let aad = [0u8; 128];
    {
        use ring::aead::{LessSafeKey, UnboundKey, AES_128_GCM};
        let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &[9; 16]).unwrap());
        let mut n = 1u64;
        g.bench_function("ring_seal_open", |b| {
            b.iter(|| {
                n += 1;
                ratios::ring_seal_open(&key, n, &mut buf, aad);
            })
        });
    }
    {
        use aes_gcm::aead::{AeadInPlace, KeyInit};
        use aes_gcm::{Aes128Gcm, Nonce};
        let cipher = Aes128Gcm::new_from_slice(&[9; 16]).unwrap();
        let mut n = 1u64;
        g.bench_function("aes_gcm_seal_open", |b| {
            b.iter(|| {
                n += 1;
                let mut nonce = [0u8; 12];
                nonce[4..].copy_from_slice(&n.to_le_bytes());
                let nonce = Nonce::from_slice(&nonce);
                let tag = cipher
                    .encrypt_in_place_detached(nonce, &aad, &mut buf)
                    .unwrap();
                cipher
                    .decrypt_in_place_detached(nonce, &aad, &mut buf, &tag)
                    .unwrap();
            })
        });
    }
    g.finish();
}

fn four_gib() -> MachineConfig {
    MachineConfig::with_pages(1 << 20)
}

fn machine(c: &mut Criterion) {
    let mut g = c.benchmark_group("machine");
    g.sample_size(20);
    g.bench_function("create_4gib_epc", |b| {
        b.iter_batched(
            four_gib,
            |cfg| Machine::new(cfg).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn report_machine_memory() {
    let before = rss_kib();
    let start = std::time::Instant::now();
    let m = Machine::new(four_gib()).unwrap();
    let took = start.elapsed();
    let after = rss_kib();
    if let (Some(b), Some(a)) = (before, after) {
        eprintln!(
            "machine: 4 GiB EPC ({} pages) created in {:?}, resident memory grew by {} KiB",
            m.layout().total_pages(),
            took,
            a.saturating_sub(b)
        );
    }
    // Touch one page in the middle: only its chunk is allocated.
    m.epa(EpcPageId(1 << 19)).unwrap();
    if let (Some(b), Some(a)) = (before, rss_kib()) {
        eprintln!(
            "machine: after one EPA, resident memory is {} KiB above the start",
            a.saturating_sub(b)
        );
    }
}

criterion_group!(benches, access, swap, machine);

fn main() {
    // HW_REPORT_ONLY=1 (or `pair`, `access`, `scale`: that part alone)
    // skips criterion.
    let only = std::env::var("HW_REPORT_ONLY").ok();
    let part =
        |name: &str| matches!(only.as_deref(), None | Some("1")) || only.as_deref() == Some(name);
    if part("pair") {
        ratios::pair();
    }
    if part("access") {
        ratios::access();
    }
    if part("scale") {
        scale::report();
    }
    if only.is_some() {
        return;
    }
    report_machine_memory();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
