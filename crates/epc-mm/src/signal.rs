//! ksgxd's wake-up and stop signals.
//!
//! A wake-up is a "pending" flag set under the ksgxd mutex, so a wake that
//! races with ksgxd going to sleep is never lost; an allocation that finds
//! the flag already set skips the mutex (the fast path below the low
//! watermark stays lock-free while ksgxd has not yet run).

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
