//! ksgxd's wake-up and stop signals, and its queue of groups to reclaim
//! (Linux's `sgx_cg_wq` work items: a group over its limit, or near it, or
//! whose limit was lowered).
//!
//! A wake-up is a "pending" flag set under the ksgxd mutex, so a wake that
//! races with ksgxd going to sleep is never lost; an allocation that finds
//! the flag already set skips the mutex (the fast path below the low
//! watermark stays lock-free while ksgxd has not yet run).
//!
//! Its progress, for allocations that wait for it (throttling, in the
//! adaptive mode): while ksgxd reclaims it is *active*. Every chunk of
//! pages a reclaim batch frees (ksgxd's or anyone's), every batch ksgxd
//! finishes, and its going idle advance a generation under a second mutex
//! and wake every waiter (the chunks only while someone waits). A waiter
//! looks at `active` and the generation under that mutex before it sleeps
//! and ksgxd's own signals are sent under it, so a waiter cannot miss
//! ksgxd's batch end or its going idle; a freed chunk that races with a
//! waiter registering is seen at the next signal or the wait's timeout.

use crate::assist::AssistGate;
use crate::sync::{AtomicBool, AtomicUsize, Condvar, Mutex, Ordering};
use std::time::Duration;

/// ksgxd's progress (see the module documentation).
#[derive(Debug, Default)]
struct Progress {
    /// Batches finished plus times gone idle.
    generation: u64,
    /// Between a wake-up's first batch and going back to sleep.
    active: bool,
}

/// The wake-up and stop signals of one manager's ksgxd.
#[derive(Debug)]
pub(crate) struct KsgxdSignal {
    /// Groups queued for reclaim down to their limit's headroom.
    lock: Mutex<Vec<usize>>,
    cv: Condvar,
    pending: AtomicBool,
    stopping: AtomicBool,
    progress: Mutex<Progress>,
    progressed: Condvar,
    /// `progress.active`, readable without the lock (the allocation fast
    /// path's throttle test).
    active: AtomicBool,
    /// Allocations waiting for progress.
    waiters: AtomicUsize,
    /// Allocations reclaiming to help ksgxd (the assisted mode).
    pub(crate) helpers: AssistGate,
}

impl KsgxdSignal {
    pub(crate) fn new() -> Self {
        KsgxdSignal {
            lock: Mutex::new(Vec::new()),
            cv: Condvar::new(),
            pending: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            progress: Mutex::new(Progress::default()),
            progressed: Condvar::new(),
            active: AtomicBool::new(false),
            waiters: AtomicUsize::new(0),
            helpers: AssistGate::new(),
        }
    }

    /// ksgxd starts (`true`) or stops (`false`) reclaiming; stopping wakes
    /// every waiter.
    pub(crate) fn set_active(&self, active: bool) {
        let mut p = self.progress.lock();
        p.active = active;
        self.active.store(active, Ordering::Relaxed);
        if !active {
            p.generation += 1;
            self.progressed.notify_all();
        }
    }

    /// ksgxd finished a batch: wakes every waiter.
    pub(crate) fn batch_done(&self) {
        let mut p = self.progress.lock();
        p.generation += 1;
        self.progressed.notify_all();
    }

    /// A reclaim batch freed some pages: wakes every waiter, if any.
    #[inline]
    pub(crate) fn progress(&self) {
        if self.waiters.load(Ordering::SeqCst) != 0 {
            self.batch_done();
        }
    }

    /// Whether ksgxd is reclaiming (a lock-free hint).
    #[inline]
    pub(crate) fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Waits, at most `timeout`, for ksgxd to finish a batch or go idle.
    /// Returns at once (`false`) if it is not reclaiming or is stopping;
    /// `true` if the wait ended on its progress.
    pub(crate) fn wait_for_batch(&self, timeout: Duration) -> bool {
        let mut p = self.progress.lock();
        if !p.active || self.is_stopping() {
            return false;
        }
        let seen = p.generation;
        self.waiters.fetch_add(1, Ordering::SeqCst);
        p = self.progressed.wait_timeout(p, timeout);
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        p.generation != seen
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
        {
            let _guard = self.lock.lock();
            self.cv.notify_one();
        }
        let _p = self.progress.lock();
        self.progressed.notify_all();
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

/// Loom models of the throttle handshake (run by `loom.sh`): a waiter that
/// saw ksgxd active is woken by its going idle or by a stop; loom's wait
/// has no timeout, so a lost wake-up is a deadlock the model reports.
#[cfg(all(test, loom))]
mod model {
    use super::KsgxdSignal;
    use crate::sync::Arc;
    use std::time::Duration;

    #[test]
    fn a_waiter_is_woken_when_ksgxd_goes_idle() {
        loom::model(|| {
            let s = Arc::new(KsgxdSignal::new());
            s.set_active(true);
            let k = Arc::clone(&s);
            let ksgxd = loom::thread::spawn(move || {
                k.batch_done();
                k.set_active(false);
            });
            s.wait_for_batch(Duration::from_secs(1));
            ksgxd.join().unwrap();
            assert!(!s.is_active());
        });
    }

    #[test]
    fn a_waiter_is_woken_by_a_stop() {
        loom::model(|| {
            let s = Arc::new(KsgxdSignal::new());
            s.set_active(true);
            let k = Arc::clone(&s);
            let stopper = loom::thread::spawn(move || k.stop());
            s.wait_for_batch(Duration::from_secs(1));
            stopper.join().unwrap();
            assert!(s.is_stopping());
        });
    }
}
