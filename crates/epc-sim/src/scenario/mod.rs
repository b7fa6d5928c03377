//! Scenarios: an EPC, a manager, and enclaves with their threads and
//! workloads. A scenario comes from a TOML file (format in
//! `docs/SCENARIOS.md`, parsed and checked in `parse.rs`) or is the built-in
//! default ([`Scenario::default_run`]). Its timeline (`[[event]]`
//! tables) is in `event.rs`.

mod cgroup;
mod event;
mod parse;

pub use cgroup::{CgroupSpec, ROOT as ROOT_CGROUP};
pub use event::{Event, EventKind};

use crate::workload::{Length, Pattern, WorkloadSpec};
use epc_hw::{CostTable, SectionConfig, VA_SLOTS_PER_PAGE};
use epc_mm::{PolicyKind, Watermarks};

/// One enclave of a scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct EnclaveSpec {
    /// A name for reports.
    pub name: String,
    /// Data pages (the working set), not counting TCS and SSA pages.
    pub pages: u64,
    /// A dynamic (SGX2) enclave: built with this many data pages (EADD),
    /// the rest added by EAUG on first touch, up to `pages`. `None`: every
    /// page added at build (SGX1).
    pub initial_pages: Option<u64>,
    /// Threads, each with its own TCS and one SSA page.
    pub threads: u32,
    /// The NUMA node its pages come from first.
    pub node: u16,
    /// What every thread runs (each with its own seed, derived from this).
    pub workload: WorkloadSpec,
    /// The path of the EPC cgroup its pages are charged to (`/`: the
    /// root).
    pub cgroup: String,
    /// Whether it is rebuilt after a `suspend` loses the EPC (its workload
    /// then starts again from the beginning); otherwise it is reported lost.
    pub restart: bool,
}

/// Everything a run needs.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// A name for reports.
    pub name: String,
    /// Stop every thread after this many seconds (besides each workload's
    /// own length).
    pub duration_seconds: Option<f64>,
    /// Time series interval.
    pub sample_ms: u64,
    /// EPC sections.
    pub sections: Vec<SectionConfig>,
    /// Entries of each logical processor's TLB (0: every access walks).
    pub tlb_entries: usize,
    /// Modelled cycles per event.
    pub costs: CostTable,
    /// ksgxd wakes below this many free pages.
    pub low_watermark: usize,
    /// ksgxd reclaims up to this many free pages.
    pub high_watermark: usize,
    /// Whether the watermarks stay as given or adapt (the configured ones a
    /// floor).
    pub watermarks: Watermarks,
    /// Pages per reclaim batch.
    pub batch: usize,
    /// The victim policy.
    pub policy: PolicyKind,
    /// The manager's deterministic mode (no ksgxd).
    pub deterministic: bool,
    /// The enclaves.
    pub enclaves: Vec<EnclaveSpec>,
    /// The EPC cgroups besides the root, parents first.
    pub cgroups: Vec<CgroupSpec>,
    /// The timeline, in time order.
    pub events: Vec<Event>,
}

impl Scenario {
    /// The built-in scenario of `epc run`: a 24 MiB EPC, four enclaves with
    /// two threads each and working sets that add up to about 2.6 times
    /// the EPC, with skewed, uniform, scanning and phased patterns, for
    /// about 12 seconds.
    pub fn default_run() -> Scenario {
        let wl = |pattern, write_ratio, seed| WorkloadSpec {
            pattern,
            write_ratio,
            length: Length::Seconds(12.0),
            seed,
        };
        let enclave = |name: &str, pages, workload| EnclaveSpec {
            name: name.to_owned(),
            pages,
            initial_pages: None,
            threads: 2,
            node: 0,
            workload,
            cgroup: ROOT_CGROUP.to_owned(),
            restart: false,
        };
        Scenario {
            name: "default".into(),
            duration_seconds: None,
            sample_ms: 100,
            sections: vec![SectionConfig {
                pages: 6144,
                node: epc_hw::NodeId(0),
            }],
            tlb_entries: epc_hw::config::DEFAULT_TLB_ENTRIES,
            costs: CostTable::default(),
            low_watermark: 32,
            high_watermark: 64,
            watermarks: Watermarks::default(),
            batch: 16,
            policy: PolicyKind::default(),
            deterministic: false,
            enclaves: vec![
                enclave(
                    "kv-store",
                    5000,
                    wl(Pattern::Zipf { exponent: 0.9 }, 0.3, 1),
                ),
                enclave("analytics", 4000, wl(Pattern::Uniform, 0.1, 2)),
                enclave(
                    "db-scan",
                    4000,
                    wl(
                        Pattern::ScanMix {
                            hot_fraction: 0.2,
                            scan_probability: 0.3,
                        },
                        0.2,
                        3,
                    ),
                ),
                enclave(
                    "web",
                    3000,
                    wl(
                        Pattern::Phases(vec![
                            crate::workload::PhaseSpec {
                                pattern: Pattern::HotCold {
                                    hot_fraction: 0.1,
                                    hot_probability: 0.9,
                                },
                                accesses: 20_000,
                            },
                            crate::workload::PhaseSpec {
                                pattern: Pattern::Sequential,
                                accesses: 5_000,
                            },
                        ]),
                        0.5,
                        4,
                    ),
                ),
            ],
            cgroups: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Parses and checks a scenario in TOML; `origin` names the file in
    /// messages.
    pub fn from_toml(text: &str, origin: &str) -> Result<Scenario, crate::SimError> {
        parse::parse(text, origin)
    }

    /// Reads, parses and checks a scenario file.
    pub fn from_file(path: &std::path::Path) -> Result<Scenario, crate::SimError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| crate::SimError::input(format!("{}: {e}", path.display())))?;
        parse::parse(&text, &path.display().to_string())
    }

