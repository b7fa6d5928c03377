//! What the manager knows about one page: the handle that proves ownership
//! of an allocated page ([`EpcPage`]), the stable name of the enclave page it
//! holds ([`PageKey`]), and the page's state in the manager.

use crate::sync::{AtomicU8, Ordering};
use epc_hw::EpcPageId;
use std::fmt;
use std::sync::OnceLock;

/// The identity of a page owner (for the enclave layer: one enclave).
///
/// Owner ids must be unique among the live owners of one manager; the
/// pipeline uses them to call [`PageOwner::track`](crate::PageOwner::track)
/// once per owner per batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OwnerId(pub u64);

/// The stable name of a reclaimable page: its owner and the enclave page
/// address it holds. Unlike the EPC page id, it survives eviction and
/// reload, so policies can keep history (ghost entries) about it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PageKey {
    /// The owner.
    pub owner: OwnerId,
    /// The enclave (linear) page address the EPC page backs.
    pub addr: u64,
}

impl PageKey {
    /// A key from its two parts.
    pub const fn new(owner: OwnerId, addr: u64) -> Self {
        PageKey { owner, addr }
    }
}

impl fmt::Debug for PageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{:#x}", self.owner.0, self.addr)
    }
}

/// An allocated EPC page. Whoever holds it owns the page; it is the only
/// way to free the page, and it is not `Clone`, so a page can be neither
/// freed twice nor freed by someone who does not own it.
///
/// Dropping a handle without [`EpcManager::free`](crate::EpcManager::free)
/// leaks the page (as Linux leaks a page whose EREMOVE failed);
/// [`EpcManager::validate`](crate::EpcManager::validate) still balances, the
/// page simply stays in use.
#[must_use = "an EPC page that is dropped instead of freed is leaked"]
#[derive(PartialEq, Eq)]
pub struct EpcPage {
    id: EpcPageId,
}

impl EpcPage {
    /// Only the manager mints handles, in `alloc`.
    pub(crate) fn new(id: EpcPageId) -> Self {
        EpcPage { id }
    }

    /// The page's id (its "physical address").
    #[inline]
    pub fn id(&self) -> EpcPageId {
        self.id
    }
}

impl fmt::Debug for EpcPage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EpcPage({:?})", self.id)
    }
}

/// The manager's state of one page. One value at a time (the "FSM" Jarkko
/// Sakkinen asked for in review, in place of Linux's flag bits).
///
/// Transitions and the lock under which each happens:
///
/// ```text
///  Free --alloc (node lock)--> InUse --mark (list lock)--> Tracked
///  InUse --free (node lock)--> Free
///  Tracked --unmark / owner gone at isolation (list lock)--> InUse
///  Tracked --isolate (list lock)--> Isolated --put back (list lock)--> Tracked
///  Isolated --written or abandoned, owner ref dropped (node lock)--> Free
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum PageState {
    /// On a free list.
    Free = 0,
    /// Allocated, not on the reclaimable list.
    InUse = 1,
    /// Allocated and on the reclaimable list (Linux: RECLAIMER_TRACKED).
    Tracked = 2,
    /// Taken off the list by a reclaim batch: busy until the batch returns
    /// it (Linux: TRACKED with an empty list node).
    Isolated = 3,
}

impl PageState {
    pub(crate) fn from_u8(v: u8) -> PageState {
        match v {
            0 => PageState::Free,
            1 => PageState::InUse,
            2 => PageState::Tracked,
            _ => PageState::Isolated,
        }
    }
}

/// Pages per chunk of [`PageChunks`].
const CHUNK: usize = 4096;

/// A `T` per page, allocated 4096 pages at a time when a page of the chunk
/// is first written, so that a large EPC costs memory only where pages
/// have been in use (issue 13, §5). An unallocated cell reads as
/// `T::default()` to its users (see [`get`](Self::get)).
///
/// Under loom every chunk is allocated up front: the lazy publication goes
/// through `std`'s `OnceLock`, which loom does not see.
pub(crate) struct PageChunks<T> {
    chunks: Box<[OnceLock<Box<[T]>>]>,
}

