//! A faithful software model of the Intel SGX paging hardware.
//!
//! The model is the processor as the OS sees it: an EPC of 4 KiB pages in
//! one or more sections, the EPCM that describes them, the ENCLS leaves that
//! build enclaves and page them out and in (ECREATE, EADD, EINIT, EREMOVE,
//! EPA, EBLOCK, ETRACK, EWB, ELDU, ELDB) and change them at run time (SGX2:
//! EAUG, EMODPR, EMODT), logical processors that enter enclaves (EENTER,
//! EEXIT, ERESUME, AEX), access enclave memory through their TLBs and accept
//! the OS's changes (EACCEPT, EACCEPTCOPY, EMODPE), IPIs, the tracking that
//! makes EWB and EACCEPT safe, and AES-128-GCM sealing of evicted pages with
//! Version Array anti-replay.
//!
//! It is strict: a leaf checks what the SDM says it checks and answers as
//! the processor would, with a [`Fault`], an [`SgxError`] code or success
//! with an optional [`SgxWarning`], and a wrong sequence from the OS (EWB
//! before tracking, a replayed page, EREMOVE while a thread runs) gets the
//! architectural error, never silent success, a panic or undefined
//! behaviour. A [`Ledger`] counts every event and prices it in modelled
//! cycles, apart from wall-clock time.
//!
//! The machine can also fail as real ones do: [`Machine::poison_page`]
//! marks a page's memory bad, and whatever reads it then raises a
//! [`MachineCheck`] (a fourth outcome, beside faults, errors and warnings);
//! [`Machine::power_cycle`] loses the whole EPC and the paging key, as a
//! suspend and resume does.
//!
//! ```
//! use epc_hw::*;
//! let m = Machine::new(MachineConfig::with_pages(16)).unwrap();
//! let (secs, va, page) = (EpcPageId(0), EpcPageId(1), EpcPageId(2));
//! m.ecreate(secs, LinearAddress(0x10000), 0x10000).unwrap();
//! m.eadd(page, secs, LinearAddress(0x10000), SecInfo::reg(Perms::RW), &[7u8; 4096]).unwrap();
//! m.epa(va).unwrap();
//! // EWB needs EBLOCK and a completed ETRACK cycle first.
//! let mut sealed = SealedPage::new();
//! let slot = VaSlot { page: va, slot: 0 };
//! assert_eq!(m.ewb(page, slot, &mut sealed).unwrap_err(), SgxError::PageNotBlocked.into());
//! m.eblock(page).unwrap();
//! m.etrack(secs).unwrap();
//! let done = m.ewb(page, slot, &mut sealed).unwrap();
//! assert_eq!(done.value, LinearAddress(0x10000));
//! m.eldu(EpcPageId(3), done.value, &sealed, Some(secs), slot).unwrap();
//! // The slot was cleared: the same blob cannot be loaded again.
//! assert_eq!(
//!     m.eldu(EpcPageId(4), done.value, &sealed, Some(secs), slot).unwrap_err(),
//!     SgxError::MacCompareFail.into()
//! );
//! ```

#![forbid(unsafe_code)]

pub mod config;
pub mod cost;
mod crypto;
mod encls;
mod epc;
pub mod epcm;
mod epcm_cell;
pub mod error;
pub mod ids;
mod lp;
mod machine;
mod page_table;
mod poison;
mod power;
mod secs;
mod tlb;
mod tracking;
mod validate;

pub use config::{ConfigError, EpcLayout, MachineConfig, SectionConfig, SectionLayout};
pub use cost::{CostTable, Event, Ledger, LedgerSnapshot};
pub use crypto::KeyError;
pub use encls::tcs::Tcs;
pub use encls::{Pcmd, SealedPage};
pub use epcm::{EpcmEntry, PageType, Perms, SecInfo};
pub use error::{
    Done, Fault, FaultCause, GpCause, LeafError, LeafResult, MachineCheck, Operand, PageFaultInfo,
    PfCause, SgxError, SgxWarning,
};
pub use ids::{
    EnclaveId, EpcPageId, LinearAddress, LpId, NodeId, SectionId, VaSlot, PAGE_SIZE,
    VA_SLOTS_PER_PAGE,
};
pub use lp::{LogicalProcessor, LpError, LpStats};
#[cfg(feature = "test-hooks")]
pub use machine::HeldPage;
pub use machine::{EnclaveInfo, Machine, MachineError};
pub use page_table::{PageTable, Pte};
pub use validate::ValidationError;
