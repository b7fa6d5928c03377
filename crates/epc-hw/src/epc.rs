//! EPC page storage: per page, its EPCM entry, its contents and the word
//! that detects concurrent leaves.
//!
//! Per-page state is allocated lazily in chunks of [`CHUNK_PAGES`] pages, and
//! page contents only when a page is first used, in slabs of [`SLAB_PAGES`]
//! pages (one allocation, one allocator header, per slab rather than per
//! page), so a 4 GiB EPC costs a few kilobytes until it is used and a page in
//! use costs [`PageSlot`]'s 36 bytes and a share of its slab's cell beside
//! its 4 KiB. Contents are 512 atomic 64-bit words: accesses that hit a
//! logical processor's TLB read and write them without a lock (relaxed
//! atomics compile to plain moves on x86-64), which is memory safe whatever
//! the OS above does; the architecture (tracking, ENCLAVE_ACT) is what
//! guarantees that no leaf rewrites a page while an access can still reach
//! it.

use crate::config::EpcLayout;
use crate::epcm::EpcmEntry;
use crate::epcm_cell::EpcmCell;
use crate::error::{gp, GpCause, LeafResult, Operand};
use crate::ids::EpcPageId;
use std::ops::Deref;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// Pages per lazily allocated chunk of per-page state.
pub(crate) const CHUNK_PAGES: usize = 512;

/// Pages per contents slab: 64 KiB, allocated when one of its pages is
/// first used.
pub(crate) const SLAB_PAGES: usize = 16;

/// 64-bit words per 4 KiB page.
pub(crate) const WORDS_PER_PAGE: usize = 512;

/// The contents of one EPC page.
pub(crate) struct PageData {
    pub(crate) words: [AtomicU64; WORDS_PER_PAGE],
}

impl PageData {
    fn new() -> PageData {
        PageData {
            words: [const { AtomicU64::new(0) }; WORDS_PER_PAGE],
        }
    }

    /// Copies the page out as bytes (little-endian words), eight words per
    /// step: the inner loop has constant bounds, so it is unrolled into
    /// plain loads and stores with no per-word bounds check or loop
    /// counter (LLVM does not merge atomic accesses into vector ones, so
    /// this is as close to a `memcpy` as safe code gets; callgrind: 2.8
    /// instructions per word before, 2.2 after).
    #[inline]
    pub(crate) fn read_bytes(&self, out: &mut [u8; 4096]) {
        for (ws, out) in self.words.chunks_exact(8).zip(out.chunks_exact_mut(64)) {
            for k in 0..8 {
                let v = ws[k].load(Ordering::Relaxed);
                out[k * 8..k * 8 + 8].copy_from_slice(&v.to_le_bytes());
            }
        }
    }

    /// Overwrites the page from bytes (see [`read_bytes`](Self::read_bytes)).
    #[inline]
    pub(crate) fn write_bytes(&self, bytes: &[u8; 4096]) {
        for (ws, bytes) in self.words.chunks_exact(8).zip(bytes.chunks_exact(64)) {
            for k in 0..8 {
                let mut b = [0u8; 8];
                b.copy_from_slice(&bytes[k * 8..k * 8 + 8]);
                ws[k].store(u64::from_le_bytes(b), Ordering::Relaxed);
            }
        }
    }

    /// Zeroes the page.
    pub(crate) fn zero(&self) {
        for w in &self.words {
            w.store(0, Ordering::Relaxed);
        }
    }
}

/// The contents of [`SLAB_PAGES`] consecutive pages, allocated together;
/// counted so that a TLB entry can keep a reference (see [`PageRef`]).
type Slab = Arc<[PageData; SLAB_PAGES]>;

/// Bit of [`PageSlot::busy`] held by an exclusive leaf.
const EXCLUSIVE: u32 = 1 << 31;

/// Bit of [`PageSlot::busy`] set when the frame is poisoned; the bits
/// below count shared holders.
const POISONED: u32 = 1 << 30;

