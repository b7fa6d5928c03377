//! The offline policy simulator, Belady's OPT and miss-ratio curves.
//!
//! # API (what `epc sim` and `epc mrc` sit on)
//!
//! ```no_run
//! use epc_sim::offline::{mrc, simulate, simulate_with, Capacity, Drive, SimPolicy, Trace};
//! let trace = Trace::load("w106.trace.xz")?; // any trace format, dense ids
//! let policy = SimPolicy::from_name("tide")?; // or "default", "clock", "opt", ...
//! let capacity = Capacity::parse("10%")?; // or "4096" (pages)
//! let r = simulate(&trace, capacity, policy); // SimResult, serde-serialisable
//! println!("{} {} {} {} {:.4} {}", r.refs, r.distinct, r.capacity, r.misses, r.miss_ratio, r.policy);
//!
//! // What the live manager gives a live-capable policy (new pages young):
//! let live = simulate_with(&trace, capacity, policy, Drive::Live);
//!
//! let sizes = ["1%", "5%", "10%"].map(|s| Capacity::parse(s).unwrap());
//! let table = mrc(&trace, &[SimPolicy::CLOCK, SimPolicy::Lru], &sizes, 0); // OPT added
//! print!("{}", table.to_table());
//! std::fs::write("mrc.csv", table.to_csv())?;
//! table.write_plot("mrc")?; // mrc.svg and mrc.png
//! # let _ = live;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! * [`Trace`]: the whole trace in memory as dense `u32` ids (4 bytes per
//!   reference; OPT needs the future anyway, and sweeps replay it many
//!   times).
//! * [`SimPolicy`]: every policy by name ([`SimPolicy::names`]); `default`
//!   is the live manager's default ([`epc_mm::PolicyKind::default`]).
//!   Live-capable ones ([`SimPolicy::live_kind`]) run the manager's own
//!   policy object through [`LiveAsOffline`]: a hit only sets the
//!   page's accessed bit; misses, victim scans (testing and clearing bits)
//!   and evictions, one victim per miss as in the manager's deterministic
//!   mode, are the events.
//!   For `lru`, `fifo`, `clock`, `clock0`, `sieve` and `arc` the
//!   simulator takes a fast path with the same counts: the algorithm on
//!   the trace's dense ids, its per-page state in arrays instead of hash
//!   maps, in one statically dispatched loop (`offline/dense`).
//! * [`Drive`]: `Textbook` (default) follows each policy's published
//!   definition of the bit of a page coming in (set for `clock`, as in
//!   Linux; clear for `clock0` and `sieve`, as in their papers and
//!   libCacheSim); `Live` always sets it, as the faulting access does on
//!   hardware. For `fifo`, `clock`, `tide` and `mglru` the two are the same, so their
//!   `simulate` counts equal a deterministic replay with no TLB.
//! * [`simulate`]: demand paging, cold misses counted; [`SimResult`] has
//!   `refs`, `distinct`, `capacity`, `misses`, `miss_ratio`, `policy`.
//! * [`Capacity`]: pages, or a percentage of the distinct pages rounded
//!   down, at least 1.
//! * [`mrc`]: policies × sizes in parallel ([`par_map`], one thread per core
//!   unless told), OPT always included as the floor; [`MrcTable`] renders a
//!   text table, CSV and an SVG+PNG plot. LRU's whole curve is one pass
//!   over the trace ([`LruCurve`], stack distances), equal to per-size
//!   simulation.
//! * [`mrc_sampled`]: the same estimated from a SHARDS spatial sample
//!   ([`Sampled`], [`SampleRate`]) read in one streaming pass, for traces
//!   too large to hold or to simulate at every size.
//! * [`policies`]: the offline-only policies (LRU, ARC, LIRS, S3-FIFO,
//!   OPT) and the [`OfflinePolicy`] trait the simulator drives.
//! * [`SimError`]: bad trace, unknown policy, bad capacity, output errors.
//!
//! Speed (release, one core): `epc sim` loads w106 (5.3 M references,
//! binary format) and replays it through `sieve` in about 0.1 s, OPT in
//! about 0.2 s, 2.8–5.6× faster than libCacheSim's native `cachesim` for
//! every policy both have (see `docs/POLICIES.md`).

mod capacity;
mod dense;
mod error;
mod ids;
mod mrc;
mod plot;
pub mod policies;
mod registry;
mod shards;
mod simulate;
mod stack;

pub use capacity::Capacity;
pub use error::SimError;
pub use mrc::{mrc, mrc_sampled, par_map, MrcTable, SampleInfo};
pub use policies::{LiveAsOffline, OfflinePolicy};
pub use registry::SimPolicy;
pub use shards::{SampleRate, Sampled};
pub use simulate::{simulate, simulate_with, Drive, SimResult, Trace};
pub use stack::LruCurve;
