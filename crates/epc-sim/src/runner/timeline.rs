//! Applying the scenario's timeline during a run: each event when its time
//! comes, in order, by the runner's main loop. Adding an event kind means
//! one arm in [`apply`] (the kind itself is parsed in
//! `scenario/event.rs`).

use super::slot::{self, RunContext, Slot};
use super::worker::WorkerResult;
use crate::scenario::{Event, EventKind};
use crate::SimError;
use std::sync::Arc;
use std::thread::JoinHandle;

/// A driver thread of one enclave (see `slot.rs`).
pub(crate) type Driver = JoinHandle<Result<Vec<WorkerResult>, SimError>>;

/// What events act on.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) ctx: RunContext,
    pub(crate) slots: Vec<Arc<Slot>>,
    pub(crate) drivers: Vec<Driver>,
}

/// The events of a run and when each was applied.
#[derive(Debug)]
pub(crate) struct Timeline {
    events: Vec<Event>,
    next: usize,
    applied: Vec<Option<f64>>,
}

impl Timeline {
    /// `events` in time order.
    pub(crate) fn new(events: &[Event]) -> Timeline {
        Timeline {
            events: events.to_vec(),
            next: 0,
            applied: vec![None; events.len()],
        }
    }

    /// When the next event is due, in seconds from the start.
    pub(crate) fn next_at(&self) -> Option<f64> {
        self.events.get(self.next).map(|e| e.at)
    }

    /// Applies every event due at `now` (seconds from the start).
    pub(crate) fn apply_due(&mut self, now: f64, world: &mut World) -> Result<(), SimError> {
        while let Some(e) = self.events.get(self.next).filter(|e| e.at <= now) {
            apply(&e.kind, now, world)?;
            self.applied[self.next] = Some(now);
            self.next += 1;
        }
        Ok(())
    }

    /// Whether an enclave is still to start before `deadline` (seconds), so
    /// the run must go on even if no thread runs now.
    pub(crate) fn start_pending(&self, deadline: Option<f64>) -> bool {
        self.events[self.next..].iter().any(|e| {
            matches!(e.kind, EventKind::StartEnclave { .. }) && deadline.map_or(true, |d| e.at < d)
        })
    }

    /// When each event was applied (`None`: the run ended first).
    pub(crate) fn applied(&self) -> &[Option<f64>] {
        &self.applied
    }
}

/// Does what `kind` says, `now` seconds into the run.
fn apply(kind: &EventKind, now: f64, w: &mut World) -> Result<(), SimError> {
    match kind {
        EventKind::StartEnclave { enclave } => {
            let s = w.slots[*enclave].clone();
            s.mark_started(now);
            w.drivers.push(slot::spawn_driver(s, w.ctx.clone(), true)?);
        }
        EventKind::StopEnclave { enclave } => w.slots[*enclave].stop(now),
        EventKind::SetMax { cgroup, max } => w.ctx.groups.set_max(&w.ctx.mm, cgroup, *max)?,
    }
    Ok(())
}