/// What the model keeps for one EPC page beside its contents: 36 bytes.
pub(crate) struct PageSlot {
    /// The EPCM entry (packed, see `epcm_cell.rs`).
    pub(crate) epcm: EpcmCell,
    /// The leaf concurrency lock of the SDM's tables, shared or exclusive,
    /// never waited for (a conflict is reported, not queued); and in
    /// [`POISONED`], whether the frame has an uncorrectable memory error
    /// (reading it raises a machine check): a property of the DRAM, not of
    /// the EPCM, so it survives EREMOVE and power cycles.
    busy: AtomicU32,
}

impl PageSlot {
    fn new() -> PageSlot {
        PageSlot {
            epcm: EpcmCell::free(),
            busy: AtomicU32::new(0),
        }
    }

    /// Whether the page is poisoned.
    #[inline]
    pub(crate) fn is_poisoned(&self) -> bool {
        self.busy.load(Ordering::Acquire) & POISONED != 0
    }

    /// Poisons the page; whether it was poisoned already. Waits for an
    /// exclusive leaf to finish (leaves are short and never wait, so this
    /// ends): while a leaf holds the page exclusively the word does not
    /// change, which lets it release with a plain store. Never called with
    /// the page held.
    pub(crate) fn poison(&self) -> bool {
        let mut spins = 0u32;
        let mut cur = self.busy.load(Ordering::Relaxed);
        loop {
            if cur & EXCLUSIVE != 0 {
                spins += 1;
                if spins < 64 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
                cur = self.busy.load(Ordering::Relaxed);
                continue;
            }
            match self.busy.compare_exchange_weak(
                cur,
                cur | POISONED,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return cur & POISONED != 0,
                Err(now) => cur = now,
            }
        }
    }

    /// Takes the page exclusively for a leaf, or reports a conflict.
    pub(crate) fn try_exclusive(&self) -> Option<BusyGuard<'_>> {
        let mut cur = self.busy.load(Ordering::Relaxed);
        loop {
            if cur & !POISONED != 0 {
                return None;
            }
            // Only the poison bit can change under us; retry then.
            match self.busy.compare_exchange_weak(
                cur,
                cur | EXCLUSIVE,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    return Some(BusyGuard {
                        slot: self,
                        exclusive: Some(cur),
                    })
                }
                Err(now) => cur = now,
            }
        }
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
                        exclusive: None,
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
        self.busy.load(Ordering::Relaxed) & !POISONED != 0
    }
}

/// A leaf's hold on a page; released on drop.
pub(crate) struct BusyGuard<'a> {
    slot: &'a PageSlot,
    /// For an exclusive hold, the word before it (the poison bit), which
    /// nothing changes meanwhile (see [`PageSlot::poison`]).
    exclusive: Option<u32>,
}

impl BusyGuard<'_> {
    /// The page's EPCM entry, read without the entry's lock: only for an
    /// exclusive hold, under which no other writer of the entry runs (see
    /// `epcm_cell.rs`).
    #[inline]
    pub(crate) fn entry(&self) -> EpcmEntry {
        assert!(
            self.exclusive.is_some(),
            "a lock-free read needs the page exclusively"
        );
        self.slot.epcm.read_exclusive()
    }
}

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        match self.exclusive {
            Some(before) => self.slot.busy.store(before, Ordering::Release),
            None => {
                self.slot.busy.fetch_sub(1, Ordering::Release);
            }
        }
    }
}

/// One page: its [`PageSlot`] (through `Deref`) and the way to its
/// contents in its slab.
#[derive(Clone, Copy)]
pub(crate) struct Slot<'a> {
    slot: &'a PageSlot,
    slab: &'a OnceLock<Slab>,
    /// The page's index in its slab.
    at: usize,
}

impl Deref for Slot<'_> {
    type Target = PageSlot;

    #[inline]
    fn deref(&self) -> &PageSlot {
        self.slot
    }
}

