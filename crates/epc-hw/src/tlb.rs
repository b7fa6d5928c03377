//! A logical processor's TLB: a direct-mapped cache of translations from
//! enclave linear pages to EPC pages with the access rights the walk granted.
//!
//! Entries survive EBLOCK (the whole reason for ETRACK): only EENTER, EEXIT,
//! AEX and ERESUME flush them. A flush bumps a generation number, so it costs
//! the same whatever the size.

use crate::ids::{EpcPageId, LinearAddress};

#[derive(Clone, Copy, Debug)]
struct Entry {
    page_number: u64,
    generation: u64,
    page: EpcPageId,
    writable: bool,
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
                };
                size
            ],
            generation: 1,
            mask: size.is_power_of_two().then(|| size as u64 - 1),
        }
    }

    #[inline]
    fn index(&self, vpn: u64) -> usize {
        match self.mask {
            Some(m) => (vpn & m) as usize,
            None => (vpn % self.entries.len() as u64) as usize,
        }
    }

    #[inline]
    pub(crate) fn lookup(&self, addr: LinearAddress) -> Option<Translation> {
        if self.entries.is_empty() {
            return None;
        }
        let vpn = addr.page_number();
        let e = &self.entries[self.index(vpn)];
        (e.generation == self.generation && e.page_number == vpn).then_some(Translation {
            page: e.page,
            writable: e.writable,
        })
    }

    pub(crate) fn fill(&mut self, addr: LinearAddress, t: Translation) {
        if self.entries.is_empty() {
            return;
        }
        let vpn = addr.page_number();
        let i = self.index(vpn);
        self.entries[i] = Entry {
            page_number: vpn,
            generation: self.generation,
            page: t.page,
            writable: t.writable,
        };
    }

    pub(crate) fn flush(&mut self) {
        self.generation += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_lookup_flush() {
        let mut t = Tlb::new(4);
        let a = LinearAddress(0x5000);
        assert_eq!(t.lookup(a), None);
        let tr = Translation {
            page: EpcPageId(3),
            writable: true,
        };
        t.fill(a, tr);
        assert_eq!(t.lookup(LinearAddress(0x5008)), Some(tr));
        assert_eq!(t.lookup(LinearAddress(0x9000)), None, "same set, other tag");
        t.flush();
        assert_eq!(t.lookup(a), None);
        let mut odd = Tlb::new(3);
        odd.fill(a, tr);
        assert_eq!(odd.lookup(a), Some(tr));
        let mut off = Tlb::new(0);
        off.fill(a, tr);
        assert_eq!(off.lookup(a), None);
    }
}
