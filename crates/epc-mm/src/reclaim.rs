//! One reclaim batch (Linux's `sgx_reclaim_pages`), over [`PageOwner`]s,
//! from the list it is given. The list makes every change to itself and to
//! the page states (`list/batch.rs`); the pipeline drives the owners and
//! returns pages to the free lists.
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
//!    Each call yields a [`Tracked`] proof for that owner, numbered with the
//!    manager's tracking sequence.
//! 4. **Write**: EWB with the owner's retry ladder; the owner hands the page
//!    back whether or not the write succeeded.
//! 5. **Finish**: under the list lock, the pages leave the reclaimer's
//!    tracking and the policy learns their fate; then their owner
//!    references are dropped ("put"); only then do the pages go back to the
//!    free lists, so no page is reused while its old owner can still touch
//!    it. Steps 4 and 5 run per chunk of [`FINISH_CHUNK`] victims, so a
//!    batch larger than that (ksgxd's when it is behind) frees its first
//!    pages before it has written its last.
//!
//! The batch buffer holds exactly `max` entries; it never grows.

use crate::counters::bump;
use crate::list::{Reclaimable, Victim};
use crate::owner::{BlockOutcome, PageOwner, Tracked, WriteOutcome};
use crate::page::{EpcPage, PageKey};
use crate::shared::Shared;
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

/// Pages written and freed together at the end of a batch: a batch of more
/// (ksgxd's, when it is behind) frees its pages in chunks of this many.
pub(crate) const FINISH_CHUNK: usize = 16;

/// Runs one batch of at most `max` victims taken from `list`; `progress`
/// is called each time some of its pages are back on the free lists.
pub(crate) fn reclaim_pages(
    shared: &Shared,
    list: &Reclaimable,
    max: usize,
    progress: &dyn Fn(),
) -> BatchReport {
    let mut report = BatchReport::default();
    let mut batch: Vec<Entry> = Vec::with_capacity(max);
    isolate(shared, list, max, &mut batch, &mut report);
    if !batch.is_empty() {
        block(&mut batch, &mut report);
        put_back_declined(shared, list, &mut batch);
        let tracked = track(shared, &batch);
        write_and_finish(shared, list, &mut batch, &tracked, &mut report, progress);
    }
    debug_assert!(batch.capacity() == max, "the batch buffer never grows");

    let c = &shared.counters;
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
fn isolate(
    shared: &Shared,
    list: &Reclaimable,
    max: usize,
    batch: &mut Vec<Entry>,
    report: &mut BatchReport,
) {
    let mut victims: Vec<Victim> = Vec::with_capacity(max);
    let done = list.isolate(max, &shared.states, &mut victims);
    report.scanned = done.scan.scanned;
    report.second_chances = done.scan.second_chances;
    report.skipped += done.skipped;
    report.isolated = victims.len() as u64;
    batch.extend(victims.into_iter().map(|v| Entry {
        page: v.page,
        key: v.key,
        owner: Some(v.owner),
        handle: None,
        stage: Stage::Isolated,
    }));
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
fn put_back_declined(shared: &Shared, list: &Reclaimable, batch: &mut [Entry]) {
    if !batch.iter().any(|e| e.stage == Stage::Declined) {
        return;
    }
    let declined = batch
        .iter()
        .filter(|e| e.stage == Stage::Declined)
        .map(|e| (e.page, e.key));
    list.put_back(declined, &shared.states);
    let released: Vec<_> = batch
        .iter_mut()
        .filter(|e| e.stage == Stage::Declined)
        .filter_map(|e| e.owner.take())
        .collect();
    drop(released);
}

/// Step 3: ETRACK once per owner that has blocked pages in the batch; one
/// proof per owner.
fn track(shared: &Shared, batch: &[Entry]) -> Vec<Tracked> {
    let mut proofs: Vec<Tracked> = Vec::new();
    for e in batch.iter().filter(|e| e.stage == Stage::Blocked) {
        if proofs.iter().any(|t| t.owner() == e.key.owner) {
            continue;
        }
        if let Some(owner) = e.owner.as_ref() {
            owner.track();
            proofs.push(Tracked::new(e.key.owner, shared.next_epoch()));
        }
    }
    proofs
}

/// Steps 4 and 5, a chunk of [`FINISH_CHUNK`] entries at a time: EWB
/// with the owner's proof (the owner hands the page back either way), then
/// the chunk's pages are finished and freed, and `progress` is told, so a
/// large batch hands pages to waiting allocations as it goes rather than
/// all at its end.
fn write_and_finish(
    shared: &Shared,
    list: &Reclaimable,
    batch: &mut Vec<Entry>,
    tracked: &[Tracked],
    report: &mut BatchReport,
    progress: &dyn Fn(),
) {
    for chunk in batch.chunks_mut(FINISH_CHUNK) {
        write(chunk, tracked, report);
        finish(shared, list, chunk);
        progress();
    }
    batch.clear();
}

/// Step 4: EWB with the owner's proof; the owner hands the page back either
/// way.
fn write(batch: &mut [Entry], tracked: &[Tracked], report: &mut BatchReport) {
    for e in batch.iter_mut().filter(|e| e.stage == Stage::Blocked) {
        let Some(owner) = e.owner.as_ref() else {
            continue;
        };
        let Some(proof) = tracked.iter().find(|t| t.owner() == e.key.owner) else {
            unreachable!("every owner with a blocked page was tracked");
        };
        let (handle, evicted) = match owner.write(e.key, e.page, proof) {
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

/// Step 5, for the entries of one chunk: untrack, put their owner
/// references, then free their pages.
fn finish(shared: &Shared, list: &Reclaimable, chunk: &mut [Entry]) {
    let done = chunk.iter().filter_map(|e| match e.stage {
        Stage::Done { evicted } => Some((e.page, e.key, evicted)),
        _ => None,
    });
    list.finish(done, &shared.states);
    for e in chunk.iter_mut() {
        e.owner = None;
    }
    for e in chunk.iter_mut() {
        if let Some(handle) = e.handle.take() {
            shared.release(handle.id());
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
