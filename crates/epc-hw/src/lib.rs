//! A faithful software model of the Intel SGX paging hardware.
//!
//! Work in progress: ids, configuration and the cost ledger.

#![forbid(unsafe_code)]

pub mod config;
pub mod cost;
pub mod ids;

pub use config::{ConfigError, EpcLayout, MachineConfig, SectionConfig, SectionLayout};
pub use cost::{CostTable, Event, Ledger, LedgerSnapshot};
pub use ids::{EnclaveId, EpcPageId, LinearAddress, LpId, NodeId, SectionId, VaSlot, PAGE_SIZE, VA_SLOTS_PER_PAGE};
