//! One reclaim batch (Linux's `sgx_reclaim_pages`), over [`PageOwner`]s.
//!
//! Steps, in order, and why:
//!
//! 1. **Select and isolate**, under the list lock: the policy picks up to
//!    `max` victims, testing accessed bits through the owners' `age`; each
//!    victim's owner reference is taken ("get"). A page whose owner is going
//!    away (the `Weak` no longer upgrades) is dropped from the list and left
//!    to the owner's teardown. Owner references taken only to test the
//!    accessed bit are dropped after the lock is released: the last
//!    reference runs the owner's teardown, which takes the list lock.
//! 2. **Block**, no lock held: each owner prepares backing, unmaps, EBLOCKs,
//!    or declines first; declined pages go back on the list at once (before
//!    their owner reference is dropped, the ordering Linux's v31 fixed).
//! 3. **Track**, once per owner with blocked pages, after all of its pages
//!    in the batch are blocked: ETRACK is per enclave, the batch amortises it.
//! 4. **Write**: EWB with the owner's retry ladder; the owner hands the page
//!    back whether or not the write succeeded.
//! 5. **Finish**: under the list lock, the pages leave the reclaimer's
//!    tracking and the policy learns their fate; then every owner reference
//!    is dropped ("put"); only then do the pages go back to the free lists,
//!    so no page is reused while its old owner can still touch it.
//!
//! The batch buffer holds exactly `max` entries; it never grows.

use crate::counters::bump;
use crate::manager::Inner;
use crate::owner::{BlockOutcome, PageOwner, Tracked, WriteOutcome};
use crate::page::{EpcPage, PageKey, PageState};
use crate::sync::Ordering;
use epc_hw::EpcPageId;
use std::sync::Arc;

/// What one batch did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Pages the policy examined.
    pub scanned: u64,
    /// Young pages sent round again.
    pub second_chances: u64,
    /// Victims taken off the list with their owner's reference.
    pub isolated: u64,
    /// Pages written out and freed.
    pub evicted: u64,
    /// Pages dropped because their owner was going away (at isolation, or
    /// abandoned by the owner at block).
    pub skipped: u64,
    /// Pages whose owner declined to block; back on the list.
    pub declined: u64,
    /// Pages whose write failed for good; freed.
    pub write_failures: u64,
    /// Pages the owner abandoned at block (it was going away); freed. Also
    /// counted in `skipped`.
    pub abandoned: u64,
}

