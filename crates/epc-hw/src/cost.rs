//! The cost ledger: a counter for every leaf, exit, IPI and fault, and a
//! table of modelled processor cycles per event. The emulator's own wall-clock
//! time says how fast the model runs; the ledger says how long real SGX
//! hardware would have spent, and reports keep the two apart.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Something the ledger counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// ENCLS leaf ECREATE.
    Ecreate,
    /// ENCLS leaf EADD.
    Eadd,
    /// ENCLS leaf EINIT.
    Einit,
    /// ENCLS leaf EREMOVE.
    Eremove,
    /// ENCLS leaf EPA.
    Epa,
    /// ENCLS leaf EBLOCK.
    Eblock,
    /// ENCLS leaf ETRACK.
    Etrack,
    /// ENCLS leaf EWB.
    Ewb,
    /// ENCLS leaf ELDU.
    Eldu,
    /// ENCLS leaf ELDB.
    Eldb,
    /// ENCLS leaf EAUG (SGX2).
    Eaug,
    /// ENCLS leaf EMODPR (SGX2).
    Emodpr,
    /// ENCLS leaf EMODT (SGX2).
    Emodt,
    /// ENCLS leaf EREMOVE of an accepted TRIM page (SGX2's trim flow),
    /// counted apart from [`Eremove`](Event::Eremove).
    EremoveTrim,
    /// ENCLU leaf EENTER.
    Eenter,
    /// ENCLU leaf EEXIT.
    Eexit,
    /// ENCLU leaf ERESUME.
    Eresume,
    /// ENCLU leaf EACCEPT (SGX2).
    Eaccept,
    /// ENCLU leaf EACCEPTCOPY (SGX2).
    Eacceptcopy,
    /// ENCLU leaf EMODPE (SGX2).
    Emodpe,
    /// An asynchronous enclave exit (fault or interrupt).
    Aex,
    /// One inter-processor interrupt delivered to one logical processor.
    Ipi,
    /// A page fault raised by an access inside an enclave.
    PageFault,
    /// The OS side of a page fault: kernel entry, handler and return. The
    /// enclave layer charges this; the hardware never does.
    KernelFault,
    /// A leaf that ended in an SGX error code or a fault (it still costs).
    FailedLeaf,
}

impl Event {
    /// Every event, in the order reports list them.
    pub const ALL: [Event; 25] = [
        Event::Ecreate,
        Event::Eadd,
        Event::Einit,
        Event::Eremove,
        Event::Epa,
        Event::Eblock,
        Event::Etrack,
        Event::Ewb,
        Event::Eldu,
        Event::Eldb,
        Event::Eaug,
        Event::Emodpr,
        Event::Emodt,
        Event::EremoveTrim,
        Event::Eenter,
        Event::Eexit,
        Event::Eresume,
        Event::Eaccept,
        Event::Eacceptcopy,
        Event::Emodpe,
        Event::Aex,
        Event::Ipi,
        Event::PageFault,
        Event::KernelFault,
        Event::FailedLeaf,
    ];

