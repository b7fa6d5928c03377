//! One enclave of a scenario: the host's `[[enclave]]` tables and each
//! VM's `[[vm.enclave]]` tables (same fields, parsed and checked by the
//! same code), with their `workload` tables.

use crate::workload::{Length, Pattern, PhaseSpec, WorkloadSpec};
use serde::Deserialize;

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

/// What an enclave table may refer to: the nodes its manager has EPC on
/// and the groups declared in that manager (not the root).
pub(super) struct Context<'a> {
    /// Nodes with EPC, the default first.
    pub(super) nodes: &'a [u16],
    /// Declared group paths.
    pub(super) cgroups: &'a [String],
    /// Why only the root group is allowed, if so (a guest's enclaves).
    pub(super) root_only: Option<&'a str>,
}

type FieldError = (String, String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEnclave {
    name: Option<String>,
    pages: u64,
    threads: Option<u32>,
    node: Option<u16>,
    cgroup: Option<String>,
    initial_pages: Option<u64>,
    restart: Option<bool>,
    workload: RawWorkload,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkload {
    kind: String,
    exponent: Option<f64>,
    hot_fraction: Option<f64>,
    hot_probability: Option<f64>,
    scan_probability: Option<f64>,
    phases: Option<Vec<RawWorkload>>,
    path: Option<String>,
    chunk_pages: Option<u64>,
    write_ratio: Option<f64>,
    accesses: Option<u64>,
    seconds: Option<f64>,
    seed: Option<u64>,
}

/// Checks one enclave table; `at` is its name in messages
/// (`enclave[2]`, `vm[0].enclave[1]`) and `default_name` its name if it
/// gives none.
pub(super) fn parse_enclave(
    e: &RawEnclave,
    at: &str,
    default_name: String,
    cx: &Context<'_>,
) -> Result<EnclaveSpec, FieldError> {
    let f = |name: &str| format!("{at}.{name}");
    if e.pages == 0 || e.pages > (1 << 30) {
        return Err((f("pages"), format!("must be 1 to 2^30 (got {})", e.pages)));
    }
    let threads = e.threads.unwrap_or(1);
    if threads == 0 || threads > 32 {
        return Err((f("threads"), format!("must be 1 to 32 (got {threads})")));
    }
    let node = e.node.unwrap_or(cx.nodes[0]);
    if !cx.nodes.contains(&node) {
        return Err((f("node"), format!("no EPC section is on node {node}")));
    }
    let workload = workload(&e.workload, &f("workload"), e.pages, true)?;
    let cgroup = e
        .cgroup
        .clone()
        .unwrap_or_else(|| super::ROOT_CGROUP.to_owned());
    if cgroup != super::ROOT_CGROUP {
        if let Some(why) = cx.root_only {
            return Err((f("cgroup"), format!("{cgroup:?}: {why}")));
        }
        if !cx.cgroups.contains(&cgroup) {
            return Err((
                f("cgroup"),
                format!("no [[cgroup]] has the path {cgroup:?}"),
            ));
        }
    }
    let heap = matches!(workload.pattern, Pattern::Heap { .. });
    let initial_pages = match e.initial_pages {
        Some(n) if n > e.pages => {
            return Err((
                f("initial_pages"),
                format!("must be at most pages ({}) (got {n})", e.pages),
            ))
        }
        Some(n) => Some(n),
        // A heap gets its pages from the OS as it grows.
        None if heap => Some(0),
        None => None,
    };
    Ok(EnclaveSpec {
        name: e.name.clone().unwrap_or(default_name),
        initial_pages,
        pages: e.pages,
        threads,
        node,
        workload,
        cgroup,
        restart: e.restart.unwrap_or(false),
    })
}

fn workload(w: &RawWorkload, at: &str, pages: u64, top: bool) -> Result<WorkloadSpec, FieldError> {
    let f = |name: &str| format!("{at}.{name}");
    let prob = |name: &str, v: Option<f64>, default: Option<f64>| -> Result<f64, FieldError> {
        match v.or(default) {
            Some(x) if (0.0..=1.0).contains(&x) => Ok(x),
            Some(x) => Err((f(name), format!("must be between 0 and 1 (got {x})"))),
            None => Err((f(name), format!("missing (needed by kind {:?})", w.kind))),
        }
    };
    let pattern = match w.kind.as_str() {
        "sequential" => Pattern::Sequential,
        "uniform" => Pattern::Uniform,
        "zipf" => {
            let s = w.exponent.unwrap_or(0.99);
            if !(s.is_finite() && (0.0..=10.0).contains(&s)) {
                return Err((f("exponent"), format!("must be 0 to 10 (got {s})")));
            }
            Pattern::Zipf { exponent: s }
        }
        "hot_cold" | "hotcold" => {
            let hot_fraction = prob("hot_fraction", w.hot_fraction, Some(0.1))?;
            if hot_fraction == 0.0 {
                return Err((f("hot_fraction"), "must be above 0".into()));
            }
            Pattern::HotCold {
                hot_fraction,
                hot_probability: prob("hot_probability", w.hot_probability, Some(0.9))?,
            }
        }
        "scan_mix" | "scan" => {
            let hot_fraction = prob("hot_fraction", w.hot_fraction, Some(0.1))?;
            if hot_fraction == 0.0 {
                return Err((f("hot_fraction"), "must be above 0".into()));
            }
            Pattern::ScanMix {
                hot_fraction,
                scan_probability: prob("scan_probability", w.scan_probability, Some(0.2))?,
            }
        }
        "phases" => {
            if !top {
                return Err((f("kind"), "phases cannot be nested".into()));
            }
            let list = w.phases.as_ref().filter(|p| !p.is_empty()).ok_or_else(|| {
                (
                    f("phases"),
                    "missing or empty (needed by kind \"phases\")".into(),
                )
            })?;
            let mut phases = Vec::new();
            for (j, p) in list.iter().enumerate() {
                let at = format!("{at}.phases[{j}]");
                let accesses = p.accesses.filter(|&a| a > 0).ok_or_else(|| {
                    (
                        format!("{at}.accesses"),
                        "missing or 0 (each phase needs a length in accesses)".into(),
                    )
                })?;
                let spec = workload(p, &at, pages, false)?;
                phases.push(PhaseSpec {
                    pattern: spec.pattern,
                    accesses,
                });
            }
            Pattern::Phases(phases)
        }
        "trace" => {
            let path = w
                .path
                .as_ref()
                .ok_or_else(|| (f("path"), "missing (needed by kind \"trace\")".into()))?;
            let ids = crate::replay::load_mapped(std::path::Path::new(path), pages)
                .map_err(|e| (f("path"), e.to_string()))?;
            Pattern::Trace(ids)
        }
        "heap" => {
            if !top {
                return Err((f("kind"), "heap cannot be a phase".into()));
            }
            let chunk_pages = w.chunk_pages.unwrap_or(16);
            if chunk_pages == 0 || chunk_pages > pages {
                return Err((
                    f("chunk_pages"),
                    format!("must be 1 to the enclave's pages ({pages}) (got {chunk_pages})"),
                ));
            }
            Pattern::Heap { chunk_pages }
        }
        other => {
            return Err((
                f("kind"),
                format!(
                    "unknown workload kind {other:?} (known: sequential, uniform, zipf, \
                     hot_cold, scan_mix, phases, trace, heap)"
                ),
            ))
        }
    };
    let write_ratio = prob("write_ratio", w.write_ratio, Some(0.0))?;
    let length = match (w.accesses, w.seconds) {
        (Some(_), Some(_)) if top => {
            return Err((
                f("accesses"),
                "give either accesses or seconds, not both".into(),
            ))
        }
        (Some(0), _) => return Err((f("accesses"), "must be at least 1".into())),
        (Some(a), _) => Length::Accesses(a),
        (None, Some(s)) if s.is_finite() && s > 0.0 => Length::Seconds(s),
        (None, Some(s)) => return Err((f("seconds"), format!("must be positive (got {s})"))),
        (None, None) if top => {
            return Err((f("accesses"), "missing: give accesses or seconds".into()))
        }
        (None, None) => Length::Accesses(1),
    };
    Ok(WorkloadSpec {
        pattern,
        write_ratio,
        length,
        seed: w.seed.unwrap_or(1),
    })
}
