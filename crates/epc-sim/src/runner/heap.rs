//! A worker running the `heap` workload: allocator operations (touch a new
//! chunk: EAUG and EACCEPT of each page; free a chunk: restrict it to
//! read-only, then trim and remove it)
//! between accesses to the live chunks.

use super::system::{data_addr, tag};
use super::worker::{word, WorkerJob, WorkerResult};
use crate::workload::{Heap, HeapOp};
use epc_enclave::{EnclaveError, EnclaveThread};
use epc_hw::Perms;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Runs the heap of `job`'s thread until `limit` accesses, the deadline
/// or a stop; the live pages at the end go to `out.live`.
pub(crate) fn run(
    job: &WorkerJob,
    th: &mut EnclaveThread,
    out: &mut WorkerResult,
    chunk_pages: u64,
    limit: u64,
    deadline: Option<Instant>,
) {
    let mut heap = Heap::new(
        job.pages,
        u64::from(job.threads),
        u64::from(job.thread),
        chunk_pages,
        job.workload.write_ratio,
        job.workload.seed,
    );
    let e = &job.enclave;
    let mut serial = 0u64;
    let mut ops = 0u64;
    while out.accesses < limit {
        ops += 1;
        if ops % 16 == 0
            && (job.stop.load(Ordering::Relaxed) || deadline.is_some_and(|d| Instant::now() >= d))
        {
            break;
        }
        let before = out.accesses;
        let r: Result<(), EnclaveError> = match heap.next_op() {
            HeapOp::Alloc { first, pages } => (first..first + pages).try_for_each(|p| {
                out.accesses += 1;
                th.write_u64(data_addr(e, p), tag(job.enclave_index, p))
            }),
            // Quarantine first (read-only, EMODPR and EACCEPT: a stray
            // write to freed memory now faults), then give the chunk back
            // (EMODT to TRIM, EACCEPT, EREMOVE).
            HeapOp::Free { first, pages } => th
                .restrict(data_addr(e, first), pages, Perms::R)
                .and_then(|()| th.trim(data_addr(e, first), pages))
                .map(|_| {
                    for p in first..first + pages {
                        out.written[p as usize] = 0;
                    }
                }),
            HeapOp::Access { page, write: true } => {
                out.accesses += 1;
                serial += 1;
                let v = (u64::from(job.thread) << 56) | serial;
                th.write_u64(word(e, page, job.thread), v)
                    .map(|()| out.written[page as usize] = v)
            }
            HeapOp::Access { page, write: false } => {
                out.accesses += 1;
                th.read_u64(data_addr(e, page)).map(|v| {
                    if v != tag(job.enclave_index, page) {
                        out.corrupt_reads += 1;
                    }
                })
            }
        };
        job.accesses
            .fetch_add(out.accesses - before, Ordering::Relaxed);
        if let Err(err) = r {
            out.error = Some(err);
            break;
        }
    }
    out.live = Some((0..job.pages).map(|p| heap.is_live(p)).collect());
}
