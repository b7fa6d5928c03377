//! Evicting an enclave's pages on demand, outside the manager's reclaim
//! batches: used to start an experiment cold (every regular page evicted)
//! and by tests. It takes each page off the manager's list first, so the
//! reclaimer and this path never hold the same page.

use crate::enclave::Enclave;
use crate::error::EnclaveError;
use crate::state::{Residency, SecsState};
use epc_hw::{LinearAddress, PageType, PAGE_SIZE};
use epc_mm::ReclaimPermit;

impl Enclave {
    /// Evicts every regular page that is resident, listed and not pinned,
    /// in batches of `batch` (EBLOCK each, one ETRACK, EWB each), and
    /// returns how many were evicted. TCS pages, pinned pages and the SECS
    /// stay (the SECS leaves only with its last child, as usual).
    pub fn evict_regular_pages(
        &self,
        batch: usize,
        permit: &mut ReclaimPermit,
    ) -> Result<usize, EnclaveError> {
        self.check_alive()?;
        let batch = batch.max(1);
        let mut evicted = 0;
        loop {
            let mut inner = self.lock(permit);
            let mut victims = Vec::with_capacity(batch);
            let mut candidates: Vec<(u64, epc_hw::EpcPageId)> = Vec::new();
            self.pages.for_each(|n, r| match &r.residency {
                Residency::Resident { page, listed: true }
                    if r.pins == 0 && r.secinfo.page_type == PageType::Reg =>
                {
                    candidates.push((n, page.id()));
                }
                _ => {}
            });
            candidates.sort_unstable();
            for (n, id) in candidates {
                if victims.len() == batch {
                    break;
                }
                let addr = LinearAddress(n * PAGE_SIZE);
                let mut shard = self.pages.lock(n);
                let Some(rec) = shard.get_mut(&n) else {
                    continue;
                };
                let Residency::Resident { page, listed } = &mut rec.residency else {
                    continue;
                };
                if page.id() != id || !*listed || self.mm.unmark_reclaimable(page) != Ok(true) {
                    continue; // the reclaimer has it
                }
                *listed = false;
                if self.block_locked(&mut shard, addr, id) {
                    victims.push(addr);
                }
            }
            if victims.is_empty() {
                return Ok(evicted);
            }
            if let SecsState::Resident(secs) = &inner.secs {
                let _ = self.etrack(secs.id());
            }
            for addr in victims {
                let job = self.begin_write(&inner, addr);
                let result = self.run_write(&job);
                match self.finish_write(&mut inner, job, result) {
                    Ok(page) => {
                        evicted += 1;
                        let _ = self.mm.free(page);
                    }
                    Err(page) => {
                        let _ = self.mm.free(page);
                    }
                }
            }
            self.maybe_finish(&mut inner);
            drop(inner);
            self.check_alive()?;
        }
    }
}