impl<'a> Slot<'a> {
    /// The page's contents, allocated (with the rest of its slab) on first
    /// use.
    #[inline]
    pub(crate) fn data(self) -> &'a PageData {
        &slab(self.slab)[self.at % SLAB_PAGES]
    }

    /// [`PageSlot::try_exclusive`], for as long as the slot lives.
    pub(crate) fn try_exclusive(self) -> Option<BusyGuard<'a>> {
        self.slot.try_exclusive()
    }

    /// [`PageSlot::try_shared`], for as long as the slot lives.
    pub(crate) fn try_shared(self) -> Option<BusyGuard<'a>> {
        self.slot.try_shared()
    }

    /// [`PageSlot::exclusive_for`], for as long as the slot lives.
    pub(crate) fn exclusive_for(self, op: Operand) -> LeafResult<BusyGuard<'a>> {
        self.slot.exclusive_for(op)
    }

    /// [`PageSlot::shared_for`], for as long as the slot lives.
    pub(crate) fn shared_for(self, op: Operand) -> LeafResult<BusyGuard<'a>> {
        self.slot.shared_for(op)
    }

    /// Zeroes the contents if they were ever allocated (a power cycle:
    /// nothing of the old contents survives).
    pub(crate) fn zero_if_present(self) {
        if let Some(slab) = self.slab.get() {
            slab[self.at].zero();
        }
    }
}

/// The slab in `cell`, allocated on first use.
#[inline]
fn slab(cell: &OnceLock<Slab>) -> &Slab {
    cell.get_or_init(|| {
        let pages: Arc<[PageData]> = (0..SLAB_PAGES).map(|_| PageData::new()).collect();
        pages
            .try_into()
            .unwrap_or_else(|_| unreachable!("SLAB_PAGES pages"))
    })
}

/// Slabs per chunk.
const CHUNK_SLABS: usize = CHUNK_PAGES / SLAB_PAGES;

/// The state of [`CHUNK_PAGES`] pages and their contents' slabs (a fixed
/// number of slab cells, so that the TLB-hit path indexes them with no
/// bounds check: its page index is already below `CHUNK_PAGES`).
struct Chunk {
    /// Counted, like the slabs, for [`PageRef`].
    slots: Arc<[PageSlot]>,
    slabs: Box<[OnceLock<Slab>; CHUNK_SLABS]>,
}

impl Chunk {
    fn new(len: usize) -> Chunk {
        Chunk {
            slots: (0..len).map(|_| PageSlot::new()).collect(),
            slabs: Box::new([const { OnceLock::new() }; CHUNK_SLABS]),
        }
    }

    #[inline]
    fn slot(&self, i: usize) -> Option<Slot<'_>> {
        let i = i % CHUNK_PAGES;
        Some(Slot {
            slot: self.slots.get(i)?,
            slab: &self.slabs[i / SLAB_PAGES],
            at: i % SLAB_PAGES,
        })
    }
}

/// The EPC: its layout and its pages.
pub(crate) struct Epc {
    layout: EpcLayout,
    chunks: Box<[OnceLock<Chunk>]>,
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
    pub(crate) fn slot(&self, page: EpcPageId) -> Option<Slot<'_>> {
        let i = page.index();
        let chunk = self.chunks.get(i / CHUNK_PAGES)?;
        let total = self.layout.total_pages() as usize;
        if i >= total {
            return None;
        }
        let chunk = chunk.get_or_init(|| {
            let start = (i / CHUNK_PAGES) * CHUNK_PAGES;
            Chunk::new(CHUNK_PAGES.min(total - start))
        });
        chunk.slot(i % CHUNK_PAGES)
    }

    /// A counted reference to `page`'s slot and contents (allocating them
    /// on first use), or `None` if it is not an EPC page: what a TLB entry
    /// keeps so that a hit reaches the page with no chunk or slab lookup.
    /// It names the same memory as [`slot`](Self::slot) for as long as the
    /// machine lives (chunks and slabs are never replaced; a power cycle
    /// zeroes contents in place), so it grants no access the page id would
    /// not: when an access may use it is the TLB's business.
    pub(crate) fn page_ref(&self, page: EpcPageId) -> Option<PageRef> {
        self.slot(page)?;
        let i = page.index();
        let chunk = self.chunks[i / CHUNK_PAGES].get()?;
        let i = i % CHUNK_PAGES;
        Some(PageRef {
            slots: chunk.slots.clone(),
            slab: slab(&chunk.slabs[i / SLAB_PAGES]).clone(),
            at: i as u32,
        })
    }

    /// Every page whose state has been allocated, with its id. Pages never
    /// touched are free and have no state.
    pub(crate) fn materialized(&self) -> impl Iterator<Item = (EpcPageId, Slot<'_>)> {
        self.chunks.iter().enumerate().flat_map(|(c, chunk)| {
            chunk.get().into_iter().flat_map(move |chunk| {
                (0..chunk.slots.len()).filter_map(move |i| {
                    Some((EpcPageId((c * CHUNK_PAGES + i) as u32), chunk.slot(i)?))
                })
            })
        })
    }
}

