//! The model at the scale of a large server: a 128 GiB EPC, its creation
//! time and resident memory, and the memory each page in use costs beside
//! its own 4 KiB.

use epc_hw::{EpcPageId, LinearAddress, Machine, MachineConfig, Perms, SecInfo, PAGE_SIZE};
use std::time::Instant;

/// 128 GiB of 4 KiB pages.
const PAGES_128_GIB: u32 = 1 << 25;

/// Pages put in use per measurement.
const IN_USE: u32 = 16_384;

fn rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Adds `IN_USE` regular pages to one enclave, page `stride * k + 1` for
/// the k-th; returns the resident memory they added, in bytes per page
/// beyond the page's 4 KiB.
fn per_page_overhead(stride: u32) -> Option<f64> {
    let m = Machine::new(MachineConfig::with_pages(PAGES_128_GIB)).ok()?;
    let secs = EpcPageId(0);
    let base = LinearAddress(1 << 40);
    m.ecreate(secs, base, u64::from(IN_USE) * PAGE_SIZE).ok()?;
    let content = [3u8; 4096];
    let before = rss_kib()?;
    for k in 0..IN_USE {
        let page = EpcPageId(k * stride + 1);
        let addr = base.add(u64::from(k) * PAGE_SIZE);
        m.eadd(page, secs, addr, SecInfo::reg(Perms::RW), &content)
            .ok()?;
    }
    let grew = (rss_kib()? - before) as f64 * 1024.0;
    Some(grew / f64::from(IN_USE) - PAGE_SIZE as f64)
}

/// Prints the scale figures.
pub(super) fn report() {
    let before = rss_kib();
    let start = Instant::now();
    let m = Machine::new(MachineConfig::with_pages(PAGES_128_GIB)).unwrap();
    let took = start.elapsed();
    if let (Some(b), Some(a)) = (before, rss_kib()) {
        eprintln!(
            "scale: 128 GiB EPC ({} pages) created in {:?}, resident memory grew by {} KiB",
            m.layout().total_pages(),
            took,
            a.saturating_sub(b)
        );
    }
    drop(m);
    if let Some(dense) = per_page_overhead(1) {
        eprintln!(
            "scale: {IN_USE} pages in use, dense: {dense:.0} bytes per page beside its 4 KiB"
        );
    }
    if let Some(sparse) = per_page_overhead(512) {
        eprintln!(
            "scale: {IN_USE} pages in use, one per 512: {sparse:.0} bytes per page beside its 4 KiB"
        );
    }
}
