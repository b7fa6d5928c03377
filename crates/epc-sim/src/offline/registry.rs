//! Every policy the simulator knows, by name, and how it is driven.

use super::SimError;
use epc_mm::{
    ArcCache, ClockPro, Fifo, Lirs, LiveAsOffline, Lru, OfflinePolicy, Opt, PolicyKind, S3Fifo,
    SecondChance, Sieve, Tide,
};
use std::fmt;
use std::str::FromStr;

/// A policy the offline simulator can run.
///
/// Live-capable ones (those with a [`PolicyKind`]) run the very object the
/// manager would hold, through [`LiveAsOffline`]: a hit only sets the page's
/// simulated accessed bit; the policy sees the insertion, its scans (testing
/// and clearing bits) and the evictions, one victim at a time, as in the
/// manager's deterministic mode. Offline-only ones see every hit (and OPT
/// the future).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SimPolicy {
    /// Exact LRU (offline).
    Lru,
    /// FIFO (live).
    Fifo,
    /// CLOCK / second chance, accessed bit set when a page comes in (live;
    /// Linux's policy; libCacheSim's `Clock(init_freq=1)`).
    Clock,
    /// CLOCK with the bit clear on insertion (libCacheSim's default
    /// `Clock`). Offline: on hardware the faulting access sets the bit.
    Clock0,
    /// SIEVE (live-capable; simulated as in the paper, bit clear on
    /// insertion).
    Sieve,
    /// S3-FIFO with hit counters (offline).
    S3Fifo,
    /// ARC (offline).
    Arc,
    /// LIRS (offline).
    Lirs,
    /// Belady's OPT (offline; reads the future).
    Opt,
    /// Tide, the project's own (live).
    Tide,
    /// CLOCK-Pro (live; simulated with the bit clear on insertion, as in
    /// the paper).
    ClockPro,
}

impl SimPolicy {
    /// Every policy, in the order tables list them.
    pub const ALL: &'static [SimPolicy] = &[
        SimPolicy::Lru,
        SimPolicy::Fifo,
        SimPolicy::Clock,
        SimPolicy::Clock0,
        SimPolicy::Sieve,
        SimPolicy::S3Fifo,
        SimPolicy::Arc,
        SimPolicy::Lirs,
        SimPolicy::Opt,
        SimPolicy::Tide,
        SimPolicy::ClockPro,
    ];

    /// Every accepted name (aliases included), for help texts.
    pub const NAMES: &'static [&'static str] = &[
        "default",
        "lru",
        "fifo",
        "clock",
        "second-chance",
        "clock0",
        "sieve",
        "s3fifo",
        "arc",
        "lirs",
        "opt",
        "belady",
        "tide",
        "clockpro",
    ];

    /// The policy called `name` (case-insensitive). `default` names the
    /// live manager's default policy.
    pub fn from_name(name: &str) -> Result<SimPolicy, SimError> {
        let lower = name.to_ascii_lowercase();
        if lower == "default" {
            return Ok(SimPolicy::from_kind(PolicyKind::default()));
        }
        Ok(match lower.as_str() {
            "lru" => SimPolicy::Lru,
            "fifo" => SimPolicy::Fifo,
            "clock" | "second-chance" | "secondchance" => SimPolicy::Clock,
            "clock0" => SimPolicy::Clock0,
            "sieve" => SimPolicy::Sieve,
            "s3fifo" | "s3-fifo" => SimPolicy::S3Fifo,
            "arc" => SimPolicy::Arc,
            "lirs" => SimPolicy::Lirs,
            "opt" | "belady" | "min" => SimPolicy::Opt,
            "tide" => SimPolicy::Tide,
            "clockpro" | "clock-pro" => SimPolicy::ClockPro,
            _ => {
                // A live policy registered in the manager but not listed
                // here still runs, through its live form.
                return match PolicyKind::from_name(name) {
                    Ok(k) => Ok(SimPolicy::from_kind(k)),
                    Err(_) => Err(SimError::UnknownPolicy(name.to_owned())),
                };
            }
        })
    }

    /// The simulator's policy for a live kind.
    pub fn from_kind(kind: PolicyKind) -> SimPolicy {
        match kind {
            PolicyKind::SecondChance => SimPolicy::Clock,
            PolicyKind::Fifo => SimPolicy::Fifo,
            PolicyKind::Sieve => SimPolicy::Sieve,
            PolicyKind::Tide => SimPolicy::Tide,
            PolicyKind::ClockPro => SimPolicy::ClockPro,
        }
    }

    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            SimPolicy::Lru => "lru",
            SimPolicy::Fifo => "fifo",
            SimPolicy::Clock => "clock",
            SimPolicy::Clock0 => "clock0",
            SimPolicy::Sieve => "sieve",
            SimPolicy::S3Fifo => "s3fifo",
            SimPolicy::Arc => "arc",
            SimPolicy::Lirs => "lirs",
            SimPolicy::Opt => "opt",
            SimPolicy::Tide => "tide",
            SimPolicy::ClockPro => "clockpro",
        }
    }

    /// The live policy this runs, if it is live-capable.
    pub fn live_kind(self) -> Option<PolicyKind> {
        match self {
            SimPolicy::Fifo => Some(PolicyKind::Fifo),
            SimPolicy::Clock => Some(PolicyKind::SecondChance),
            SimPolicy::Sieve => Some(PolicyKind::Sieve),
            SimPolicy::Tide => Some(PolicyKind::Tide),
            SimPolicy::ClockPro => Some(PolicyKind::ClockPro),
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
        !matches!(
            self,
            SimPolicy::Clock0 | SimPolicy::Sieve | SimPolicy::ClockPro
        )
    }

    /// A fresh instance for a cache of `capacity` pages, driven as `drive`
    /// says.
    pub fn build(self, capacity: usize, drive: super::Drive) -> Box<dyn OfflinePolicy + Send> {
        let young = match drive {
            super::Drive::Textbook => self.textbook_young_on_insert(),
            super::Drive::Live => true,
        };
        match self {
            SimPolicy::Lru => Box::new(Lru::new()),
            SimPolicy::Fifo => Box::new(LiveAsOffline::new(Fifo::new(), young)),
            SimPolicy::Clock => Box::new(LiveAsOffline::new(SecondChance::new(), young)),
            SimPolicy::Clock0 => Box::new(LiveAsOffline::new(SecondChance::new(), false)),
            SimPolicy::Sieve => Box::new(LiveAsOffline::new(Sieve::new(), young)),
            SimPolicy::S3Fifo => Box::new(S3Fifo::new(capacity)),
            SimPolicy::Arc => Box::new(ArcCache::new(capacity)),
            SimPolicy::Lirs => Box::new(Lirs::new(capacity)),
            SimPolicy::Opt => Box::new(Opt::new()),
            SimPolicy::Tide => Box::new(LiveAsOffline::new(Tide::new(), young)),
            SimPolicy::ClockPro => Box::new(LiveAsOffline::new(ClockPro::new(), young)),
        }
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
