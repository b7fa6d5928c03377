//! What can go wrong starting a VM.

use epc_mm::ManagerError;
use thiserror::Error;

/// A VM that could not be started.
#[derive(Debug, Error)]
pub enum VmError {
    /// `prealloc`: the host could not back every vEPC page. Nothing is
    /// held: the pages it got were given back.
    #[error("vm {vm}: prealloc of {wanted} vEPC pages got only {got} host EPC pages: {why}")]
    NoMemory {
        /// The VM's name.
        vm: String,
        /// Its vEPC size.
        wanted: u32,
        /// The host pages it got before failing.
        got: u32,
        /// Why the last allocation failed.
        why: String,
    },
    /// The configuration was refused; the message names the field.
    #[error("vm config: {0}")]
    Config(String),
    /// The guest's EPC manager could not be built.
    #[error("vm {vm}: guest EPC manager: {source}")]
    Manager {
        /// The VM's name.
        vm: String,
        /// Why.
        #[source]
        source: ManagerError,
    },
}
