//! ksgxd, the background reclaimer: sleeps until an allocation leaves fewer
//! free pages than the low watermark, then reclaims batch after batch until
//! the high watermark is reached, nothing is reclaimable, a batch frees
//! nothing, or the manager shuts down. Its signal is in `signal.rs`.

use crate::counters::bump;
use crate::inner::Inner;
use crate::reclaim;

/// The thread's body.
pub(crate) fn run(inner: &Inner) {
    while inner.ksgxd.wait() {
        if !should_reclaim(inner) {
            continue;
        }
        bump(&inner.shared.counters.ksgxd_wakeups, 1);
        while should_reclaim(inner) && !inner.ksgxd.is_stopping() {
            let s = &inner.shared;
            let report = reclaim::reclaim_pages(s, &inner.reclaimable, s.batch);
            if report.freed() == 0 {
                // Every candidate was young, declined or busy: sleep until
                // the next allocation asks again rather than spin.
                break;
            }
        }
    }
}

/// Linux's `sgx_should_reclaim(SGX_NR_HIGH_PAGES)`: below the high
/// watermark and something on the list.
fn should_reclaim(inner: &Inner) -> bool {
    let s = &inner.shared;
    s.free.nr_free() < s.high_watermark && s.totals.listed() > 0
}