impl<T: Default> PageChunks<T> {
    /// `total` pages, none allocated.
    pub(crate) fn new(total: usize) -> Self {
        let chunks: Box<[OnceLock<Box<[T]>>]> = (0..total.div_ceil(CHUNK))
            .map(|_| OnceLock::new())
            .collect();
        if cfg!(loom) {
            for c in chunks.iter() {
                c.get_or_init(Self::chunk);
            }
        }
        PageChunks { chunks }
    }

    fn chunk() -> Box<[T]> {
        (0..CHUNK).map(|_| T::default()).collect()
    }

    /// The cell of `page`, if its chunk is allocated.
    #[inline]
    pub(crate) fn get(&self, page: EpcPageId) -> Option<&T> {
        let i = page.index();
        self.chunks[i / CHUNK].get().map(|c| &c[i % CHUNK])
    }

    /// The cell of `page`, allocating its chunk if needed.
    #[inline]
    pub(crate) fn get_or_alloc(&self, page: EpcPageId) -> &T {
        let i = page.index();
        &self.chunks[i / CHUNK].get_or_init(Self::chunk)[i % CHUNK]
    }

    /// Chunks allocated so far.
    pub(crate) fn allocated(&self) -> usize {
        self.chunks.iter().filter(|c| c.get().is_some()).count()
    }

    /// Chunks in all.
    pub(crate) fn len(&self) -> usize {
        self.chunks.len()
    }
}

/// One atomic byte per page in [`PageChunks`]. An unwritten byte reads 0,
/// and writing 0 to an unallocated chunk allocates nothing.
pub(crate) struct PageBytes {
    cells: PageChunks<AtomicU8>,
}

impl PageBytes {
    /// `total` pages, all 0.
    pub(crate) fn new(total: usize) -> Self {
        PageBytes {
            cells: PageChunks::new(total),
        }
    }

    /// The byte of `page`.
    #[inline]
    pub(crate) fn load(&self, page: EpcPageId) -> u8 {
        self.cells
            .get(page)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Sets the byte of `page`.
    #[inline]
    pub(crate) fn store(&self, page: EpcPageId, v: u8) {
        match self.cells.get(page) {
            Some(c) => c.store(v, Ordering::Relaxed),
            None if v == 0 => {}
            None => self.cells.get_or_alloc(page).store(v, Ordering::Relaxed),
        }
    }
}

impl fmt::Debug for PageBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageBytes")
            .field("chunks", &self.cells.len())
            .field("allocated", &self.cells.allocated())
            .finish()
    }
}

/// The state of every page, one atomic byte each (allocated lazily, see
/// [`PageBytes`]; `Free` is 0): written under the lock of the transition
/// (see [`PageState`]), read lock-free.
pub(crate) struct PageStates {
    cells: PageBytes,
}

impl PageStates {
    /// `total` pages, all free.
    pub(crate) fn new(total: usize) -> Self {
        PageStates {
            cells: PageBytes::new(total),
        }
    }

    /// The state of `page`.
    #[inline]
    pub(crate) fn get(&self, page: EpcPageId) -> PageState {
        PageState::from_u8(self.cells.load(page))
    }

    /// Moves `page` to `state`; the caller holds the transition's lock.
    #[inline]
    pub(crate) fn set(&self, page: EpcPageId, state: PageState) {
        self.cells.store(page, state as u8);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn page_bytes_allocate_only_the_chunks_written() {
        let b = PageBytes::new(3 * CHUNK + 5);
        let last = EpcPageId((3 * CHUNK + 4) as u32);
        assert_eq!(b.load(last), 0);
        b.store(EpcPageId(7), 0);
        b.store(last, 3);
        b.store(EpcPageId(CHUNK as u32), 2);
        assert_eq!((b.load(last), b.load(EpcPageId(CHUNK as u32))), (3, 2));
        assert_eq!(b.load(EpcPageId(7)), 0);
        assert_eq!(
            b.cells.allocated(),
            2,
            "writing 0 to an untouched chunk allocates nothing"
        );
    }
}
