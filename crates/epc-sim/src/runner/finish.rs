//! The end of a run: every live enclave's pages read back, and what each
//! enclave and each timeline event came to.

use super::slot::Slot;
use super::system::lacks_memory;
use super::worker::{self, WorkerResult};
use crate::metrics;
use crate::report::{EnclaveReport, EventReport, Integrity, Sample};
use crate::scenario::Scenario;
use epc_enclave::{EnclaveCounters, EnclaveError, KillReason};
use epc_mm::EpcManager;
use std::sync::Arc;

/// Checks every page of each enclave of `slots` still alive, adds what it
/// found to `integrity` (whose `ok` [`conclude`] sets at the end), and
/// reports on each.
pub(crate) fn check_and_report(
    slots: &[Arc<Slot>],
    results: &[WorkerResult],
    samples: &[Sample],
    integrity: &mut Integrity,
) -> Vec<EnclaveReport> {
    let mut reports = Vec::new();
    for slot in slots {
        let i = slot.index;
        let mine: Vec<&WorkerResult> = results.iter().filter(|r| r.enclave == i).collect();
        let corrupt_reads: u64 = mine.iter().map(|r| r.corrupt_reads).sum();
        integrity.corrupt_reads += corrupt_reads;
        let stopped = slot.was_stopped();
        let restarts = slot.restarts();
        let mut failed = slot.build_failure();
        let mut error = None;
        for e in mine.iter().filter_map(|r| r.error.as_ref()) {
            match e {
                e if lacks_memory(e) => {
                    failed.get_or_insert_with(|| e.to_string());
                }
                // Its destruction by `stop_enclave` is how its threads end.
                EnclaveError::Killed(KillReason::Destroyed) if stopped => {}
                // The loss of the EPC is how they end at a `suspend`: the
                // enclave is reported lost, or it was rebuilt.
                EnclaveError::Killed(KillReason::EpcLost) => {}
                e => {
                    error.get_or_insert_with(|| e.to_string());
                }
            }
        }
        let enclave = slot.enclave();
        let enclave = enclave.as_ref();
        // Only the threads of the latest build wrote to its pages.
        let current: Vec<&WorkerResult> = mine
            .iter()
            .copied()
            .filter(|r| r.generation == restarts)
            .collect();
        let counters = enclave.map_or_else(EnclaveCounters::default, |e| e.counters());
        // A `stop_enclave` destroys it; a `stop_vm` loses a guest's EPC.
        let kill = enclave
            .and_then(|e| e.killed())
            .filter(|k| !(stopped && matches!(k, KillReason::Destroyed | KillReason::EpcLost)));
        if let Some(e) = enclave.filter(|e| e.killed().is_none()) {
            match worker::verify(i, e, slot.spec.pages, &current) {
                Ok((checked, corrupt)) => {
                    integrity.pages_checked += checked;
                    integrity.corrupt += corrupt;
                }
                Err(err) if lacks_memory(&err) => {
                    failed.get_or_insert_with(|| format!("verification: {err}"));
                }
                Err(err) => {
                    error.get_or_insert_with(|| format!("verification: {err}"));
                }
            }
        }
        let usage = enclave.map(|e| e.usage());
        reports.push(EnclaveReport {
            name: slot.spec.name.clone(),
            pages: slot.spec.pages,
            threads: slot.spec.threads,
            accesses: mine.iter().map(|r| r.accesses).sum(),
            started_at: slot.started_at(),
            stopped_at: slot.stopped_at(),
            failed,
            killed: kill.is_some(),
            kill_kind: kill.as_ref().map(|k| k.kind().to_owned()),
            kill_reason: kill.map(|k| k.to_string()),
            restarts,
            error,
            resident_pages_at_end: samples
                .last()
                .and_then(|x| x.resident.get(i).copied())
                .unwrap_or_else(|| usage.map_or(0, |u| u.resident as u64)),
            backing_bytes: usage.map_or(0, |u| u.backing_bytes),
            counters: metrics::enclave_map(&counters),
        });
    }
    let killed = |kind: &str| {
        reports
            .iter()
            .filter(|r| r.kill_kind.as_deref() == Some(kind))
            .count() as u64
    };
    integrity.enclaves_killed += reports.iter().filter(|r| r.killed).count() as u64;
    integrity.killed_by_memory_failure += killed("memory_failure");
    integrity.lost_with_the_epc += killed("epc_lost");
    reports
}

/// Sets `ok`: no page read back wrong, nothing leaked, every manager
/// consistent.
pub(crate) fn conclude(integrity: &mut Integrity) {
    integrity.ok = integrity.corrupt == 0
        && integrity.corrupt_reads == 0
        && integrity.pages_leaked == 0
        && integrity.manager_error.is_none();
}

/// After every enclave is destroyed and the manager shut down: every page
/// must be free again (so every group's usage is 0) or on a poison list
/// (retired after a memory failure), and the manager's own
/// check (`validate()`, which recomputes each group's usage from page
/// ownership) must hold. Records both in `integrity`.
pub(crate) fn check_teardown(mm: &EpcManager, integrity: &mut Integrity) {
    integrity.pages_leaked += leaked(mm);
    if let Some(e) = mm.validate().err() {
        integrity.manager_error.get_or_insert(e.to_string());
    }
}

/// The same check for the manager of VM `vm`'s guest after its enclaves
/// were destroyed and the VM stopped: its pages count in `pages_leaked`,
/// and a `validate()` failure is reported with the VM's name.
pub(crate) fn check_guest_teardown(vm: &str, mm: &EpcManager, integrity: &mut Integrity) {
    integrity.pages_leaked += leaked(mm);
    if let Some(e) = mm.validate().err() {
        integrity
            .manager_error
            .get_or_insert(format!("VM {vm:?}'s guest manager: {e}"));
    }
}

/// Pages of `mm` still allocated, besides those retired after a memory
/// failure.
fn leaked(mm: &EpcManager) -> u64 {
    let retired: u64 = mm.counters().nodes.iter().map(|n| n.retired_pages).sum();
    ((mm.total_pages() - mm.free_pages()) as u64).saturating_sub(retired)
}

/// The timeline as it happened: each event of `s` and when it was applied.
pub(crate) fn event_reports(
    s: &Scenario,
    applied: &[Option<f64>],
    outcomes: &[Option<String>],
) -> Vec<EventReport> {
    s.events
        .iter()
        .zip(applied)
        .zip(outcomes)
        .map(|((e, &applied_at), outcome)| EventReport {
            at: e.at,
            kind: e.kind.name().to_owned(),
            enclave: e.kind.enclave().map(|i| s.enclaves[i].name.clone()),
            vm: e.kind.vm().map(|i| s.vms[i].name.clone()),
            cgroup: e.kind.cgroup().map(str::to_owned),
            detail: e.kind.describe(s),
            applied_at,
            outcome: outcome.clone(),
        })
        .collect()
}
