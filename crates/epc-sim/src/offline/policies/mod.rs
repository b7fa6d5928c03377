//! Offline-only policies: they see every hit (exact LRU, ARC, LIRS,
//! S3-FIFO with hit counts) or the future (Belady's OPT), which no kernel
//! does, so they live beside the simulator and not in the manager crate
//! (which runs only live [`epc_mm::ReclaimPolicy`] objects). The
//! [`OfflinePolicy`] trait is what the simulator drives; [`LiveAsOffline`]
//! drives a live policy through it with simulated accessed bits.

mod arc;
mod lirs;
mod live;
mod lru;
mod opt;
mod s3fifo;

pub use arc::ArcCache;
pub use lirs::Lirs;
pub use live::{LiveAsOffline, OfflinePolicy};
pub use lru::Lru;
pub use opt::Opt;
pub use s3fifo::S3Fifo;

#[cfg(test)]
mod tests;
