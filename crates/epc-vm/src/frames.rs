//! One boot of a guest: its frames (the [`Frames`] its enclaves' platform
//! translates through) and its EPC manager. A reboot or stop ends the
//! boot: its gate closes and its epoch changes, so the enclaves of that
//! boot see their EPC lost and can never touch a host page again, while
//! the next boot gets fresh frames over the same region.

use crate::region::Region;
use epc_enclave::{FrameError, Frames, LeafGate};
use epc_hw::EpcPageId;
use epc_mm::EpcManager;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The frames of one boot of a guest.
pub(crate) struct GuestFrames {
    region: Arc<Region>,
    gate: LeafGate,
    /// The boot ended (reboot or stop).
    ended: AtomicBool,
}

impl GuestFrames {
    pub(crate) fn new(region: Arc<Region>) -> GuestFrames {
        GuestFrames {
            region,
            gate: LeafGate::new(),
            ended: AtomicBool::new(false),
        }
    }

    /// Ends this boot: the epoch changes first (so a leaf that fails from
    /// now on is seen as the EPC's loss), then the gate closes, which waits
    /// for every leaf in flight. After this no leaf or walk of this boot
    /// reaches a host page.
    pub(crate) fn end(&self) {
        self.ended.store(true, Ordering::SeqCst);
        self.gate.close();
    }
}

impl Frames for GuestFrames {
    fn frame(&self, page: EpcPageId) -> Result<EpcPageId, FrameError> {
        if self.ended.load(Ordering::Acquire) {
            return Err(FrameError::Released);
        }
        self.region.frame(page)
    }

    #[inline]
    fn walk(&self, page: EpcPageId) -> Option<EpcPageId> {
        if self.gate.is_closed() || self.ended.load(Ordering::Acquire) {
            return None;
        }
        self.region.walk(page)
    }

    /// Strictly increasing with the host's power cycles, the VM's failure
    /// and the end of this boot.
    fn epoch(&self) -> u64 {
        let cycles = self.region.host.machine().power_cycles();
        cycles * 4
            + 2 * u64::from(self.region.is_failed())
            + u64::from(self.ended.load(Ordering::Acquire))
    }

    fn gate(&self) -> &LeafGate {
        &self.gate
    }
}

/// One boot: the frames and the guest's manager over them.
#[derive(Clone)]
pub(crate) struct Boot {
    pub(crate) frames: Arc<GuestFrames>,
    pub(crate) mm: Arc<EpcManager>,
}
