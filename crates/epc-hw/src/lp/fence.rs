//! The asymmetric fence of the IPI handshake: a light barrier on the access
//! path and a heavy one on the IPI side, which together order a store
//! before a later load on both sides (Dekker's handshake) at the cost of a
//! compiler fence per access and one system call per IPI round.
//!
//! On Linux the heavy barrier is `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`
//! (membarrier(2)): it returns once every CPU running a thread of this
//! process has executed a full memory barrier, so a light barrier need only
//! stop the compiler from reordering. The process registers for it once,
//! when its first logical processor is created, before any access or IPI
//! can run; if registration fails (an old kernel, a seccomp filter, another
//! OS), both barriers are `fence(SeqCst)` for the life of the process, so
//! the two sides never disagree on the mode.

use std::sync::atomic::{compiler_fence, fence, Ordering};
use std::sync::OnceLock;

/// Whether the membarrier system call serves as the heavy barrier; set once
/// per process, before the first logical processor exists.
static EXPEDITED: OnceLock<bool> = OnceLock::new();

/// Registers the process for expedited membarriers (once), and returns the
/// light barrier that pairs with [`heavy`], for the new logical processor
/// to keep: reading the mode from its own field rather than from the
/// static's `OnceLock` spares the access path a load and a branch.
pub(super) fn init() -> Light {
    Light {
        expedited: *EXPEDITED.get_or_init(register),
    }
}

#[cfg(target_os = "linux")]
fn register() -> bool {
    use rustix::thread::{membarrier, membarrier_query, MembarrierCommand, MembarrierQuery};
    membarrier_query().contains(MembarrierQuery::PRIVATE_EXPEDITED)
        && membarrier(MembarrierCommand::RegisterPrivateExpedited).is_ok()
        && membarrier(MembarrierCommand::PrivateExpedited).is_ok()
}

#[cfg(not(target_os = "linux"))]
fn register() -> bool {
    false
}

fn expedited() -> bool {
    EXPEDITED.get().copied().unwrap_or(false)
}

/// The access side's barrier, in the mode the process settled on at
/// [`init`] (which never changes afterwards, so a copy kept by each logical
/// processor always agrees with [`heavy`]).
#[derive(Clone, Copy, Debug)]
pub(super) struct Light {
    expedited: bool,
}

impl Light {
    /// A compiler fence when the heavy side is the system call, else a
    /// full fence.
    #[inline]
    pub(super) fn fence(self) {
        if self.expedited {
            compiler_fence(Ordering::SeqCst);
        } else {
            fence(Ordering::SeqCst);
        }
    }
}

/// The IPI side.
pub(super) fn heavy() {
    #[cfg(target_os = "linux")]
    if expedited() {
        use rustix::thread::{membarrier, MembarrierCommand};
        // Registered at init, so the command cannot be refused; a failure
        // would be a kernel bug, and the full fence below is no substitute.
        membarrier(MembarrierCommand::PrivateExpedited)
            .expect("membarrier(PRIVATE_EXPEDITED) after registration");
        return;
    }
    fence(Ordering::SeqCst);
}
