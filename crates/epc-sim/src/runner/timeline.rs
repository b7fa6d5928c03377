//! Applying the scenario's timeline during a run: each event when its time
//! comes, in order, by the runner's main loop. Adding an event kind means
//! one arm in [`apply`] (the kind itself is parsed in
//! `scenario/event.rs`).

use super::slot::{self, RunContext, Slot};
use super::vm::VmSlot;
use super::worker::WorkerResult;
use crate::scenario::{Event, EventKind};
use crate::SimError;
use epc_hw::NodeId;
use epc_vm::Host;
use std::sync::Arc;
use std::thread::JoinHandle;

/// A driver thread of one enclave (see `slot.rs`).
pub(crate) type Driver = JoinHandle<Result<Vec<WorkerResult>, SimError>>;

/// What events act on.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) ctx: RunContext,
    /// Every enclave slot: the host's, then each VM's.
    pub(crate) slots: Vec<Arc<Slot>>,
    /// The drivers running, each with its slot's number.
    pub(crate) drivers: Vec<(usize, Driver)>,
    /// Results of drivers joined during the run (a VM's, before it
    /// stopped or rebooted).
    pub(crate) results: Vec<WorkerResult>,
    /// The host side of the VMs, if the scenario has any.
    pub(crate) host: Option<Arc<Host>>,
    /// The VMs.
    pub(crate) vms: Vec<Arc<VmSlot>>,
}

impl World {
    /// Starts VM `i` `now` seconds into the run, then its enclaves (each
    /// built by its driver).
    pub(crate) fn start_vm(&mut self, i: usize, now: f64) -> Result<String, SimError> {
        let Some(host) = self.host.clone() else {
            return Err(SimError::system("a VM without a host"));
        };
        let vm = self.vms[i].clone();
        let outcome = vm.start(&host, now)?;
        for g in vm.started_guests(now) {
            self.drivers
                .push((g.index, slot::spawn_driver(g, self.ctx.clone(), true)?));
        }
        Ok(outcome)
    }
}

/// The events of a run and when each was applied.
#[derive(Debug)]
pub(crate) struct Timeline {
    events: Vec<Event>,
    next: usize,
    applied: Vec<Option<f64>>,
    /// What each applied event came to, where there is more to say than
    /// its kind (the page a `poison` hit, the enclaves a `suspend` lost).
    outcomes: Vec<Option<String>>,
}

impl Timeline {
    /// `events` in time order.
    pub(crate) fn new(events: &[Event]) -> Timeline {
        Timeline {
            events: events.to_vec(),
            next: 0,
            applied: vec![None; events.len()],
            outcomes: vec![None; events.len()],
        }
    }

    /// When the next event is due, in seconds from the start.
    pub(crate) fn next_at(&self) -> Option<f64> {
        self.events.get(self.next).map(|e| e.at)
    }

    /// Applies every event due at `now` (seconds from the start).
    pub(crate) fn apply_due(&mut self, now: f64, world: &mut World) -> Result<(), SimError> {
        while let Some(e) = self.events.get(self.next).filter(|e| e.at <= now) {
            self.outcomes[self.next] = apply(&e.kind, now, self.next, world)?;
            self.applied[self.next] = Some(now);
            self.next += 1;
        }
        Ok(())
    }

    /// Whether an enclave or a VM is still to start before `deadline`
    /// (seconds), so the run must go on even if no thread runs now.
    pub(crate) fn start_pending(&self, deadline: Option<f64>) -> bool {
        self.events[self.next..].iter().any(|e| {
            matches!(
                e.kind,
                EventKind::StartEnclave { .. } | EventKind::StartVm { .. }
            ) && deadline.is_none_or(|d| e.at < d)
        })
    }

    /// When each event was applied (`None`: the run ended first).
    pub(crate) fn applied(&self) -> &[Option<f64>] {
        &self.applied
    }

    /// What each event came to (`None`: nothing to add, or not applied).
    pub(crate) fn outcomes(&self) -> &[Option<String>] {
        &self.outcomes
    }
}

