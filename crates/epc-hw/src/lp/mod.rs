//! Logical processors: ENCLU (EENTER, EEXIT, ERESUME, and the SGX2 leaves
//! EACCEPT, EACCEPTCOPY, EMODPE), asynchronous exits,
//! and the accesses an enclave thread makes through its TLB.
//!
//! A [`LogicalProcessor`] is a value owned by one OS thread (`&mut self`
//! everywhere). What other threads must see of it lives in [`LpShared`]: its
//! state word (which carries the exit request that IPIs raise), a count of
//! exits, and the context an AEX needs.
//!
//! # The state word and the IPI handshake
//!
//! `OUTSIDE` → (EENTER/ERESUME) → `INSIDE` → `EXITING` (someone performs
//! the exit) → `OUTSIDE`, with an exit-request bit that IPI senders OR in,
//! and beside it a `busy` flag that only the owning thread writes, raised
//! for the length of one access or ENCLU leaf.
//!
//! An access raises `busy` with a plain store, issues a *light* barrier (a
//! compiler fence) and reads the state word (one load: it starts only on a
//! plain `INSIDE`, no request); an IPI sender raises the request, issues a *heavy* barrier (the `membarrier` system call's private
//! expedited barrier, through rustix's safe wrapper, which forces a full
//! barrier on every CPU running a thread of the process) and reads `busy`.
//! This is the asymmetric form of Dekker's handshake: at least one side sees
//! the other. Either the access sees the request and does not happen (the
//! LP takes the AEX, or the sender does if it wins `INSIDE`→`EXITING`), or
//! the sender sees `busy` and waits for that one access to end. A sender
//! exits an LP whose `busy` it sees low itself (it wins the
//! `INSIDE`→`EXITING` swap); an LP handling a fault is already `OUTSIDE`.
//! So an IPI waits at most for accesses already under way, and accesses
//! never wait on a lock the OS holds (see [`PageTable`]). The access path
//! has no locked instruction; the price is one system call per IPI round
//! (where the system call is missing or refused, both sides fall back to
//! sequentially consistent fences; see `fence.rs`). `tests/handshake_loom.rs` checks the handshake with loom,
//! modelling both barriers as sequentially consistent fences, the semantics
//! the pair guarantees.
//!
//! # Files
//!
//! `state` (the state word and the registry of LPs), `ipi` (IPIs and the
//! completion of an exit), `entry` (EENTER, ERESUME, EEXIT), `access` (the
//! reads and writes of an enclave thread), `walk` (TLB lookup, page walk and
//! EPCM checks), `edmm` (the SGX2 leaves EACCEPT, EACCEPTCOPY, EMODPE) and
//! `error` ([`LpError`]).

mod access;
mod edmm;
mod entry;
mod error;
mod fence;
mod ipi;
mod state;
mod walk;

pub use error::LpError;
pub(crate) use state::{state_is_inside, LpRegistry};

use self::state::{backoff, LpShared, OUTSIDE};
use crate::ids::{EpcPageId, LinearAddress, LpId};
use crate::page_table::PageTable;
use crate::tlb::Tlb;
use crate::Machine;
use std::fmt;
use std::sync::Arc;

/// The enclave context of an LP inside (or interrupted in) an enclave.
#[derive(Clone)]
struct Ctx {
    tcs: LinearAddress,
    secs_page: EpcPageId,
    page_table: Arc<dyn PageTable>,
}

enum Mode {
    Outside,
    Inside(Ctx),
    Interrupted(Ctx),
}

/// Per-LP access counters, kept by the owning thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LpStats {
    /// Accesses that completed.
    pub accesses: u64,
    /// Accesses served by the TLB.
    pub tlb_hits: u64,
    /// Page walks (TLB misses that passed or failed the checks).
    pub walks: u64,
}

/// The counters [`LpStats`] is computed from, kept so that a TLB hit bumps
/// one plain field (the hit path's only counter).
#[derive(Clone, Copy, Debug, Default)]
struct Counters {
    /// TLB hits whose access completed.
    hits: u64,
    /// TLB hits on a poisoned page (machine checks).
    poisoned_hits: u64,
    /// Accesses that completed after a page walk.
    walked: u64,
    walks: u64,
}

/// A logical processor, owned by one OS thread.
pub struct LogicalProcessor {
    machine: Arc<Machine>,
    shared: Arc<LpShared>,
    tlb: Tlb,
    mode: Mode,
    counters: Counters,
    /// The access side of the IPI handshake's barrier pair.
    light: fence::Light,
}

impl fmt::Debug for LogicalProcessor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match &self.mode {
            Mode::Outside => "outside".to_string(),
            Mode::Inside(c) => format!("inside at TCS {}", c.tcs),
            Mode::Interrupted(c) => format!("interrupted at TCS {}", c.tcs),
        };
        f.debug_struct("LogicalProcessor")
            .field("id", &self.shared.id)
            .field("mode", &mode)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Machine {
    /// A new logical processor for the calling thread, with the machine's
    /// TLB size.
    pub fn new_lp(self: &Arc<Self>) -> Result<LogicalProcessor, LpError> {
        let light = fence::init();
        let shared = self
            .lps
            .register()
            .ok_or(LpError::NoFreeLp(self.config.max_lps))?;
        Ok(LogicalProcessor {
            machine: self.clone(),
            shared,
            tlb: Tlb::new(self.config.tlb_entries),
            mode: Mode::Outside,
            counters: Counters::default(),
            light,
        })
    }
}

impl LogicalProcessor {
    /// This LP's id.
    pub fn id(&self) -> LpId {
        self.shared.id
    }

    /// Access counters.
    pub fn stats(&self) -> LpStats {
        let c = self.counters;
        LpStats {
            accesses: c.hits + c.walked,
            tlb_hits: c.hits + c.poisoned_hits,
            walks: c.walks,
        }
    }

    /// Whether the LP is in enclave mode (an IPI may have exited it since;
    /// the next access tells).
    pub fn is_inside(&self) -> bool {
        matches!(self.mode, Mode::Inside(_))
    }

    /// Whether the LP holds an interrupted context to resume.
    pub fn is_interrupted(&self) -> bool {
        matches!(self.mode, Mode::Interrupted(_))
    }
}

impl Drop for LogicalProcessor {
    fn drop(&mut self) {
        if matches!(self.mode, Mode::Inside(_)) && self.eexit().is_err() {
            // Interrupted meanwhile: the exit is done or being done.
            let mut spins = 0;
            while self.shared.state_now() != OUTSIDE {
                backoff(&mut spins);
            }
        }
        self.machine.lps.unregister(self.shared.id);
    }
}
