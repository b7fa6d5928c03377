//! Building the system of a scenario: the machine, the manager (with
//! ksgxd unless deterministic) and the enclaves, each page filled with a
//! tag the integrity check looks for later.

use crate::scenario::{EnclaveSpec, ManagerSpec, Scenario};
use crate::SimError;
use epc_enclave::{Enclave, EnclaveConfig, EnclaveError, Platform};
use epc_hw::{LinearAddress, Machine, MachineConfig, NodeId, Perms, PAGE_SIZE};
use epc_mm::{AllocError, EpcManager, GroupId, ManagerConfig, ReclaimPermit};
use std::sync::Arc;

/// The word every data page holds at offset 0: a function of the enclave
/// and the page, so a page swapped with another one is caught.
pub(crate) fn tag(enclave: usize, page: u64) -> u64 {
    0x5eed_0000_0000_0000 ^ ((enclave as u64) << 40) ^ page.wrapping_mul(0x9e37_79b9)
}

/// The address of data page `i` of `e`.
pub(crate) fn data_addr(e: &Enclave, i: u64) -> LinearAddress {
    e.config().base.add(i * PAGE_SIZE)
}

/// The machine and manager of `s`, checked against its minimum size.
pub(crate) fn machine_and_manager(
    s: &Scenario,
) -> Result<(Arc<Machine>, Arc<EpcManager>), SimError> {
    let min = s.min_epc_pages();
    if s.epc_pages() < min {
        return Err(SimError::input(format!(
            "EPC too small for the scenario: {} pages, at least {min} are needed \
             (SECS, VA, TCS and SSA pages of every enclave, a page per thread, a batch and ksgxd's band)",
            s.epc_pages()
        )));
    }
    // A logical processor per thread, host or guest, and one per enclave
    // for the final check.
    let threads: u32 = s.all_enclaves().map(|e| e.threads).sum();
    let enclaves = s.all_enclaves().count() as u32;
    let mc = MachineConfig {
        sections: s.sections.clone(),
        tlb_entries: s.tlb_entries,
        max_lps: (threads + enclaves + 4).max(epc_hw::config::DEFAULT_MAX_LPS),
        costs: s.costs,
    };
    mc.validate()
        .map_err(|e| SimError::input(format!("epc.{e}")))?;
    let machine = Machine::new(mc).map_err(|e| SimError::input(format!("epc: {e}")))?;
    let cfg = manager_config(&s.manager, s.sections.clone())
        .map_err(|e| SimError::input(format!("manager.{e}")))?;
    let mm = EpcManager::new(cfg).map_err(|e| SimError::input(format!("manager.{e}")))?;
    Ok((machine, Arc::new(mm)))
}

/// The configuration of a manager set as `m` over `sections` (the host's,
/// or a guest's, whose one section the VM layer puts in place), checked.
pub(crate) fn manager_config(
    m: &ManagerSpec,
    sections: Vec<epc_hw::SectionConfig>,
) -> Result<ManagerConfig, epc_mm::ConfigError> {
    let mut cfg = ManagerConfig::new(sections);
    cfg.low_watermark = m.low_watermark;
    cfg.high_watermark = m.high_watermark;
    cfg.watermarks = m.watermarks;
    cfg.batch = m.batch;
    cfg.policy = m.policy;
    cfg.deterministic = m.deterministic;
    if m.deterministic {
        // Unused in deterministic mode; keep them valid for any size.
        cfg.low_watermark = 0;
        cfg.high_watermark = 1;
    }
    cfg.validate()?;
    Ok(cfg)
}

/// Whether `e` says the enclave could not have the memory it needs: nothing
/// free or reclaimable in the EPC, its group's subtree at its limit with
/// nothing reclaimable, or reclaim that kept making no progress.
pub(crate) fn lacks_memory(e: &EnclaveError) -> bool {
    matches!(
        e,
        EnclaveError::Alloc(AllocError::NoMemory | AllocError::Busy)
            | EnclaveError::GroupLimit { .. }
    )
}

/// Why an enclave could not be built.
#[derive(Debug)]
pub(crate) enum BuildError {
    /// No EPC page could be had: the enclave fails, the run goes on.
    NoMemory(String),
    /// The caller asked to stop (Ctrl-C, or the enclave was stopped).
    GaveUp,
    /// A leaf failed where it should not: a bug, the run stops.
    System(SimError),
}

/// Builds and initializes enclave number `index` of the run on `platform`
/// (the host's, or a VM's with its guest manager as `mm`), its pages
/// charged to `group`; `stop` is asked now and then whether to give up.
pub(crate) fn build_enclave(
    platform: &Platform,
    mm: &Arc<EpcManager>,
    index: usize,
    spec: &EnclaveSpec,
    group: GroupId,
    stop: &dyn Fn() -> bool,
) -> Result<Arc<Enclave>, BuildError> {
    let mut permit = ReclaimPermit::new();
    let threads = u64::from(spec.threads);
    let mut cfg = EnclaveConfig::for_pages(spec.pages + 2 * threads);
    cfg.node = NodeId(spec.node);
    cfg.group = group;
    // A dynamic enclave gets the rest of its pages by EAUG on first touch.
    cfg.dynamic = spec.initial_pages.is_some();
    let fail = |what: &str, e: EnclaveError| match e {
        e if lacks_memory(&e) => BuildError::NoMemory(format!("building: {what}: {e}")),
        e => BuildError::System(SimError::system(format!(
            "building enclave {:?}: {what}: {e}",
            spec.name
        ))),
    };
    let e = Enclave::create_on(platform.clone(), mm.clone(), cfg, &mut permit)
        .map_err(|e| fail("ECREATE", e))?;
    let mut page = Box::new([0u8; 4096]);
    for i in 0..spec.initial_pages.unwrap_or(spec.pages) {
        if i % 1024 == 0 && stop() {
            return Err(BuildError::GaveUp);
        }
        page[..8].copy_from_slice(&tag(index, i).to_le_bytes());
        e.add_page(data_addr(&e, i), Perms::RW, &page, &mut permit)
            .map_err(|e| fail("EADD", e))?;
    }
    for t in 0..threads {
        let tcs = data_addr(&e, spec.pages + 2 * t);
        e.add_tcs(tcs, tcs.add(PAGE_SIZE), 1, &mut permit)
            .map_err(|e| fail("TCS", e))?;
    }
    e.init().map_err(|e| fail("EINIT", e))?;
    Ok(e)
}