    /// A short lower-case name, used as a key in reports.
    pub const fn name(self) -> &'static str {
        match self {
            Event::Ecreate => "ecreate",
            Event::Eadd => "eadd",
            Event::Einit => "einit",
            Event::Eremove => "eremove",
            Event::Epa => "epa",
            Event::Eblock => "eblock",
            Event::Etrack => "etrack",
            Event::Ewb => "ewb",
            Event::Eldu => "eldu",
            Event::Eldb => "eldb",
            Event::Eaug => "eaug",
            Event::Emodpr => "emodpr",
            Event::Emodt => "emodt",
            Event::EremoveTrim => "eremove_trim",
            Event::Eenter => "eenter",
            Event::Eexit => "eexit",
            Event::Eresume => "eresume",
            Event::Eaccept => "eaccept",
            Event::Eacceptcopy => "eacceptcopy",
            Event::Emodpe => "emodpe",
            Event::Aex => "aex",
            Event::Ipi => "ipis",
            Event::PageFault => "page_faults",
            Event::KernelFault => "kernel_faults",
            Event::FailedLeaf => "failed_leaves",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Modelled processor cycles per event.
///
/// The defaults follow `shared/reference/sgx-paging-model.md` §2.2 and §5: a
/// full EPC page swap (AEX, kernel fault path, EWB of a victim, ELDU,
/// ERESUME) costs about 40,000 cycles (VAULT, ASPLOS 2018). The split below
/// adds up to that: AEX 3,000, kernel fault 5,000, EWB 14,000, ELDU 14,000
/// and ERESUME 3,000 make 39,000, plus EBLOCK and ETRACK amortised over a
/// batch and about one IPI per batch. EENTER and EEXIT are HyperEnclave's 1,695 and
/// 1,335 cycles; an IPI is 1-3 µs at 3 GHz (low confidence), taken as 5,000.
/// EBLOCK, ETRACK, EPA and EREMOVE are unpublished: no crypto, so small.
/// So are the SGX2 leaves (assumptions, in the same spirit): EAUG zeroes a
/// page as EADD copies one; EMODPR, EMODT and EMODPE change an EPCM entry
/// only, like EBLOCK; EACCEPT checks an entry from inside the enclave, a
/// little dearer; EACCEPTCOPY adds a 4 KiB copy to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CostTable {
    /// ECREATE.
    pub ecreate: u64,
    /// EADD (without EEXTEND: measurement is out of scope).
    pub eadd: u64,
    /// EINIT.
    pub einit: u64,
    /// EREMOVE.
    pub eremove: u64,
    /// EPA.
    pub epa: u64,
    /// EBLOCK.
    pub eblock: u64,
    /// ETRACK.
    pub etrack: u64,
    /// EWB, including the AES-GCM seal of 4 KiB.
    pub ewb: u64,
    /// ELDU or ELDB, including the AES-GCM open of 4 KiB.
    pub eldu: u64,
    /// EAUG (zeroes the page).
    pub eaug: u64,
    /// EMODPR.
    pub emodpr: u64,
    /// EMODT.
    pub emodt: u64,
    /// EREMOVE of an accepted TRIM page.
    pub eremove_trim: u64,
    /// EENTER.
    pub eenter: u64,
    /// EEXIT.
    pub eexit: u64,
    /// ERESUME.
    pub eresume: u64,
    /// EACCEPT.
    pub eaccept: u64,
    /// EACCEPTCOPY (with its 4 KiB copy).
    pub eacceptcopy: u64,
    /// EMODPE.
    pub emodpe: u64,
    /// AEX (state save, TLB flush).
    pub aex: u64,
    /// One IPI to one logical processor, delivery included.
    pub ipi: u64,
    /// The enclave page fault as the hardware raises it (beyond the AEX).
    pub page_fault: u64,
    /// The kernel's fault handling path, entry to return.
    pub kernel_fault: u64,
    /// A leaf that failed with a fault or an SGX error code.
    pub failed_leaf: u64,
}

impl Default for CostTable {
    fn default() -> Self {
        CostTable {
            ecreate: 10_000,
            eadd: 2_000,
            einit: 50_000,
            eremove: 500,
            epa: 500,
            eblock: 500,
            etrack: 500,
            ewb: 14_000,
            eldu: 14_000,
            eaug: 2_000,
            emodpr: 500,
            emodt: 500,
            eremove_trim: 500,
            eenter: 1_695,
            eexit: 1_335,
            eresume: 3_000,
            eaccept: 1_000,
            eacceptcopy: 2_000,
            emodpe: 500,
            aex: 3_000,
            ipi: 5_000,
            page_fault: 0,
            kernel_fault: 5_000,
            failed_leaf: 300,
        }
    }
}

impl CostTable {
    /// The modelled cycles of one `event`.
    pub const fn cycles(&self, event: Event) -> u64 {
        match event {
            Event::Ecreate => self.ecreate,
            Event::Eadd => self.eadd,
            Event::Einit => self.einit,
            Event::Eremove => self.eremove,
            Event::Epa => self.epa,
            Event::Eblock => self.eblock,
            Event::Etrack => self.etrack,
            Event::Ewb => self.ewb,
            Event::Eldu | Event::Eldb => self.eldu,
            Event::Eaug => self.eaug,
            Event::Emodpr => self.emodpr,
            Event::Emodt => self.emodt,
            Event::EremoveTrim => self.eremove_trim,
            Event::Eenter => self.eenter,
            Event::Eexit => self.eexit,
            Event::Eresume => self.eresume,
            Event::Eaccept => self.eaccept,
            Event::Eacceptcopy => self.eacceptcopy,
            Event::Emodpe => self.emodpe,
            Event::Aex => self.aex,
            Event::Ipi => self.ipi,
            Event::PageFault => self.page_fault,
            Event::KernelFault => self.kernel_fault,
            Event::FailedLeaf => self.failed_leaf,
        }
    }
}

/// Event counters, shared by every thread of a machine. Each counter sits in
/// its own cache line so that logical processors counting exits do not slow
/// down a reclaimer counting EWBs.
#[derive(Debug)]
pub struct Ledger {
    counts: [Padded; Event::ALL.len()],
    costs: CostTable,
}

#[derive(Debug, Default)]
#[repr(align(64))]
struct Padded(AtomicU64);

impl Ledger {
    /// An empty ledger pricing events with `costs`.
    pub fn new(costs: CostTable) -> Self {
        Ledger {
            counts: Default::default(),
            costs,
        }
    }

