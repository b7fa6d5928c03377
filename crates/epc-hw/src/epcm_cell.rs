//! The EPCM entry as the model stores it: packed into 28 bytes (the public
//! [`EpcmEntry`] takes 48) of atomic words behind a 4-byte lock word, so
//! that a page slot stays small (the per-page metadata budget of
//! `docs/BENCHMARKS.md`, §5) and so that the paging leaves pay as few
//! locked instructions as possible (issue 13 §3: those, not the plain
//! instructions, separate EWB + ELDU from the bare AES-GCM pair).
//!
//! Leaves lock the cell and work on an unpacked copy through
//! [`EpcmGuard`], which derefs to [`EpcmEntry`] and packs the entry back
//! when it is dropped, so every check reads the same fields as before. The
//! lock is a compare-and-swap to take and a plain release store to give
//! back (a mutex's unlock is a second locked instruction); it is held only
//! for a few loads and stores, never across anything that waits.
//!
//! Who may read without the lock (every writer holds the page in its
//! leaf-concurrency word, shared or exclusive, *and* this lock):
//!
//! * anyone, the VALID bit and the page type ([`EpcmCell::page_type`]):
//!   both sit in one word, which a writer stores at once;
//! * a leaf holding the page shared, the owning SECS
//!   ([`EpcmCell::secs_while_held`]): only exclusive holders (EADD, EAUG,
//!   ELDU, EWB, EREMOVE, the power cycle) change it;
//! * a leaf holding the page exclusively, the whole entry
//!   ([`EpcmCell::read_exclusive`]): no writer can run.
//!
//! Packing (every field is kept in full, nothing is truncated):
//!
//! * the enclave linear address, always page aligned (EADD, EAUG and ELDU
//!   check it; SECS and VA pages have 0), with the flags in its low 12
//!   bits: VALID, BLOCKED, PENDING, MODIFIED, PR, "a modify epoch is
//!   recorded", R/W/X and the 3-bit page type;
//! * the owning SECS page, `u32::MAX` for none;
//! * the two 64-bit epochs, as pairs of 32-bit halves so that the cell is
//!   4-byte aligned.

use crate::epcm::{EpcmEntry, PageType, Perms, SecInfo};
use crate::ids::{EpcPageId, LinearAddress};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU32, Ordering};

const VALID: u64 = 1 << 0;
const BLOCKED: u64 = 1 << 1;
const PENDING: u64 = 1 << 2;
const MODIFIED: u64 = 1 << 3;
const PR: u64 = 1 << 4;
const HAS_MODIFY_EPOCH: u64 = 1 << 5;
const PERMS_SHIFT: u32 = 6;
const TYPE_SHIFT: u32 = 9;
const FLAG_BITS: u64 = 0xfff;

/// `secs` of an entry with no owning SECS.
const NO_SECS: u32 = u32::MAX;

/// A 64-bit value in two 4-byte-aligned halves.
#[derive(Clone, Copy, Default)]
struct Split([u32; 2]);

impl Split {
    #[inline]
    fn new(v: u64) -> Split {
        Split([v as u32, (v >> 32) as u32])
    }

    #[inline]
    fn get(self) -> u64 {
        u64::from(self.0[0]) | (u64::from(self.0[1]) << 32)
    }
}

/// A packed entry (see the module documentation).
#[derive(Clone, Copy)]
struct Packed {
    addr_flags: Split,
    secs: u32,
    block_epoch: Split,
    modify_epoch: Split,
}

impl Packed {
    #[inline]
    fn pack(e: &EpcmEntry) -> Packed {
        debug_assert!(
            e.linaddr.is_page_aligned(),
            "EPCM addresses are page aligned"
        );
        debug_assert!(e.secs != Some(EpcPageId(NO_SECS)));
        let s = &e.secinfo;
        let flags = (e.valid as u64)
            | ((e.blocked as u64) << 1)
            | ((s.pending as u64) << 2)
            | ((s.modified as u64) << 3)
            | ((s.pr as u64) << 4)
            | ((e.modify_epoch.is_some() as u64) << 5)
            | (u64::from(s.perms.bits()) << PERMS_SHIFT)
            | ((s.page_type as u64) << TYPE_SHIFT);
        Packed {
            addr_flags: Split::new((e.linaddr.0 & !FLAG_BITS) | flags),
            secs: e.secs.map_or(NO_SECS, |p| p.0),
            block_epoch: Split::new(e.block_epoch),
            modify_epoch: Split::new(e.modify_epoch.unwrap_or(0)),
        }
    }

