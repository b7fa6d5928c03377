//! Virtual EPC: virtual machines whose guests run their own EPC manager
//! and enclaves over host EPC pages the host lends (Linux's `virt.c`,
//! `/dev/sgx_vepc`, and a guest kernel's SGX driver, rebuilt from the same
//! libraries).
//!
//! * [`Host`]: the host's machine and manager, its VMs, the zombie list
//!   and its counters ([`HostVmCounters`]); [`Host::memory_failure_vm`]
//!   fails the VM that holds a poisoned host page.
//! * [`Vm::start`] with a [`VmConfig`]: a vEPC of `epc_pages` pages, each
//!   backed by a host page at the guest's first use of it (on demand;
//!   `Busy` is retried like `VM_FAULT_RETRY`, a page the host cannot give
//!   is SIGBUS: the VM fails, its guest sees its EPC lost, nothing else is
//!   disturbed) or all at start (`prealloc`). vEPC pages are charged to
//!   the VM's host group and never put on a reclaimable list: host reclaim
//!   never touches them.
//! * The guest: [`Vm::manager`] is a plain `epc_mm::EpcManager` over guest
//!   page ids `0..epc_pages` with its own policy, watermarks and ksgxd;
//!   guest enclaves are created with
//!   `Enclave::create_on(vm.platform(), vm.manager(), config, permit)` and
//!   run threads as host enclaves do. Every ENCLS operand they hand the
//!   machine is translated to its host page by [`Vm::platform`]'s frames,
//!   and their threads walk guest page table then EPT, so every rule of
//!   the hardware model holds for guests too, and a guest can only ever
//!   name host pages of its own vEPC.
//! * [`Vm::reboot`] (`SGX_IOC_VEPC_REMOVE_ALL`, twice) and [`Vm::stop`]:
//!   EREMOVE everything in two passes ([`RemoveReport`]), leftovers on the
//!   zombie list, every other page back on the host's free lists. Both end
//!   the guest's boot first (its translation gate closes, waiting for the
//!   leaves in flight), so a stale guest object can never touch a host page
//!   that was given back. Guest enclave threads must be stopped (dropped)
//!   before for their pages to be removable; a thread still inside makes
//!   its enclave's pages refuse (`SGX_ENCLAVE_ACT`) and go on the zombie
//!   list.
//!
//! `docs/ARCHITECTURE.md` ("The platform seam and virtual EPC") explains
//! the design.
//!
//! # Changes to the contract (`VEPC-CONTRACT.md`)
//!
//! * `epc_enclave::Frames` has a fourth method, `gate()`, the
//!   [`epc_enclave::LeafGate`] translated leaves hold a pass of.
//! * [`VmError::NoMemory`] has fields (`vm`, `wanted`, `got`, `why`);
//!   [`VmError::Manager`] has `vm` and `source`.
//! * [`RemoveReport`] has one more field, `zombies_freed`, and `zombies`
//!   counts every page put on the zombie list (SECS that kept children
//!   and pages refused with `SGX_ENCLAVE_ACT`); [`Host::zombie_secs`] counts
//!   them all. A reboot's leftovers go on the zombie list too (the next
//!   boot gets fresh host pages for those vEPC pages).
//! * Additions: [`VmConfig::new`], [`Vm::host`], [`Vm::host_page`],
//!   [`Vm::reboots`], [`Vm::is_stopped`], [`Host::retry_zombies`],
//!   [`Host::zombie_owners`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod error;
mod frames;
mod host;
mod region;
mod release;
mod vm;

pub use config::VmConfig;
pub use error::VmError;
pub use host::{Host, HostVmCounters};
pub use region::{VEPC_BUSY_RETRIES, VEPC_RETRY_SLEEP};
pub use release::RemoveReport;
pub use vm::Vm;
