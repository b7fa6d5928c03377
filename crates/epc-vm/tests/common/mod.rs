//! Builders shared by the vEPC tests: a host, guest and host enclaves
//! filled with a pattern, and a paging workload that checks every read.

#![allow(dead_code, unreachable_pub)]

use epc_enclave::{Enclave, EnclaveConfig, EnclaveError, Platform};
use epc_hw::{LinearAddress, Machine, MachineConfig, Perms, PAGE_SIZE};
use epc_mm::{EpcManager, ManagerConfig, ReclaimPermit};
use epc_vm::{Host, VmConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// A host over `epc_pages` pages, its manager with ksgxd and small
/// watermarks (deterministic: no ksgxd).
pub fn host(epc_pages: u32, deterministic: bool) -> Arc<Host> {
    let machine = Machine::new(MachineConfig::with_pages(epc_pages)).unwrap();
    let mut cfg = ManagerConfig::new(machine.config().sections.clone()).fixed_watermarks();
    cfg.deterministic = deterministic;
    cfg.low_watermark = (epc_pages as usize / 16).max(2);
    cfg.high_watermark = (epc_pages as usize / 8).max(4);
    Host::new(machine, Arc::new(EpcManager::new(cfg).unwrap()))
}

/// A VM config of `epc_pages` pages whose guest manager has small
/// watermarks (its ksgxd runs) or is deterministic.
pub fn vm_config(name: &str, epc_pages: u32, deterministic: bool) -> VmConfig {
    let mut c = VmConfig::new(name, epc_pages);
    c.manager = c.manager.fixed_watermarks();
    c.manager.deterministic = deterministic;
    c.manager.low_watermark = (epc_pages as usize / 16).max(2);
    c.manager.high_watermark = (epc_pages as usize / 8).max(4);
    c
}

/// The word at word `w` of data page `i` of enclave `tag`.
pub fn pattern(tag: u64, i: u64, w: u64) -> u64 {
    (tag << 48) ^ (i << 16) ^ w ^ 0x5a5a_0000_0000_0000
}

/// The content of data page `i` of enclave `tag`.
pub fn page_content(tag: u64, i: u64) -> Box<[u8; 4096]> {
    let mut p = Box::new([0u8; 4096]);
    for w in 0..512u64 {
        p[(w * 8) as usize..(w * 8 + 8) as usize]
            .copy_from_slice(&pattern(tag, i, w).to_le_bytes());
    }
    p
}

/// An initialized enclave on `platform` with `data` RW pages holding the
/// pattern of `tag`, then `threads` TCS with one SSA frame each.
pub fn build_on(
    platform: &Platform,
    mm: &Arc<EpcManager>,
    tag: u64,
    data: u64,
    threads: u64,
) -> Result<Arc<Enclave>, EnclaveError> {
    let mut permit = ReclaimPermit::new();
    let cfg = EnclaveConfig::for_pages(data + 2 * threads);
    let e = Enclave::create_on(platform.clone(), mm.clone(), cfg, &mut permit)?;
    for i in 0..data {
        e.add_page(
            data_addr(&e, i),
            Perms::RW,
            &page_content(tag, i),
            &mut permit,
        )?;
    }
    for t in 0..threads {
        let tcs = data_addr(&e, data + 2 * t);
        e.add_tcs(tcs, tcs.add(PAGE_SIZE), 1, &mut permit)?;
    }
    e.init()?;
    Ok(e)
}

/// A host enclave (see [`build_on`]).
pub fn build_host(host: &Host, tag: u64, data: u64, threads: u64) -> Arc<Enclave> {
    let p = Platform::host(host.machine().clone());
    build_on(&p, host.manager(), tag, data, threads).unwrap()
}

/// The address of data page `i`.
pub fn data_addr(e: &Enclave, i: u64) -> LinearAddress {
    e.config().base.add(i * PAGE_SIZE)
}

/// `ops` random reads and writes of word 1 of the `data` pages of
/// enclave `tag` on a new thread, each read checked; then every page's
/// word 0 (never written) and word 1 checked. Returns the wrong reads.
pub fn churn(e: &Arc<Enclave>, tag: u64, data: u64, ops: u64) -> Result<u64, EnclaveError> {
    let mut th = e.thread()?;
    let mut rng = ChaCha8Rng::seed_from_u64(tag);
    let mut written = vec![None; data as usize];
    let mut wrong = 0;
    for n in 0..ops {
        let i = rng.gen_range(0..data);
        let addr = data_addr(e, i).add(8);
        let want = written[i as usize].unwrap_or(pattern(tag, i, 1));
        if th.read_u64(addr)? != want {
            wrong += 1;
        }
        if rng.gen_bool(0.5) {
            let v = (tag << 56) | (i << 32) | n;
            th.write_u64(addr, v)?;
            written[i as usize] = Some(v);
        }
    }
    for i in 0..data {
        if th.read_u64(data_addr(e, i))? != pattern(tag, i, 0) {
            wrong += 1;
        }
        let want = written[i as usize].unwrap_or(pattern(tag, i, 1));
        if th.read_u64(data_addr(e, i).add(8))? != want {
            wrong += 1;
        }
    }
    Ok(wrong)
}

/// The VM's EPT: the host page behind each guest page.
pub fn ept(vm: &epc_vm::Vm) -> Vec<Option<epc_hw::EpcPageId>> {
    (0..vm.epc_pages())
        .map(|i| vm.host_page(epc_hw::EpcPageId(i)))
        .collect()
}
