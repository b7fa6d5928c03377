//! The backing store as the OS sees it: sealed pages and their PCMD, in
//! ordinary memory. These methods let a user (or a test) read and change
//! it, as anyone with access to the OS's memory could; the hardware's MAC
//! and the VA slot's version are what make such changes harmless: the next
//! reload fails its integrity check and the enclave is killed.

use crate::enclave::Enclave;
use crate::state::Residency;
use epc_hw::{LinearAddress, SealedPage};

impl Enclave {
    /// A copy of the sealed page at `addr`, if it is evicted.
    pub fn sealed_copy(&self, addr: LinearAddress) -> Option<SealedPage> {
        let n = addr.page_number();
        let shard = self.pages.lock(n);
        match &shard.get(&n)?.residency {
            Residency::Evicted { sealed, .. } => Some((**sealed).clone()),
            _ => None,
        }
    }

    /// Changes the sealed page at `addr` in place; `false` if it is not
    /// evicted.
    pub fn modify_backing(&self, addr: LinearAddress, f: impl FnOnce(&mut SealedPage)) -> bool {
        let n = addr.page_number();
        let mut shard = self.pages.lock(n);
        match shard.get_mut(&n).map(|r| &mut r.residency) {
            Some(Residency::Evicted { sealed, .. }) => {
                f(sealed);
                true
            }
            _ => false,
        }
    }

    /// Bytes of sealed pages and PCMD held in the backing store.
    pub fn backing_bytes(&self) -> u64 {
        self.backing()
    }
}