    #[inline]
    fn unpack(self) -> EpcmEntry {
        let w = self.addr_flags.get();
        let bit = |b: u64| w & b != 0;
        EpcmEntry {
            valid: bit(VALID),
            secinfo: SecInfo {
                page_type: PageType::from_u8(((w >> TYPE_SHIFT) & 7) as u8)
                    .expect("only valid page types are packed"),
                perms: Perms::from_bits(((w >> PERMS_SHIFT) & 7) as u8),
                pending: bit(PENDING),
                modified: bit(MODIFIED),
                pr: bit(PR),
            },
            blocked: bit(BLOCKED),
            secs: (self.secs != NO_SECS).then_some(EpcPageId(self.secs)),
            linaddr: LinearAddress(w & !FLAG_BITS),
            block_epoch: self.block_epoch.get(),
            modify_epoch: bit(HAS_MODIFY_EPOCH).then_some(self.modify_epoch.get()),
        }
    }
}

/// One page's EPCM entry: the lock word and the packed entry's seven
/// words (see the module documentation for who may read without the lock).
/// Held only for short, non-blocking sections; never across an IPI. Lock
/// order: an enclave's tracking lock, then this.
pub(crate) struct EpcmCell {
    /// 1 while held.
    lock: AtomicU32,
    /// `Packed` word by word: the address and flags (low half first), the
    /// SECS, the block epoch, the modify epoch.
    words: [AtomicU32; 7],
}

/// Index of the word holding VALID and the page type.
const FLAGS_WORD: usize = 0;
/// Index of the SECS word.
const SECS_WORD: usize = 2;

impl Packed {
    #[inline]
    fn to_words(self) -> [u32; 7] {
        let [a0, a1] = self.addr_flags.0;
        let [b0, b1] = self.block_epoch.0;
        let [m0, m1] = self.modify_epoch.0;
        [a0, a1, self.secs, b0, b1, m0, m1]
    }

    #[inline]
    fn from_words(w: [u32; 7]) -> Packed {
        Packed {
            addr_flags: Split([w[0], w[1]]),
            secs: w[2],
            block_epoch: Split([w[3], w[4]]),
            modify_epoch: Split([w[5], w[6]]),
        }
    }
}

/// The page type of a flags word, if VALID.
#[inline]
fn type_of(w: u32) -> Option<PageType> {
    (w & VALID as u32 != 0).then(|| {
        PageType::from_u8(((w >> TYPE_SHIFT) & 7) as u8).expect("only valid page types are packed")
    })
}

impl EpcmCell {
    /// The entry of a free page.
    pub(crate) fn free() -> EpcmCell {
        let w = Packed::pack(&EpcmEntry::FREE).to_words();
        EpcmCell {
            lock: AtomicU32::new(0),
            words: w.map(AtomicU32::new),
        }
    }

    /// The page type if the entry is valid, read without the lock: VALID
    /// and the type share one word.
    #[inline]
    pub(crate) fn page_type(&self) -> Option<PageType> {
        type_of(self.words[FLAGS_WORD].load(Ordering::Acquire))
    }

    /// The page type and owning SECS, without the lock, for a leaf that
    /// holds the page (shared or exclusively): only exclusive holders
    /// rewrite the SECS field, so it cannot change meanwhile.
    #[inline]
    pub(crate) fn secs_while_held(&self) -> (Option<PageType>, Option<EpcPageId>) {
        let t = self.page_type();
        let s = self.words[SECS_WORD].load(Ordering::Relaxed);
        (t, (s != NO_SECS).then_some(EpcPageId(s)))
    }

    /// The whole entry without the lock, for a leaf that holds the page
    /// exclusively (the caller's [`BusyGuard`](crate::epc::BusyGuard)
    /// checks that): every writer holds the page, so none runs now, and
    /// the acquire that took the page ordered the last one's stores before
    /// these loads.
    #[inline]
    pub(crate) fn read_exclusive(&self) -> EpcmEntry {
        Packed::from_words(self.load_words()).unpack()
    }

    #[inline]
    fn load_words(&self) -> [u32; 7] {
        std::array::from_fn(|i| self.words[i].load(Ordering::Relaxed))
    }

    #[inline]
    fn store_words(&self, p: Packed) {
        let w = p.to_words();
        for (cell, &v) in self.words[1..].iter().zip(&w[1..]) {
            cell.store(v, Ordering::Relaxed);
        }
        // Last and with release: a lock-free reader of the type that sees
        // the new word sees the rest of the new entry too.
        self.words[FLAGS_WORD].store(w[FLAGS_WORD], Ordering::Release);
    }

