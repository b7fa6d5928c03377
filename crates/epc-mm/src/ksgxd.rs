//! ksgxd, the background reclaimer. It sleeps until woken, then:
//!
//! 1. reclaims each queued group's subtree down to its target (a group
//!    whose charge hit its limit in a context that may not reclaim, came
//!    near its limit, or had its limit lowered: Linux's `sgx_cg_wq` work,
//!    run here on the one thread);
//! 2. below the low watermark, reclaims batch after batch from every
//!    group's list by global fairness until the high watermark is reached,
//!    nothing is reclaimable, a batch frees nothing, or the manager shuts
//!    down.
//!
//! The watermarks are the effective ones (`watermark.rs`): fixed, or raised
//! by direct reclaims and decayed by quiet allocations; ksgxd refreshes
//! them before every batch. Each batch selects its victims under the list
//! lock and does the owners' work outside it (`reclaim.rs`). In the
//! adaptive mode a batch is the deficit to the high watermark (one to four
//! configured batches), and allocations below the configured low
//! watermark wait for ksgxd's batches while it reclaims
//! (`watermark.rs`): ksgxd says when it is reclaiming and when each batch
//! is done (`signal.rs`). In the assisted mode (the default) allocations
//! that may reclaim run batches of their own when the free count falls to
//! half the effective low watermark while ksgxd works (`assist.rs`): with
//! more faulting threads than cores ksgxd cannot reclaim as fast as they
//! fault, and they share its work before the free lists run dry.
//!
//! Its signal is in `signal.rs`.

use crate::counters::bump;
use crate::inner::Inner;

/// The thread's body.
pub(crate) fn run(inner: &Inner) {
    while inner.ksgxd.wait() {
        for g in inner.ksgxd.take_queued() {
            inner.reclaim_group_down(g, inner.shared.batch);
        }
        if !should_reclaim(inner) {
            continue;
        }
        let s = &inner.shared;
        bump(&s.counters.ksgxd_wakeups, 1);
        inner.ksgxd.set_active(true);
        while should_reclaim(inner) && !inner.ksgxd.is_stopping() {
            let max = s.marks.ksgxd_batch(s.free.nr_free(), s.batch);
            let report = inner.reclaim_global(max);
            bump(&s.counters.ksgxd_evicted, report.evicted);
            inner.ksgxd.batch_done();
            if report.freed() == 0 {
                // Every candidate was young, declined or busy: sleep until
                // the next allocation asks again rather than spin.
                break;
            }
        }
        inner.ksgxd.set_active(false);
    }
}

/// Linux's `sgx_should_reclaim(SGX_NR_HIGH_PAGES)`: below the (effective)
/// high watermark and something on a list.
fn should_reclaim(inner: &Inner) -> bool {
    let s = &inner.shared;
    s.marks.refresh(s.free.allocations());
    s.free.nr_free() < s.marks.high() && s.totals.listed() > 0
}
