//! The state word other threads see of a logical processor, and the
//! registry of the machine's logical processors.
//!
//! `OUTSIDE` → (EENTER/ERESUME) → `INSIDE` → `EXITING` (someone performs
//! the exit) → `OUTSIDE`; beside it, the `busy` flag that only the owning
//! thread writes, raised for one access. See the handshake in the
//! [module documentation](super).

use crate::ids::{EpcPageId, LpId};
use crate::secs::SecsControl;
use parking_lot::{Mutex, RwLock};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

pub(super) const OUTSIDE: u8 = 0;
pub(super) const INSIDE: u8 = 1;
pub(super) const EXITING: u8 = 3;

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
    pub(super) state: AtomicU8,
    /// Raised by the owning thread for the length of one access or ENCLU
    /// leaf; written by no one else.
    pub(super) busy: AtomicBool,
    pub(super) exit_requested: AtomicBool,
    pub(super) exits: AtomicU64,
    pub(super) ctx: Mutex<Option<InsideCtx>>,
}

impl LpShared {
    pub(crate) fn state_now(&self) -> u8 {
        self.state.load(Ordering::SeqCst)
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
            exit_requested: AtomicBool::new(false),
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
            .map(|s| (s.id, s.state.load(Ordering::SeqCst)))
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