    /// Counts one `event`.
    #[inline]
    pub fn charge(&self, event: Event) {
        self.charge_n(event, 1);
    }

    /// Counts `n` occurrences of `event`.
    #[inline]
    pub fn charge_n(&self, event: Event, n: u64) {
        self.counts[event.index()].0.fetch_add(n, Ordering::Relaxed);
    }

    /// How many times `event` has happened.
    pub fn count(&self, event: Event) -> u64 {
        self.counts[event.index()].0.load(Ordering::Relaxed)
    }

    /// The cost table in use.
    pub fn costs(&self) -> &CostTable {
        &self.costs
    }

    /// A consistent-enough copy of every counter (each read is atomic; the
    /// set is exact when the machine is quiescent).
    pub fn snapshot(&self) -> LedgerSnapshot {
        let mut counts = [0u64; Event::ALL.len()];
        for e in Event::ALL {
            counts[e.index()] = self.count(e);
        }
        LedgerSnapshot {
            counts,
            costs: self.costs,
        }
    }

    /// Sets every counter back to zero (between the set-up of an experiment
    /// and its measured part).
    pub fn reset(&self) {
        for c in &self.counts {
            c.0.store(0, Ordering::Relaxed);
        }
    }
}

/// A copy of the ledger's counters at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LedgerSnapshot {
    counts: [u64; Event::ALL.len()],
    costs: CostTable,
}

impl LedgerSnapshot {
    /// How many times `event` had happened.
    pub fn count(&self, event: Event) -> u64 {
        self.counts[event.index()]
    }

    /// Modelled cycles spent on `event`.
    pub fn cycles(&self, event: Event) -> u64 {
        self.count(event) * self.costs.cycles(event)
    }

    /// Modelled cycles over all events.
    pub fn total_cycles(&self) -> u64 {
        Event::ALL.iter().map(|&e| self.cycles(e)).sum()
    }

    /// The counts gained since `earlier`.
    pub fn since(&self, earlier: &LedgerSnapshot) -> LedgerSnapshot {
        let mut counts = self.counts;
        for (c, e) in counts.iter_mut().zip(earlier.counts.iter()) {
            *c = c.saturating_sub(*e);
        }
        LedgerSnapshot {
            counts,
            costs: self.costs,
        }
    }

    /// `(name, count)` for every event.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        Event::ALL.iter().map(|&e| (e.name(), self.count(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_swap_is_about_forty_thousand_cycles() {
        let c = CostTable::default();
        let swap = c.aex + c.kernel_fault + c.ewb + c.eldu + c.eresume;
        assert!((35_000..=45_000).contains(&swap), "swap costs {swap}");
    }

    #[test]
    fn every_event_is_listed_once_in_index_order() {
        for (i, e) in Event::ALL.iter().enumerate() {
            assert_eq!(e.index(), i, "{e} out of order");
        }
    }

    #[test]
    fn snapshot_prices_counts() {
        let l = Ledger::new(CostTable::default());
        l.charge(Event::Ewb);
        l.charge_n(Event::Ipi, 3);
        let s = l.snapshot();
        assert_eq!(s.count(Event::Ewb), 1);
        assert_eq!(s.cycles(Event::Ipi), 15_000);
        assert_eq!(s.total_cycles(), 14_000 + 15_000);
        l.reset();
        assert_eq!(l.snapshot().total_cycles(), 0);
        assert_eq!(s.since(&l.snapshot()).count(Event::Ipi), 3);
    }
}