    /// When enclave `i` starts: `Some(seconds)` if an event starts it,
    /// `None` if it starts with the run.
    pub fn start_at(&self, i: usize) -> Option<f64> {
        self.events.iter().find_map(|e| match e.kind {
            EventKind::StartEnclave { enclave } if enclave == i => Some(e.at),
            _ => None,
        })
    }

    /// Total EPC pages.
    pub fn epc_pages(&self) -> u64 {
        self.sections.iter().map(|s| u64::from(s.pages)).sum()
    }

    /// The fewest EPC pages this scenario can run in: every enclave's SECS,
    /// VA pages and its threads' pinned TCS and SSA pages, plus room for a
    /// page in flight per thread and one reclaim batch, and ksgxd's high
    /// watermark when it runs.
    pub fn min_epc_pages(&self) -> u64 {
        let mut fixed = 0u64;
        let mut threads = 0u64;
        for e in &self.enclaves {
            let children = e.pages + 2 * u64::from(e.threads) + 1;
            fixed += 1 + children.div_ceil(VA_SLOTS_PER_PAGE as u64) + 2 * u64::from(e.threads);
            threads += u64::from(e.threads);
        }
        let band = if self.deterministic {
            0
        } else {
            self.high_watermark as u64
        };
        fixed + threads + self.batch as u64 + band
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_parses_and_default_toml_matches_the_built_in() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "toml") {
                let s = Scenario::from_file(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                assert!(s.epc_pages() >= s.min_epc_pages(), "{}", p.display());
                n += 1;
            }
        }
        assert!(n >= 4);
        let file = Scenario::from_file(&dir.join("default.toml")).unwrap();
        let built = Scenario::default_run();
        assert_eq!(file.enclaves, built.enclaves);
        assert_eq!(file.sections, built.sections);
        assert_eq!(
            (
                file.low_watermark,
                file.high_watermark,
                file.batch,
                file.tlb_entries
            ),
            (
                built.low_watermark,
                built.high_watermark,
                built.batch,
                built.tlb_entries
            )
        );
        assert!(built.epc_pages() >= built.min_epc_pages());
    }

    #[test]
    fn messages_name_the_field() {
        let base = "[epc]\npages = 64\n[[enclave]]\npages = 10\n[enclave.workload]\nkind = \"zipf\"\naccesses = 5\n";
        let err = |t: &str| Scenario::from_toml(t, "s.toml").unwrap_err().to_string();
        assert!(
            err(&base.replace("accesses = 5", "accesses = 5\nexponent = -1"))
                .contains("enclave[0].workload.exponent")
        );
        assert!(err(&base.replace("pages = 10", "pages = 0")).contains("enclave[0].pages"));
        assert!(err(&base.replace("pages = 64", "pages = 64\nbogus = 1")).contains("bogus"));
        assert!(err(&format!("{base}[costs]\newbb = 3\n")).contains("costs.ewbb"));
        assert!(err(&base.replace("[epc]\npages = 64\n", "[epc]\n")).contains("epc.pages"));
        assert!(Scenario::from_toml(base, "s.toml").is_ok());
    }
}
