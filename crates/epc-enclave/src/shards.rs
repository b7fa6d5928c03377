//! The enclave's page records, split into shards by page number, each
//! behind its own lock, so that faults on different pages of one enclave
//! do not wait for each other or for the enclave lock.
//!
//! A record's residency changes only under its shard's lock. Lock order:
//! the enclave lock (if taken), then one shard lock (never two at once),
//! then the VA lock and the manager's locks.

use crate::state::PageRecord;
use parking_lot::{Mutex, MutexGuard};
use std::collections::HashMap;

/// Shards per enclave: a power of two, enough that two threads rarely
/// meet on one.
const SHARDS: usize = 64;

pub(crate) type Shard = HashMap<u64, PageRecord>;

#[derive(Debug)]
pub(crate) struct PageShards {
    shards: Box<[Mutex<Shard>]>,
}

impl Default for PageShards {
    fn default() -> Self {
        PageShards {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }
}

impl PageShards {
    /// The shard holding page number `n`, locked. Consecutive pages fall
    /// in different shards.
    pub(crate) fn lock(&self, n: u64) -> MutexGuard<'_, Shard> {
        self.shards[n as usize & (SHARDS - 1)].lock()
    }

    /// Whether page number `n` has a record.
    pub(crate) fn contains(&self, n: u64) -> bool {
        self.lock(n).contains_key(&n)
    }

    /// Visits every record, one shard locked at a time (a record may
    /// change between shards).
    pub(crate) fn for_each(&self, mut f: impl FnMut(u64, &PageRecord)) {
        for s in self.shards.iter() {
            for (&n, r) in s.lock().iter() {
                f(n, r);
            }
        }
    }

    /// The page numbers with a record.
    pub(crate) fn keys(&self) -> Vec<u64> {
        let mut keys = Vec::new();
        self.for_each(|n, _| keys.push(n));
        keys
    }

    /// Whether no record is left.
    pub(crate) fn is_empty(&self) -> bool {
        self.shards.iter().all(|s| s.lock().is_empty())
    }
}