    #[inline]
    fn acquire(&self) {
        let mut spins = 0u32;
        while self
            .lock
            .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            // Holders only load and store a few words, but the holder's
            // thread may be preempted: spin briefly, then yield.
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    #[inline]
    fn release(&self) {
        self.lock.store(0, Ordering::Release);
    }

    /// Replaces the entry (no need to unpack the old one).
    #[inline]
    pub(crate) fn set(&self, e: &EpcmEntry) {
        let p = Packed::pack(e);
        self.acquire();
        self.store_words(p);
        self.release();
    }

    /// Locks the entry; the guard derefs to an unpacked copy and writes it
    /// back when dropped.
    #[inline]
    pub(crate) fn lock(&self) -> EpcmGuard<'_> {
        self.acquire();
        let entry = Packed::from_words(self.load_words()).unpack();
        EpcmGuard {
            cell: self,
            entry,
            dirty: false,
        }
    }
}

/// A locked EPCM entry (see [`EpcmCell::lock`]).
pub(crate) struct EpcmGuard<'a> {
    cell: &'a EpcmCell,
    entry: EpcmEntry,
    /// The entry was borrowed mutably: pack it back.
    dirty: bool,
}

impl Deref for EpcmGuard<'_> {
    type Target = EpcmEntry;

    #[inline]
    fn deref(&self) -> &EpcmEntry {
        &self.entry
    }
}

impl DerefMut for EpcmGuard<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut EpcmEntry {
        self.dirty = true;
        &mut self.entry
    }
}

impl Drop for EpcmGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.dirty {
            self.cell.store_words(Packed::pack(&self.entry));
        }
        self.cell.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_keeps_every_field() {
        let types = [
            PageType::Secs,
            PageType::Tcs,
            PageType::Reg,
            PageType::Va,
            PageType::Trim,
        ];
        for (i, t) in types.into_iter().enumerate() {
            for bits in 0..64u8 {
                let e = EpcmEntry {
                    valid: bits & 1 != 0,
                    secinfo: SecInfo {
                        page_type: t,
                        perms: Perms::from_bits(bits >> 3),
                        pending: bits & 2 != 0,
                        modified: bits & 4 != 0,
                        pr: bits & 8 != 0,
                    },
                    blocked: bits & 16 != 0,
                    secs: (bits & 32 != 0).then_some(EpcPageId(33_554_431 - i as u32)),
                    linaddr: LinearAddress(0xffff_ffff_f000 - ((bits as u64) << 12)),
                    block_epoch: u64::MAX - u64::from(bits),
                    modify_epoch: (bits & 2 != 0).then_some(u64::from(bits) << 40),
                };
                assert_eq!(Packed::pack(&e).unpack(), e);
            }
        }
        assert_eq!(Packed::pack(&EpcmEntry::FREE).unpack(), EpcmEntry::FREE);
    }

    #[test]
    fn the_cell_is_small_and_the_guard_writes_back() {
        assert_eq!(std::mem::size_of::<EpcmCell>(), 32);
        let c = EpcmCell::free();
        {
            let mut g = c.lock();
            g.valid = true;
            g.block_epoch = 1 << 40;
            g.modify_epoch = Some(7);
        }
        assert_eq!(c.page_type(), Some(PageType::Reg));
        let e = *c.lock();
        assert!(e.valid);
        assert_eq!((e.block_epoch, e.modify_epoch), (1 << 40, Some(7)));
        c.set(&EpcmEntry::FREE);
        let e = *c.lock();
        assert_eq!((e, c.page_type()), (EpcmEntry::FREE, None));
    }

    #[test]
    fn the_lock_excludes_and_lock_free_reads_see_whole_words() {
        let c = std::sync::Arc::new(EpcmCell::free());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for _ in 0..2_000 {
                        let mut g = c.lock();
                        g.block_epoch += 1;
                        g.valid = !g.valid;
                        // Valid or not, the type read without the lock is
                        // REG's or none, never a torn mix.
                        assert!(matches!(c.page_type(), None | Some(PageType::Reg)));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("worker");
        }
        let e = *c.lock();
        assert_eq!(e.block_epoch, 8_000, "no increment lost");
        assert!(!e.valid, "an even number of flips");
        assert_eq!(c.read_exclusive(), e);
    }
}
