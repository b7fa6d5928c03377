//! The time series of a run: one [`Sample`] per interval, from the
//! manager's counters, its groups, the enclaves built so far (an
//! enclave not yet started, or failed, has no resident page), and the
//! host pages each VM holds.

use super::groups::Groups;
use super::slot::Slot;
use super::vm::VmSlot;
use crate::metrics;
use crate::report::Sample;
use epc_enclave::EnclaveCounters;
use epc_mm::EpcManager;
use std::sync::Arc;
use std::time::Instant;

/// Takes samples; rates are over the interval since the previous one.
#[derive(Debug)]
pub(crate) struct Sampler {
    start: Instant,
    evicted0: u64,
    /// Faults, evictions and reloads so far, and the time of the last
    /// sample.
    last: (u64, u64, u64, f64),
    pub(crate) samples: Vec<Sample>,
}

impl Sampler {
    /// A sampler whose time 0 is `start`; `evicted0` is the manager's
    /// eviction count then.
    pub(crate) fn new(start: Instant, evicted0: u64) -> Sampler {
        Sampler {
            start,
            evicted0,
            last: (0, 0, 0, 0.0),
            samples: Vec::new(),
        }
    }

    /// Takes a sample now; returns the faults so far and the free pages.
    pub(crate) fn take(
        &mut self,
        mm: &EpcManager,
        slots: &[Arc<Slot>],
        groups: &Groups,
        vms: &[Arc<VmSlot>],
    ) -> (u64, u64) {
        let t = self.start.elapsed().as_secs_f64();
        let c = mm.counters();
        let enc = sum_counters(slots);
        let resident: Vec<u64> = slots
            .iter()
            .map(|s| s.enclave().map_or(0, |e| e.usage().resident as u64))
            .collect();
        let evicted = c.evicted - self.evicted0;
        let dt = (t - self.last.3).max(1e-9);
        let (faults, evictions, eldu) = (
            enc.faults.saturating_sub(self.last.0),
            evicted.saturating_sub(self.last.1),
            enc.eldu.saturating_sub(self.last.2),
        );
        self.samples.push(Sample {
            t,
            free_pages: c.free_pages,
            reclaimable_pages: c.reclaimable_pages,
            faults,
            evictions,
            eldu,
            fault_rate: faults as f64 / dt,
            eviction_rate: evictions as f64 / dt,
            resident,
            cgroups: groups.sample(mm),
            vm_host_pages: vms.iter().map(|v| v.host_pages()).collect(),
        });
        self.last = (enc.faults, evicted, enc.eldu, t);
        (enc.faults, c.free_pages)
    }
}

/// The counters of every enclave built so far, summed.
pub(crate) fn sum_counters(slots: &[Arc<Slot>]) -> EnclaveCounters {
    slots
        .iter()
        .filter_map(|s| s.enclave())
        .fold(EnclaveCounters::default(), |a, e| {
            metrics::add_enclave(&a, &e.counters())
        })
}
