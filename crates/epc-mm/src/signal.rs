//! ksgxd's wake-up and stop signals, and its queue of groups to reclaim
//! (Linux's `sgx_cg_wq` work items: a group over its limit, or near it, or
//! whose limit was lowered).
//!
//! A wake-up is a "pending" flag set under the ksgxd mutex, so a wake that
//! races with ksgxd going to sleep is never lost; an allocation that finds
//! the flag already set skips the mutex (the fast path below the low
//! watermark stays lock-free while ksgxd has not yet run).

use crate::sync::{AtomicBool, Condvar, Mutex, Ordering};

/// The wake-up and stop signals of one manager's ksgxd.
#[derive(Debug)]
pub(crate) struct KsgxdSignal {
    /// Groups queued for reclaim down to their limit's headroom.
    lock: Mutex<Vec<usize>>,
    cv: Condvar,
    pending: AtomicBool,
    stopping: AtomicBool,
}

impl KsgxdSignal {
    pub(crate) fn new() -> Self {
        KsgxdSignal {
            lock: Mutex::new(Vec::new()),
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

    /// Asks ksgxd to reclaim group `g`'s subtree down to its target.
    pub(crate) fn queue_group(&self, g: usize) {
        let mut queue = self.lock.lock();
        if !queue.contains(&g) {
            queue.push(g);
        }
        self.pending.store(true, Ordering::Release);
        self.cv.notify_one();
    }

    /// Takes the queued groups.
    pub(crate) fn take_queued(&self) -> Vec<usize> {
        std::mem::take(&mut *self.lock.lock())
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
    pub(crate) fn wait(&self) -> bool {
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
