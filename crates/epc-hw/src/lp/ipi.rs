//! IPIs and the completion of an exit (EEXIT or AEX), whoever performs it.

use super::fence;
use super::state::{backoff, LpShared, EXITING, EXIT_REQUESTED, INSIDE, OUTSIDE};
use crate::cost::Event;
use crate::encls::tcs::TcsView;
use crate::ids::{EpcPageId, LpId};
use crate::Machine;
use std::sync::atomic::Ordering;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ExitKind {
    Eexit,
    Aex,
}

impl Machine {
    /// Sends an IPI to every logical processor inside the enclave whose SECS
    /// is `secs_page`, and returns once each has taken an AEX (or left on
    /// its own). Returns the number of LPs interrupted.
    pub fn ipi_enclave(&self, secs_page: EpcPageId) -> usize {
        let Some(control) = self.secs_control(secs_page) else {
            return 0;
        };
        let targets: Vec<LpId> = control.tracking.lock().inside().to_vec();
        let lps: Vec<_> = targets.iter().filter_map(|&id| self.lps.get(id)).collect();
        if lps.is_empty() {
            return 0;
        }
        // Raise every request, then one heavy barrier for all of them.
        let before: Vec<u64> = lps
            .iter()
            .map(|lp| {
                let exits = lp.exits.load(Ordering::SeqCst);
                lp.state.fetch_or(EXIT_REQUESTED, Ordering::SeqCst);
                exits
            })
            .collect();
        fence::heavy();
        for (lp, exits_before) in lps.iter().zip(before) {
            self.await_exit(lp, exits_before);
        }
        self.ledger.charge_n(Event::Ipi, lps.len() as u64);
        lps.len()
    }

    /// Waits for `lp`, whose exit request is raised and published by the
    /// heavy barrier, to leave: an access in progress (`busy` seen raised)
    /// finishes first; an LP between accesses is exited here.
    fn await_exit(&self, lp: &LpShared, exits_before: u64) {
        let mut spins = 0u32;
        loop {
            if lp.exits.load(Ordering::SeqCst) != exits_before {
                return;
            }
            let state = lp.state.load(Ordering::SeqCst);
            match state & !EXIT_REQUESTED {
                OUTSIDE => return,
                // One attempt from the word as read, then back to the top
                // (never a retry without looking at `busy` again: the word
                // may have changed because the LP left and came back).
                INSIDE if !lp.busy.load(Ordering::Acquire) => {
                    if lp
                        .state
                        .compare_exchange(state, EXITING, Ordering::SeqCst, Ordering::SeqCst)
                        .is_ok()
                    {
                        self.finish_exit(lp, ExitKind::Aex);
                        return;
                    }
                }
                _ => backoff(&mut spins),
            }
        }
    }

    /// Completes an exit the caller has claimed (state `EXITING`): TCS
    /// bookkeeping first, while the tracking still holds the TCS page
    /// resident, then the exit from tracking, then `OUTSIDE`.
    pub(super) fn finish_exit(&self, lp: &LpShared, kind: ExitKind) {
        if let Some(ctx) = lp.ctx.lock().take() {
            if let Some(slot) = self.epc.slot(ctx.tcs_page) {
                let tcs = TcsView(slot.data());
                if kind == ExitKind::Aex {
                    tcs.set_cssa(tcs.cssa() + 1);
                }
                tcs.release();
            }
            ctx.control.tracking.lock().exit(lp.id);
        }
        lp.exits.fetch_add(1, Ordering::SeqCst);
        // Clears any exit request with the state.
        lp.state.store(OUTSIDE, Ordering::SeqCst);
        if kind == ExitKind::Aex {
            self.ledger.charge(Event::Aex);
        }
    }
}
