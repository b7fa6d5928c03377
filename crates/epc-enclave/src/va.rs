//! Version Array slots. VA pages are allocated ahead, one for every 512
//! enclave pages counting the SECS (as Linux's `sgx_encl_grow`), so that an
//! eviction never fails for want of a slot. They count against the EPC, are
//! never on the manager's reclaimable list, and are not evicted.

use epc_hw::{VaSlot, VA_SLOTS_PER_PAGE};
use epc_mm::EpcPage;

const WORDS: usize = VA_SLOTS_PER_PAGE as usize / 64;

/// One VA page and which of its slots hold versions.
#[derive(Debug)]
struct VaPage {
    page: EpcPage,
    used: [u64; WORDS],
    nr_used: u16,
}

/// The VA pages of one enclave.
#[derive(Debug, Default)]
pub(crate) struct VaPages {
    pages: Vec<VaPage>,
    /// Enclave pages that have reserved a slot (SECS included).
    reserved: usize,
}

impl VaPages {
    /// Whether reserving one more slot needs a new VA page first.
    pub(crate) fn needs_page(&self) -> bool {
        self.reserved % usize::from(VA_SLOTS_PER_PAGE) == 0
            && self.reserved / usize::from(VA_SLOTS_PER_PAGE) >= self.pages.len()
    }

    /// Adds a VA page (already EPA'd).
    pub(crate) fn add_page(&mut self, page: EpcPage) {
        self.pages.push(VaPage {
            page,
            used: [0; WORDS],
            nr_used: 0,
        });
    }

    /// Reserves a slot for one more enclave page; the caller added a VA page
    /// first if [`needs_page`](Self::needs_page) said so.
    pub(crate) fn reserve(&mut self) {
        debug_assert!(!self.needs_page());
        self.reserved += 1;
    }

    /// Gives back the reservation of a page that could not be added.
    /// (Saturating: teardown may have dropped every reservation already.)
    pub(crate) fn unreserve(&mut self) {
        self.reserved = self.reserved.saturating_sub(1);
    }

    /// Takes a free slot. Reservations guarantee one exists while the
    /// enclave has no more evicted pages than reserved ones.
    pub(crate) fn alloc(&mut self) -> Option<VaSlot> {
        // Like Linux, prefer the first page with room.
        for va in &mut self.pages {
            if usize::from(va.nr_used) == usize::from(VA_SLOTS_PER_PAGE) {
                continue;
            }
            for (w, bits) in va.used.iter_mut().enumerate() {
                if *bits != u64::MAX {
                    let b = bits.trailing_ones() as usize;
                    *bits |= 1 << b;
                    va.nr_used += 1;
                    return Some(VaSlot {
                        page: va.page.id(),
                        slot: (w * 64 + b) as u16,
                    });
                }
            }
        }
        None
    }

    /// Returns a slot (after ELDU cleared it, or at teardown).
    pub(crate) fn free(&mut self, slot: VaSlot) {
        let va = self
            .pages
            .iter_mut()
            .find(|v| v.page.id() == slot.page)
            .expect("slots belong to this enclave's VA pages");
        let (w, b) = (usize::from(slot.slot) / 64, usize::from(slot.slot) % 64);
        debug_assert!(va.used[w] & (1 << b) != 0, "double free of {slot:?}");
        va.used[w] &= !(1 << b);
        va.nr_used -= 1;
    }

    /// Slots in use.
    pub(crate) fn used(&self) -> usize {
        self.pages.iter().map(|v| usize::from(v.nr_used)).sum()
    }

    /// Number of VA pages.
    pub(crate) fn len(&self) -> usize {
        self.pages.len()
    }

    /// Takes every VA page out (teardown).
    pub(crate) fn drain(&mut self) -> Vec<EpcPage> {
        self.reserved = 0;
        self.pages.drain(..).map(|v| v.page).collect()
    }
}