/// Does what `kind` (event number `index`) says, `now` seconds into the
/// run; returns what it came to, if there is more to say.
fn apply(
    kind: &EventKind,
    now: f64,
    index: usize,
    w: &mut World,
) -> Result<Option<String>, SimError> {
    match kind {
        EventKind::StartEnclave { enclave } => {
            let s = w.slots[*enclave].clone();
            s.mark_started(now);
            w.drivers
                .push((s.index, slot::spawn_driver(s, w.ctx.clone(), true)?));
        }
        EventKind::StopEnclave { enclave } => w.slots[*enclave].stop(now),
        EventKind::SetMax { cgroup, max } => w.ctx.groups.set_max(&w.ctx.mm, cgroup, *max)?,
        EventKind::Poison { enclave: Some(i) } => return Ok(Some(poison_resident(w, *i, index))),
        EventKind::Poison { enclave: None } => return Ok(Some(poison_free(w))),
        EventKind::Suspend => return suspend(w).map(Some),
        EventKind::PoisonVm { vm } => {
            let Some(host) = w.host.clone() else {
                return Err(SimError::system("a VM without a host"));
            };
            let v = w.vms[*vm].clone();
            let outcome = v.poison(&host, index);
            v.watch(w)?;
            return Ok(Some(outcome));
        }
        EventKind::StartVm { vm } => return w.start_vm(*vm, now).map(Some),
        EventKind::StopVm { vm } => return w.vms[*vm].clone().stop(w, now).map(Some),
        EventKind::RebootVm { vm } => return w.vms[*vm].clone().reboot(w).map(Some),
    }
    Ok(None)
}

/// A memory failure in a resident page of enclave `i`, picked by the
/// event's number (so a run picks the same page of the same layout).
fn poison_resident(w: &World, i: usize, index: usize) -> String {
    let Some(e) = w.slots[i].enclave().filter(|e| e.killed().is_none()) else {
        return "nothing poisoned: the enclave is not running".into();
    };
    let pick = index
        .wrapping_mul(7919)
        .wrapping_add(e.usage().resident / 2);
    match e.poison_resident_page(pick) {
        Some((addr, page, how)) => format!("EPC page {} (page {addr}): {how:?}", page.0),
        None => "nothing poisoned: no page of the enclave is resident".into(),
    }
}

/// A memory failure in a free page: the manager picks and retires it under
/// its node's lock (nothing can allocate it in between), then the page is
/// poisoned in the machine too.
fn poison_free(w: &World) -> String {
    match w.ctx.mm.poison_free_page(NodeId(0)) {
        Some(page) => {
            w.ctx.machine.poison_page(page);
            format!("EPC page {}: retired", page.0)
        }
        None => "nothing poisoned: no page is free".into(),
    }
}

/// The EPC is lost: the machine's power cycle, then every enclave of the
/// run told (killed with "EPC lost", its pages and backing store
/// released); those with `restart = true` get a new driver that builds
/// them again and runs their workload from the start.
fn suspend(w: &mut World) -> Result<String, SimError> {
    w.ctx
        .machine
        .power_cycle()
        .map_err(|e| SimError::system(format!("power cycle: {e}")))?;
    let mut lost = Vec::new();
    let mut running = 0;
    let mut again = Vec::new();
    for s in &w.slots {
        let (e, was_running, restart) = s.on_epc_loss();
        lost.extend(e);
        running += usize::from(was_running);
        if restart {
            again.push(s.clone());
        }
    }
    epc_enclave::epc_lost(&lost);
    for s in &again {
        w.drivers
            .push((s.index, slot::spawn_driver(s.clone(), w.ctx.clone(), true)?));
    }
    // Every running VM lost its vEPC's contents with the host's EPC: it
    // fails, as the hypervisor cannot give the guest its EPC back.
    let failed = w.vms.iter().filter(|v| v.running()).count();
    for v in w.vms.clone() {
        v.watch(w)?;
    }
    Ok(format!(
        "{running} running enclave(s) lost, {} rebuilt{}",
        again.len(),
        if failed > 0 {
            format!("; {failed} running VM(s) failed")
        } else {
            String::new()
        }
    ))
}
