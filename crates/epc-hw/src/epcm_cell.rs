//! The EPCM entry as the model stores it: packed into 28 bytes (the public
//! [`EpcmEntry`] takes 48), behind a one-byte lock, so that a page slot
//! stays small (the per-page metadata budget of `docs/BENCHMARKS.md`, §5).
//!
//! Leaves lock the cell and work on an unpacked copy through
//! [`EpcmGuard`], which derefs to [`EpcmEntry`] and packs the entry back
//! when it is dropped, so every check reads the same fields as before.
//!
//! Packing (every field is kept in full, nothing is truncated):
//!
//! * the enclave linear address, always page aligned (EADD, EAUG and ELDU
//!   check it; SECS and VA pages have 0), with the flags in its low 12
//!   bits: VALID, BLOCKED, PENDING, MODIFIED, PR, "a modify epoch is
//!   recorded", R/W/X and the 3-bit page type;
//! * the owning SECS page, `u32::MAX` for none;
//! * the two 64-bit epochs, as pairs of 32-bit halves so that the cell is
//!   4-byte aligned and the lock byte costs 4 bytes, not 8.

use crate::epcm::{EpcmEntry, PageType, Perms, SecInfo};
use crate::ids::{EpcPageId, LinearAddress};
use parking_lot::{Mutex, MutexGuard};
use std::ops::{Deref, DerefMut};

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

/// One page's EPCM entry behind its lock. Held only for short,
/// non-blocking sections; never across an IPI. Lock order: an enclave's
/// tracking lock, then this.
pub(crate) struct EpcmCell(Mutex<Packed>);

impl EpcmCell {
    /// The entry of a free page.
    pub(crate) fn free() -> EpcmCell {
        EpcmCell(Mutex::new(Packed::pack(&EpcmEntry::FREE)))
    }

    /// The page type if the entry is valid, read without unpacking the
    /// rest (the operand checks that need no other field).
    #[inline]
    pub(crate) fn page_type(&self) -> Option<PageType> {
        let w = self.0.lock().addr_flags.0[0];
        (w & VALID as u32 != 0).then(|| {
            PageType::from_u8(((w >> TYPE_SHIFT) & 7) as u8)
                .expect("only valid page types are packed")
        })
    }

    /// Replaces the entry (no need to unpack the old one).
    #[inline]
    pub(crate) fn set(&self, e: &EpcmEntry) {
        *self.0.lock() = Packed::pack(e);
    }

    /// Locks the entry; the guard derefs to an unpacked copy and writes it
    /// back when dropped.
    #[inline]
    pub(crate) fn lock(&self) -> EpcmGuard<'_> {
        let guard = self.0.lock();
        let entry = guard.unpack();
        EpcmGuard {
            guard,
            entry,
            dirty: false,
        }
    }
}

/// A locked EPCM entry (see [`EpcmCell::lock`]).
pub(crate) struct EpcmGuard<'a> {
    guard: MutexGuard<'a, Packed>,
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
            *self.guard = Packed::pack(&self.entry);
        }
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
}
