//! Giving a vEPC's pages back (Linux's `sgx_vepc_release` and
//! `SGX_IOC_VEPC_REMOVE_ALL`): EREMOVE every page the guest had, whatever
//! the guest left in them (it cannot be trusted), in two passes.
//!
//! The first pass removes every page it can; a SECS whose children were
//! still there fails with `SGX_CHILD_PRESENT` and is tried again in a
//! second pass, once the first has removed its children. A page still
//! refused (a logical processor left inside its enclave: `SGX_ENCLAVE_ACT`,
//! or the SECS of such an enclave) goes on the host's zombie list, retried
//! at every later release. Every page removed goes back to the host
//! manager's free lists, uncharged.
//!
//! The caller has ended the guest's boot first (its gate is closed), so no
//! guest leaf runs while the pages are removed and none can reach them
//! after: a page given back here may be reused by anyone at once.

use crate::region::Region;
use epc_hw::{LeafError, SgxError};
use epc_mm::EpcPage;
use std::sync::atomic::Ordering;

/// What a release or reboot did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RemoveReport {
    /// Pages EREMOVEd and given back to the host.
    pub removed: usize,
    /// Of which in the second pass.
    pub second_pass: usize,
    /// `SGX_CHILD_PRESENT` refusals in the first pass.
    pub child_present: usize,
    /// Pages refused with `SGX_ENCLAVE_ACT` (a logical processor inside).
    pub enclave_act: usize,
    /// Pages put on the host's zombie list (SECS that kept children, and
    /// the pages refused with `SGX_ENCLAVE_ACT`).
    pub zombies: usize,
    /// Zombies of earlier releases removed and freed by this one.
    pub zombies_freed: usize,
}

impl Region {
    /// EREMOVEs every host page of the region in two passes, frees those
    /// that go, puts the rest on the zombie list, and retries the zombie
    /// list. The guest's boot must have ended (its gate closed).
    pub(crate) fn remove_all(&self) -> RemoveReport {
        let host = &self.host;
        let mut report = RemoveReport::default();
        let mut second: Vec<EpcPage> = Vec::new();
        let mut left: Vec<EpcPage> = Vec::new();
        for (_, page) in self.take_all() {
            match host.remove(page.id()) {
                Ok(()) => {
                    host.give_back(page);
                    report.removed += 1;
                }
                Err(LeafError::Sgx(SgxError::ChildPresent)) => {
                    report.child_present += 1;
                    second.push(page);
                }
                Err(LeafError::Sgx(SgxError::EnclaveAct)) => {
                    report.enclave_act += 1;
                    left.push(page);
                }
                Err(_) => left.push(page),
            }
        }
        for page in second {
            match host.remove(page.id()) {
                Ok(()) => {
                    host.give_back(page);
                    report.removed += 1;
                    report.second_pass += 1;
                }
                Err(_) => left.push(page),
            }
        }
        report.zombies = left.len();
        let c = &host.cells;
        c.releases.fetch_add(1, Ordering::Relaxed);
        let first = (report.removed - report.second_pass) as u64;
        c.eremove_first_pass.fetch_add(first, Ordering::Relaxed);
        c.eremove_second_pass
            .fetch_add(report.second_pass as u64, Ordering::Relaxed);
        c.child_present
            .fetch_add(report.child_present as u64, Ordering::Relaxed);
        c.enclave_act
            .fetch_add(report.enclave_act as u64, Ordering::Relaxed);
        // Older zombies first: this release's own just failed twice.
        report.zombies_freed = host.retry_zombies();
        host.add_zombies(&self.name, left);
        report
    }
}
