//! ksgxd, the background reclaimer: sleeps until an allocation leaves fewer
//! free pages than the low watermark, then reclaims batch after batch until
//! the high watermark is reached, nothing is reclaimable, a batch frees
//! nothing, or the manager shuts down.
//!
//! A wake-up is a "pending" flag set under the ksgxd mutex, so a wake that
//! races with ksgxd going to sleep is never lost; an allocation that finds
//! the flag already set skips the mutex (the fast path below the low
//! watermark stays lock-free while ksgxd has not yet run).

use crate::counters::bump;
use crate::manager::Inner;
use crate::reclaim;
use crate::sync::{AtomicBool, Condvar, Mutex, Ordering};

/// The wake-up and stop signals of one manager's ksgxd.
#[derive(Debug)]
pub(crate) struct KsgxdSignal {
    lock: Mutex<()>,
    cv: Condvar,
    pending: AtomicBool,
    stopping: AtomicBool,
}

impl KsgxdSignal {
    pub(crate) fn new() -> Self {
        KsgxdSignal {
            lock: Mutex::new(()),
            cv: Condvar::new(),
            pending: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
        }
    }

    /// Asks ksgxd to run.
    pub(crate) fn wake(&self) {
        if self.pending.load(Ordering::Acquire) {
            return;
        }
        let _guard = self.lock.lock();
        self.pending.store(true, Ordering::Release);
        self.cv.notify_one();
    }

    /// Asks ksgxd to exit after its current batch.
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        let _guard = self.lock.lock();
        self.cv.notify_one();
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Waits for a wake-up; `false` when asked to stop.
    fn wait(&self) -> bool {
        let mut guard = self.lock.lock();
        loop {
            if self.is_stopping() {
                return false;
            }
            if self.pending.swap(false, Ordering::AcqRel) {
                return true;
            }
            guard = self.cv.wait(guard);
        }
    }
}

/// The thread's body.
pub(crate) fn run(inner: &Inner) {
    while inner.ksgxd.wait() {
        if !should_reclaim(inner) {
            continue;
        }
        bump(&inner.counters.ksgxd_wakeups, 1);
        while should_reclaim(inner) && !inner.ksgxd.is_stopping() {
            let report = reclaim::reclaim_pages(inner, inner.batch);
            if report.freed() == 0 {
                // Every candidate was young, declined or busy: sleep until
                // the next allocation asks again rather than spin.
                break;
            }
        }
    }
}

/// Linux's `sgx_should_reclaim(SGX_NR_HIGH_PAGES)`: below the high
/// watermark and something on the list.
fn should_reclaim(inner: &Inner) -> bool {
    inner.free.nr_free() < inner.high_watermark && inner.reclaimable.nr_listed() > 0
}
