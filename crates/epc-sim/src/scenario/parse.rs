//! The TOML form of a scenario: parsing (unknown fields refused) and
//! checking every value, with messages that name the file and the field.

use super::{EnclaveSpec, Scenario};
use crate::workload::{Length, Pattern, PhaseSpec, WorkloadSpec};
use crate::SimError;
use epc_hw::{CostTable, NodeId, SectionConfig};
use epc_mm::{PolicyKind, Watermarks};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Option<String>,
    duration_seconds: Option<f64>,
    sample_ms: Option<u64>,
    epc: RawEpc,
    manager: Option<RawManager>,
    costs: Option<BTreeMap<String, u64>>,
    #[serde(default)]
    enclave: Vec<RawEnclave>,
    #[serde(default)]
    cgroup: Vec<super::cgroup::RawCgroup>,
    /// Kept as tables: each kind takes its own fields (`event.rs`).
    #[serde(default)]
    event: Vec<toml::Table>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEpc {
    pages: Option<u32>,
    sections: Option<Vec<RawSection>>,
    tlb_entries: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSection {
    pages: u32,
    #[serde(default)]
    node: u16,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawManager {
    low_watermark: Option<usize>,
    high_watermark: Option<usize>,
    watermarks: Option<String>,
    batch: Option<usize>,
    policy: Option<String>,
    deterministic: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnclave {
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

/// Parses `text` (from `origin`) into a checked scenario.
pub(super) fn parse(text: &str, origin: &str) -> Result<Scenario, SimError> {
    let raw: RawScenario = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        match line {
            Some(l) => SimError::input(format!("{origin}: line {l}: {}", e.message())),
            None => SimError::input(format!("{origin}: {}", e.message())),
        }
    })?;
    let bad = |field: &str, why: String| SimError::input(format!("{origin}: {field}: {why}"));
    let defaults = Scenario::default_run();

    let sections = match (&raw.epc.pages, &raw.epc.sections) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "epc.pages",
                "give either epc.pages or epc.sections, not both".into(),
            ))
        }
        (None, None) => {
            return Err(bad(
                "epc.pages",
                "missing: give epc.pages or epc.sections".into(),
            ))
        }
        (Some(p), None) => vec![SectionConfig {
            pages: *p,
            node: NodeId(0),
        }],
        (None, Some(s)) => s
            .iter()
            .map(|s| SectionConfig {
                pages: s.pages,
                node: NodeId(s.node),
            })
            .collect(),
    };
    if sections.is_empty() {
        return Err(bad("epc.sections", "at least one section is needed".into()));
    }
    for (i, s) in sections.iter().enumerate() {
        if s.pages == 0 {
            return Err(bad(
                &format!("epc.sections[{i}].pages"),
                "must be at least 1".into(),
            ));
        }
    }
    let nodes: Vec<u16> = sections.iter().map(|s| s.node.0).collect();

    let m = raw.manager.unwrap_or_default();
    let policy = match &m.policy {
        Some(name) => {
            PolicyKind::from_name(name).map_err(|e| bad("manager.policy", e.to_string()))?
        }
        None => PolicyKind::default(),
    };
    let watermarks = match &m.watermarks {
        Some(name) => Watermarks::from_name(name).ok_or_else(|| {
            bad(
                "manager.watermarks",
                format!("unknown mode {name:?} (known: adaptive, fixed)"),
            )
        })?,
        None => Watermarks::default(),
    };
    let mut costs = CostTable::default();
    for (k, v) in raw.costs.unwrap_or_default() {
        *cost_field(&mut costs, &k)
            .ok_or_else(|| bad(&format!("costs.{k}"), "unknown event".into()))? = v;
    }
    if let Some(d) = raw.duration_seconds {
        if !(d.is_finite() && d > 0.0) {
            return Err(bad(
                "duration_seconds",
                format!("must be positive (got {d})"),
            ));
        }
    }
    let cgroups = super::cgroup::parse_cgroups(&raw.cgroup).map_err(|(f, why)| bad(&f, why))?;
    let paths: Vec<String> = cgroups.iter().map(|c| c.path.clone()).collect();
    if raw.enclave.is_empty() {
        return Err(bad("enclave", "at least one [[enclave]] is needed".into()));
    }
    let mut enclaves = Vec::new();
    for (i, e) in raw.enclave.iter().enumerate() {
        let f = |name: &str| format!("enclave[{i}].{name}");
        if e.pages == 0 || e.pages > (1 << 30) {
            return Err(bad(
                &f("pages"),
                format!("must be 1 to 2^30 (got {})", e.pages),
            ));
        }
        let threads = e.threads.unwrap_or(1);
        if threads == 0 || threads > 32 {
            return Err(bad(
                &f("threads"),
                format!("must be 1 to 32 (got {threads})"),
            ));
        }
        let node = e.node.unwrap_or(nodes[0]);
        if !nodes.contains(&node) {
            return Err(bad(&f("node"), format!("no EPC section is on node {node}")));
        }
        let workload = workload(&e.workload, &f("workload"), e.pages, true)
            .map_err(|(field, why)| bad(&field, why))?;
        let cgroup = e
            .cgroup
            .clone()
            .unwrap_or_else(|| super::ROOT_CGROUP.to_owned());
        if cgroup != super::ROOT_CGROUP && !paths.contains(&cgroup) {
            return Err(bad(
                &f("cgroup"),
                format!("no [[cgroup]] has the path {cgroup:?}"),
            ));
        }
        let heap = matches!(workload.pattern, Pattern::Heap { .. });
        let initial_pages = match e.initial_pages {
            Some(n) if n > e.pages => {
                return Err(bad(
                    &f("initial_pages"),
                    format!("must be at most pages ({}) (got {n})", e.pages),
                ))
            }
            Some(n) => Some(n),
            // A heap gets its pages from the OS as it grows.
            None if heap => Some(0),
            None => None,
        };
        enclaves.push(EnclaveSpec {
            name: e.name.clone().unwrap_or_else(|| format!("enclave{i}")),
            initial_pages,
            pages: e.pages,
            threads,
            node,
            workload,
            cgroup,
            restart: e.restart.unwrap_or(false),
        });
    }
    let names: Vec<String> = enclaves.iter().map(|e| e.name.clone()).collect();
    let known = super::event::Known {
        enclaves: &names,
        cgroups: &paths,
        duration: raw.duration_seconds,
    };
    let events = super::event::parse_events(raw.event, &known, origin)?;
    let s = Scenario {
        name: raw.name.unwrap_or_else(|| origin.to_owned()),
        duration_seconds: raw.duration_seconds,
        sample_ms: raw.sample_ms.unwrap_or(100).clamp(10, 60_000),
        sections,
        tlb_entries: raw.epc.tlb_entries.unwrap_or(defaults.tlb_entries),
        costs,
        low_watermark: m.low_watermark.unwrap_or(defaults.low_watermark),
        high_watermark: m.high_watermark.unwrap_or(defaults.high_watermark),
        watermarks,
        batch: m.batch.unwrap_or(defaults.batch),
        policy,
        deterministic: m.deterministic.unwrap_or(false),
        enclaves,
        cgroups,
        events,
    };
    if s.batch == 0 {
        return Err(bad("manager.batch", "must be at least 1".into()));
    }
    if !s.deterministic && s.low_watermark >= s.high_watermark {
        return Err(bad(
            "manager.low_watermark",
            format!(
                "{} must be below manager.high_watermark ({})",
                s.low_watermark, s.high_watermark
            ),
        ));
    }
    Ok(s)
}

