//! Builders shared by the enclave integration tests.

#![allow(dead_code, unreachable_pub)]

use epc_enclave::{Enclave, EnclaveConfig};
use epc_hw::{LinearAddress, Machine, MachineConfig, Perms, PAGE_SIZE};
use epc_mm::{EpcManager, ManagerConfig, ReclaimPermit};
use std::sync::Arc;

/// A machine and a manager over `epc_pages` pages.
pub fn system(epc_pages: u32, deterministic: bool) -> (Arc<Machine>, Arc<EpcManager>) {
    let machine = Machine::new(MachineConfig::with_pages(epc_pages)).unwrap();
    let mut cfg = ManagerConfig::new(machine.config().sections.clone());
    cfg.deterministic = deterministic;
    if !deterministic {
        cfg.low_watermark = (epc_pages as usize / 16).max(2);
        cfg.high_watermark = (epc_pages as usize / 8).max(4);
    }
    let mm = Arc::new(EpcManager::new(cfg).unwrap());
    (machine, mm)
}

/// The word written at word `w` of data page `i` of enclave `tag`.
pub fn pattern(tag: u64, i: u64, w: u64) -> u64 {
    (tag << 48) ^ (i << 16) ^ w ^ 0x5a5a_0000_0000_0000
}

/// The content of data page `i`.
pub fn page_content(tag: u64, i: u64) -> Box<[u8; 4096]> {
    let mut p = Box::new([0u8; 4096]);
    for w in 0..512u64 {
        p[(w * 8) as usize..(w * 8 + 8) as usize]
            .copy_from_slice(&pattern(tag, i, w).to_le_bytes());
    }
    p
}

/// An initialized enclave with `data` RW pages filled with the pattern of
/// `tag`, and `threads` TCS (one SSA frame each) after them.
pub fn build(
    machine: &Arc<Machine>,
    mm: &Arc<EpcManager>,
    tag: u64,
    data: u64,
    threads: u64,
) -> Arc<Enclave> {
    let mut permit = ReclaimPermit::new();
    let cfg = EnclaveConfig::for_pages(data + 2 * threads);
    let e = Enclave::create(machine.clone(), mm.clone(), cfg, &mut permit).unwrap();
    for i in 0..data {
        e.add_page(
            data_addr(&e, i),
            Perms::RW,
            &page_content(tag, i),
            &mut permit,
        )
        .unwrap();
    }
    for t in 0..threads {
        let tcs = data_addr(&e, data + 2 * t);
        e.add_tcs(tcs, tcs.add(PAGE_SIZE), 1, &mut permit).unwrap();
    }
    e.init().unwrap();
    e
}

/// The address of data page `i`.
pub fn data_addr(e: &Enclave, i: u64) -> LinearAddress {
    e.config().base.add(i * PAGE_SIZE)
}
