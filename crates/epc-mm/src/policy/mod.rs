//! Victim selection: the live policy trait the manager drives, and the one
//! table of built-in live policies ([`PolicyKind`]), from which the
//! simulator's registry, the CLI's lists and the tests that run "every live
//! policy" all derive: adding a policy is one entry in `live_policies!`
//! below (plus its module).
//!
//! A live policy is plain single-threaded state (`&mut self` everywhere):
//! the manager keeps it inside its list lock, and the offline simulator
//! (`epc_sim::offline`, where the offline-only policies live) drives the
//! very same object from one thread with its own accessed bits.

mod clockpro;
mod fifo;
mod key_list;
mod mglru;
mod page_links;
mod paged;
mod second_chance;
mod sieve;
mod tide;

pub use clockpro::ClockPro;
pub use fifo::Fifo;
pub use key_list::{KeyList, KeyLists};
pub use mglru::Mglru;
pub use paged::{ByKey, PageKeys, PagePolicy};
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
/// Policies that need every hit or the future cannot be live: they live in
/// the offline simulator (`epc_sim::offline`).
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

    /// This policy, fresh, as the manager drives it: by page
    /// ([`PagePolicy`]). A policy keyed by key alone answers
    /// `Box::new(ByKey(self))`.
    fn into_pages(self: Box<Self>) -> Box<dyn PagePolicy>;
}

/// Declares the built-in live policies, once: the [`PolicyKind`] enum and
/// its table (names, aliases, constructor, and the textbook accessed bit of
/// a new page, which the offline simulator follows by default).
macro_rules! live_policies {
    ($(
        $(#[$attr:meta])*
        $variant:ident => $ty:ident {
            name: $name:literal,
            short: $short:literal,
            aliases: [$($alias:literal),*],
            textbook_young: $young:literal $(,)?
        }
    )*) => {
        /// The built-in live policies.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
        pub enum PolicyKind {
            $($(#[$attr])* $variant,)*
        }

        impl PolicyKind {
            /// Every built-in live policy, in table order.
            pub const ALL: &'static [PolicyKind] = &[$(PolicyKind::$variant),*];

            /// Every accepted name (aliases and `default` included), for
            /// help texts.
            pub const NAMES: &'static [&'static str] =
                &["default", $($name, $($alias,)*)*];

            /// The canonical name.
            pub fn name(self) -> &'static str {
                match self {
                    $(PolicyKind::$variant => $name,)*
                }
            }

            /// The short name tables and the simulator use (`clock` for
            /// second chance; the canonical name otherwise).
            pub fn short_name(self) -> &'static str {
                match self {
                    $(PolicyKind::$variant => $short,)*
                }
            }

            /// Other accepted names.
            pub fn aliases(self) -> &'static [&'static str] {
                match self {
                    $(PolicyKind::$variant => &[$($alias),*],)*
                }
            }

            /// Whether the policy's published definition brings a page in
            /// with its accessed bit set (the live manager always does: the
            /// faulting access sets it).
            pub fn textbook_young_on_insert(self) -> bool {
                match self {
                    $(PolicyKind::$variant => $young,)*
                }
            }

            /// A fresh, empty instance.
            pub fn build(self) -> Box<dyn ReclaimPolicy> {
                match self {
                    $(PolicyKind::$variant => Box::new($ty::new()),)*
                }
            }

            /// Calls `visitor` with a fresh instance of the concrete type,
            /// for callers that want static dispatch (the simulator).
            pub fn visit<V: PolicyVisitor>(self, visitor: V) -> V::Output {
                match self {
                    $(PolicyKind::$variant => visitor.visit($ty::new()),)*
                }
            }
        }
    };
}

live_policies! {
    /// [`SecondChance`], Linux's policy ("clock", "second-chance").
    SecondChance => SecondChance {
        name: "second-chance",
        short: "clock",
        aliases: ["clock", "secondchance"],
        textbook_young: true,
    }
    /// [`Fifo`] ("fifo").
    Fifo => Fifo {
        name: "fifo",
        short: "fifo",
        aliases: [],
        textbook_young: true,
    }
    /// [`Sieve`] ("sieve"); in its paper a page comes in unvisited.
    Sieve => Sieve {
        name: "sieve",
        short: "sieve",
        aliases: [],
        textbook_young: false,
    }
    /// [`Tide`] ("tide", "default"), the project's own, and the manager's
    /// default since it beats Linux's policy on the reference traces (see
    /// `docs/POLICIES.md`).
    #[default]
    Tide => Tide {
        name: "tide",
        short: "tide",
        aliases: [],
        textbook_young: true,
    }
    /// [`ClockPro`] ("clockpro"); in its paper a page comes in unreferenced.
    ClockPro => ClockPro {
        name: "clockpro",
        short: "clockpro",
        aliases: ["clock-pro"],
        textbook_young: false,
    }
    /// [`Mglru`] ("mglru"), Linux's multi-generational LRU, adapted to
    /// the pages on the list.
    Mglru => Mglru {
        name: "mglru",
        short: "mglru",
        aliases: ["multigen-lru", "lru-gen"],
        textbook_young: true,
    }
}

/// Receives a fresh policy of its concrete type from
/// [`PolicyKind::visit`].
pub trait PolicyVisitor {
    /// What the visit returns.
    type Output;
    /// Called once with the new policy.
    fn visit<P: ReclaimPolicy + 'static>(self, policy: P) -> Self::Output;
}

impl PolicyKind {
    /// The policy called `name` (case-insensitive): a canonical name, an
    /// alias, or `default`.
    pub fn from_name(name: &str) -> Result<Self, PolicyError> {
        let lower = name.to_ascii_lowercase();
        if lower == "default" {
            return Ok(PolicyKind::default());
        }
        PolicyKind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == lower || k.aliases().contains(&lower.as_str()))
            .ok_or_else(|| PolicyError::UnknownName(name.to_owned()))
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
