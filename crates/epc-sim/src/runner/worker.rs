//! One workload thread: enters its enclave, runs its generator until its
//! length, the run's deadline or a stop, and keeps what the integrity check
//! needs (the last value it wrote to each page); and the final check.

use super::system::{data_addr, tag};
use crate::workload::{Length, Pattern, WorkloadSpec};
use epc_enclave::{Enclave, EnclaveError};
use epc_hw::LpStats;
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a worker did.
#[derive(Debug)]
pub(crate) struct WorkerResult {
    pub(crate) enclave: usize,
    /// Which build of the enclave it ran in (0, then one more per rebuild
    /// after the EPC was lost).
    pub(crate) generation: u32,
    pub(crate) thread: u32,
    pub(crate) accesses: u64,
    pub(crate) faults: u64,
    pub(crate) latency: Histogram<u64>,
    pub(crate) lp: LpStats,
    /// Reads whose tag word was wrong.
    pub(crate) corrupt_reads: u64,
    /// Last value written per page (0: never written, or freed).
    pub(crate) written: Vec<u64>,
    /// A heap workload's live pages at the end (the others were freed).
    pub(crate) live: Option<Vec<bool>>,
    /// The error that ended it early (the enclave was killed, say).
    pub(crate) error: Option<EnclaveError>,
}

/// Where a worker runs and when it stops.
pub(crate) struct WorkerJob {
    pub(crate) enclave_index: usize,
    pub(crate) generation: u32,
    pub(crate) enclave: Arc<Enclave>,
    pub(crate) thread: u32,
    /// Threads of the enclave (a heap is split between them).
    pub(crate) threads: u32,
    pub(crate) pages: u64,
    pub(crate) workload: WorkloadSpec,
    /// When the run ends (`duration_seconds`), whenever this thread
    /// started.
    pub(crate) deadline: Option<Instant>,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) accesses: Arc<AtomicU64>,
}

/// The word a thread writes: word `1 + thread` of the page.
pub(crate) fn word(e: &Enclave, page: u64, thread: u32) -> epc_hw::LinearAddress {
    data_addr(e, page).add(8 * (1 + u64::from(thread)))
}

pub(crate) fn run(job: WorkerJob) -> WorkerResult {
    let mut out = WorkerResult {
        enclave: job.enclave_index,
        generation: job.generation,
        thread: job.thread,
        accesses: 0,
        faults: 0,
        latency: crate::metrics::latency_histogram(),
        lp: LpStats::default(),
        corrupt_reads: 0,
        written: vec![0; job.pages as usize],
        live: None,
        error: None,
    };
    let mut th = match job.enclave.thread() {
        Ok(t) => t,
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    };
    let mut gen = job.workload.generator(job.pages, u64::from(job.thread));
    let (limit, own_time) = match job.workload.length {
        Length::Accesses(n) => (n, None),
        Length::Seconds(s) => (u64::MAX, Some(Duration::from_secs_f64(s))),
    };
    let start = Instant::now();
    let deadline = match (own_time.map(|d| start + d), job.deadline) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if let Pattern::Heap { chunk_pages } = job.workload.pattern {
        super::heap::run(&job, &mut th, &mut out, chunk_pages, limit, deadline);
        out.faults = th.faults();
        out.latency = th.fault_latency().clone();
        out.lp = th.lp_stats();
        return out;
    }
    let dynamic = job.enclave.config().dynamic;
    let mut serial = 0u64;
    'run: while out.accesses < limit {
        if job.stop.load(Ordering::Relaxed) || deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let chunk = 64.min(limit - out.accesses);
        for _ in 0..chunk {
            let a = gen.next_access();
            let r: Result<(), EnclaveError> = if a.write {
                serial += 1;
                let v = (u64::from(job.thread) << 56) | serial;
                th.write_u64(word(&job.enclave, a.page, job.thread), v)
                    .map(|()| out.written[a.page as usize] = v)
            } else {
                let at = data_addr(&job.enclave, a.page);
                let t = tag(job.enclave_index, a.page);
                match th.read_u64(at) {
                    // A dynamic enclave's page added by this first touch
                    // (EAUG: zeroed) gets its tag now.
                    Ok(0) if dynamic => th.write_u64(at, t),
                    Ok(v) => {
                        if v != t {
                            out.corrupt_reads += 1;
                        }
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            };
            if let Err(e) = r {
                out.error = Some(e);
                break 'run;
            }
            out.accesses += 1;
        }
        job.accesses.fetch_add(chunk, Ordering::Relaxed);
    }
    out.faults = th.faults();
    out.latency = th.fault_latency().clone();
    out.lp = th.lp_stats();
    out
}

/// Reads back every page of an enclave: the tag and each thread's last
/// write. Returns (pages checked, corrupt pages), or the error that
/// stopped it.
pub(crate) fn verify(
    index: usize,
    enclave: &Arc<Enclave>,
    pages: u64,
    writers: &[&WorkerResult],
) -> Result<(u64, u64), EnclaveError> {
    let mut th = enclave.thread()?;
    let mut corrupt = 0;
    let mut checked = 0;
    let heap = writers.iter().any(|w| w.live.is_some());
    let dynamic = enclave.config().dynamic;
    for p in 0..pages {
        let live = |w: &&WorkerResult| w.live.as_ref().is_some_and(|l| l[p as usize]);
        if heap && !writers.iter().any(live) {
            continue; // freed by the heap (or never allocated): gone
        }
        checked += 1;
        let t = th.read_u64(data_addr(enclave, p))?;
        if dynamic && t == 0 && writers.iter().all(|w| w.written[p as usize] == 0) {
            continue; // never touched: added just now, zeroed
        }
        // A dynamic enclave's page whose first touch was a write (EAUG:
        // zeroed, then one thread's word written) gets its tag only at its
        // first read, which a short run may never reach: its tag word is
        // still zero, and its threads' words are what to check. (The heap
        // tags every page it allocates, so there a zero tag is a loss.)
        let untagged = dynamic && !heap && t == 0;
        let mut ok = untagged || t == tag(index, p);
        for w in writers {
            let expect = w.written[p as usize];
            ok &= th.read_u64(word(enclave, p, w.thread))? == expect;
        }
        if !ok {
            corrupt += 1;
        }
    }
    Ok((checked, corrupt))
}
