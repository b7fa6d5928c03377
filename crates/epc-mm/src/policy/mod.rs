//! Victim selection: the live policy trait the manager drives, the
//! offline-only trait for policies that need every hit or the future, and
//! the registry of built-in live policies by name.
//!
//! A live policy is plain single-threaded state (`&mut self` everywhere):
//! the manager keeps it inside its list lock, and the offline simulator
//! drives the very same object from one thread with its own accessed bits
//! (see [`LiveAsOffline`]).

mod arc;
mod clockpro;
mod fifo;
mod key_list;
mod lirs;
mod lru;
mod offline;
mod opt;
mod s3fifo;
mod second_chance;
mod sieve;
mod tide;

pub use arc::ArcCache;
pub use clockpro::ClockPro;
pub use fifo::Fifo;
pub use lirs::Lirs;
pub use lru::Lru;
pub use offline::{LiveAsOffline, OfflinePolicy};
pub use opt::Opt;
pub use s3fifo::S3Fifo;
pub use second_chance::SecondChance;
pub use sieve::Sieve;
pub use tide::Tide;

use crate::page::PageKey;
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// What one victim scan looked at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// Pages examined (taken from the list, whether or not their accessed
    /// bit was tested).
    pub scanned: u64,
    /// Pages found young and given another round.
    pub second_chances: u64,
}

/// A live reclaim policy: it sees only what a kernel sees.
///
/// Events, all naming pages by their stable [`PageKey`]:
///
/// * [`inserted`](Self::inserted): a page became resident and reclaimable
///   (brought in by a fault, or added).
/// * [`select_victims`](Self::select_victims): choose up to `max` victims.
///   The policy may test and clear accessed bits through the callback, only
///   for resident keys, and only during this call. Each chosen key leaves the
///   resident set ("isolated"); the manager then reports its fate with
///   exactly one of `put_back`, `evicted` or `removed`.
/// * [`put_back`](Self::put_back): an isolated page could not be taken (its
///   owner declined); it is resident again.
/// * [`evicted`](Self::evicted): an isolated page was written out.
/// * [`removed`](Self::removed): the owner took the page away (freed it,
///   unmarked it, or went away), whether it was resident or isolated. A
///   policy with history should forget the key.
///
/// Policies that need every hit or the future cannot be live: they implement
/// [`OfflinePolicy`] instead.
pub trait ReclaimPolicy: Send + fmt::Debug {
    /// A short name, as [`PolicyKind::from_name`] accepts it where built in.
    fn name(&self) -> &'static str;

    /// A page became resident and reclaimable.
    fn inserted(&mut self, key: PageKey);

    /// Moves up to `max` victims into `victims` (which the caller passes
    /// empty, with room for `max`). `test_and_clear_young` returns whether
    /// the page was accessed since the last test, and clears the bit.
    fn select_victims(
        &mut self,
        max: usize,
        test_and_clear_young: &mut dyn FnMut(PageKey) -> bool,
        victims: &mut Vec<PageKey>,
    ) -> ScanReport;

    /// An isolated page could not be taken and is resident again.
    fn put_back(&mut self, key: PageKey);

    /// An isolated page was evicted.
    fn evicted(&mut self, key: PageKey);

    /// The page's owner freed or unmarked it (resident or isolated).
    fn removed(&mut self, key: PageKey);

    /// Number of resident (not isolated) pages.
    fn len(&self) -> usize;

    /// Whether no page is resident.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `key` is resident.
    fn contains(&self, key: PageKey) -> bool;
}

/// The built-in live policies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// [`SecondChance`], Linux's policy ("clock", "second-chance").
    SecondChance,
    /// [`Fifo`] ("fifo").
    Fifo,
    /// [`Sieve`] ("sieve").
    Sieve,
    /// [`Tide`] ("tide", "default"), the project's own, and the manager's
    /// default since it beats Linux's policy on the reference traces (see
    /// `docs/POLICIES.md`).
    #[default]
    Tide,
    /// [`ClockPro`] ("clockpro").
    ClockPro,
}

impl PolicyKind {
    /// Every accepted name, for help texts.
    pub const NAMES: &'static [&'static str] = &[
        "default",
        "clock",
        "second-chance",
        "fifo",
        "sieve",
        "tide",
        "clockpro",
    ];

    /// The policy called `name` (case-insensitive).
    pub fn from_name(name: &str) -> Result<Self, PolicyError> {
        match name.to_ascii_lowercase().as_str() {
            "default" => Ok(PolicyKind::default()),
            "clock" | "second-chance" | "secondchance" => Ok(PolicyKind::SecondChance),
            "fifo" => Ok(PolicyKind::Fifo),
            "sieve" => Ok(PolicyKind::Sieve),
            "tide" => Ok(PolicyKind::Tide),
            "clockpro" | "clock-pro" => Ok(PolicyKind::ClockPro),
            _ => Err(PolicyError::UnknownName(name.to_owned())),
        }
    }

    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::SecondChance => "second-chance",
            PolicyKind::Fifo => "fifo",
            PolicyKind::Sieve => "sieve",
            PolicyKind::Tide => "tide",
            PolicyKind::ClockPro => "clockpro",
        }
    }

    /// A fresh, empty instance.
    pub fn build(self) -> Box<dyn ReclaimPolicy> {
        match self {
            PolicyKind::SecondChance => Box::new(SecondChance::new()),
            PolicyKind::Fifo => Box::new(Fifo::new()),
            PolicyKind::Sieve => Box::new(Sieve::new()),
            PolicyKind::Tide => Box::new(Tide::new()),
            PolicyKind::ClockPro => Box::new(ClockPro::new()),
        }
    }
}

impl FromStr for PolicyKind {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PolicyKind::from_name(s)
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A policy lookup that failed.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PolicyError {
    /// No built-in live policy has this name.
    #[error("policy: unknown policy {0:?} (known: {known})", known = PolicyKind::NAMES.join(", "))]
    UnknownName(String),
}

#[cfg(test)]
mod tests;
