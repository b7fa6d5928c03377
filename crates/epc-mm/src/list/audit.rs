//! A list's half of `validate()`: its page entries, key index, owners, policy and
//! published counts checked against the page states.

use super::{index, key_of, ReclaimList, Reclaimable};
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
    /// Checks that every page the list knows (its key index and its
    /// superseded pages) is tracked (resident in the policy) or isolated
    /// (not resident, unless superseded) and belongs to this list
    /// (`belongs`), that the key index finds each page under the key its
    /// entry and owner give, that the owner table counts them all, and that
    /// the kept and published counts equal the recount. The caller checks
    /// that the lists together account for every tracked and isolated page.
    pub(crate) fn audit(
        &self,
        states: &PageStates,
        mut belongs: impl FnMut(EpcPageId) -> bool,
    ) -> Result<Audit, ValidateError> {
        let list = &*self.guard;
        let slots = &self.list.totals.slots;
        let (mut tracked, mut isolated) = (0, 0);
        let indexed = list.index.pages().map(|p| (p, false));
        let superseded = list.superseded.iter().map(|&p| (p, true));
        for (page, from_superseded) in indexed.chain(superseded) {
            let slot = slots.get(page);
            let key = key_of(slots, &list.owners, page);
            let state = states.get(page);
            let ok = slot.superseded == from_superseded
                && match (state, key) {
                    (_, None) => false,
                    (PageState::Tracked, Some(key)) => {
                        tracked += 1;
                        !slot.superseded && list.policy.contains(key, page.0)
                    }
                    // A superseded page's key is resident again on another
                    // page (see `Slot::superseded`).
                    (PageState::Isolated, Some(key)) => {
                        isolated += 1;
                        slot.superseded || !list.policy.contains(key, page.0)
                    }
                    (PageState::Free | PageState::InUse, Some(_)) => false,
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
            if let (false, Some(key)) = (from_superseded, key) {
                let found = list
                    .index
                    .find(index::hash(key), key, |p| key_of(slots, &list.owners, p));
                if found != Some(page) {
                    return Err(ValidateError::KeyIndex { key, page });
                }
            }
        }
        count("policy resident pages", list.policy.len(), tracked)?;
        count("isolated pages", list.isolated, isolated)?;
        count(
            "key index",
            list.index.len(),
            tracked + isolated - list.superseded.len(),
        )?;
        count(
            "owner table references",
            list.owners.references(),
            tracked + isolated,
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
