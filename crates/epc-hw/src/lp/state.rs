//! The state word other threads see of a logical processor, and the
//! registry of the machine's logical processors.
//!
//! `OUTSIDE` → (EENTER/ERESUME) → `INSIDE` → `EXITING` (someone performs
//! the exit) → `OUTSIDE`, with [`EXIT_REQUESTED`] ORed in by IPI senders;
//! beside it, the `busy` flag that only the owning thread writes, raised
//! for one access. See the handshake in the [module documentation](super).

use crate::ids::{EpcPageId, LpId};
use crate::secs::SecsControl;
use parking_lot::{Mutex, RwLock};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

pub(super) const OUTSIDE: u8 = 0;
pub(super) const INSIDE: u8 = 1;
pub(super) const EXITING: u8 = 3;
/// ORed into the state word by an IPI sender: the exit request. Kept in
/// the same word so that an access reads request and state with one load
/// (the word is exactly `INSIDE` or the access does not start); cleared
/// by the stores of `INSIDE` (EENTER, ERESUME) and `OUTSIDE` (the end of
/// an exit) and by the move to `EXITING`.
pub(super) const EXIT_REQUESTED: u8 = 0x10;

/// What an AEX (by the LP itself or by an IPI sender) needs to know.
#[derive(Clone, Debug)]
pub(super) struct InsideCtx {
    pub(super) control: Arc<SecsControl>,
    pub(super) tcs_page: EpcPageId,
}

/// The part of a logical processor that other threads see.
#[derive(Debug)]
pub(crate) struct LpShared {
    pub(super) id: LpId,
    /// The state, and [`EXIT_REQUESTED`].
    pub(super) state: AtomicU8,
    /// Raised by the owning thread for the length of one access or ENCLU
    /// leaf; written by no one else.
    pub(super) busy: AtomicBool,
    pub(super) exits: AtomicU64,
    pub(super) ctx: Mutex<Option<InsideCtx>>,
}

impl LpShared {
    /// The state, without the exit request.
    pub(crate) fn state_now(&self) -> u8 {
        self.state.load(Ordering::SeqCst) & !EXIT_REQUESTED
    }

    /// Moves the state from `INSIDE` (requested or not) to `EXITING` for
    /// the owning thread, which makes no access meanwhile; whether it won
    /// (else an IPI sender claimed the exit first).
    pub(super) fn claim_exit_as_owner(&self) -> bool {
        let mut cur = self.state.load(Ordering::SeqCst);
        while cur & !EXIT_REQUESTED == INSIDE {
            match self
                .state
                .compare_exchange(cur, EXITING, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return true,
                // Only a request can have been added, or the exit claimed.
                Err(now) => cur = now,
            }
        }
        false
    }

    /// The EPC page of the TCS the LP runs on, while it is inside.
    pub(crate) fn tcs_page(&self) -> Option<EpcPageId> {
        self.ctx.lock().as_ref().map(|c| c.tcs_page)
    }
}

/// The machine's logical processors, by id.
#[derive(Debug)]
pub(crate) struct LpRegistry {
    slots: RwLock<Vec<Option<Arc<LpShared>>>>,
}

impl LpRegistry {
    pub(crate) fn new(max: u32) -> LpRegistry {
        LpRegistry {
            slots: RwLock::new(vec![None; max as usize]),
        }
    }

    pub(super) fn register(&self) -> Option<Arc<LpShared>> {
        let mut slots = self.slots.write();
        let i = slots.iter().position(Option::is_none)?;
        let shared = Arc::new(LpShared {
            id: LpId(i as u32),
            state: AtomicU8::new(OUTSIDE),
            busy: AtomicBool::new(false),
            exits: AtomicU64::new(0),
            ctx: Mutex::new(None),
        });
        slots[i] = Some(shared.clone());
        Some(shared)
    }

    pub(super) fn unregister(&self, id: LpId) {
        self.slots.write()[id.0 as usize] = None;
    }

    pub(crate) fn get(&self, id: LpId) -> Option<Arc<LpShared>> {
        self.slots.read().get(id.0 as usize).cloned().flatten()
    }

    /// Every registered LP: `(id, state)`.
    pub(crate) fn states(&self) -> Vec<(LpId, u8)> {
        self.slots
            .read()
            .iter()
            .flatten()
            .map(|s| (s.id, s.state_now()))
            .collect()
    }
}

pub(crate) fn state_is_inside(state: u8) -> bool {
    state == INSIDE
}

pub(super) fn backoff(spins: &mut u32) {
    *spins += 1;
    if *spins < 64 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}
