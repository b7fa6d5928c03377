//! The machine: the EPC, the paging key, the version and EID counters, the
//! control blocks of resident SECS pages, the logical processors and the
//! cost ledger. ENCLS leaves are methods of [`Machine`] (see `encls/`);
//! ENCLU and accesses are methods of [`LogicalProcessor`](crate::LogicalProcessor).

use crate::config::{ConfigError, EpcLayout, MachineConfig};
use crate::cost::Ledger;
use crate::crypto::{KeyError, PagingKey};
use crate::epc::{Epc, Slot};
use crate::epcm::EpcmEntry;
use crate::error::{pf, LeafError, Operand, PfCause};
use crate::ids::{EnclaveId, EpcPageId, LinearAddress};
use crate::lp::LpRegistry;
use crate::secs::SecsControl;
use parking_lot::{MappedRwLockReadGuard, RwLock, RwLockReadGuard};
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use thiserror::Error;

/// Resident SECS control blocks by page. Page ids are small dense integers,
/// so they are their own hash; SipHash showed up at 5% of an EWB+ELDU pair.
pub(crate) type SecsMap = HashMap<EpcPageId, Arc<SecsControl>, BuildHasherDefault<PageIdHasher>>;

/// A resident SECS's control block, borrowed from [`SecsMap`] (see
/// [`Machine::secs_ref`]).
pub(crate) type SecsRef<'a> = MappedRwLockReadGuard<'a, SecsControl>;

/// The identity hash of a page id.
#[derive(Default)]
pub(crate) struct PageIdHasher(u64);

impl Hasher for PageIdHasher {
    fn finish(&self) -> u64 {
        // Spread the id over the high bits hashbrown uses for its tags.
        self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n);
    }
}

/// A machine could not be created.
#[derive(Debug, Error)]
pub enum MachineError {
    /// The configuration is invalid.
    #[error("invalid machine configuration: {0}")]
    Config(#[from] ConfigError),
    /// The paging key could not be generated.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// A software SGX processor with its EPC.
///
/// Create it with [`Machine::new`]; share it as `Arc<Machine>` between the
/// OS-side code that runs ENCLS leaves and the threads that own logical
/// processors. Nothing is global: two machines are independent, down to
/// their paging keys.
pub struct Machine {
    pub(crate) config: MachineConfig,
    pub(crate) epc: Epc,
    /// The paging key; replaced at every power cycle.
    pub(crate) key: RwLock<PagingKey>,
    /// Power cycles so far (0 for a machine that never lost its EPC).
    pub(crate) power_cycles: AtomicU64,
    /// The next version (nonce) EWB hands out; starts at 1 because 0 marks
    /// an empty VA slot.
    pub(crate) next_version: AtomicU64,
    pub(crate) next_eid: AtomicU64,
    /// Control blocks of resident SECS pages, by SECS page.
    pub(crate) enclaves: RwLock<SecsMap>,
    pub(crate) lps: LpRegistry,
    pub(crate) ledger: Ledger,
}

impl fmt::Debug for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Machine")
            .field("epc_pages", &self.epc.layout().total_pages())
            .field("sections", &self.epc.layout().sections().len())
            .field("tlb_entries", &self.config.tlb_entries)
            .finish_non_exhaustive()
    }
}

/// What the model knows of an enclave whose SECS is resident (for tests,
/// reports and validation; software cannot read a SECS on real hardware).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnclaveInfo {
    /// The enclave id.
    pub eid: EnclaveId,
    /// ELRANGE base.
    pub base: LinearAddress,
    /// ELRANGE size in bytes.
    pub size: u64,
    /// Whether EINIT has run.
    pub initialized: bool,
    /// Resident child pages.
    pub children: u32,
    /// Logical processors inside.
    pub lps_inside: usize,
}

