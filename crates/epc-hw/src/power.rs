//! Loss of the EPC: what the processor does across S3/S4 suspend, hibernation
//! or a VM migration. The EPC's contents and the EPCM do not survive, the
//! paging key is regenerated at the next power-on (so no page sealed before
//! can ever load again: ELDU answers SGX_MAC_COMPARE_FAIL), and the enclaves'
//! micro-architectural state (control blocks, tracking) is gone.
//!
//! Linux learns of it only through its users: EENTER/ERESUME fail on the
//! lost TCS, the SDK reports SGX_ERROR_ENCLAVE_LOST, and the process rebuilds
//! its enclave. The OS-side counterpart is in `epc-enclave`.

use crate::crypto::{KeyError, PagingKey};
use crate::epc::{BusyGuard, Slot};
use crate::epcm::EpcmEntry;
use crate::ids::EpcPageId;
use crate::Machine;
use std::sync::atomic::Ordering;

impl Machine {
    /// The EPC is lost, as across a suspend and resume: a fresh paging key,
    /// every EPCM entry invalid, every page's contents zeroed, every SECS
    /// control block (with its tracking state) dropped, and every logical
    /// processor inside an enclave thrown out with an AEX. Its next ERESUME
    /// faults on the TCS, which is no longer valid. Poisoned pages stay
    /// poisoned: poison is a defect of the memory, not of the EPCM.
    ///
    /// Leaves of the old world may still be running (a reclaimer, a fault
    /// handler): each page is held as a leaf would hold it while its entry
    /// is cleared, so a leaf under way completes first and a later one finds
    /// the page invalid, or fails the MAC under the new key. Enclaves of the
    /// new world must be created only after this returns.
    ///
    /// Fails only if the new key cannot be generated; nothing is changed then.
    pub fn power_cycle(&self) -> Result<(), KeyError> {
        let key = PagingKey::generate()?;
        {
            // Counted under the key's lock: whoever uses the new key also
            // sees the new count, so software can tell a blob that fails
            // because the EPC was lost from a tampered one.
            let mut k = self.key.write();
            *k = key;
            self.power_cycles.fetch_add(1, Ordering::AcqRel);
        }

        // Every entry invalid. A leaf that holds the page finishes first.
        for (_, slot) in self.epc.materialized() {
            let _held = hold(slot);
            *slot.epcm.lock() = EpcmEntry::FREE;
        }
        // Throw the LPs out while the control blocks still name them.
        let secs: Vec<EpcPageId> = self.enclaves.read().keys().copied().collect();
        for s in secs {
            self.ipi_enclave(s);
        }
        // Drop the control blocks of every SECS of the old world (any valid
        // SECS now was created after its page was cleared above).
        self.enclaves
            .write()
            .retain(|page, _| self.epc.slot(*page).is_some_and(|s| s.epcm.lock().valid));
        // Nothing of the old contents survives (the AEXs above wrote their
        // TCS bookkeeping into pages that are now free).
        for (_, slot) in self.epc.materialized() {
            let _held = hold(slot);
            if !slot.epcm.lock().valid {
                slot.zero_if_present();
            }
        }
        Ok(())
    }

    /// How many times the EPC has been lost since the machine was built
    /// (counted as the power cycle begins). Software compares it with the
    /// value it saw when it built an enclave to tell a lost enclave from a
    /// tampered one.
    pub fn power_cycles(&self) -> u64 {
        self.power_cycles.load(Ordering::Acquire)
    }
}

/// Holds `slot` exclusively, waiting for the leaf that holds it (leaves are
/// short and never wait themselves, so this ends).
fn hold(slot: Slot<'_>) -> BusyGuard<'_> {
    let mut spins = 0u32;
    loop {
        if let Some(g) = slot.try_exclusive() {
            return g;
        }
        spins += 1;
        if spins < 64 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}
