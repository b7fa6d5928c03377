//! The crate's only door to locks, condition variables, atomics and threads.
//!
//! Normal builds use `parking_lot` and `std`; a build with `--cfg loom`
//! swaps in loom's model-checked types so that `tests/loom.rs` explores the
//! interleavings of the shipped code, not of a copy. The wrappers give both
//! back ends one shape (`lock()` returns the guard directly).
//!
//! Owner references (`std::sync::Arc`/`Weak<dyn PageOwner>`) stay `std`
//! even under loom: loom has no `Weak` and no unsized `Arc`. The ordering the
//! model checks ("owner reference dropped before the page is free") is
//! program order in the reclaiming thread, published through the loom mutex
//! of the free list, so loom still sees it.

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{
    AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};
#[cfg(not(loom))]
pub(crate) use std::sync::Arc;

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};
#[cfg(loom)]
pub(crate) use loom::sync::Arc;

/// A mutual exclusion lock whose `lock` cannot fail (poisoning is not used:
/// a panic inside the manager is a bug that ends the test anyway).
#[derive(Debug, Default)]
pub(crate) struct Mutex<T> {
    #[cfg(not(loom))]
    inner: parking_lot::Mutex<T>,
    #[cfg(loom)]
    inner: loom::sync::Mutex<T>,
}

/// The guard of a [`Mutex`].
#[cfg(not(loom))]
pub(crate) type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;
/// The guard of a [`Mutex`].
#[cfg(loom)]
pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Mutex {
            #[cfg(not(loom))]
            inner: parking_lot::Mutex::new(value),
            #[cfg(loom)]
            inner: loom::sync::Mutex::new(value),
        }
    }

    #[cfg(not(loom))]
    #[inline]
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        self.inner.lock()
    }

    #[cfg(loom)]
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A condition variable paired with [`Mutex`].
#[derive(Debug, Default)]
pub(crate) struct Condvar {
    #[cfg(not(loom))]
    inner: parking_lot::Condvar,
    #[cfg(loom)]
    inner: loom::sync::Condvar,
}

impl Condvar {
    pub(crate) fn new() -> Self {
        Condvar::default()
    }

    /// Blocks until notified; the guard is released while waiting.
    #[cfg(not(loom))]
    pub(crate) fn wait<'a, T>(&self, mut guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.inner.wait(&mut guard);
        guard
    }

    /// Blocks until notified; the guard is released while waiting.
    #[cfg(loom)]
    pub(crate) fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.inner.wait(guard).unwrap_or_else(|e| e.into_inner())
    }

    /// Blocks until notified or until `timeout` has passed; the guard is
    /// released while waiting.
    #[cfg(not(loom))]
    pub(crate) fn wait_timeout<'a, T>(
        &self,
        mut guard: MutexGuard<'a, T>,
        timeout: std::time::Duration,
    ) -> MutexGuard<'a, T> {
        let _ = self.inner.wait_for(&mut guard, timeout);
        guard
    }

    /// Blocks until notified (loom models no time: the timeout is
    /// ignored, so a model checks that a notification always comes).
    #[cfg(loom)]
    pub(crate) fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        _timeout: std::time::Duration,
    ) -> MutexGuard<'a, T> {
        self.wait(guard)
    }

    pub(crate) fn notify_one(&self) {
        self.inner.notify_one();
    }

    pub(crate) fn notify_all(&self) {
        self.inner.notify_all();
    }
}

/// Threads: spawning ksgxd and yielding in retry loops.
pub(crate) mod thread {
    #[cfg(not(loom))]
    pub(crate) use std::thread::{current, yield_now, JoinHandle, ThreadId};

    #[cfg(loom)]
    pub(crate) use loom::thread::{current, yield_now, JoinHandle, ThreadId};

    /// Starts a named thread.
    #[cfg(not(loom))]
    pub(crate) fn spawn_named<F>(name: &str, f: F) -> std::io::Result<JoinHandle<()>>
    where
        F: FnOnce() + Send + 'static,
    {
        std::thread::Builder::new().name(name.to_owned()).spawn(f)
    }

    /// Starts a named thread.
    #[cfg(loom)]
    pub(crate) fn spawn_named<F>(name: &str, f: F) -> std::io::Result<JoinHandle<()>>
    where
        F: FnOnce() + Send + 'static,
    {
        loom::thread::Builder::new().name(name.to_owned()).spawn(f)
    }
}
