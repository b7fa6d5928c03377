//! The enclave page table: one atomic word per page of the enclave's range,
//! holding the mapping (EPC page and writability) and the accessed bit.
//!
//! It is the process page table of the model: the hardware's page walk reads
//! it through [`epc_hw::PageTable`] and sets the accessed bit; the reclaimer
//! tests and clears that bit ([`EnclavePageTable::test_and_clear_accessed`])
//! without any lock, which is what lets the manager call `age` under its
//! list lock and lets IPIs never wait on a page walk.

use epc_hw::{EpcPageId, LinearAddress, PageTable, Pte, PAGE_SIZE};
use std::sync::atomic::{AtomicU64, Ordering};

const PRESENT: u64 = 1;
const WRITABLE: u64 = 1 << 1;
const ACCESSED: u64 = 1 << 2;
const PAGE_SHIFT: u32 = 8;

/// The page table of one enclave's linear range.
#[derive(Debug)]
pub struct EnclavePageTable {
    base: u64,
    entries: Box<[AtomicU64]>,
}

impl EnclavePageTable {
    /// A table covering `size` bytes from `base`, all unmapped.
    pub fn new(base: LinearAddress, size: u64) -> Self {
        EnclavePageTable {
            base: base.0,
            entries: (0..size / PAGE_SIZE).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn entry(&self, page: LinearAddress) -> Option<&AtomicU64> {
        let offset = page.0.checked_sub(self.base)?;
        self.entries.get((offset / PAGE_SIZE) as usize)
    }

    /// Maps `page` to `epc`, with the accessed bit clear.
    pub fn map(&self, page: LinearAddress, epc: EpcPageId, writable: bool) {
        if let Some(e) = self.entry(page) {
            let w = if writable { WRITABLE } else { 0 };
            e.store(
                (u64::from(epc.0) << PAGE_SHIFT) | PRESENT | w,
                Ordering::SeqCst,
            );
        }
    }

    /// Removes the mapping of `page` (the accessed bit goes with it).
    pub fn unmap(&self, page: LinearAddress) {
        if let Some(e) = self.entry(page) {
            e.store(0, Ordering::SeqCst);
        }
    }

    /// Whether the page was accessed since the last test, clearing the bit.
    pub fn test_and_clear_accessed(&self, page: LinearAddress) -> bool {
        self.entry(page)
            .is_some_and(|e| e.fetch_and(!ACCESSED, Ordering::SeqCst) & ACCESSED != 0)
    }

    /// Whether `page` is mapped.
    pub fn is_mapped(&self, page: LinearAddress) -> bool {
        self.entry(page)
            .is_some_and(|e| e.load(Ordering::SeqCst) & PRESENT != 0)
    }

    /// Number of mapped pages (a scan; for reports).
    pub fn mapped_pages(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.load(Ordering::Relaxed) & PRESENT != 0)
            .count()
    }
}

impl PageTable for EnclavePageTable {
    fn translate(&self, page: LinearAddress) -> Option<Pte> {
        let v = self.entry(page)?.load(Ordering::SeqCst);
        (v & PRESENT != 0).then_some(Pte {
            page: EpcPageId((v >> PAGE_SHIFT) as u32),
            writable: v & WRITABLE != 0,
        })
    }

    fn mark_accessed(&self, page: LinearAddress) {
        if let Some(e) = self.entry(page) {
            // Only a present entry takes the bit: a concurrent unmap wins.
            let _ = e.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
                (v & PRESENT != 0).then_some(v | ACCESSED)
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_walk_accessed_unmap() {
        let pt = EnclavePageTable::new(LinearAddress(0x10000), 0x10000);
        let a = LinearAddress(0x12000);
        assert_eq!(pt.translate(a), None);
        pt.map(a, EpcPageId(77), true);
        assert_eq!(
            pt.translate(a),
            Some(Pte {
                page: EpcPageId(77),
                writable: true
            })
        );
        assert!(!pt.test_and_clear_accessed(a));
        pt.mark_accessed(a);
        assert!(pt.test_and_clear_accessed(a));
        assert!(!pt.test_and_clear_accessed(a));
        pt.unmap(a);
        pt.mark_accessed(a);
        assert!(!pt.is_mapped(a));
        assert!(!pt.test_and_clear_accessed(a));
        // Outside the range: never mapped.
        pt.map(LinearAddress(0x40000), EpcPageId(1), false);
        assert_eq!(pt.translate(LinearAddress(0x40000)), None);
        assert_eq!(pt.mapped_pages(), 0);
    }
}
