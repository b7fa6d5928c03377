//! Enclaves: the EPC manager's real owner.
//!
//! This layer joins the hardware model (`epc-hw`) and the EPC manager
//! (`epc-mm`) into a working system, as Linux's `encl.c` does:
//!
//! * [`Enclave::create`], [`Enclave::add_page`], [`Enclave::add_tcs`],
//!   [`Enclave::init`], [`Enclave::destroy`]: the lifecycle (ECREATE, EADD,
//!   EINIT, EREMOVE), which may build enclaves larger than the EPC, with
//!   direct reclaim and ksgxd making room;
//! * the enclave page table ([`EnclavePageTable`]), which the hardware's
//!   page walk reads and whose accessed bits the reclaimer ages;
//! * Version Array slots allocated ahead, one VA page per 512 pages;
//! * the backing store: sealed pages and PCMD, released on reload;
//! * the reclaim operations ([`epc_mm::PageOwner`]): age, block (unmap and
//!   EBLOCK), track (ETRACK once per batch), write (EWB with the ETRACK and
//!   IPI retry ladder), and SECS eviction after the last child;
//! * the fault handler ([`Enclave::handle_fault`]): ELDU, the SECS first;
//!   a triage by fault cause first, so that an access error reaches the
//!   thread after one fault instead of being retried forever;
//! * SGX2 (EDMM), for enclaves made [`dynamic`](EnclaveConfig::dynamic):
//!   EAUG on fault, [`Enclave::restrict_permissions`] (EMODPR),
//!   [`Enclave::modify_types`] (EMODT to TCS or TRIM),
//!   [`Enclave::remove_pages`] (EREMOVE of accepted TRIM pages), and the
//!   enclave side on its threads ([`EnclaveThread::accept`],
//!   [`EnclaveThread::trim`], [`EnclaveThread::restrict`],
//!   [`EnclaveThread::add_tcs`]), all safe against the reclaimer;
//! * enclave threads ([`EnclaveThread`]) that read and write enclave memory
//!   on a logical processor, faults handled underneath;
//! * killing an enclave whose sealed page fails its integrity check, whose
//!   thread reads a poisoned page, or whose EPC was lost at a power cycle
//!   ([`memory_failure`], [`epc_lost`]), and teardown that is safe while
//!   the reclaimer holds some of its pages and lets other threads' faults
//!   through while a large enclave is released.

#![forbid(unsafe_code)]
// Under `--cfg loom` only the model of `tests/gate_loom.rs` is built (see
// loom.sh); the crate itself runs on std's primitives.
#![cfg(not(loom))]

mod accept;
mod augment;
mod backing;
mod counters;
mod dynamic;
mod enclave;
mod error;
mod evict;
mod fault;
mod faults;
mod modify;
mod owner;
mod page_table;
mod platform;
mod remove;
mod secs_gate;
mod shards;
mod state;
mod teardown;
mod thread;
mod triage;
mod va;

pub use counters::EnclaveCounters;
pub use enclave::{Enclave, EnclaveConfig, EnclaveUsage};
pub use error::{EnclaveError, KillReason};
pub use faults::{epc_lost, memory_failure};
pub use modify::ModifyOutcome;
pub use page_table::EnclavePageTable;
pub use platform::{FrameError, Frames, LeafGate, LeafPass, Platform};
pub use state::BACKING_BYTES_PER_PAGE;
pub use teardown::RELEASE_BATCH;
pub use thread::EnclaveThread;
