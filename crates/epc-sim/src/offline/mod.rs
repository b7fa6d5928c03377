//! The offline policy simulator, Belady's OPT and miss-ratio curves.
//!
//! (Being built; see the items below.)

mod capacity;
mod error;
mod mrc;
mod registry;
mod simulate;

pub use capacity::Capacity;
pub use error::SimError;
pub use mrc::{mrc, par_map, MrcTable};
pub use registry::SimPolicy;
pub use simulate::{simulate, simulate_with, Drive, SimResult, Trace};
