//! A logical processor's TLB: a direct-mapped cache of translations from
//! enclave linear pages to EPC pages with the access rights the walk granted.
//!
//! Entries survive EBLOCK (the whole reason for ETRACK): only EENTER, EEXIT,
//! AEX and ERESUME flush them. A flush bumps a generation number, so it costs
//! the same whatever the size.
//!
//! An entry also keeps a [`PageRef`] to its page's slot and contents, so a
//! hit reaches the word with no chunk or slab lookup. The reference names
//! the same memory as the page id (see [`Epc::page_ref`]), and the hit path
//! returns it only for an entry of the current generation: after a flush,
//! an entry's reference is kept (a later fill of the same page reuses it,
//! sparing the reference counts' atomic updates) but never used, so the
//! rule that no page is reused while a TLB can reach it is still the
//! architecture's (every LP that may hold a translation exits before
//! ETRACK completes), exactly as for the page id alone.
//!
//! [`Epc::page_ref`]: crate::epc::Epc::page_ref

use crate::epc::PageRef;
use crate::ids::{EpcPageId, LinearAddress};

#[derive(Clone, Debug)]
struct Entry {
    page_number: u64,
    generation: u64,
    page: EpcPageId,
    writable: bool,
    /// `page`'s slot and contents; `None` only in entries never filled.
    frame: Option<PageRef>,
}

/// What a TLB hit yields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Translation {
    pub(crate) page: EpcPageId,
    pub(crate) writable: bool,
}

/// The TLB of one logical processor.
#[derive(Debug)]
pub(crate) struct Tlb {
    entries: Vec<Entry>,
    generation: u64,
    /// `len - 1` when the size is a power of two: indexing by a mask avoids
    /// a 64-bit division on every access (a third of a TLB hit's time).
    mask: Option<u64>,
}

impl Tlb {
    /// A TLB of `size` entries; 0 disables it (every access walks).
    pub(crate) fn new(size: usize) -> Tlb {
        Tlb {
            entries: vec![
                Entry {
                    page_number: 0,
                    generation: 0,
                    page: EpcPageId(0),
                    writable: false,
                    frame: None,
                };
                size
            ],
            generation: 1,
            mask: size.is_power_of_two().then(|| size as u64 - 1),
        }
    }

    /// The set of `vpn`, or `None` if the TLB has no entries.
    #[inline(always)]
    fn index(&self, vpn: u64) -> Option<usize> {
        match self.mask {
            Some(m) => Some((vpn & m) as usize),
            None => vpn
                .checked_rem(self.entries.len() as u64)
                .map(|i| i as usize),
        }
    }

    /// The current entry for `addr`, if any.
    #[inline(always)]
    fn entry(&self, addr: LinearAddress) -> Option<&Entry> {
        let vpn = addr.page_number();
        let e = self.entries.get(self.index(vpn)?)?;
        (e.generation == self.generation && e.page_number == vpn).then_some(e)
    }

    /// The translation of `addr`, if cached.
    #[cfg(test)]
    pub(crate) fn lookup(&self, addr: LinearAddress) -> Option<Translation> {
        self.entry(addr).map(|e| Translation {
            page: e.page,
            writable: e.writable,
        })
    }

    /// A hit for an access to `addr` (a write needs a writable entry): the
    /// page and its slot and contents.
    #[inline(always)]
    pub(crate) fn hit(&self, addr: LinearAddress, write: bool) -> Option<(EpcPageId, &PageRef)> {
        let e = self.entry(addr)?;
        if write && !e.writable {
            return None;
        }
        Some((e.page, e.frame.as_ref()?))
    }

    /// Caches `t` for `addr`; `frame` gives `t.page`'s [`PageRef`], asked
    /// for only if the entry replaced does not already hold that page's
    /// (`None` leaves the TLB unchanged).
    pub(crate) fn fill(
        &mut self,
        addr: LinearAddress,
        t: Translation,
        frame: impl FnOnce() -> Option<PageRef>,
    ) {
        let vpn = addr.page_number();
        let Some(i) = self.index(vpn) else { return };
        let e = &mut self.entries[i];
        if e.page != t.page || e.frame.is_none() {
            let Some(frame) = frame() else { return };
            e.frame = Some(frame);
            e.page = t.page;
        }
        e.page_number = vpn;
        e.generation = self.generation;
        e.writable = t.writable;
    }

    pub(crate) fn flush(&mut self) {
        self.generation += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{EpcLayout, MachineConfig};
    use crate::epc::Epc;

    #[test]
    fn fill_lookup_flush() {
        let epc = Epc::new(EpcLayout::new(&MachineConfig::with_pages(64).sections));
        let epc = &epc;
        let frame = |p| move || epc.page_ref(p);
        let mut t = Tlb::new(4);
        let a = LinearAddress(0x5000);
        assert_eq!(t.lookup(a), None);
        let tr = Translation {
            page: EpcPageId(3),
            writable: true,
        };
        t.fill(a, tr, frame(tr.page));
        assert_eq!(t.lookup(LinearAddress(0x5008)), Some(tr));
        assert_eq!(t.lookup(LinearAddress(0x9000)), None, "same set, other tag");
        assert!(t.hit(a, true).is_some_and(|(p, _)| p == tr.page));
        t.flush();
        assert_eq!(t.lookup(a), None);
        assert!(
            t.hit(a, false).is_none(),
            "a flushed entry's frame is unreachable"
        );
        let ro = Translation {
            page: EpcPageId(3),
            writable: false,
        };
        t.fill(a, ro, || panic!("the entry holds page 3's frame already"));
        assert!(t.hit(a, false).is_some() && t.hit(a, true).is_none());
        let mut odd = Tlb::new(3);
        odd.fill(a, tr, frame(tr.page));
        assert_eq!(odd.lookup(a), Some(tr));
        let mut off = Tlb::new(0);
        off.fill(a, tr, frame(tr.page));
        assert_eq!(off.lookup(a), None);
    }

    #[test]
    fn a_hit_reaches_the_page_the_entry_names() {
        let epc = Epc::new(EpcLayout::new(&MachineConfig::with_pages(64).sections));
        let mut t = Tlb::new(4);
        let a = LinearAddress(0x5000);
        for page in [EpcPageId(3), EpcPageId(40)] {
            let tr = Translation {
                page,
                writable: true,
            };
            t.fill(a, tr, || epc.page_ref(page));
            let (p, frame) = t.hit(a, false).expect("hit");
            assert_eq!(p, page);
            frame.data().words[7].store(u64::from(page.0), std::sync::atomic::Ordering::Relaxed);
            let slot = epc.slot(page).expect("EPC page");
            assert_eq!(
                slot.data().words[7].load(std::sync::atomic::Ordering::Relaxed),
                u64::from(page.0)
            );
            assert!(!frame.is_poisoned());
            slot.poison();
            assert!(t.hit(a, false).expect("hit").1.is_poisoned());
        }
    }
}