/// One page's slot and contents, held by counted references to its
/// chunk's slot array and its slab (see [`Epc::page_ref`]).
#[derive(Clone)]
pub(crate) struct PageRef {
    slots: Arc<[PageSlot]>,
    slab: Slab,
    /// The page's index in its chunk.
    at: u32,
}

impl PageRef {
    /// Whether the page is poisoned ([`PageSlot::is_poisoned`]).
    #[inline]
    pub(crate) fn is_poisoned(&self) -> bool {
        self.slots[self.at as usize].is_poisoned()
    }

    /// The page's contents.
    #[inline]
    pub(crate) fn data(&self) -> &PageData {
        &self.slab[self.at as usize % SLAB_PAGES]
    }
}

impl std::fmt::Debug for PageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageRef").field("at", &self.at).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_36_bytes() {
        assert_eq!(std::mem::size_of::<PageSlot>(), 36);
    }

    #[test]
    fn a_page_ref_names_the_slot_and_contents_of_its_page() {
        let layout = EpcLayout::new(&crate::config::MachineConfig::with_pages(600).sections);
        let epc = Epc::new(layout);
        assert!(epc.page_ref(EpcPageId(600)).is_none(), "not an EPC page");
        for page in [EpcPageId(0), EpcPageId(17), EpcPageId(599)] {
            let r = epc.page_ref(page).expect("EPC page");
            let slot = epc.slot(page).expect("EPC page");
            r.data().words[3].store(u64::from(page.0) + 1, Ordering::Relaxed);
            assert_eq!(
                slot.data().words[3].load(Ordering::Relaxed),
                u64::from(page.0) + 1
            );
            // A power cycle zeroes in place: the reference still names the
            // page's memory.
            slot.zero_if_present();
            assert_eq!(r.data().words[3].load(Ordering::Relaxed), 0);
            assert!(!r.is_poisoned());
            slot.poison();
            assert!(r.is_poisoned());
        }
    }

    #[test]
    fn poisoning_waits_for_an_exclusive_leaf() {
        let s = std::sync::Arc::new(PageSlot::new());
        let held = s.try_exclusive().expect("free");
        let t = {
            let s = s.clone();
            std::thread::spawn(move || s.poison())
        };
        // The poisoner cannot set its bit while the leaf holds the page:
        // the leaf's release (a plain store) would lose it.
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!s.is_poisoned());
        drop(held);
        assert!(!t.join().expect("poisoner"));
        assert!(s.is_poisoned() && !s.is_busy());
    }

    #[test]
    fn poison_survives_leaves_and_does_not_conflict() {
        let s = PageSlot::new();
        assert!(!s.poison());
        assert!(s.is_poisoned() && !s.is_busy());
        {
            let _x = s.try_exclusive().expect("poison is no holder");
            assert!(s.try_shared().is_none() && s.is_busy());
        }
        assert!(s.poison(), "already poisoned");
        let a = s.try_shared().expect("shared");
        let b = s.try_shared().expect("shared twice");
        assert!(s.try_exclusive().is_none());
        drop((a, b));
        assert!(s.is_poisoned() && !s.is_busy());
    }
}
