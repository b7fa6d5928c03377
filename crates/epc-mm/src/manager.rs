//! The EPC manager value: construction, marking pages reclaimable, counters,
//! shutdown. Allocation and free are further `impl` blocks in their own
//! files; the state they share is [`Inner`] (`inner.rs`), and ksgxd and the
//! pipeline work below it, so no lower file imports this one.
//!
//! Lock order: a list lock (one at a time, except `validate()`, which takes
//! every group's in group order), then node free-list locks in node order.
//! No path takes a list lock while holding a node lock, and no manager lock
//! is held while calling an owner's `block`, `track` or `write`.

use crate::config::{ConfigError, ManagerConfig};
use crate::counters::{read, AllocFailures, Counters};
use crate::group::Groups;
use crate::inner::Inner;
use crate::ksgxd;
use crate::list::ListError;
use crate::owner::PageOwner;
use crate::page::{EpcPage, PageKey};
use crate::permit::ReclaimPermit;
use crate::policy::ReclaimPolicy;
use crate::reclaim::BatchReport;
use crate::shared::Shared;
use crate::signal::KsgxdSignal;
use crate::sync::{thread, Arc, Mutex};
use epc_hw::{EpcLayout, NodeId};
use std::fmt;
use std::sync::Weak;
use thiserror::Error;

/// The EPC manager: free lists per NUMA node, groups (the root and any
/// created) each with a reclaimable list and its policy, ksgxd, direct
/// reclaim and the batched reclaim pipeline.
///
/// It knows nothing of enclaves: owners of reclaimable pages implement
/// [`PageOwner`]. Dropping the manager stops and joins ksgxd.
pub struct EpcManager {
    pub(crate) inner: Arc<Inner>,
    ksgxd: Mutex<Option<thread::JoinHandle<()>>>,
    ksgxd_id: Option<thread::ThreadId>,
}

impl EpcManager {
    /// A manager with the configured built-in policy; in normal mode it
    /// starts ksgxd.
    pub fn new(config: ManagerConfig) -> Result<Self, ManagerError> {
        let policy = config.policy.build();
        EpcManager::with_policy(config, policy)
    }

    /// A manager with a policy of the caller's (`config.policy` is ignored).
    pub fn with_policy(
        config: ManagerConfig,
        policy: Box<dyn ReclaimPolicy>,
    ) -> Result<Self, ManagerError> {
        config.validate()?;
        let layout = EpcLayout::new(&config.sections);
        let shared = Shared::new(
            layout,
            config.watermarks,
            config.low_watermark,
            config.high_watermark,
            config.batch,
            config.deterministic,
        );
        let inner = Arc::new(Inner {
            groups: Groups::new(policy, Arc::clone(&shared.totals), config.fairness),
            shared,
            ksgxd: KsgxdSignal::new(),
        });
        let (handle, id) = if config.deterministic {
            (None, None)
        } else {
            let shared = Arc::clone(&inner);
            let handle = thread::spawn_named("ksgxd", move || ksgxd::run(&shared))
                .map_err(ManagerError::Spawn)?;
            let id = handle.thread().id();
            (Some(handle), Some(id))
        };
        Ok(EpcManager {
            inner,
            ksgxd: Mutex::new(handle),
            ksgxd_id: id,
        })
    }

    /// The EPC's sections.
    pub fn layout(&self) -> &EpcLayout {
        &self.inner.shared.layout
    }

    /// Pages in the EPC.
    pub fn total_pages(&self) -> usize {
        self.inner.shared.layout.total_pages() as usize
    }

    /// Free pages: a lock-free read, exact at quiescence.
    #[inline]
    pub fn free_pages(&self) -> usize {
        self.inner.shared.free.nr_free()
    }

    /// Free pages per node: `(node, free, size)`.
    pub fn free_pages_per_node(&self) -> Vec<(NodeId, usize, usize)> {
        self.inner.shared.free.per_node()
    }

    /// Whether the manager runs in deterministic mode.
    pub fn is_deterministic(&self) -> bool {
        self.inner.shared.deterministic
    }

    /// Puts an allocated page on the reclaimable list, named by `key`, with
    /// a weak reference to its owner. SECS and VA pages are never marked.
    pub fn mark_reclaimable(
        &self,
        page: &EpcPage,
        key: PageKey,
        owner: Weak<dyn PageOwner>,
    ) -> Result<(), ListError> {
        let inner = &*self.inner;
        inner
            .list_of(page.id())
            .mark(page.id(), key, owner, &inner.shared.states)
    }