type FieldError = (String, String);

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

/// The field of `costs` called `name` (the event names of the ledger).
fn cost_field<'a>(c: &'a mut CostTable, name: &str) -> Option<&'a mut u64> {
    Some(match name {
        "ecreate" => &mut c.ecreate,
        "eadd" => &mut c.eadd,
        "einit" => &mut c.einit,
        "eremove" => &mut c.eremove,
        "epa" => &mut c.epa,
        "eblock" => &mut c.eblock,
        "etrack" => &mut c.etrack,
        "ewb" => &mut c.ewb,
        "eldu" => &mut c.eldu,
        "eaug" => &mut c.eaug,
        "emodpr" => &mut c.emodpr,
        "emodt" => &mut c.emodt,
        "eremove_trim" => &mut c.eremove_trim,
        "eaccept" => &mut c.eaccept,
        "eacceptcopy" => &mut c.eacceptcopy,
        "emodpe" => &mut c.emodpe,
        "eenter" => &mut c.eenter,
        "eexit" => &mut c.eexit,
        "eresume" => &mut c.eresume,
        "aex" => &mut c.aex,
        "ipi" => &mut c.ipi,
        "page_fault" => &mut c.page_fault,
        "kernel_fault" => &mut c.kernel_fault,
        "failed_leaf" => &mut c.failed_leaf,
        _ => return None,
    })
}