impl Machine {
    /// Builds a machine. Fast and lazy: per-page state is allocated when a
    /// page is first used.
    pub fn new(config: MachineConfig) -> Result<Arc<Machine>, MachineError> {
        config.validate()?;
        let layout = EpcLayout::new(&config.sections);
        Ok(Arc::new(Machine {
            epc: Epc::new(layout),
            key: RwLock::new(PagingKey::generate()?),
            power_cycles: AtomicU64::new(0),
            next_version: AtomicU64::new(1),
            next_eid: AtomicU64::new(1),
            enclaves: RwLock::new(SecsMap::default()),
            lps: LpRegistry::new(config.max_lps),
            ledger: Ledger::new(config.costs),
            config,
        }))
    }

    /// The configuration the machine was built with.
    pub fn config(&self) -> &MachineConfig {
        &self.config
    }

    /// Where the sections lie in the page id space.
    pub fn layout(&self) -> &EpcLayout {
        self.epc.layout()
    }

    /// The cost ledger.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// A copy of `page`'s EPCM entry (model inspection, not architectural).
    pub fn epcm(&self, page: EpcPageId) -> Option<EpcmEntry> {
        self.epc.slot(page).map(|s| *s.epcm.lock())
    }

    /// The enclave whose SECS is resident in `secs_page`, if any.
    pub fn enclave_info(&self, secs_page: EpcPageId) -> Option<EnclaveInfo> {
        let c = self.enclaves.read().get(&secs_page).cloned()?;
        let lps_inside = c.tracking.lock().inside().len();
        Some(EnclaveInfo {
            eid: c.eid,
            base: c.base,
            size: c.size,
            initialized: c.is_initialized(),
            children: c.children.load(Ordering::Relaxed),
            lps_inside,
        })
    }

    /// The page slot of an operand, or #PF(not an EPC page).
    pub(crate) fn slot_of(&self, page: EpcPageId, op: Operand) -> Result<Slot<'_>, LeafError> {
        self.epc.slot(page).ok_or(pf(op, PfCause::NotEpc))
    }

    /// The control block of the SECS in `secs_page`, borrowed under the
    /// read lock of the map: no reference count to raise and drop, which
    /// the paging leaves (one lookup each) would otherwise pay. A leaf
    /// holds at most one such guard and takes no other lock of the map while
    /// it does (a second read could wait behind a waiting writer, which
    /// waits for the first: a deadlock), and drops it before it writes the
    /// map.
    #[inline]
    pub(crate) fn secs_ref(&self, secs_page: EpcPageId) -> Option<SecsRef<'_>> {
        RwLockReadGuard::try_map(self.enclaves.read(), |m| m.get(&secs_page).map(|c| &**c)).ok()
    }

    /// The control block of the SECS in `secs_page`.
    pub(crate) fn secs_control(&self, secs_page: EpcPageId) -> Option<Arc<SecsControl>> {
        self.enclaves.read().get(&secs_page).cloned()
    }

    /// The number of versions handed out so far (for validation).
    pub(crate) fn versions_issued(&self) -> u64 {
        self.next_version.load(Ordering::Relaxed) - 1
    }
}

/// A page held by a test as if a leaf were running on it.
#[cfg(feature = "test-hooks")]
#[must_use]
pub struct HeldPage<'a>(#[allow(dead_code)] crate::epc::BusyGuard<'a>);

#[cfg(feature = "test-hooks")]
impl fmt::Debug for HeldPage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HeldPage")
    }
}

#[cfg(feature = "test-hooks")]
impl Machine {
    /// Holds `page` as a leaf would (exclusively or shared) until the guard
    /// is dropped, so that tests can provoke the SDM's concurrency conflicts
    /// deterministically. `None` if the page is not an EPC page or the hold
    /// conflicts with one already taken.
    pub fn hold_page_for_test(&self, page: EpcPageId, exclusive: bool) -> Option<HeldPage<'_>> {
        let slot = self.epc.slot(page)?;
        let g = if exclusive {
            slot.try_exclusive()
        } else {
            slot.try_shared()
        };
        g.map(HeldPage)
    }
}
