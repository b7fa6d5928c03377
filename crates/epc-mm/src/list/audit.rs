//! A list's half of `validate()`: its slots, key index, policy and
//! published counts checked against the page states.

use super::{ReclaimList, Reclaimable};
use crate::invariant::{count, state_name, ValidateError};
use crate::page::{PageState, PageStates};
use crate::sync::MutexGuard;
use epc_hw::EpcPageId;

/// A list held locked for `validate()`, which holds every list's lock
/// (in group order) and then every node lock, for one consistent view.
pub(crate) struct AuditGuard<'a> {
    list: &'a Reclaimable,
    guard: MutexGuard<'a, ReclaimList>,
}

/// What one list holds, recounted.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Audit {
    /// Pages tracked (on the list).
    pub(crate) tracked: usize,
    /// Pages isolated by batches in flight.
    pub(crate) isolated: usize,
}

impl Reclaimable {
    /// Takes the list lock for an audit.
    pub(crate) fn lock_for_audit(&self) -> AuditGuard<'_> {
        AuditGuard {
            list: self,
            guard: self.lock(),
        }
    }
}

impl AuditGuard<'_> {
    /// Checks that every page with a slot is tracked (resident in the
    /// policy) or isolated (not resident, unless superseded) and belongs to
    /// this list (`belongs`), that the key index matches the slots, and that
    /// the kept and published counts equal the recount. The caller checks
    /// that the lists together account for every tracked and isolated page.
    pub(crate) fn audit(
        &self,
        states: &PageStates,
        mut belongs: impl FnMut(EpcPageId) -> bool,
    ) -> Result<Audit, ValidateError> {
        let list = &*self.guard;
        let (mut tracked, mut isolated, mut superseded) = (0, 0, 0);
        for (&page, slot) in &list.slots {
            let state = states.get(page);
            let ok = match state {
                PageState::Tracked => {
                    tracked += 1;
                    !slot.superseded && list.policy.contains(slot.key)
                }
                PageState::Isolated => {
                    isolated += 1;
                    // A superseded page's key is resident again on another
                    // page (see `Slot::superseded`).
                    superseded += usize::from(slot.superseded);
                    slot.superseded || !list.policy.contains(slot.key)
                }
                PageState::Free | PageState::InUse => false,
            };
            if !ok {
                return Err(ValidateError::Tracking {
                    page,
                    state: state_name(state),
                });
            }
            if !belongs(page) {
                return Err(ValidateError::WrongList(page));
            }
        }
        for (&key, &page) in &list.keys {
            if list.slots.get(&page).map(|s| s.key) != Some(key) {
                return Err(ValidateError::KeyIndex { key, page });
            }
        }
        count("policy resident pages", list.policy.len(), tracked)?;
        count("isolated pages", list.isolated, isolated)?;
        count(
            "key index",
            list.keys.len(),
            tracked + isolated - superseded,
        )?;
        count(
            "published reclaimable pages",
            self.list.nr_listed(),
            tracked,
        )?;
        count(
            "published isolated pages",
            self.list.nr_isolated(),
            isolated,
        )?;
        Ok(Audit { tracked, isolated })
    }
}