    /// Takes a page off the reclaimable list. `Ok(true)` if it was on it,
    /// `Ok(false)` if not (never marked, or already dropped from the list
    /// because its owner was going away). [`ListError::Busy`] if a reclaim
    /// batch holds it: teardown skips the page and keeps its handle for the
    /// owner's `block`/`write`, which hand it back.
    pub fn unmark_reclaimable(&self, page: &EpcPage) -> Result<bool, ListError> {
        self.unmark_page(page.id())
    }

    /// Takes `page` off the reclaimable list it is on (for the holder of
    /// its handle, or for a memory failure, which has none).
    pub(crate) fn unmark_page(&self, page: epc_hw::EpcPageId) -> Result<bool, ListError> {
        let inner = &*self.inner;
        inner.list_of(page).unmark(page, &inner.shared.states)
    }

    /// Replaces the root group's policy with `policy` (a fresh one, for an experiment
    /// that must start cold: adaptive policies keep state, such as targets
    /// and ghost lists, across pages that come and go). Refused with
    /// [`ListError::Busy`] unless no page is on the list or isolated.
    pub fn replace_policy(&self, policy: Box<dyn ReclaimPolicy>) -> Result<(), ListError> {
        self.inner.groups.root().list.replace_policy(policy)
    }

    /// Runs one reclaim batch now (as ksgxd would, from the list global
    /// fairness picks), on the calling thread.
    pub fn reclaim_batch(&self, permit: &mut ReclaimPermit) -> BatchReport {
        let _ = permit;
        self.inner.reclaim_global(self.inner.shared.batch)
    }

    /// A snapshot of the counters.
    pub fn counters(&self) -> Counters {
        let i = &self.inner.shared;
        let c = &i.counters;
        let allocations = i.free.allocations();
        let (low, high, boost) = if i.deterministic {
            (0, 0, 0)
        } else {
            let (low, high) = i.marks.effective(allocations);
            (low as u64, high as u64, i.marks.boost(allocations) as u64)
        };
        Counters {
            total_pages: u64::from(i.layout.total_pages()),
            free_pages: i.free.nr_free() as u64,
            low_watermark: low,
            high_watermark: high,
            watermarks: i.marks.mode(),
            watermark_boost: boost,
            reclaimable_pages: i.totals.listed() as u64,
            isolated_pages: i.totals.isolated() as u64,
            allocations,
            alloc_failures: AllocFailures {
                no_memory: read(&c.no_memory),
                busy: read(&c.busy),
                interrupted: read(&c.interrupted),
            },
            direct_reclaims: read(&c.direct_reclaims),
            ksgxd_wakeups: read(&c.ksgxd_wakeups),
            ksgxd_evicted: read(&c.ksgxd_evicted),
            throttled: read(&c.throttled),
            assisted: read(&c.assisted),
            assisted_evicted: read(&c.assisted_evicted),
            batches: read(&c.batches),
            pages_scanned: read(&c.pages_scanned),
            second_chances: read(&c.second_chances),
            evicted: read(&c.evicted),
            skipped: read(&c.skipped),
            declined: read(&c.declined),
            write_failures: read(&c.write_failures),
            poisoned_pages: 0,
            retired_pages: 0,
            nodes: Vec::new(),
        }
        .with_nodes(self.nodes())
    }

    /// Stops ksgxd: a batch in flight completes, then the thread is joined.
    /// Later allocations fail with
    /// [`AllocError::Interrupted`](crate::AllocError::Interrupted); free,
    /// mark and unmark keep working so owners can tear down.
    pub fn shutdown(&self) {
        self.inner.ksgxd.stop();
        let handle = self.ksgxd.lock().take();
        if let Some(handle) = handle {
            // The last reference to the manager can be dropped by an owner
            // that ksgxd itself releases; a thread cannot join itself, and it
            // exits on its own after that batch.
            if Some(thread::current().id()) != self.ksgxd_id {
                let _ = handle.join();
            }
        }
    }
}

impl Drop for EpcManager {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl fmt::Debug for EpcManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EpcManager")
            .field("deterministic", &self.inner.shared.deterministic)
            .field("batch", &self.inner.shared.batch)
            .field("counters", &self.counters())
            .finish_non_exhaustive()
    }
}

/// A manager that could not be built.
#[derive(Debug, Error)]
pub enum ManagerError {
    /// The configuration was refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// ksgxd could not be started.
    #[error("ksgxd: could not start the thread")]
    Spawn(#[source] std::io::Error),
}
