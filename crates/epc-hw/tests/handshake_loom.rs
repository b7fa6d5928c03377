//! A loom model of the IPI handshake of `src/lp` (`access.rs` and
//! `ipi.rs`): an LP thread makes accesses, each raising its `busy` flag with
//! a plain store; an IPI sender raises the exit request, waits for the LP to
//! leave, then rewrites the page (as EWB may once the IPI has returned).
//!
//! The model follows the code step by step. The two barriers of
//! `src/lp/fence.rs` (a compiler fence on the access path, the membarrier
//! system call on the IPI side) are modelled as `fence(SeqCst)` on both
//! sides: the pair
//! guarantees that much (a heavy barrier makes every thread's light
//! barrier act as a full fence for it), and loom checks sequentially
//! consistent fences exactly (it treats sequentially consistent accesses as
//! acquire/release only, so the model relies on the fences alone).
//!
//! Checked in every interleaving loom explores: no access that completes
//! sees the page rewritten (the IPI never returns while an access is in
//! progress, and no access starts after it), and exactly one side performs
//! the exit.

use loom::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use loom::sync::Arc;
use loom::thread;

const OUTSIDE: u8 = 0;
const INSIDE: u8 = 1;
const EXITING: u8 = 3;
/// The exit request, ORed into the state word (`EXIT_REQUESTED`).
const REQUESTED: u8 = 0x10;

#[derive(Default)]
struct Lp {
    state: AtomicU8,
    busy: AtomicBool,
    exits: AtomicU64,
    /// How many times the exit was performed (must end at 1).
    performed: AtomicU32,
    /// The page's contents: 0 before the IPI returns, 1 after.
    page: AtomicU64,
}

impl Lp {
    fn inside() -> Lp {
        let lp = Lp::default();
        lp.state.store(INSIDE, Ordering::Relaxed);
        lp
    }

    /// `Machine::finish_exit`.
    fn finish_exit(&self) {
        self.performed.fetch_add(1, Ordering::Relaxed);
        self.exits.fetch_add(1, Ordering::SeqCst);
        self.state.store(OUTSIDE, Ordering::SeqCst);
    }

    /// `LogicalProcessor::begin_access`, the access itself and
    /// `end_access`; `false` if the access did not happen.
    fn access(&self) -> bool {
        self.busy.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst); // fence::light()
        if self.state.load(Ordering::Acquire) != INSIDE {
            // abandon_access
            self.busy.store(false, Ordering::Release);
            if self.claim_exit_as_owner() {
                self.finish_exit();
            }
            return false;
        }
        assert_eq!(
            self.page.load(Ordering::Relaxed),
            0,
            "an access saw the page rewritten after the IPI returned"
        );
        self.busy.store(false, Ordering::Release);
        true
    }

    /// `LpShared::claim_exit_as_owner`.
    fn claim_exit_as_owner(&self) -> bool {
        let mut cur = self.state.load(Ordering::SeqCst);
        while cur & !REQUESTED == INSIDE {
            match self
                .state
                .compare_exchange(cur, EXITING, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
        false
    }

    /// `Machine::ipi_enclave` for this one LP, then the page rewrite.
    fn ipi_then_rewrite(&self) {
        let exits_before = self.exits.load(Ordering::SeqCst);
        self.state.fetch_or(REQUESTED, Ordering::SeqCst);
        fence(Ordering::SeqCst); // fence::heavy()
        loop {
            if self.exits.load(Ordering::SeqCst) != exits_before {
                break;
            }
            let state = self.state.load(Ordering::SeqCst);
            match state & !REQUESTED {
                OUTSIDE => break,
                INSIDE if !self.busy.load(Ordering::Acquire) => {
                    if self
                        .state
                        .compare_exchange(state, EXITING, Ordering::SeqCst, Ordering::SeqCst)
                        .is_ok()
                    {
                        self.finish_exit();
                        break;
                    }
                }
                _ => thread::yield_now(),
            }
        }
        self.page.store(1, Ordering::Relaxed);
    }
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(f);
}

#[test]
fn no_access_overlaps_or_follows_a_completed_ipi() {
    model(|| {
        let lp = Arc::new(Lp::inside());
        let l = lp.clone();
        let t = thread::spawn(move || {
            // Accesses until one does not happen (the LP was exited).
            while l.access() {
                thread::yield_now();
            }
        });
        lp.ipi_then_rewrite();
        t.join().unwrap();
        assert_eq!(lp.performed.load(Ordering::Relaxed), 1);
        assert_eq!(lp.state.load(Ordering::Relaxed), OUTSIDE);
    });
}

#[test]
fn an_idle_lp_is_exited_by_the_sender() {
    model(|| {
        let lp = Arc::new(Lp::inside());
        let l = lp.clone();
        let t = thread::spawn(move || l.access());
        lp.ipi_then_rewrite();
        let accessed = t.join().unwrap();
        assert_eq!(lp.performed.load(Ordering::Relaxed), 1);
        assert_eq!(lp.state.load(Ordering::Relaxed), OUTSIDE);
        // Whichever way it went, the exit happened once.
        let _ = accessed;
    });
}
