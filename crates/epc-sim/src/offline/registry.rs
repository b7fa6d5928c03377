//! Every policy the simulator knows, by name, and how it is driven.
//!
//! The live policies come from the manager's one table
//! ([`PolicyKind::ALL`]): a policy added there is simulated, listed by the
//! CLI and replayed by the tests with no edit here. This file's own table
//! lists only the offline-only policies (in [`super::policies`]).

use super::policies::{ArcCache, Lirs, LiveAsOffline, Lru, OfflinePolicy, Opt, S3Fifo};
use super::SimError;
use epc_mm::{PolicyKind, PolicyVisitor, ReclaimPolicy, SecondChance};
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

/// A policy the offline simulator can run.
///
/// Live ones ([`SimPolicy::Live`]) run the very object the manager would
/// hold, through [`LiveAsOffline`]: a hit only sets the page's simulated
/// accessed bit; the policy sees the insertion, its scans (testing and
/// clearing bits) and the evictions, one victim at a time, as in the
/// manager's deterministic mode. Offline-only ones see every hit (and OPT
/// the future).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SimPolicy {
    /// A live policy of the manager's table (`clock`, `fifo`, `sieve`,
    /// `tide`, ...).
    Live(PolicyKind),
    /// Exact LRU (offline).
    Lru,
    /// CLOCK with the bit clear on insertion (libCacheSim's default
    /// `Clock`). Offline: on hardware the faulting access sets the bit.
    Clock0,
    /// S3-FIFO with hit counters (offline).
    S3Fifo,
    /// ARC (offline).
    Arc,
    /// LIRS (offline).
    Lirs,
    /// Belady's OPT (offline; reads the future).
    Opt,
}

/// The offline-only policies: policy, canonical name, aliases.
const OFFLINE: &[(SimPolicy, &str, &[&str])] = &[
    (SimPolicy::Lru, "lru", &[]),
    (SimPolicy::Clock0, "clock0", &[]),
    (SimPolicy::S3Fifo, "s3fifo", &["s3-fifo"]),
    (SimPolicy::Arc, "arc", &[]),
    (SimPolicy::Lirs, "lirs", &[]),
    (SimPolicy::Opt, "opt", &["belady", "min"]),
];

impl SimPolicy {
    /// CLOCK / second chance, Linux's policy, accessed bit set when a page
    /// comes in (libCacheSim's `Clock(init_freq=1)`).
    pub const CLOCK: SimPolicy = SimPolicy::Live(PolicyKind::SecondChance);

    /// Every policy, in the order tables list them: LRU, the live ones in
    /// the manager's table order, then the other offline ones.
    pub fn all() -> &'static [SimPolicy] {
        static ALL: OnceLock<Vec<SimPolicy>> = OnceLock::new();
        ALL.get_or_init(|| {
            let mut v = vec![SimPolicy::Lru];
            v.extend(PolicyKind::ALL.iter().map(|&k| SimPolicy::Live(k)));
            v.extend(OFFLINE.iter().map(|e| e.0).filter(|&p| p != SimPolicy::Lru));
            v
        })
    }

    /// Every accepted name (aliases and `default` included), for help
    /// texts and error messages.
    pub fn names() -> &'static [&'static str] {
        static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
        NAMES.get_or_init(|| {
            let mut v = vec!["default"];
            for &p in SimPolicy::all() {
                v.push(p.name());
                match p {
                    SimPolicy::Live(k) => v.extend(
                        std::iter::once(k.name())
                            .chain(k.aliases().iter().copied())
                            .filter(|&n| n != k.short_name()),
                    ),
                    _ => v.extend(OFFLINE.iter().filter(|e| e.0 == p).flat_map(|e| e.2)),
                }
            }
            v
        })
    }

    /// The policy called `name` (case-insensitive). `default` names the
    /// live manager's default policy.
    pub fn from_name(name: &str) -> Result<SimPolicy, SimError> {
        let lower = name.to_ascii_lowercase();
        if let Some(e) = OFFLINE
            .iter()
            .find(|e| e.1 == lower || e.2.contains(&lower.as_str()))
        {
            return Ok(e.0);
        }
        PolicyKind::from_name(&lower)
            .map(SimPolicy::Live)
            .map_err(|_| SimError::UnknownPolicy(name.to_owned()))
    }

    /// The simulator's policy for a live kind.
    pub fn from_kind(kind: PolicyKind) -> SimPolicy {
        SimPolicy::Live(kind)
    }

    /// The canonical name (a live policy's short name: `clock` for second
    /// chance).
    pub fn name(self) -> &'static str {
        match self {
            SimPolicy::Live(k) => k.short_name(),
            p => OFFLINE
                .iter()
                .find(|e| e.0 == p)
                .map(|e| e.1)
                .expect("every offline policy is in the table"),
        }
    }

    /// The live policy this runs, if it is live-capable.
    pub fn live_kind(self) -> Option<PolicyKind> {
        match self {
            SimPolicy::Live(k) => Some(k),
            _ => None,
        }
    }

    /// Whether the policy reads the future (the simulator must then hold
    /// the whole trace, which it does anyway).
    pub fn needs_future(self) -> bool {
        self == SimPolicy::Opt
    }

    /// Whether, in the textbook definition the simulator follows by
    /// default, a page comes in with its accessed (reference, visited) bit
    /// set. The live manager always gives a set bit (the faulting access
    /// sets it); see [`Drive`](super::Drive).
    pub fn textbook_young_on_insert(self) -> bool {
        match self {
            SimPolicy::Live(k) => k.textbook_young_on_insert(),
            SimPolicy::Clock0 => false,
            _ => true,
        }
    }

    /// A fresh instance for a cache of `capacity` pages, driven as `drive`
    /// says.
    pub fn build(self, capacity: usize, drive: super::Drive) -> Box<dyn OfflinePolicy + Send> {
        let young = match drive {
            super::Drive::Textbook => self.textbook_young_on_insert(),
            super::Drive::Live => true,
        };
        match self {
            SimPolicy::Live(k) => k.visit(Offline { young }),
            SimPolicy::Lru => Box::new(Lru::new()),
            SimPolicy::Clock0 => Box::new(LiveAsOffline::new(SecondChance::new(), false)),
            SimPolicy::S3Fifo => Box::new(S3Fifo::new(capacity)),
            SimPolicy::Arc => Box::new(ArcCache::new(capacity)),
            SimPolicy::Lirs => Box::new(Lirs::new(capacity)),
            SimPolicy::Opt => Box::new(Opt::new()),
        }
    }
}

/// Wraps a live policy of any concrete type for the simulator (static
/// dispatch inside the wrapper).
struct Offline {
    young: bool,
}

impl PolicyVisitor for Offline {
    type Output = Box<dyn OfflinePolicy + Send>;
    fn visit<P: ReclaimPolicy + 'static>(self, policy: P) -> Self::Output {
        Box::new(LiveAsOffline::new(policy, self.young))
    }
}

impl FromStr for SimPolicy {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Self, SimError> {
        SimPolicy::from_name(s)
    }
}

impl fmt::Display for SimPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for SimPolicy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}
