//! Scenarios: an EPC, a manager, and enclaves with their threads and
//! workloads. A scenario comes from a TOML file (format in
//! `docs/SCENARIOS.md`, parsed and checked in `parse.rs`) or is the built-in
//! default ([`Scenario::default_run`]). Its timeline (`[[event]]`
//! tables) is in `event.rs`.

mod cgroup;
mod enclave;
mod event;
mod manager;
mod parse;
mod vm;

pub use cgroup::{CgroupSpec, ROOT as ROOT_CGROUP};
pub use enclave::EnclaveSpec;
pub use event::{Event, EventKind};
pub use manager::ManagerSpec;
pub use vm::VmSpec;

use crate::workload::{Length, Pattern, WorkloadSpec};
use epc_hw::{CostTable, SectionConfig, VA_SLOTS_PER_PAGE};

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
    /// The host's EPC manager.
    pub manager: ManagerSpec,
    /// The host's enclaves.
    pub enclaves: Vec<EnclaveSpec>,
    /// The EPC cgroups besides the root, parents first.
    pub cgroups: Vec<CgroupSpec>,
    /// The virtual machines, each with its own EPC manager and enclaves
    /// over a vEPC the host backs.
    pub vms: Vec<VmSpec>,
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
            manager: ManagerSpec::default(),
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
            vms: Vec::new(),
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

    /// The fewest EPC pages this scenario's host enclaves can run in (see
    /// [`min_pages`]); the VMs' vEPCs are not counted: a VM whose host
    /// pages cannot be had fails when it starts or faults, and the run
    /// goes on.
    pub fn min_epc_pages(&self) -> u64 {
        min_pages(&self.enclaves, &self.manager)
    }

    /// Every enclave of the run: the host's, then each VM's in VM order
    /// (the order of the runner's enclave slots).
    pub fn all_enclaves(&self) -> impl Iterator<Item = &EnclaveSpec> {
        self.enclaves
            .iter()
            .chain(self.vms.iter().flat_map(|v| v.enclaves.iter()))
    }

    /// When VM `i` starts: `Some(seconds)` if a `start_vm` event starts
    /// it, `None` if it starts with the run.
    pub fn vm_start_at(&self, i: usize) -> Option<f64> {
        self.events.iter().find_map(|e| match e.kind {
            EventKind::StartVm { vm } if vm == i => Some(e.at),
            _ => None,
        })
    }
}

/// The fewest EPC pages `enclaves` can run in under a manager set as `m`:
/// every enclave's SECS, VA pages and its threads' pinned TCS and SSA
/// pages, plus room for a page in flight per thread and one reclaim
/// batch, and ksgxd's high watermark when it runs.
pub fn min_pages(enclaves: &[EnclaveSpec], m: &ManagerSpec) -> u64 {
    let mut fixed = 0u64;
    let mut threads = 0u64;
    for e in enclaves {
        let children = e.pages + 2 * u64::from(e.threads) + 1;
        fixed += 1 + children.div_ceil(VA_SLOTS_PER_PAGE as u64) + 2 * u64::from(e.threads);
        threads += u64::from(e.threads);
    }
    fixed + threads + m.batch as u64 + m.band()
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
            (file.manager, file.tlb_entries),
            (built.manager, built.tlb_entries)
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
