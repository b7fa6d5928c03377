//! EPC page storage: per page, its EPCM entry, its contents and the lock that
//! detects concurrent leaves.
//!
//! Per-page state is allocated lazily in chunks of [`CHUNK_PAGES`] pages, and
//! page contents only when a leaf first makes the page valid, so a 4 GiB EPC
//! costs a few kilobytes until it is used. Contents are 512 atomic 64-bit
//! words: accesses that hit a logical processor's TLB read and write them
//! without a lock (relaxed atomics compile to plain moves on x86-64), which
//! is memory safe whatever the OS above does; the architecture (tracking,
//! ENCLAVE_ACT) is what guarantees that no leaf rewrites a page while an
//! access can still reach it.

use crate::config::EpcLayout;
use crate::epcm::EpcmEntry;
use crate::error::{gp, GpCause, LeafResult, Operand};
use crate::ids::EpcPageId;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;

/// Pages per lazily allocated chunk of per-page state.
pub(crate) const CHUNK_PAGES: usize = 512;

/// 64-bit words per 4 KiB page.
pub(crate) const WORDS_PER_PAGE: usize = 512;

/// The contents of one EPC page.
pub(crate) struct PageData {
    pub(crate) words: [AtomicU64; WORDS_PER_PAGE],
}

impl PageData {
    fn new() -> Box<PageData> {
        Box::new(PageData {
            words: [const { AtomicU64::new(0) }; WORDS_PER_PAGE],
        })
    }

    /// Copies the page out as bytes (little-endian words).
    pub(crate) fn read_bytes(&self, out: &mut [u8; 4096]) {
        for (w, chunk) in self.words.iter().zip(out.chunks_exact_mut(8)) {
            chunk.copy_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
        }
    }

    /// Overwrites the page from bytes.
    pub(crate) fn write_bytes(&self, bytes: &[u8; 4096]) {
        for (w, chunk) in self.words.iter().zip(bytes.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            w.store(u64::from_le_bytes(b), Ordering::Relaxed);
        }
    }

    /// Zeroes the page.
    pub(crate) fn zero(&self) {
        for w in &self.words {
            w.store(0, Ordering::Relaxed);
        }
    }
}

/// Bit of [`PageSlot::busy`] held by an exclusive leaf; the low bits count
/// shared holders.
const EXCLUSIVE: u32 = 1 << 31;

/// Everything the model keeps for one EPC page.
pub(crate) struct PageSlot {
    /// The EPCM entry. Held only for short, non-blocking sections; never
    /// across an IPI. Lock order: an enclave's tracking lock, then this.
    pub(crate) epcm: Mutex<EpcmEntry>,
    /// The leaf concurrency lock of the SDM's tables: shared or exclusive,
    /// never waited for (a conflict is reported, not queued).
    busy: AtomicU32,
    /// The frame has an uncorrectable memory error: reading it raises a
    /// machine check. A property of the DRAM, not of the EPCM, so it
    /// survives EREMOVE and power cycles.
    poisoned: AtomicBool,
    data: OnceLock<Box<PageData>>,
}

impl PageSlot {
    fn new() -> PageSlot {
        PageSlot {
            epcm: Mutex::new(EpcmEntry::FREE),
            busy: AtomicU32::new(0),
            poisoned: AtomicBool::new(false),
            data: OnceLock::new(),
        }
    }

    /// Whether the page is poisoned.
    #[inline]
    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    /// Poisons the page; whether it was poisoned already.
    pub(crate) fn poison(&self) -> bool {
        self.poisoned.swap(true, Ordering::AcqRel)
    }

    /// Zeroes the contents if they were ever allocated (a power cycle:
    /// nothing of the old contents survives).
    pub(crate) fn zero_if_present(&self) {
        if let Some(d) = self.data.get() {
            d.zero();
        }
    }

    /// The page's contents, allocated on first use.
    #[inline]
    pub(crate) fn data(&self) -> &PageData {
        self.data.get_or_init(PageData::new)
    }

    /// Takes the page exclusively for a leaf, or reports a conflict.
    pub(crate) fn try_exclusive(&self) -> Option<BusyGuard<'_>> {
        self.busy
            .compare_exchange(0, EXCLUSIVE, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| BusyGuard {
                slot: self,
                exclusive: true,
            })
    }

    /// Takes the page shared for a leaf, or reports a conflict with an
    /// exclusive holder.
    pub(crate) fn try_shared(&self) -> Option<BusyGuard<'_>> {
        let mut cur = self.busy.load(Ordering::Relaxed);
        loop {
            if cur & EXCLUSIVE != 0 {
                return None;
            }
            match self.busy.compare_exchange_weak(
                cur,
                cur + 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    return Some(BusyGuard {
                        slot: self,
                        exclusive: false,
                    })
                }
                Err(now) => cur = now,
            }
        }
    }

    /// Takes the page exclusively as operand `op` of a leaf, or #GP.
    pub(crate) fn exclusive_for(&self, op: Operand) -> LeafResult<BusyGuard<'_>> {
        self.try_exclusive().ok_or(gp(GpCause::Conflict(op)))
    }

    /// Takes the page shared as operand `op` of a leaf, or #GP.
    pub(crate) fn shared_for(&self, op: Operand) -> LeafResult<BusyGuard<'_>> {
        self.try_shared().ok_or(gp(GpCause::Conflict(op)))
    }

    /// Whether any leaf holds the page (for validation at quiescence).
    pub(crate) fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Relaxed) != 0
    }
}

/// A leaf's hold on a page; released on drop.
pub(crate) struct BusyGuard<'a> {
    slot: &'a PageSlot,
    exclusive: bool,
}

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        if self.exclusive {
            self.slot.busy.store(0, Ordering::Release);
        } else {
            self.slot.busy.fetch_sub(1, Ordering::Release);
        }
    }
}

/// The EPC: its layout and its pages.
pub(crate) struct Epc {
    layout: EpcLayout,
    chunks: Box<[OnceLock<Box<[PageSlot]>>]>,
}

impl Epc {
    pub(crate) fn new(layout: EpcLayout) -> Epc {
        let total = layout.total_pages() as usize;
        let nchunks = total.div_ceil(CHUNK_PAGES);
        let chunks = (0..nchunks).map(|_| OnceLock::new()).collect();
        Epc { layout, chunks }
    }

    pub(crate) fn layout(&self) -> &EpcLayout {
        &self.layout
    }

    /// The slot of `page`, or `None` if it is not an EPC page.
    #[inline]
    pub(crate) fn slot(&self, page: EpcPageId) -> Option<&PageSlot> {
        let i = page.index();
        let chunk = self.chunks.get(i / CHUNK_PAGES)?;
        let total = self.layout.total_pages() as usize;
        if i >= total {
            return None;
        }
        let slots = chunk.get_or_init(|| {
            let start = (i / CHUNK_PAGES) * CHUNK_PAGES;
            let len = CHUNK_PAGES.min(total - start);
            (0..len).map(|_| PageSlot::new()).collect()
        });
        slots.get(i % CHUNK_PAGES)
    }

    /// Every page whose state has been allocated, with its id. Pages never
    /// touched are free and have no state.
    pub(crate) fn materialized(&self) -> impl Iterator<Item = (EpcPageId, &PageSlot)> {
        self.chunks.iter().enumerate().flat_map(|(c, chunk)| {
            chunk.get().into_iter().flat_map(move |slots| {
                slots
                    .iter()
                    .enumerate()
                    .map(move |(i, s)| (EpcPageId((c * CHUNK_PAGES + i) as u32), s))
            })
        })
    }
}