impl BatchReport {
    /// Pages this batch returned to the free lists.
    pub fn freed(&self) -> u64 {
        self.evicted + self.write_failures + self.abandoned
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Isolated,
    Blocked,
    Declined,
    Done { evicted: bool },
}

/// One victim in flight.
struct Entry {
    page: EpcPageId,
    key: PageKey,
    owner: Option<Arc<dyn PageOwner>>,
    handle: Option<EpcPage>,
    stage: Stage,
}

/// Runs one batch of at most `max` victims.
pub(crate) fn reclaim_pages(inner: &Inner, max: usize) -> BatchReport {
    let mut report = BatchReport::default();
    let mut batch: Vec<Entry> = Vec::with_capacity(max);
    isolate(inner, max, &mut batch, &mut report);
    if !batch.is_empty() {
        block(&mut batch, &mut report);
        put_back_declined(inner, &mut batch);
        let tracked = track(&batch);
        write(&mut batch, &tracked, &mut report);
        finish(inner, &mut batch);
    }
    debug_assert!(batch.capacity() == max, "the batch buffer never grows");

    let c = &inner.counters;
    bump(&c.batches, 1);
    bump(&c.pages_scanned, report.scanned);
    bump(&c.second_chances, report.second_chances);
    bump(&c.evicted, report.evicted);
    bump(&c.skipped, report.skipped);
    bump(&c.declined, report.declined);
    bump(&c.write_failures, report.write_failures);
    report
}

/// Step 1: the policy selects, the owners are pinned, the pages isolated.
fn isolate(inner: &Inner, max: usize, batch: &mut Vec<Entry>, report: &mut BatchReport) {
    // References taken to call `age`; dropped after the lock (see above).
    let mut aged: Vec<Arc<dyn PageOwner>> = Vec::new();
    let mut victims: Vec<PageKey> = Vec::with_capacity(max);
    let mut guard = inner.reclaimable.lock();
    let list = &mut *guard;
    let scan = {
        let (keys, slots) = (&list.keys, &list.slots);
        let mut young = |key: PageKey| -> bool {
            let Some(slot) = keys.get(&key).and_then(|p| slots[p.index()].as_ref()) else {
                return false;
            };
            // An owner going away counts as old, so it is isolated and
            // dropped from the list promptly.
            let Some(owner) = slot.owner.upgrade() else {
                return false;
            };
            let young = owner.age(key);
            // Keep one reference per run of pages of one owner: a duplicate
            // dropped here is never the last one.
            if !aged.last().is_some_and(|o| same_owner(o, &owner)) {
                aged.push(owner);
            }
            young
        };
        list.policy.select_victims(max, &mut young, &mut victims)
    };
    report.scanned = scan.scanned;
    report.second_chances = scan.second_chances;

    for (i, key) in victims.into_iter().enumerate() {
        if i >= max {
            // A policy that over-delivers keeps the surplus.
            list.policy.put_back(key);
            continue;
        }
        let Some(&page) = list.keys.get(&key) else {
            debug_assert!(false, "policy returned unknown key {key:?}");
            continue;
        };
        let owner = list.slots[page.index()]
            .as_ref()
            .and_then(|s| s.owner.upgrade());
        match owner {
            Some(owner) => {
                inner.states[page.index()].store(PageState::Isolated as u8, Ordering::Relaxed);
                list.isolated += 1;
                report.isolated += 1;
                batch.push(Entry {
                    page,
                    key,
                    owner: Some(owner),
                    handle: None,
                    stage: Stage::Isolated,
                });
            }
            None => {
                // Left to the owner's teardown, which frees the page.
                list.keys.remove(&key);
                list.slots[page.index()] = None;
                list.policy.removed(key);
                inner.states[page.index()].store(PageState::InUse as u8, Ordering::Relaxed);
                report.skipped += 1;
            }
        }
    }
    inner.reclaimable.publish(list);
    drop(guard);
    drop(aged);
}

/// Step 2: EBLOCK, or decline before it.
fn block(batch: &mut [Entry], report: &mut BatchReport) {
    for e in batch.iter_mut() {
        let Some(owner) = e.owner.as_ref() else {
            continue;
        };
        match owner.block(e.key, e.page) {
            BlockOutcome::Blocked => e.stage = Stage::Blocked,
            BlockOutcome::Declined => {
                e.stage = Stage::Declined;
                report.declined += 1;
            }
            BlockOutcome::Abandoned(handle) => {
                take_handle(e, handle);
                e.stage = Stage::Done { evicted: false };
                report.skipped += 1;
                report.abandoned += 1;
            }
        }
    }
}

/// Declined pages go back on the list, then their owner references drop.
fn put_back_declined(inner: &Inner, batch: &mut [Entry]) {
    if !batch.iter().any(|e| e.stage == Stage::Declined) {
        return;
    }
    let mut released = Vec::new();
    {
        let mut list = inner.reclaimable.lock();
        for e in batch.iter_mut().filter(|e| e.stage == Stage::Declined) {
            inner.states[e.page.index()].store(PageState::Tracked as u8, Ordering::Relaxed);
            list.isolated -= 1;
            list.policy.put_back(e.key);
            released.extend(e.owner.take());
        }
        inner.reclaimable.publish(&list);
    }
    drop(released);
}

/// Step 3: ETRACK once per owner that has blocked pages in the batch.
fn track(batch: &[Entry]) -> Tracked {
    for (i, e) in batch.iter().enumerate() {
        if e.stage != Stage::Blocked {
            continue;
        }
        let first_of_owner = !batch[..i]
            .iter()
            .any(|p| p.stage == Stage::Blocked && p.key.owner == e.key.owner);
        if let (true, Some(owner)) = (first_of_owner, e.owner.as_ref()) {
            owner.track();
        }
    }
    Tracked::new()
}

/// Step 4: EWB; the owner hands the page back either way.
fn write(batch: &mut [Entry], tracked: &Tracked, report: &mut BatchReport) {
    for e in batch.iter_mut().filter(|e| e.stage == Stage::Blocked) {
        let Some(owner) = e.owner.as_ref() else {
            continue;
        };
        let (handle, evicted) = match owner.write(e.key, e.page, tracked) {
            WriteOutcome::Written(h) => {
                report.evicted += 1;
                (h, true)
            }
            WriteOutcome::Failed(h) => {
                report.write_failures += 1;
                (h, false)
            }
            WriteOutcome::Abandoned(h) => {
                report.skipped += 1;
                report.abandoned += 1;
                (h, false)
            }
        };
        take_handle(e, handle);
        e.stage = Stage::Done { evicted };
    }
}

/// Step 5: untrack, put the owner references, then free.
fn finish(inner: &Inner, batch: &mut Vec<Entry>) {
    {
        let mut list = inner.reclaimable.lock();
        let list = &mut *list;
        for e in batch.iter() {
            let Stage::Done { evicted } = e.stage else {
                continue;
            };
            let superseded = list.slots[e.page.index()]
                .take()
                .is_some_and(|s| s.superseded);
            list.isolated -= 1;
            if !superseded {
                list.keys.remove(&e.key);
                if evicted {
                    list.policy.evicted(e.key);
                } else {
                    list.policy.removed(e.key);
                }
            }
            // Held by this batch until it reaches the free list below.
            inner.states[e.page.index()].store(PageState::InUse as u8, Ordering::Relaxed);
        }
        inner.reclaimable.publish(list);
    }
    for e in batch.iter_mut() {
        e.owner = None;
    }
    for e in batch.drain(..) {
        if let Some(handle) = e.handle {
            inner.free.give(handle.id(), &inner.states);
        }
    }
}

fn take_handle(e: &mut Entry, handle: EpcPage) {
    assert_eq!(
        handle.id(),
        e.page,
        "owner of {:?} handed back the handle of another page",
        e.key
    );
    e.handle = Some(handle);
}

fn same_owner(a: &Arc<dyn PageOwner>, b: &Arc<dyn PageOwner>) -> bool {
    // Compare data pointers only: vtable pointers of one type may differ
    // across codegen units.
    std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
}
